"""One app per user and data folder: a second start brings the first one's window to the front.

The first start listens on a local socket (a Unix domain socket, a named pipe on Windows) named after
the user and the data folder (:func:`server_name`), so two users on one machine, or tests with their
own temporary folders, never meet. A later start connects, writes ``show``, and quits; the first
window is raised. Cost at start-up (measured, Linux): importing QtNetwork ~6 ms; a connect to a name
nobody listens on fails at once (~0.1 ms), the timeout only bounds a hung first instance.

A crash (or SIGKILL) leaves the socket file behind; a connect to it is refused, and only then is it
removed. A socket somebody answers on is never removed, so two starts in the same instant do not take
each other's socket away: the later one finds the earlier one listening and hands over to it.
"""

from __future__ import annotations

import logging
import os
import stat
import sys
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from PySide6.QtCore import QObject, Qt, QTimer

if TYPE_CHECKING:  # QtNetwork costs ~15 ms to import: only when a socket is really needed
    from PySide6.QtNetwork import QLocalServer, QLocalSocket
    from PySide6.QtWidgets import QWidget

log = logging.getLogger(__name__)

SHOW = b"show"
#: How long a second start waits to connect and to hand over its request.
CONNECT_TIMEOUT_MS = 300
#: Files in XDG_RUNTIME_DIR not accessed for 6 h may be cleaned up (XDG Base Directory spec), and
#: systemd-tmpfiles ages out old files in /tmp: the socket's access time is refreshed this often.
TOUCH_INTERVAL_MS = 60 * 60 * 1000


def server_name(data_dir: Path, user: str | None = None) -> str:
    """The socket for this user and data folder: ``chatbot-gui-`` and 16 hex digits.

    On Linux it lives in the user's private ``XDG_RUNTIME_DIR`` when there is one (another user
    cannot put a socket there first; it is emptied at logout); else, on Unix, in a private 0700
    folder of the user (:func:`private_socket_dir`); on Windows it names a pipe."""
    if user is None:
        try:
            # getpass.getuser()'s own order, without importing getpass (and termios) at start-up.
            user = next((os.environ[v] for v in ("LOGNAME", "USER", "LNAME", "USERNAME") if os.environ.get(v)), "")
            if not user and os.name == "posix":  # then, as getpass does, the passwd entry
                import pwd

                user = pwd.getpwuid(os.getuid()).pw_name
            if not user:
                import getpass

                user = getpass.getuser()
        except (OSError, KeyError, ImportError):  # no USER/USERNAME variable and no passwd entry
            user = str(Path.home())
    key = f"{user}\0{Path(data_dir).expanduser().resolve()}".encode("utf-8", "surrogatepass")
    # Two CRC-32s (not a cryptographic hash: the name only has to be stable and distinct; hashlib
    # would load OpenSSL on the start-up path).
    name = f"chatbot-gui-{zlib.crc32(key):08x}{zlib.crc32(key[::-1]):08x}"
    runtime = os.environ.get("XDG_RUNTIME_DIR", "")
    if sys.platform.startswith("linux") and runtime and os.path.isdir(runtime):
        return os.path.join(runtime, name)
    if os.name == "posix":
        # Not in the shared temp folder itself: another local user could create the socket there
        # first (and so keep the app from starting, or receive what a second start sends).
        folder = private_socket_dir(data_dir)
        if folder is not None:
            return os.path.join(folder, name)
    return name


#: The longest Unix socket path, without its NUL (sun_path: 108 bytes on Linux, 104 on macOS).
_MAX_SOCKET_PATH = 103 if sys.platform == "darwin" else 107


def private_socket_dir(data_dir: Path, tmp: str | None = None) -> str | None:
    """A folder only this user can enter, for the socket when there is no ``XDG_RUNTIME_DIR``.

    ``$TMPDIR/chatbot-gui-<uid>`` made with mode 0700; one that exists is used only if it is a real
    folder (not a link) owned by this user, else ``-1``, ``-2``… are tried (a squatter cannot block
    the app), and as a last resort the app's own data folder (0700 too). None when none works."""
    tmp = tmp or os.environ.get("TMPDIR") or "/tmp"
    uid = os.getuid()
    candidates = [os.path.join(tmp, f"chatbot-gui-{uid}" + (f"-{n}" if n else "")) for n in range(8)]
    candidates.append(str(Path(data_dir).expanduser()))
    for folder in candidates:
        if len(os.fsencode(folder)) + len("/chatbot-gui-") + 16 > _MAX_SOCKET_PATH:
            continue
        try:
            os.makedirs(folder, mode=0o700, exist_ok=True)
            st = os.lstat(folder)
        except OSError:
            continue
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != uid:
            continue
        if stat.S_IMODE(st.st_mode) != 0o700:
            try:
                os.chmod(folder, 0o700)
            except OSError:
                continue
        return folder
    return None


def nobody_listening(name: str) -> bool:
    """True when no instance can be listening on ``name`` (checked without QtNetwork).

    On Unix the socket is a file; when it does not exist, nobody listens. (On Windows a pipe leaves
    no file: this never answers True there, and the full check runs.)"""
    if sys.platform.startswith("win"):
        return False
    # Where Qt puts a socket with a bare name on Unix: QDir::tempPath(), i.e. $TMPDIR or /tmp.
    path = name if os.path.isabs(name) else os.path.join(os.environ.get("TMPDIR") or "/tmp", name)
    return not os.path.exists(path)


def bring_to_front(window: QWidget) -> None:
    """Show ``window`` un-minimized (a maximized one stays maximized), raised and focused.

    Window managers with focus-stealing prevention may only flag it in the taskbar; that is theirs to
    decide."""
    window.setWindowState((window.windowState() & ~Qt.WindowState.WindowMinimized) | Qt.WindowState.WindowActive)
    window.show()
    window.raise_()
    window.activateWindow()


class SingleInstance(QObject):
    """The local socket of one app start: ask a running one to show itself, or listen as the first.

    The ``on_show`` callable given to :meth:`listen` runs on the GUI thread for each ``show`` request.
    """

    def __init__(self, name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self._server: QLocalServer | None = None
        self._on_show: Callable[[], None] = lambda: None
        self._touch = QTimer(self)
        self._touch.setTimerType(Qt.TimerType.VeryCoarseTimer)
        self._touch.setInterval(TOUCH_INTERVAL_MS)
        self._touch.timeout.connect(self.refresh)

    def claim(self, on_show: Callable[[], None]) -> bool:
        """What ``main()`` calls. True: this is the first start (listening, when possible).
        False: a running one was asked to show its window, and this start should quit."""
        if self.try_activate_existing():
            return False
        if self.listen(on_show):
            return True
        if self.try_activate_existing():  # another start began listening a moment ago
            return False
        log.warning("cannot listen for a second start on %s; starting anyway", self.name)
        return True

    def try_activate_existing(self, timeout_ms: int = CONNECT_TIMEOUT_MS) -> bool:
        """Ask a running instance to show its window; True when the request was handed over."""
        from PySide6.QtNetwork import QLocalSocket

        sock = QLocalSocket()
        sock.connectToServer(self.name)
        if not sock.waitForConnected(timeout_ms):
            return False
        sock.write(SHOW + b"\n")
        ok = sock.waitForBytesWritten(timeout_ms) or sock.bytesToWrite() == 0
        sock.disconnectFromServer()
        if sock.state() != QLocalSocket.LocalSocketState.UnconnectedState:
            sock.waitForDisconnected(timeout_ms)
        return ok

    def listen(self, on_show: Callable[[], None]) -> bool:
        """Listen for later starts; False when that is not possible (e.g. another one is listening).

        A socket file nobody answers on (a crashed instance's) is removed first."""
        self._on_show = on_show
        from PySide6.QtNetwork import QAbstractSocket, QLocalServer

        server = QLocalServer(self)
        if sys.platform == "win32":
            # Not on Unix: there the socket is made in a temporary folder and renamed over the name,
            # replacing a live socket instead of failing with AddressInUseError (QTBUG-48635; the same
            # workaround as qutebrowser's ipc.py). The file's mode is set after listen() instead.
            server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        server.newConnection.connect(self._accept)
        ok = server.listen(self.name)
        if not ok and server.serverError() == QAbstractSocket.SocketError.AddressInUseError and not self._answers():
            QLocalServer.removeServer(self.name)  # refused: a dead instance's leftover
            ok = server.listen(self.name)
        if ok and sys.platform != "win32":
            try:
                os.chmod(server.fullServerName(), 0o700)  # only this user may connect
            except OSError:
                ok = False
        if not ok:
            log.info("not listening on %s: %s", self.name, server.errorString())
            server.close()
            server.deleteLater()
            return False
        self._server = server
        self._touch.start()
        return True

    def refresh(self) -> None:
        """Touch the socket file so clean-ups leave it; listen again if it was removed anyway."""
        if self._server is None or sys.platform == "win32":
            return
        try:
            os.utime(self._server.fullServerName())
        except OSError:
            log.info("the socket %s went away; listening again", self.name)
            self.close()
            self.listen(self._on_show)

    def close(self) -> None:
        """Stop listening (the socket file is removed)."""
        self._touch.stop()
        if self._server is not None:
            self._server.close()
            self._server.deleteLater()
            self._server = None

    def _answers(self) -> bool:
        from PySide6.QtNetwork import QLocalSocket

        sock = QLocalSocket()
        sock.connectToServer(self.name)
        answered = sock.waitForConnected(CONNECT_TIMEOUT_MS)
        sock.abort()
        return answered

    def _accept(self) -> None:
        server = self._server
        while server is not None and server.hasPendingConnections():
            conn = server.nextPendingConnection()
            conn.readyRead.connect(lambda conn=conn: self._read(conn))
            conn.disconnected.connect(conn.deleteLater)
            if conn.canReadLine():
                self._read(conn)

    def _read(self, conn: QLocalSocket) -> None:
        while conn.canReadLine():
            if bytes(conn.readLine(64).data()).strip() == SHOW:
                log.info("showing the window for a second start")
                self._on_show()
        if conn.bytesAvailable() > 64:  # a line longer than any request: not one of ours
            conn.abort()
