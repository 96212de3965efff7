"""A diagnostic for packaged builds: does this build have what the app needs at run time?

A frozen (PyInstaller) build only contains what its analysis found; a module loaded by name, a
plugin or a data file can be missing and nothing fails until a user hits it. ``Chatbot --self-check``
(the frozen launcher, resources/launcher.py, routes the flag here before any Qt or UI import; from a
checkout: ``python -m chatbot_gui.selfcheck``) reports, without a window and without the network:

- the OS keyring backend that :func:`chatbot_gui.core.secrets.select_backend` finds here;
- where TLS trust comes from for HTTPS (the SSL context httpx2 builds, and how many CAs it holds);
- that the openai SDK, httpx2 (with SOCKS proxy support), SQLite FTS5 trigram search, the Qt
  modules, the platform plugin and the package's assets can be loaded;
- that the Markdown view renders and highlights code (and, frozen, that a language whose lexer the
  build leaves out comes back as plain text).

Each line is ``ok``, ``warn`` (this machine lacks something the build cannot supply: no keyring
service, no CA certificates) or ``FAIL`` (the build itself is incomplete); the exit status is 1 when
any line is ``FAIL``. Nothing secret is printed; nothing is written to the keyring unless
``--keyring-roundtrip`` asks for a set/get/delete of a throw-away entry.

``Chatbot --startup-probe`` starts the real app and prints one JSON line with the time
(``time.time()``) at which the main window was first exposed and painted, then quits: the frozen
build's start-up time is measured by whoever started the process (see resources/README.md).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Callable, TextIO

# The first-paint reporter is a module of its own (standard library and PySide6 only), so the
# benchmarks' frozen hello-world (benchmarks/_frozen_hello.py) runs the very same code.
from chatbot_gui.startup_report import STARTUP_WATCHED, install_startup_reporter  # noqa: F401 - re-exported

OK, WARN, FAIL = "ok", "warn", "FAIL"
#: The keyring entry written and deleted by ``--keyring-roundtrip``.
ROUNDTRIP_SERVICE = "chatbot-gui-selfcheck"


def check_keyring(roundtrip: bool = False) -> tuple[str, str]:
    """The backend ``select_backend`` picks; a module that cannot be imported is a broken build."""
    from chatbot_gui.core.secrets import select_backend

    backend, reason = select_backend()
    if backend is None:
        # "could not be loaded" means an import failed: the build is missing a module.
        return (FAIL if "could not be loaded" in reason else WARN), reason
    cls = type(backend)
    text = f"{cls.__module__}.{cls.__qualname__} ({getattr(backend, 'name', '')})"
    if roundtrip:
        secret = f"selfcheck-{os.getpid()}-{time.time_ns()}"
        try:
            backend.set_password(ROUNDTRIP_SERVICE, "selfcheck", secret)
            got = backend.get_password(ROUNDTRIP_SERVICE, "selfcheck")
            backend.delete_password(ROUNDTRIP_SERVICE, "selfcheck")
        except Exception as exc:  # noqa: BLE001 - reported, never raised
            return FAIL, f"{text}; set/get/delete failed: {type(exc).__name__}"
        if got != secret:
            return FAIL, f"{text}; read back a different value"
        text += "; set/get/delete round trip ok"
    return OK, text


def check_tls() -> tuple[str, str]:
    """Where the SSL context httpx2 (and so the openai SDK) uses gets its trusted CAs from.

    httpx2 does not use certifi: on Windows and macOS it asks the OS trust store (truststore); on
    Linux it loads OpenSSL's configured CA file or directory, else the usual distribution paths
    (httpcore2/_ssl.py). ``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` override both.
    """
    import ssl

    import httpx2

    ctx = httpx2.create_ssl_context()
    if ctx.verify_mode != ssl.CERT_REQUIRED or not ctx.check_hostname:
        return FAIL, "the default SSL context does not verify certificates"
    count = ctx.cert_store_stats().get("x509_ca", 0)
    paths = ssl.get_default_verify_paths()
    if os.environ.get("SSL_CERT_FILE"):
        source = f"SSL_CERT_FILE={os.environ['SSL_CERT_FILE']}"
    elif os.environ.get("SSL_CERT_DIR"):
        source = f"SSL_CERT_DIR={os.environ['SSL_CERT_DIR']}"
    elif sys.platform in ("win32", "darwin"):
        return OK, f"{type(ctx).__module__}.{type(ctx).__name__}: the OS trust store ({ssl.OPENSSL_VERSION})"
    elif paths.openssl_cafile and os.path.isfile(paths.openssl_cafile):
        source = f"{paths.openssl_cafile} -> {os.path.realpath(paths.openssl_cafile)}"
    elif paths.openssl_capath and os.path.isdir(paths.openssl_capath):
        source = f"directory {paths.openssl_capath} (loaded per handshake)"
        return OK, f"{source}; {ssl.OPENSSL_VERSION}"
    else:
        source = "a distribution CA file (OpenSSL's configured one is missing)"
    if count == 0:
        return WARN, f"no CA certificates found ({source}): HTTPS servers cannot be verified; {ssl.OPENSSL_VERSION}"
    return OK, f"{count} CA certificates from {source}; {ssl.OPENSSL_VERSION}"


def check_sdk() -> tuple[str, str]:
    """The openai SDK and the parts of it the app reaches only at run time (lazy imports)."""
    import httpx2
    import openai

    client = openai.OpenAI(api_key="selfcheck", base_url="http://127.0.0.1:9/v1", max_retries=0,
                           http_client=httpx2.Client())
    try:
        # Attribute access imports the resource modules (loaded by name inside the SDK).
        assert callable(client.chat.completions.create)
        assert callable(client.models.list)
    finally:
        client.close()
    # A SOCKS proxy builds httpcore2's SOCKS transport, which needs socksio. No connection is made.
    with httpx2.Client(proxy="socks5://127.0.0.1:9"):
        pass
    return OK, f"openai {openai.__version__}, httpx2 {httpx2.__version__}, SOCKS proxies supported"


def check_sqlite() -> tuple[str, str]:
    """Chat search needs SQLite's FTS5 with the trigram tokenizer (SQLite 3.34 or later)."""
    import sqlite3

    con = sqlite3.connect(":memory:")
    try:
        con.execute("CREATE VIRTUAL TABLE t USING fts5(body, tokenize='trigram')")
    finally:
        con.close()
    return OK, f"SQLite {sqlite3.sqlite_version} with FTS5 trigram"


def check_assets() -> tuple[str, str]:
    from importlib.resources import files

    assets = files("chatbot_gui") / "assets"
    names = sorted(p.name for p in assets.iterdir() if p.is_file()) if assets.is_dir() else []
    if not names:
        return FAIL, "chatbot_gui/assets is missing or empty"
    # The window icon is PNG so that it loads with QtGui alone (no image plugin): prove it does.
    from PySide6.QtGui import QImage

    icon = QImage(str(assets / "chatbot-256.png"))
    if icon.isNull() or icon.width() != 256:
        return FAIL, "chatbot_gui/assets/chatbot-256.png does not load as a 256 px image"
    text = f"chatbot_gui/assets: {', '.join(names)} (the 256 px icon loads)"
    if getattr(sys, "frozen", False):
        # build.spec bakes these in (resources/buildinfo.py): the version and the licences About shows.
        from chatbot_gui.core.notices import NOTICES_FILE
        from chatbot_gui.core.version import BAKED_FILE

        missing = [n for n in (BAKED_FILE, NOTICES_FILE) if not (files("chatbot_gui") / n).is_file()]
        if missing:
            return FAIL, f"chatbot_gui/{' and '.join(missing)} missing from the build"
        text += f"; {BAKED_FILE} and {NOTICES_FILE} present"
    return OK, text


def check_qt() -> tuple[str, str]:
    """The Qt modules the app imports, and this platform's platform plugin (no window is opened)."""
    import importlib

    import PySide6
    from PySide6.QtCore import QLibraryInfo

    for name in ("QtCore", "QtGui", "QtWidgets", "QtNetwork"):
        importlib.import_module(f"PySide6.{name}")
    plugins = Path(QLibraryInfo.path(QLibraryInfo.LibraryPath.PluginsPath))
    needed = {"win32": "qwindows", "darwin": "qcocoa"}.get(sys.platform, "qxcb")
    platforms = sorted(_plugin_name(p.name) for p in (plugins / "platforms").glob("*") if p.is_file())
    if needed not in platforms:
        return FAIL, f"platform plugin {needed} missing from {plugins / 'platforms'} (found: {platforms})"
    kinds = sorted(p.name for p in plugins.iterdir() if p.is_dir()) if plugins.is_dir() else []
    return OK, f"PySide6 {PySide6.__version__}; platforms: {', '.join(platforms)}; plugin types: {', '.join(kinds)}"


#: A language Pygments has a lexer for that build.spec does not bundle (PYGMENTS_LANGUAGES).
UNBUNDLED_LANGUAGE = "cobol"


def check_render() -> tuple[str, str]:
    """The Markdown view's libraries: a reply with a table, a link, a Python fence (highlighted in
    both themes' styles) and a fence in a language whose lexer the frozen build leaves out (plain
    text there, not an error)."""
    import markdown_it
    import pygments

    from chatbot_gui.ui.render.markdown_html import render_blocks

    reply = ("| a | b |\n|---|---|\n| 1 | 2 |\n\nSee https://example.com\n\n"
             "```python\ndef f():\n    return 1\n```\n\n"
             f"```{UNBUNDLED_LANGUAGE}\n       IDENTIFICATION DIVISION.\n```\n")
    for theme in ("light", "dark"):
        kinds = [b.kind for b in render_blocks(reply, theme)]
        if kinds != ["table", "text", "code", "code"]:
            return FAIL, f"a Markdown reply rendered as {kinds} ({theme})"
        python, other = render_blocks(reply, theme)[2:]
        if "<span" not in python.html:
            return FAIL, f"Python code is not highlighted ({theme})"
    other_plain = "<span" not in other.html and "IDENTIFICATION DIVISION." in other.html
    if getattr(sys, "frozen", False) and not other_plain:
        return FAIL, f"{UNBUNDLED_LANGUAGE} code is highlighted: build.spec's Pygments trim did not apply"
    return OK, (f"markdown-it-py {markdown_it.__version__}, Pygments {pygments.__version__}; Python code "
                f"highlighted, {UNBUNDLED_LANGUAGE} code {'plain (lexer not bundled)' if other_plain else 'highlighted'}")


def _plugin_name(filename: str) -> str:
    stem = filename.split(".")[0]
    return stem[3:] if stem.startswith("lib") else stem


CHECKS: tuple[tuple[str, Callable[[], tuple[str, str]]], ...] = (
    ("tls", check_tls),
    ("sdk", check_sdk),
    ("sqlite", check_sqlite),
    ("assets", check_assets),
    ("qt", check_qt),
    ("render", check_render),
)


def run(out: TextIO, roundtrip: bool = False) -> int:
    from chatbot_gui import __version__

    frozen = "frozen, " + str(getattr(sys, "_MEIPASS", "")) if getattr(sys, "frozen", False) else "not frozen"
    print(f"Chatbot {__version__} self-check ({frozen}; Python {sys.version.split()[0]}, {sys.platform})", file=out)
    failed = False
    checks = (("keyring", lambda: check_keyring(roundtrip)), *CHECKS)
    for name, check in checks:
        try:
            status, text = check()
        except Exception as exc:  # noqa: BLE001 - each check reports for itself
            status, text = FAIL, f"{type(exc).__name__}: {exc}"
        failed = failed or status == FAIL
        print(f"{status:4} {name:8} {text}", file=out)
    out.flush()
    return 1 if failed else 0


def startup_probe(argv0: str, watched: tuple[str, ...] = STARTUP_WATCHED) -> int:
    """Run the real app; print ``{"shown": t, "paints": n, "modules": [...]}`` once its window is
    first exposed and painted, then quit. (benchmarks/ measures start-up with this, too.)"""
    import chatbot_gui.app as app_module

    real_create = app_module.create_window

    def create_window(*args, **kwargs):  # type: ignore[no-untyped-def]  # forwards
        window, controller = real_create(*args, **kwargs)
        install_startup_reporter(window, watched)
        return window, controller

    app_module.create_window = create_window  # type: ignore[assignment]
    return app_module.main([argv0])


def main(argv: list[str] | None = None) -> int:
    """``--self-check [--keyring-roundtrip] [--output FILE]`` or ``--startup-probe``."""
    args = list(sys.argv[1:] if argv is None else argv)
    if "--startup-probe" in args:
        return startup_probe(sys.argv[0])
    output = None
    if "--output" in args:
        i = args.index("--output")
        if i + 1 >= len(args):
            print("--output needs a file name", file=sys.stderr)
            return 2
        output = args[i + 1]
    roundtrip = "--keyring-roundtrip" in args
    if output is None and sys.stdout is None:  # a windowed Windows build has no console to print to
        output = os.path.join(os.path.expanduser("~"), "chatbot-selfcheck.txt")
    if output is None:
        return run(sys.stdout, roundtrip)
    with open(output, "w", encoding="utf-8") as out:
        return run(out, roundtrip)


if __name__ == "__main__":
    raise SystemExit(main())
