"""Where the app keeps its files. Passed around as a value so tests can point it anywhere."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

APP_DIR_NAME = "chatbot-gui"


@dataclass(frozen=True)
class AppPaths:
    config_dir: Path  # settings.json, personas.json
    data_dir: Path  # chats.sqlite3

    @classmethod
    def default(cls, env: Mapping[str, str] | None = None) -> "AppPaths":
        """The platform's per-user config and data folders for the app."""
        if sys.platform.startswith("linux"):
            # The XDG base directories, as platformdirs computes them on Linux; importing
            # platformdirs costs ~30 ms, on the start-up path.
            env = os.environ if env is None else env
            home = Path.home()
            config = _xdg(env, "XDG_CONFIG_HOME", home / ".config")
            data = _xdg(env, "XDG_DATA_HOME", home / ".local" / "share")
            return cls(config_dir=config / APP_DIR_NAME, data_dir=data / APP_DIR_NAME)
        import platformdirs

        return cls(
            config_dir=Path(platformdirs.user_config_dir(APP_DIR_NAME, appauthor=False)),
            data_dir=Path(platformdirs.user_data_dir(APP_DIR_NAME, appauthor=False)),
        )


def ensure_private_dir(folder: Path) -> Path:
    """Create ``folder`` (and missing parents) and make it 0700: Debian homes are world-readable.

    Only the app's own folder is changed; parents that exist keep their mode. On Windows the mode
    bits mean nothing and are left alone."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if os.name == "posix":
        try:
            if folder.stat().st_mode & 0o077:
                os.chmod(folder, 0o700)
        except OSError:
            pass  # not ours (e.g. a shared mount): opening or writing files there says what is wrong
    return folder


def make_private(path: Path) -> None:
    """Make an existing file 0600 (chats, backups, exports); a file that is gone is fine."""
    if os.name != "posix":
        return
    try:
        if os.stat(path).st_mode & 0o077:
            os.chmod(path, 0o600)
    except OSError:
        pass


def _xdg(env: Mapping[str, str], name: str, fallback: Path) -> Path:
    value = env.get(name, "").strip()
    # The spec: a relative path in these variables is invalid and must be ignored.
    return Path(value) if value and os.path.isabs(value) else fallback
