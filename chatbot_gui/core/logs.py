"""The log file: a windowed app has no console, so what goes wrong is written here.

One rotating file, ``chatbot.log`` (1 MiB, plus 3 older ones), in the platform's per-user log folder
(:func:`default_log_dir`: ``~/.local/state/chatbot-gui/log`` on Linux, ``~/Library/Logs/chatbot-gui``
on macOS, ``%LOCALAPPDATA%\\chatbot-gui\\Logs`` on Windows; platformdirs' ``user_log_dir``).

What is written:
- the app's own loggers (``chatbot_gui.*``) from INFO up, other libraries' from WARNING up, and every
  uncaught exception with its traceback (chatbot_gui/ui/crash.py);
- with ``CHATBOT_DEBUG=1`` the app's DEBUG messages too. The rule for the app's code: anything that
  carries what the user wrote or the model replied is logged at DEBUG only, so it reaches the file
  only when the user asked for debug logging. The HTTP libraries stay at WARNING even then (their
  debug output is request bodies and headers).

Never the API key: every line goes through :func:`chatbot_gui.core.errors.redact` (anything
key-shaped: ``sk-…``, ``Bearer …``) and the exact secrets registered with :func:`add_secret` (the
environment's ``OPENAI_API_KEY`` is registered at set-up).

Set-up imports ``logging.handlers`` and platformdirs (~50 ms), so the app does it after the first
paint, on a worker thread; :func:`ensure` makes it happen at once when an exception needs it sooner.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import threading
from pathlib import Path
from typing import Mapping

from chatbot_gui.core.errors import redact
from chatbot_gui.core.paths import APP_DIR_NAME

LOG_FILE = "chatbot.log"
MAX_BYTES = 1024 * 1024
BACKUPS = 3
FORMAT = "%(asctime)s %(levelname)-7s %(name)s [%(threadName)s] %(message)s"

_lock = threading.Lock()  # guards the set-up
_secrets_lock = threading.Lock()  # guards _secrets (taken while formatting, so never the set-up lock)
_secrets: set[str] = set()
_installed: "LogSetup | None" = None


def default_log_dir() -> Path:
    """The platform's per-user log folder for the app (platformdirs' ``user_log_dir``)."""
    import platformdirs

    return Path(platformdirs.user_log_dir(APP_DIR_NAME, appauthor=False))


def debug_enabled(env: Mapping[str, str] | None = None) -> bool:
    """``CHATBOT_DEBUG`` set to anything but empty, ``0``, ``false`` or ``no``."""
    value = (os.environ if env is None else env).get("CHATBOT_DEBUG", "").strip().lower()
    return value not in ("", "0", "false", "no", "off")


def add_secret(value: str | None) -> None:
    """Never write ``value`` (an API key, a proxy password) to the log, whatever its shape."""
    if value and len(value) >= 4:
        with _secrets_lock:
            _secrets.add(value)


#: Other providers' key shapes (errors.redact covers ``sk-…`` and ``Bearer …``): Groq ``gsk_``,
#: Hugging Face ``hf_``, xAI ``xai-``, Google ``AIza``, Anthropic ``sk-ant-`` (covered by ``sk-``).
_OTHER_KEYS_RE = re.compile(r"\b(gsk_[A-Za-z0-9]{16,}|hf_[A-Za-z0-9]{16,}|xai-[A-Za-z0-9]{16,}|AIza[0-9A-Za-z_\-]{30,})")


def scrub(text: str) -> str:
    """``text`` without registered secrets and without anything key-shaped."""
    with _secrets_lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        text = text.replace(secret, "[API key]")
    return _OTHER_KEYS_RE.sub("[redacted]", redact(text))


class _ScrubbingFormatter(logging.Formatter):
    """Formats as usual (message, traceback, stack), then scrubs the whole text."""

    def format(self, record: logging.LogRecord) -> str:
        return scrub(super().format(record))


def _private_file_handler(path: Path) -> logging.Handler:
    """A rotating log file readable by its owner only (0600), like the chats: Debian homes are
    world-readable, and a debug log may hold message text."""
    import logging.handlers

    class PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
        def _open(self):  # noqa: ANN202 - logging's own signature
            fd = os.open(self.baseFilename, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            if os.name == "posix":
                os.fchmod(fd, 0o600)  # a file an older version created 0644
            return open(fd, "a", encoding=self.encoding, errors=self.errors)  # noqa: SIM115

    return PrivateRotatingFileHandler(path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8",
                                      delay=True)


class LogSetup:
    """The installed handlers; :meth:`close` removes them again (tests, a second set-up)."""

    def __init__(self, directory: Path, debug: bool, stderr: bool) -> None:
        import logging.handlers

        self.directory = directory
        self.path = directory / LOG_FILE
        self.debug = debug
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        formatter = _ScrubbingFormatter(FORMAT)
        self.handlers: list[logging.Handler] = []
        file_handler = _private_file_handler(self.path)
        self.handlers.append(file_handler)
        if stderr and sys.stderr is not None:
            self.handlers.append(logging.StreamHandler(sys.stderr))
        root = logging.getLogger()
        for handler in self.handlers:
            handler.setFormatter(formatter)
            root.addHandler(handler)
        self._root_level = root.level
        root.setLevel(logging.WARNING)  # other libraries: warnings and errors only
        ours = logging.getLogger("chatbot_gui")
        self._our_level = ours.level
        ours.setLevel(logging.DEBUG if debug else logging.INFO)
        logging.captureWarnings(True)

    def close(self) -> None:
        root = logging.getLogger()
        for handler in self.handlers:
            root.removeHandler(handler)
            handler.close()
        root.setLevel(self._root_level)
        logging.getLogger("chatbot_gui").setLevel(self._our_level)
        logging.captureWarnings(False)


def setup(directory: Path | None = None, *, debug: bool | None = None, stderr: bool | None = None) -> LogSetup:
    """Install the log file (once; later calls return the first set-up)."""
    global _installed
    with _lock:
        if _installed is not None:
            return _installed
        debug = debug_enabled() if debug is None else debug
        add_secret(os.environ.get("OPENAI_API_KEY"))  # the key this run was given, whatever its shape
        _installed = installed = LogSetup(directory or default_log_dir(), debug, debug if stderr is None else stderr)
    if installed.debug:
        logging.getLogger(__name__).debug("debug logging is on (CHATBOT_DEBUG)")
    return installed


def ensure() -> LogSetup:
    """The log set-up, made now if it has not happened yet (an uncaught exception needs it)."""
    return setup()


def installed() -> LogSetup | None:
    return _installed


def shutdown() -> None:
    """Remove the handlers (tests; the next :func:`setup` installs afresh)."""
    global _installed
    with _lock:
        if _installed is not None:
            _installed.close()
            _installed = None
