"""A private Linux desktop for end-to-end tests of the real app process (``test_smoke.py``).

:class:`Desktop` starts, in a new temporary HOME, what a user's session has: an X server (Xvfb), a
D-Bus session bus, an unlocked gnome-keyring (the Secret Service) and the accessibility bus (AT-SPI,
started on demand by D-Bus as on any desktop). The app runs in it as a separate process, as a user
starts it; the test drives it only from the outside:

- real key and mouse events through ``xdotool`` (the X server delivers them as it does a keyboard's);
- what the window shows is read through the accessibility tree (AT-SPI over D-Bus, read here with
  ``jeepney``, the pure-Python D-Bus client keyring already depends on on Linux): widget roles, names,
  on-screen positions and displayed text, exactly what a screen reader gets. Nothing in the app is
  instrumented for the test.

Everything started here is stopped by :meth:`Desktop.close`, by process id.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

#: Programs the desktop needs (Debian packages: xvfb, xdotool, dbus, gnome-keyring, libsecret-tools,
#: at-spi2-core; .ci/run installs them).
TOOLS = ("Xvfb", "xdotool", "dbus-daemon", "gnome-keyring-daemon", "secret-tool")
ATSPI_LAUNCHER = "/usr/libexec/at-spi-bus-launcher"
KEYRING_PASSWORD = "desktop-test-keyring"

# AT-SPI state bits (at-spi2-core atspi-constants.h, AtspiStateType).
STATE_EDITABLE = 7
STATE_FOCUSED = 12
STATE_MULTI_LINE = 17
STATE_SHOWING = 25


def missing_tools() -> list[str]:
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if not os.path.exists(ATSPI_LAUNCHER):
        missing.append(ATSPI_LAUNCHER)
    try:
        import jeepney  # noqa: F401
    except ImportError:
        missing.append("jeepney (Python)")
    return missing


@dataclass(frozen=True)
class Node:
    """One accessible object as AT-SPI reports it. ``extents`` are screen pixels (x, y, w, h)."""

    bus: str
    path: str
    role: str
    name: str
    states: frozenset[int]
    extents: tuple[int, int, int, int]
    text: str | None

    @property
    def showing(self) -> bool:
        return STATE_SHOWING in self.states

    @property
    def editable(self) -> bool:
        return STATE_EDITABLE in self.states

    @property
    def multi_line(self) -> bool:
        return STATE_MULTI_LINE in self.states

    @property
    def centre(self) -> tuple[int, int]:
        x, y, w, h = self.extents
        return x + w // 2, y + h // 2


class Desktop:
    """Xvfb + D-Bus session + unlocked gnome-keyring + AT-SPI, in a private HOME under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.home = root / "home"
        self.tmp = root / "tmp"
        self.runtime = root / "run"
        for folder in (self.home, self.tmp, self.runtime):
            folder.mkdir(parents=True, exist_ok=True)
        self.runtime.chmod(0o700)
        self._procs: list[subprocess.Popen] = []
        self._a11y = None
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "HOME": str(self.home),
            "XDG_CONFIG_HOME": str(self.home / ".config"),
            "XDG_DATA_HOME": str(self.home / ".local" / "share"),
            "XDG_CACHE_HOME": str(self.home / ".cache"),
            "XDG_STATE_HOME": str(self.home / ".local" / "state"),
            "XDG_RUNTIME_DIR": str(self.runtime),
            "TMPDIR": str(self.tmp),
        }
        try:
            self._start()
        except BaseException:
            self.close()
            raise

    # -- start and stop --------------------------------------------------------------------------
    def _spawn(self, args: Sequence[str], **kwargs) -> subprocess.Popen:  # noqa: ANN003 - Popen's
        proc = subprocess.Popen(list(args), env=self.env, **kwargs)
        self._procs.append(proc)
        return proc

    def _start(self) -> None:
        # X server: -displayfd picks a free display number and writes it to the pipe.
        read_fd, write_fd = os.pipe()
        try:
            self._spawn(["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
                        pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            os.close(write_fd)
            write_fd = -1
            with os.fdopen(read_fd, "rb") as pipe:
                read_fd = -1
                display = pipe.readline().strip().decode()
        finally:
            for fd in (read_fd, write_fd):
                if fd >= 0:
                    os.close(fd)
        if not display:
            raise RuntimeError("Xvfb did not start")
        self.env["DISPLAY"] = f":{display}"
        # The session bus (the standard session configuration: services start on demand).
        bus = self._spawn(["dbus-daemon", "--session", "--nofork", "--print-address=1",
                           f"--address=unix:path={self.runtime / 'bus'}"],
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        assert bus.stdout is not None
        address = bus.stdout.readline().decode().strip()
        bus.stdout.close()
        if not address:
            raise RuntimeError("dbus-daemon did not start")
        self.env["DBUS_SESSION_BUS_ADDRESS"] = address
        # gnome-keyring, unlocked with a password on stdin (docs/platform.md: without --unlock every
        # write ends in "Prompt dismissed"); --foreground keeps it our child, stopped by its pid.
        keyring = self._spawn(["gnome-keyring-daemon", "--foreground", "--unlock", "--components=secrets"],
                              stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        assert keyring.stdin is not None
        keyring.stdin.write(KEYRING_PASSWORD.encode())
        keyring.stdin.close()
        self._wait_for_name("org.freedesktop.secrets", 15)
        # Accessibility on, as a screen reader turns it on: the org.a11y.Status property on the
        # session bus (D-Bus starts at-spi-bus-launcher for it). Qt reads it when the app starts.
        self._session_call("/org/a11y/bus", "org.a11y.Bus", "org.freedesktop.DBus.Properties", "Set",
                           "ssv", ("org.a11y.Status", "IsEnabled", ("b", True)))
        a11y_address = self._session_call("/org/a11y/bus", "org.a11y.Bus", "org.a11y.Bus", "GetAddress")[0]
        from jeepney.io.blocking import open_dbus_connection

        self._a11y = open_dbus_connection(a11y_address)
        # Starts the registry (D-Bus activation). Seen once in ~10 starts on a loaded machine: the
        # first registry process goes away before answering; D-Bus starts a new one on the next call.
        deadline = time.monotonic() + 20
        while True:
            try:
                self.applications()
                break
            except LookupError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def _session_call(self, path: str, name: str, iface: str, method: str, sig: str | None = None,
                      body: tuple = ()) -> tuple:
        from jeepney import DBusAddress, new_method_call
        from jeepney.io.blocking import open_dbus_connection

        with open_dbus_connection(self.env["DBUS_SESSION_BUS_ADDRESS"]) as conn:
            reply = conn.send_and_get_reply(new_method_call(DBusAddress(path, name, iface), method, sig, body),
                                            timeout=15)
        if reply.header.message_type.name == "error":
            raise RuntimeError(f"D-Bus {iface}.{method} failed: {reply.body}")
        return reply.body

    def _wait_for_name(self, name: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            owned = self._session_call("/org/freedesktop/DBus", "org.freedesktop.DBus", "org.freedesktop.DBus",
                                       "NameHasOwner", "s", (name,))[0]
            if owned:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not appear on the session bus")
            time.sleep(0.05)

    def close(self) -> None:
        if self._a11y is not None:
            self._a11y.close()
            self._a11y = None
        for proc in reversed(self._procs):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        self._procs.clear()

    def __enter__(self) -> Desktop:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the accessibility tree ---------------------------------------------------------------------
    def _call(self, bus: str, path: str, method: str, sig: str | None = None, body: tuple = (),
              iface: str = "org.a11y.atspi.Accessible") -> tuple:
        from jeepney import DBusAddress, new_method_call

        assert self._a11y is not None
        reply = self._a11y.send_and_get_reply(new_method_call(DBusAddress(path, bus, iface), method, sig, body),
                                              timeout=10)
        if reply.header.message_type.name == "error":
            raise LookupError(f"{iface}.{method} on {bus}{path}: {reply.body}")
        return reply.body

    def _prop(self, bus: str, path: str, prop: str, iface: str = "org.a11y.atspi.Accessible") -> object:
        return self._call(bus, path, "Get", "ss", (iface, prop), iface="org.freedesktop.DBus.Properties")[0][1]

    def _node(self, bus: str, path: str) -> Node:
        ifaces = self._call(bus, path, "GetInterfaces")[0]
        words = self._call(bus, path, "GetState")[0]
        states = frozenset(i * 32 + bit for i, word in enumerate(words) for bit in range(32) if word >> bit & 1)
        extents = (0, 0, 0, 0)
        if "org.a11y.atspi.Component" in ifaces:
            extents = tuple(self._call(bus, path, "GetExtents", "u", (0,), iface="org.a11y.atspi.Component")[0])
        text = None
        if "org.a11y.atspi.Text" in ifaces:
            text = self._call(bus, path, "GetText", "ii", (0, -1), iface="org.a11y.atspi.Text")[0]
        return Node(bus, path, self._call(bus, path, "GetRoleName")[0], str(self._prop(bus, path, "Name")),
                    states, extents, text)  # type: ignore[arg-type]

    def applications(self) -> list[tuple[str, str, str]]:
        """``(name, bus, path)`` of every application registered with AT-SPI."""
        apps = []
        for bus, path in self._call("org.a11y.atspi.Registry", "/org/a11y/atspi/accessible/root", "GetChildren")[0]:
            try:
                apps.append((str(self._prop(bus, path, "Name")), bus, path))
            except LookupError:
                continue  # an application that just went away
        return apps

    def windows(self, app_name: str) -> list[tuple[Node, list[Node]]]:
        """Each showing top-level window of the application named ``app_name``, with every showing
        object in it (depth first, in the order the toolkit lists them)."""
        out = []
        for name, bus, path in self.applications():
            if name != app_name:
                continue
            for wbus, wpath in self._call(bus, path, "GetChildren")[0]:
                try:
                    window = self._node(wbus, wpath)
                    if window.showing:
                        out.append((window, list(self._showing_descendants(wbus, wpath))))
                except LookupError:
                    continue  # closed while being read
        return out

    def _showing_descendants(self, bus: str, path: str) -> Iterator[Node]:
        for cbus, cpath in self._call(bus, path, "GetChildren")[0]:
            node = self._node(cbus, cpath)
            if node.showing:
                yield node
                yield from self._showing_descendants(cbus, cpath)

    def wait_for_window(self, app_name: str, role: str, name: str | None = None,
                        timeout: float = 60.0) -> tuple[Node, list[Node]]:
        """The first showing window of ``app_name`` with this role (and title, which Qt may follow
        with " — " and the application's name), once it appears."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                windows = self.windows(app_name)
            except LookupError:  # an object went away while the tree was read: read it again
                windows = []
            for window, nodes in windows:
                if window.role == role and (name is None or window.name.split(" \u2014 ")[0] == name):
                    return window, nodes
            if time.monotonic() > deadline:
                seen = [(w.role, w.name) for w, _ in self.windows(app_name)]
                raise AssertionError(f"no {role} {name or ''} of {app_name} within {timeout} s; showing: {seen}")
            time.sleep(0.2)

    # -- input ------------------------------------------------------------------------------------
    def xdotool(self, *args: str) -> None:
        subprocess.run(["xdotool", *args], env=self.env, check=True, timeout=60,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def click(self, node: Node) -> None:
        x, y = node.centre
        self.xdotool("mousemove", "--sync", str(x), str(y), "click", "1")

    def type(self, text: str) -> None:
        self.xdotool("type", "--delay", "15", "--", text)

    def key(self, *keys: str) -> None:
        self.xdotool("key", "--delay", "30", *keys)


def field_beside(nodes: list[Node], label: str) -> Node:
    """The editable text field on the same row as the label ``label``, nearest to its right: how a
    sighted user finds "the API key field" in a form."""
    labels = [n for n in nodes if n.role == "label" and n.name == label]
    if not labels:
        raise AssertionError(f"no label {label!r} is showing; labels: {[n.name for n in nodes if n.role == 'label']}")
    lx, ly, lw, lh = labels[0].extents
    candidates = [n for n in nodes if n.editable and n.text is not None and not n.multi_line
                  and ly <= n.centre[1] <= ly + lh and n.extents[0] >= lx + lw]
    if not candidates:
        raise AssertionError(f"no text field beside {label!r}")
    return min(candidates, key=lambda n: n.extents[0])
