"""A small loopback proxy for tests: HTTP forwarding, HTTP ``CONNECT`` tunnels and SOCKS5.

It records what it forwarded (:attr:`LoopbackProxy.records`), so a test can prove that a request
really went through the proxy, with which credentials, and to which target. Optional
authentication (``auth=(user, password)``) answers 407 (HTTP) or refuses (SOCKS5) when the client
does not offer the right credentials. Only ever listens on and connects to 127.0.0.1.
"""

from __future__ import annotations

import base64
import socket
import struct
import threading
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Record:
    """One request the proxy saw. ``kind`` is "http", "connect" or "socks5"."""

    kind: str
    target: str  # absolute URL for "http", host:port otherwise
    credentials: tuple[str, str] | None  # what the client offered
    accepted: bool


class LoopbackProxy:
    """Listens on 127.0.0.1 (random port) until :meth:`close`. Use as a context manager."""

    def __init__(self, auth: tuple[str, str] | None = None) -> None:
        self.auth = auth
        self.records: list[Record] = []
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._closed = False
        self._start(self._accept_loop)

    def url(self, scheme: str = "http", user: str = "", password: str = "") -> str:
        creds = f"{user}:{password}@" if user else ""
        return f"{scheme}://{creds}127.0.0.1:{self.port}"

    def __enter__(self) -> LoopbackProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop listening, hang up every connection and wait for the proxy's threads."""
        self._closed = True
        with self._lock:
            socks = list(self._sockets) + [self._listener]
        for sock in socks:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
        for thread in list(self._threads):
            thread.join(5)

    # -- plumbing --------------------------------------------------------------------------------
    def _start(self, target, *args) -> None:  # type: ignore[no-untyped-def]
        thread = threading.Thread(target=target, args=args, daemon=True, name="test-proxy")
        with self._lock:
            self._threads.append(thread)
        thread.start()

    def _track(self, sock: socket.socket) -> socket.socket:
        with self._lock:
            self._sockets.add(sock)
        return sock

    def _record(self, record: Record) -> None:
        with self._lock:
            self.records.append(record)

    def _accept_loop(self) -> None:
        while not self._closed:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            self._start(self._serve, self._track(conn))

    def _serve(self, conn: socket.socket) -> None:
        try:
            first = conn.recv(1, socket.MSG_PEEK)
            if first == b"\x05":
                self._socks5(conn)
            elif first:
                self._http(conn)
        except OSError:
            pass
        finally:
            conn.close()

    def _relay(self, a: socket.socket, b: socket.socket) -> None:
        """Copy bytes both ways until either side closes."""

        def pump(src: socket.socket, dst: socket.socket) -> None:
            try:
                while data := src.recv(65536):
                    dst.sendall(data)
            except OSError:
                pass
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

        back = threading.Thread(target=pump, args=(b, a), daemon=True, name="test-proxy-relay")
        with self._lock:
            self._threads.append(back)
        back.start()
        pump(a, b)
        back.join(10)

    def _connect(self, host: str, port: int) -> socket.socket:
        if host not in ("127.0.0.1", "localhost"):
            raise OSError("the test proxy only connects to loopback")
        return self._track(socket.create_connection(("127.0.0.1", port), timeout=10))

    # -- HTTP ------------------------------------------------------------------------------------
    def _http(self, conn: socket.socket) -> None:
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = conn.recv(4096)
            if not chunk:
                return
            head += chunk
        head, _, rest = head.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, target, version = lines[0].split(" ", 2)
        headers = [line.split(":", 1) for line in lines[1:] if ":" in line]
        creds = None
        for name, value in headers:
            if name.strip().lower() == "proxy-authorization":
                scheme, _, token = value.strip().partition(" ")
                if scheme.lower() == "basic":
                    user, _, pw = base64.b64decode(token).decode("utf-8").partition(":")
                    creds = (user, pw)
        ok = self.auth is None or creds == self.auth
        kind = "connect" if method == "CONNECT" else "http"
        self._record(Record(kind, target, creds, ok))
        if not ok:
            conn.sendall(b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic "
                         b"realm=\"test\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            return
        if method == "CONNECT":
            host, _, port = target.rpartition(":")
            upstream = self._connect(host, int(port))
            conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            if rest:
                upstream.sendall(rest)
            self._relay(conn, upstream)
            return
        url = urlsplit(target)
        upstream = self._connect(url.hostname or "", url.port or 80)
        path = url.path + (f"?{url.query}" if url.query else "")
        kept = [f"{n}:{v}" for n, v in headers
                if n.strip().lower() not in ("proxy-authorization", "proxy-connection", "connection")]
        out = "\r\n".join([f"{method} {path} {version}", *kept, "Connection: close"]) + "\r\n\r\n"
        upstream.sendall(out.encode("latin-1") + rest)
        self._relay(conn, upstream)

    # -- SOCKS5 (RFC 1928, user/password per RFC 1929) ------------------------------------------------
    def _socks5(self, conn: socket.socket) -> None:
        _ver, n = _recv_exact(conn, 2)
        methods = _recv_exact(conn, n)
        creds = None
        if 2 in methods:
            conn.sendall(b"\x05\x02")
            _sub, ulen = _recv_exact(conn, 2)
            user = _recv_exact(conn, ulen).decode()
            plen = _recv_exact(conn, 1)[0]
            creds = (user, _recv_exact(conn, plen).decode())
            ok = self.auth is None or creds == self.auth
            conn.sendall(b"\x01\x00" if ok else b"\x01\x01")
            if not ok:
                self._record(Record("socks5", "", creds, False))
                return
        elif 0 in methods and self.auth is None:
            conn.sendall(b"\x05\x00")
            ok = True
        else:
            conn.sendall(b"\x05\xff")
            self._record(Record("socks5", "", None, False))
            return
        _ver, _cmd, _rsv, atyp = _recv_exact(conn, 4)
        if atyp == 1:
            host = socket.inet_ntoa(_recv_exact(conn, 4))
        elif atyp == 3:
            host = _recv_exact(conn, _recv_exact(conn, 1)[0]).decode()
        else:
            host = socket.inet_ntop(socket.AF_INET6, _recv_exact(conn, 16))
        (port,) = struct.unpack("!H", _recv_exact(conn, 2))
        self._record(Record("socks5", f"{host}:{port}", creds, True))
        upstream = self._connect(host, port)
        conn.sendall(b"\x05\x00\x00\x01" + socket.inet_aton("127.0.0.1") + struct.pack("!H", port))
        self._relay(conn, upstream)


def _recv_exact(conn: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise OSError("the client hung up")
        data += chunk
    return data
