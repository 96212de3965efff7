"""The app a user starts, used as a user uses it: first start, key typed, a message sent, quit.

One test, run for each way the app is started, so the source and the frozen build cannot drift:

- ``source``: ``python -m chatbot_gui`` (always, in the normal suite);
- ``frozen``: the PyInstaller build named by ``CHATBOT_FROZEN_APP`` (``.ci/run`` builds it with
  ``build.spec`` in a clean venv and sets the variable). Without the variable that case is skipped
  with a reason saying so; with it, a missing or broken build fails.

The app runs as its own process in a private desktop (``desktop.py``: Xvfb, a D-Bus session, an
unlocked gnome-keyring, AT-SPI) against the loopback fake server. The test only does what a user
does, with real key and mouse events: on the first start the Settings dialog opens by itself; it
types the server's address and an API key, presses Enter, types a message, presses Enter, reads the
reply where the window shows it (the accessibility tree: what a screen reader reads), and quits with
Ctrl+Q. Then it checks what stayed behind: the chat in the database, the key in the keyring (read
with ``secret-tool``, not with the app's own code), and the key in no file under the HOME, the XDG
folders, the temporary folder or the app's own folder, and not in the app's output.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from desktop import STATE_FOCUSED, Desktop, field_beside, missing_tools
from fakeserver import FakeServer, stream

import chatbot_gui

APP_NAME = chatbot_gui.APP_NAME
FROZEN_ENV = "CHATBOT_FROZEN_APP"
#: Set by .ci/run: there a missing desktop tool is a failure, never a skip.
REQUIRED_ENV = "CHATBOT_TEST_SECRET_SERVICE"
REPLY = ["Bonjour", " from the", " loopback", " server."]


def _source_command() -> tuple[list[str], Path]:
    return [sys.executable, "-m", "chatbot_gui"], Path(chatbot_gui.__file__).resolve().parent


def _frozen_command() -> tuple[list[str], Path]:
    exe = Path(os.environ[FROZEN_ENV]).resolve()
    assert exe.is_file() and os.access(exe, os.X_OK), f"{FROZEN_ENV}={exe} is not an executable"
    return [str(exe)], exe.parent


APPS = [
    pytest.param(_source_command, id="source"),
    pytest.param(_frozen_command, id="frozen", marks=pytest.mark.skipif(
        not os.environ.get(FROZEN_ENV),
        reason=f"the frozen build is tested when {FROZEN_ENV} names its executable (.ci/run builds it "
               "with build.spec and runs this test with it)")),
]


@pytest.fixture
def desktop(tmp_path: Path):
    missing = missing_tools()
    if missing:
        if os.environ.get(REQUIRED_ENV):
            pytest.fail(f"the desktop smoke test needs {', '.join(missing)} (.ci/run installs them)")
        pytest.skip(f"needs {', '.join(missing)} (Debian: xvfb xdotool dbus gnome-keyring libsecret-tools "
                    "at-spi2-core; .ci/run installs them)")
    with Desktop(tmp_path) as session:
        yield session


def _files_containing(needle: str, folders: list[Path]) -> list[str]:
    """Regular files under ``folders`` holding ``needle`` as UTF-8 or UTF-16 (Qt's own strings)."""
    patterns = (needle.encode(), needle.encode("utf-16-le"))
    found = []
    for folder in folders:
        for dirpath, _dirs, files in os.walk(folder):
            for name in files:
                path = Path(dirpath, name)
                if not path.is_file() or path.is_symlink():
                    continue  # sockets, pipes; a link's target is scanned where it lives
                data = path.read_bytes()
                if any(p in data for p in patterns):
                    found.append(str(path))
    return found


def _shown_text(nodes) -> str:  # noqa: ANN001 - desktop.Node list
    return "\n".join(filter(None, (n.text or n.name for n in nodes)))


@pytest.mark.parametrize("app_command", APPS)
def test_first_start_key_typed_message_sent_reply_shown_and_saved(desktop: Desktop, app_command) -> None:
    command, app_folder = app_command()
    key = f"sk-smoke-{uuid.uuid4().hex}"
    message = f"Hello from the smoke test {uuid.uuid4().hex[:8]}"
    server = FakeServer(default_reply=stream(REPLY))
    out_path, err_path = desktop.root / "app.out", desktop.root / "app.err"
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        # PYTHONFAULTHANDLER: a crash prints the Python stack of every thread to app.err (shown below).
        app = subprocess.Popen(command, env=dict(desktop.env, QT_QPA_PLATFORM="xcb", PYTHONFAULTHANDLER="1"),
                               cwd=desktop.tmp, stdout=out, stderr=err)
    try:
        # First start, no key anywhere: Settings opens by itself.
        dialog, nodes = desktop.wait_for_window(APP_NAME, "dialog", "Settings", timeout=90)
        server_field = field_beside(nodes, "Server:")
        desktop.click(server_field)
        desktop.key("ctrl+a")
        desktop.type(server.base_url)
        desktop.click(field_beside(nodes, "API key:"))
        desktop.type(key)
        _dialog, nodes = desktop.wait_for_window(APP_NAME, "dialog", "Settings")
        assert field_beside(nodes, "Server:").text == server.base_url
        assert field_beside(nodes, "API key:").text != key, "the key field must not show the key"
        desktop.key("Return")  # OK

        deadline = time.monotonic() + 30
        while any(w.role == "dialog" for w, _ in desktop.windows(APP_NAME)):
            assert time.monotonic() < deadline, "the Settings dialog did not close on Enter"
            time.sleep(0.2)
        window, nodes = desktop.wait_for_window(APP_NAME, "frame")
        inputs = [n for n in nodes if n.editable and n.multi_line]
        assert len(inputs) == 1, f"expected one message input, found {inputs}"
        desktop.click(inputs[0])
        desktop.type(message)
        desktop.key("Return")

        # The reply, as the window shows it.
        deadline = time.monotonic() + 60
        while True:
            _window, nodes = desktop.wait_for_window(APP_NAME, "frame")
            shown = _shown_text(nodes)
            if "".join(REPLY) in shown:
                break
            assert time.monotonic() < deadline, f"the reply was not shown; the window shows:\n{shown}"
            time.sleep(0.3)
        assert message in shown
        # A screen reader reads the chat as a list of messages, each item named after its speaker.
        lists = [n for n in nodes if n.role == "list" and n.name == "Messages"]
        assert len(lists) == 1, f"no list of messages among {[(n.role, n.name) for n in nodes]}"
        items = [n.name for n in nodes if n.role == "list item" and n.name.startswith(("You: ", "Assistant: "))]
        assert f"You: {message}" in items and f"Assistant: {''.join(REPLY)}" in items, items
        # The message the keyboard is on is the focused item: click the reply, then Up to the question.
        reply_item = next(n for n in nodes if n.role == "list item" and n.name == f"Assistant: {''.join(REPLY)}")
        desktop.click(reply_item)
        desktop.key("Up")
        deadline = time.monotonic() + 20
        while True:
            _window, nodes = desktop.wait_for_window(APP_NAME, "frame")
            focused = [n.name for n in nodes if n.role == "list item" and STATE_FOCUSED in n.states
                       and n.name.startswith(("You: ", "Assistant: "))]  # (the chat list has its own)
            if focused == [f"You: {message}"]:
                break
            assert time.monotonic() < deadline, f"the focused message item is {focused}"
            time.sleep(0.2)
        # What the server got: the typed message, with the typed key.
        assert server.requests, "the server got no request"
        request = server.requests[-1]
        assert request.headers["authorization"] == f"Bearer {key}"
        assert request.json["messages"][-1] == {"role": "user", "content": message}

        desktop.key("ctrl+q")
        code = app.wait(30)
        assert code == 0, f"the app exited with {code} after Ctrl+Q:\n{err_path.read_text(errors='replace')[-4000:]}"
    finally:
        if app.poll() is None:
            app.kill()
            app.wait()
        server.close()

    # Saved: the chat database holds the message and the reply (and not the key).
    databases = list(desktop.home.rglob("chats.sqlite3"))
    assert len(databases) == 1, f"expected one chat database under HOME, found {databases}"
    con = sqlite3.connect(f"file:{databases[0]}?mode=ro", uri=True)
    try:
        dump = "\n".join(con.iterdump())
    finally:
        con.close()
    assert message in dump and "".join(REPLY) in dump

    # The key is in the keyring, as another program (libsecret's secret-tool) reads it.
    found = subprocess.run(["secret-tool", "search", "--all", "service", "chatbot-gui"], env=desktop.env,
                           capture_output=True, text=True, timeout=30)
    assert f"secret = {key}" in found.stdout, found.stdout + found.stderr

    # ... and nowhere else: no file under HOME (all XDG folders are in it), the temporary folder,
    # the runtime folder or the app's own folder; not in what the app printed.
    assert not _files_containing(key, [desktop.home, desktop.tmp, desktop.runtime, app_folder])
    output = out_path.read_bytes() + err_path.read_bytes()
    assert key.encode() not in output
