"""The log file and the uncaught-exception dialog (a windowed app has no console).

The crash tests install the real excepthook and let real exceptions escape real Qt slots and a real
thread; pytest-qt's own exception capture is switched off for them (``qt_no_exception_capture``).
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Iterator

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QMessageBox

from chatbot_gui.core import logs
from chatbot_gui.ui.crash import CrashReporter

ROOT = Path(__file__).resolve().parents[1]
KEY = "sk-proj-logtest-7c1e9a0b3d5f"
ODD_KEY = "gsk_registered_only_9f8e7d"  # not key-shaped: found only because it was registered


@pytest.fixture
def log_setup(tmp_path: Path) -> Iterator[logs.LogSetup]:
    logs.shutdown()
    setup = logs.setup(tmp_path / "log", debug=False, stderr=False)
    try:
        yield setup
    finally:
        logs.shutdown()


def _flush() -> None:
    for handler in logging.getLogger().handlers:
        handler.flush()


def test_log_file_in_the_given_folder_keeps_info_and_drops_debug_and_chatter(log_setup: logs.LogSetup) -> None:
    ours = logging.getLogger("chatbot_gui.test")
    ours.info("store opened")
    ours.debug("user wrote: a private message")
    logging.getLogger("httpx2").info("HTTP Request: POST http://example/v1/chat/completions")
    logging.getLogger("openai").warning("retrying request")
    _flush()
    text = log_setup.path.read_text(encoding="utf-8")
    assert log_setup.path == log_setup.directory / "chatbot.log"
    assert "INFO    chatbot_gui.test [MainThread] store opened" in text
    assert "retrying request" in text
    assert "a private message" not in text  # message text only with CHATBOT_DEBUG
    assert "HTTP Request" not in text
    if os.name == "posix":
        assert log_setup.directory.stat().st_mode & 0o777 == 0o700


def test_debug_logging_keeps_message_text_but_never_the_key(tmp_path: Path) -> None:
    logs.shutdown()
    setup = logs.setup(tmp_path, debug=True, stderr=False)
    try:
        logs.add_secret(ODD_KEY)
        ours = logging.getLogger("chatbot_gui.test")
        ours.debug("user wrote: a private message")
        ours.info("request with Authorization: Bearer %s and key %s / %s", KEY, KEY, ODD_KEY)
        try:
            raise RuntimeError(f"server said: Incorrect API key provided: {KEY} ({ODD_KEY})")
        except RuntimeError:
            ours.exception("request failed")
        _flush()
        text = setup.path.read_text(encoding="utf-8")
    finally:
        logs.shutdown()
    assert "a private message" in text
    assert "Traceback (most recent call last)" in text and "RuntimeError: server said" in text
    assert KEY not in text and ODD_KEY not in text and "logtest" not in text
    assert "[API key]" in text and "[redacted]" in text


def test_debug_switch_reads_chatbot_debug() -> None:
    assert logs.debug_enabled({"CHATBOT_DEBUG": "1"})
    assert logs.debug_enabled({"CHATBOT_DEBUG": "yes"})
    assert not logs.debug_enabled({})
    assert not logs.debug_enabled({"CHATBOT_DEBUG": "0"})
    assert not logs.debug_enabled({"CHATBOT_DEBUG": "false"})


def test_log_rotates_at_one_mebibyte(log_setup: logs.LogSetup) -> None:
    line = "x" * 1000
    for _ in range(1200):
        logging.getLogger("chatbot_gui.test").info(line)
    _flush()
    assert log_setup.path.stat().st_size <= logs.MAX_BYTES
    assert (log_setup.directory / "chatbot.log.1").is_file()
    # Readable by the user only, before and after rotation (a debug log may hold message text).
    for path in (log_setup.path, log_setup.directory / "chatbot.log.1"):
        assert path.stat().st_mode & 0o777 == 0o600, oct(path.stat().st_mode)


@pytest.fixture
def reporter(qtbot, log_setup: logs.LogSetup) -> Iterator[CrashReporter]:
    crash = CrashReporter(ensure_log=lambda: log_setup.path).install()
    try:
        yield crash
    finally:
        crash.uninstall()
        if crash.dialog is not None:
            crash.dialog.close()
            crash.dialog.deleteLater()
        crash.deleteLater()


def _fail_in_a_slot() -> None:
    raise ValueError(f"injected failure; the key was {KEY}")


@pytest.mark.qt_no_exception_capture
def test_an_exception_in_a_qt_slot_shows_the_dialog_and_writes_the_log(
        qtbot, reporter: CrashReporter, log_setup: logs.LogSetup, capsys: pytest.CaptureFixture[str]) -> None:
    with qtbot.waitSignal(reporter.reported, timeout=5000) as shown:
        QTimer.singleShot(0, _fail_in_a_slot)
    assert shown.args[0].startswith("ValueError: injected failure; the key was [redacted]")
    box = reporter.dialog
    assert box is not None and box.isVisible()
    assert "Something went wrong inside Chatbot:\nValueError: injected failure" in box.text()
    assert f"The details were written to the log:\n{log_setup.path}" in box.informativeText()
    assert "still running" in box.informativeText()
    assert [b.text() for b in box.buttons() if box.buttonRole(b) == QMessageBox.ButtonRole.ActionRole] == \
        ["Open log folder"]
    _flush()
    text = log_setup.path.read_text(encoding="utf-8")
    assert "ERROR   chatbot_gui.crash [MainThread] uncaught exception" in text
    assert "in _fail_in_a_slot" in text and "ValueError: injected failure" in text
    assert KEY not in text and KEY not in box.text() + box.informativeText()
    assert KEY not in capsys.readouterr().err

    # A second failure while the dialog is open: counted in it, not a second dialog.
    first = box
    with qtbot.waitSignal(reporter.reported, timeout=5000):
        QTimer.singleShot(0, _fail_in_a_slot)
    assert reporter.dialog is first and "1 more unexpected error(s) since." in first.informativeText()


@pytest.mark.qt_no_exception_capture
def test_an_exception_on_a_worker_thread_is_shown_on_the_gui_thread(
        qtbot, reporter: CrashReporter, log_setup: logs.LogSetup) -> None:
    def work() -> None:
        raise OSError("disk went away")

    thread = threading.Thread(target=work, name="exporter")
    with qtbot.waitSignal(reporter.reported, timeout=5000) as shown:
        thread.start()
        thread.join()
    assert shown.args == ["OSError: disk went away"]
    assert reporter.dialog is not None and reporter.dialog.isVisible()
    _flush()
    assert "uncaught exception in thread exporter" in log_setup.path.read_text(encoding="utf-8")


DRIVER = r"""
import json, sys
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox
import chatbot_gui.app as app_module

real_create = app_module.create_window

def boom():
    raise RuntimeError("injected failure after start-up, key " + sys.argv[1])

def look():
    boxes = [w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox) and w.isVisible()]
    if not boxes:
        QTimer.singleShot(50, look)
        return
    print(json.dumps({"text": boxes[0].text(), "info": boxes[0].informativeText()}), flush=True)
    for w in QApplication.topLevelWidgets():
        w.close()

def create_window(*args, **kwargs):
    window, controller = real_create(*args, **kwargs)
    window.after_first_paint(lambda: QTimer.singleShot(300, boom))
    window.after_first_paint(lambda: QTimer.singleShot(350, look))
    return window, controller

app_module.create_window = create_window
raise SystemExit(app_module.main(["chatbot-test"]))
"""


def test_the_real_app_logs_and_shows_an_injected_failure(tmp_path: Path) -> None:
    """The app's own start-up installs the hook and the log (platform log folder) by itself."""
    env = {k: v for k, v in os.environ.items() if not k.endswith("_PROXY") and k != "CHATBOT_DEBUG"}
    env.update({
        "QT_QPA_PLATFORM": "offscreen", "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_DATA_HOME": str(tmp_path / "data"), "XDG_STATE_HOME": str(tmp_path / "state"),
        "XDG_RUNTIME_DIR": str(tmp_path / "run"), "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
        "OPENAI_API_KEY": ODD_KEY, "OPENAI_BASE_URL": "http://127.0.0.1:9/v1",
    })
    (tmp_path / "run").mkdir(mode=0o700)
    result = subprocess.run([sys.executable, "-c", DRIVER, ODD_KEY], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    shown = json.loads(next(line for line in result.stdout.splitlines() if line.startswith("{")))
    log_file = tmp_path / "state" / "chatbot-gui" / "log" / "chatbot.log"
    assert "RuntimeError: injected failure after start-up, key [API key]" in shown["text"]
    assert str(log_file) in shown["info"]
    text = log_file.read_text(encoding="utf-8")
    assert "uncaught exception" in text and "in boom" in text
    assert ODD_KEY not in text and ODD_KEY not in result.stderr and ODD_KEY not in json.dumps(shown)


@pytest.mark.qt_no_exception_capture
def test_the_apps_hooks_load_the_reporter_when_a_worker_thread_fails_first(qtbot, log_setup: logs.LogSetup) -> None:
    """app.main installs hooks that create the reporter only on the first exception; when that
    happens on a worker thread, the dialog still opens on the GUI thread."""
    from chatbot_gui import app as app_module
    from chatbot_gui.ui import crash

    saved = (sys.excepthook, threading.excepthook)
    app_module._install_crash_hooks(lambda: None)
    try:
        assert crash._shared is None

        def work() -> None:
            raise KeyError("missing")

        thread = threading.Thread(target=work, name="importer")
        thread.start()
        thread.join()
        qtbot.waitUntil(lambda: crash._shared is not None and crash._shared.dialog is not None, timeout=5000)
        reporter = crash._shared
        from PySide6.QtWidgets import QApplication

        assert reporter.thread() is QApplication.instance().thread()
        assert reporter.dialog.isVisible() and "KeyError: 'missing'" in reporter.dialog.text()
        _flush()
        assert "uncaught exception in thread importer" in log_setup.path.read_text(encoding="utf-8")
    finally:
        sys.excepthook, threading.excepthook = saved
        if crash._shared is not None:
            if crash._shared.dialog is not None:
                crash._shared.dialog.close()
                crash._shared.dialog.deleteLater()
            crash._shared.deleteLater()
            crash._shared = None


def test_other_providers_key_shapes_are_scrubbed() -> None:
    text = logs.scrub("groq gsk_ABCDEFGHIJKLMNOPQRSTuvwx, hf hf_abcdefghijklmnopqrstu, xai xai-ABCDEFGHIJKLMNOPQRS, "
                      "google AIzaSyA1234567890abcdefghijklmnopqrstu, openai sk-proj-abcdef123456")
    for secret in ("gsk_ABC", "hf_abc", "xai-ABC", "AIzaSy", "sk-proj"):
        assert secret not in text
    assert text.count("[redacted]") == 5
    assert logs.scrub("an ordinary sentence about hf_ and sk- prefixes") == \
        "an ordinary sentence about hf_ and sk- prefixes"


@pytest.mark.parametrize("debug", [False, True])
def test_each_request_is_logged_without_its_text_unless_debugging(tmp_path: Path, fake_server, debug: bool) -> None:
    from chatbot_gui.core.connection import ConnectionConfig
    from chatbot_gui.core.conversation import ChatRequest
    from chatbot_gui.core.streaming import AbortHandle, stream_chat
    from fakeserver import stream

    fake_server.queue(stream(["The ", "answer."]))
    logs.shutdown()
    setup = logs.setup(tmp_path, debug=debug, stderr=False)
    try:
        config = ConnectionConfig(api_key=KEY, base_url=fake_server.base_url)
        request = ChatRequest(model="gpt-4o-mini", messages=(("user", "my private question"),))
        outcome = stream_chat(request, config, lambda _t: None, AbortHandle())
        _flush()
        text = setup.path.read_text(encoding="utf-8")
    finally:
        logs.shutdown()
    assert outcome.status == "complete"
    port = fake_server.base_url.split(":")[2].split("/")[0]
    assert f"request to http://127.0.0.1:{port}: model gpt-4o-mini, 1 messages" in text
    assert "reply complete after" in text and "11 characters, finish stop" in text
    assert ("my private question" in text) is debug
    assert KEY not in text
