"""A second start shows the first window instead of opening another one.

In-process: two :class:`SingleInstance` objects on one name, a crashed instance's socket file, the
name. Out-of-process: ``python -m chatbot_gui`` started twice with the same (temporary) home, then with
two data folders, then after the first was killed. Their sockets live in a private ``XDG_RUNTIME_DIR``
per test, removed afterwards.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator

import pytest
from PySide6.QtCore import QDir, Qt
from PySide6.QtNetwork import QLocalSocket
from PySide6.QtWidgets import QMainWindow

from chatbot_gui.core.paths import APP_DIR_NAME
from chatbot_gui.ui.single_instance import SingleInstance, bring_to_front, server_name
from fakeserver import FakeServer

ROOT = Path(__file__).resolve().parents[1]
ALREADY_RUNNING = "Chatbot is already running; showing its window."
SHOWN = "showing the window for a second start"


@pytest.fixture
def name(tmp_path: Path) -> Iterator[str]:
    """A server name of this test's own (a data folder nobody else uses)."""
    yield server_name(tmp_path / "data")


def listening(name: str, timeout_ms: int = 100) -> bool:
    """Whether somebody accepts connections on ``name`` (connects and hangs up: no request)."""
    sock = QLocalSocket()
    sock.connectToServer(name)
    ok = sock.waitForConnected(timeout_ms)
    sock.abort()
    return ok


# -- in-process ------------------------------------------------------------------------------------


def test_second_instance_asks_the_first_to_show_its_window(qtbot, name: str) -> None:
    first, second = SingleInstance(name), SingleInstance(name)
    shown: list[str] = []
    try:
        assert first.listen(lambda: shown.append("first"))
        assert second.try_activate_existing()
        qtbot.waitUntil(lambda: shown == ["first"], timeout=2000)
        assert not second.claim(lambda: shown.append("second"))  # what main() calls: quit
        qtbot.waitUntil(lambda: shown == ["first", "first"], timeout=2000)
    finally:
        first.close()
        second.close()


def test_listen_never_takes_a_live_socket_away(qtbot, name: str) -> None:
    # Two starts in the same instant both find nobody; the later one must not remove the earlier's socket.
    first, second = SingleInstance(name), SingleInstance(name)
    shown: list[str] = []
    try:
        assert first.listen(lambda: shown.append("first"))
        assert not second.listen(lambda: shown.append("second"))
        assert SingleInstance(name).try_activate_existing()
        qtbot.waitUntil(lambda: shown == ["first"], timeout=2000)
    finally:
        first.close()
        second.close()


def test_nobody_listening_costs_no_wait(qtbot, name: str) -> None:
    instance = SingleInstance(name)
    started = time.perf_counter()
    assert not instance.try_activate_existing(timeout_ms=3000)
    # A refused connect fails at once (measured ~0.1 ms), never after the timeout; the bound is generous.
    assert time.perf_counter() - started < 0.1


@pytest.mark.skipif(not hasattr(socket, "AF_UNIX") or sys.platform == "win32", reason="Unix socket files")
def test_a_crashed_instances_socket_file_does_not_block_a_new_start(qtbot, name: str) -> None:
    path = os.path.join(QDir.tempPath(), name)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as dead:  # bound, then gone: as after a kill
        dead.bind(path)
    assert os.path.exists(path)
    instance = SingleInstance(name)
    shown: list[bool] = []
    try:
        assert not instance.try_activate_existing()
        assert instance.claim(lambda: shown.append(True))
        assert SingleInstance(name).try_activate_existing()
        qtbot.waitUntil(lambda: shown == [True], timeout=2000)
    finally:
        instance.close()
    assert not os.path.exists(path)  # closing removes it


@pytest.mark.skipif(sys.platform == "win32", reason="socket files")
def test_a_removed_socket_file_is_made_again(qtbot, name: str) -> None:
    # Clean-ups of /tmp or XDG_RUNTIME_DIR may delete an old socket file while the app runs.
    instance = SingleInstance(name)
    shown: list[bool] = []
    try:
        assert instance.listen(lambda: shown.append(True))
        os.remove(os.path.join(QDir.tempPath(), name))
        assert not listening(name)
        instance.refresh()
        assert SingleInstance(name).try_activate_existing()
        qtbot.waitUntil(lambda: shown == [True], timeout=2000)
    finally:
        instance.close()


def test_server_name_is_per_user_and_data_folder(tmp_path: Path) -> None:
    here = server_name(tmp_path / "a", user="alice")
    assert here == server_name(tmp_path / "x" / ".." / "a", user="alice")  # the same folder
    assert here != server_name(tmp_path / "b", user="alice")
    assert here != server_name(tmp_path / "a", user="bob")
    # A path inside $XDG_RUNTIME_DIR when that is set (as in CI), else in a private folder.
    base = Path(here).name
    assert base.startswith("chatbot-gui-") and len(base) == len("chatbot-gui-") + 16
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    assert (runtime is not None and Path(here).parent == Path(runtime)) or \
        (sys.platform != "win32" and (os.stat(Path(here).parent).st_mode & 0o777) == 0o700)
    assert server_name(tmp_path / "a") == server_name(tmp_path / "a")  # the user from the system


@pytest.mark.gui
@pytest.mark.qt_log_ignore("This plugin does not support raise", "This plugin does not support propagateSizeHints")
def test_bring_to_front_unminimizes_and_keeps_maximized(qtbot) -> None:
    window = QMainWindow()
    qtbot.addWidget(window)
    window.showMinimized()
    bring_to_front(window)
    assert window.isVisible() and not window.isMinimized()
    window.showMaximized()
    window.setWindowState(window.windowState() | Qt.WindowState.WindowMinimized)
    bring_to_front(window)
    assert window.isMaximized() and not window.isMinimized()


# -- out of process: the real app ----------------------------------------------------------------


class Apps:
    """Starts ``python -m chatbot_gui`` with a temporary home; kills whatever is left at the end."""

    def __init__(self, base: Path, server: FakeServer) -> None:
        # A short folder: a Unix socket's path has room for ~100 bytes (mkdtemp makes it 0700).
        self.runtime = Path(tempfile.mkdtemp(prefix="cb"))
        self.base = base
        self.server = server
        self.procs: list[tuple[subprocess.Popen[bytes], Path]] = []

    def env(self, data: str) -> dict[str, str]:
        env = dict(os.environ)
        env.update(HOME=str(self.base / "home"), XDG_CONFIG_HOME=str(self.base / "config"),
                   XDG_DATA_HOME=str(self.base / data), XDG_CACHE_HOME=str(self.base / "cache"),
                   XDG_RUNTIME_DIR=str(self.runtime), QT_QPA_PLATFORM="offscreen", CHATBOT_DEBUG="1",
                   OPENAI_API_KEY="sk-single-instance-test", OPENAI_BASE_URL=self.server.base_url)
        return env

    def name(self, data: str) -> str:
        """The socket the app uses for data folder ``data`` (on Linux: XDG_DATA_HOME/chatbot-gui)."""
        return str(self.runtime / Path(server_name(self.base / data / APP_DIR_NAME)).name)

    def start(self, data: str = "data") -> tuple[subprocess.Popen[bytes], Path]:
        log = self.base / f"app-{len(self.procs)}.stderr"
        with log.open("wb") as err:
            proc = subprocess.Popen([sys.executable, "-m", "chatbot_gui"], cwd=ROOT, env=self.env(data),
                                    stdout=subprocess.DEVNULL, stderr=err)
        self.procs.append((proc, log))
        return proc, log

    def wait_listening(self, proc: subprocess.Popen[bytes], log: Path, data: str = "data") -> None:
        deadline = time.monotonic() + 20
        while not listening(self.name(data)):
            assert proc.poll() is None, f"the app exited ({proc.returncode}): {log.read_text()}"
            assert time.monotonic() < deadline, f"the app never listened: {log.read_text()}"
            time.sleep(0.05)

    def close(self) -> None:
        for proc, _ in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait(10)
        shutil.rmtree(self.runtime, ignore_errors=True)


@pytest.fixture
def apps(tmp_path: Path, fake_server: FakeServer) -> Iterator[Apps]:
    if sys.platform != "linux":
        pytest.skip("the temporary data folders are set through XDG variables (Linux)")
    runner = Apps(tmp_path, fake_server)
    try:
        yield runner
    finally:
        runner.close()


def wait_for_line(log: Path, line: str, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        # CHATBOT_DEBUG's log lines on stderr start with the time, level and logger (core/logs.py).
        if any(text.endswith(line) for text in log.read_text().splitlines()):
            return True
        time.sleep(0.05)
    return False


def test_second_start_shows_the_running_window_and_exits(apps: Apps) -> None:
    first, first_log = apps.start()
    other, other_log = apps.start("other-data")  # another data folder: an instance of its own
    apps.wait_listening(first, first_log)
    apps.wait_listening(other, other_log, "other-data")

    second = subprocess.run([sys.executable, "-m", "chatbot_gui"], cwd=ROOT, env=apps.env("data"),
                            capture_output=True, text=True, timeout=10)
    assert second.returncode == 0, second.stderr
    assert ALREADY_RUNNING in second.stderr.splitlines()
    assert wait_for_line(first_log, SHOWN), first_log.read_text()
    assert first.poll() is None and other.poll() is None  # both still running
    assert SHOWN not in other_log.read_text()

    # SIGTERM (logout, kill) closes the window as Ctrl+Q does: a clean exit, state saved.
    first.terminate()
    assert first.wait(5) == 0, first_log.read_text()
    assert (apps.base / "config" / "chatbot-gui" / "settings.json").exists(), "closing saved no settings"
    assert not listening(apps.name("data"))
    assert other.poll() is None and listening(apps.name("other-data"))
    other.terminate()
    assert other.wait(5) == 0


def test_a_start_after_a_crash_is_not_blocked_by_the_leftover_socket(apps: Apps) -> None:
    first, first_log = apps.start()
    apps.wait_listening(first, first_log)
    first.send_signal(signal.SIGKILL)
    first.wait(5)
    leftover = Path(apps.name("data"))
    assert leftover.exists() and not listening(str(leftover))

    again, again_log = apps.start()
    apps.wait_listening(again, again_log)  # it removed the dead socket and listens
    second = subprocess.run([sys.executable, "-m", "chatbot_gui"], cwd=ROOT, env=apps.env("data"),
                            capture_output=True, text=True, timeout=10)
    assert second.returncode == 0, second.stderr
    assert wait_for_line(again_log, SHOWN), again_log.read_text()
    assert again.poll() is None
    again.terminate()
    assert again.wait(5) == 0
