"""The message view through Qt's accessibility interfaces (what AT-SPI hands a screen reader such as
Orca): a list named "Messages" whose items are the rows, named after the speaker and the text, with
the keyboard's current message as the focused child. ``tests/test_smoke.py`` reads the same list
through AT-SPI in a real desktop session."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QAccessible

from chatbot_gui.app import create_window
from chatbot_gui.core.paths import AppPaths
from chatbot_gui.core.secrets import KeyStore, MemoryKeyring
from chatbot_gui.ui.messages import access
from chatbot_gui.ui.messages.access import NAME_CHARS, MessagesList
from chatbot_gui.ui.messages.view import MessagesView
from fakeserver import FakeServer, TokenRule, stream

Name, Description = QAccessible.Text.Name, QAccessible.Text.Description


def names(iface) -> list[str]:
    return [iface.child(i).text(Name) for i in range(iface.childCount())]


@pytest.fixture
def view(qtbot):
    access.install()  # the app does this after its first paint
    view = MessagesView()
    qtbot.addWidget(view)
    view.resize(700, 500)
    view.show()
    qtbot.waitExposed(view)
    return view


def test_the_view_is_a_list_of_its_messages(qtbot, view):
    view.add_message(1, "user", "How do I print?")
    view.add_message(2, "assistant", "Use **print**:\n\n```python\nprint(1)\n```", meta="m · 12:00 · 30 tokens")
    view.add_message(3, "notice", "Persona: Terse")
    qtbot.waitUntil(lambda: all(row.pieces is not None for row in view._rows))  # painted
    iface = QAccessible.queryAccessibleInterface(view)
    assert isinstance(iface, MessagesList)
    assert (iface.role(), iface.text(Name)) == (QAccessible.Role.List, "Messages")
    assert iface.childCount() == 3
    items = [iface.child(i) for i in range(3)]
    assert [item.role() for item in items] == [QAccessible.Role.ListItem] * 3
    # As shown (the rows on screen are rendered): no Markdown marks, code as written.
    assert names(iface) == ["You: How do I print?", "Assistant: Use print:\n\nprint(1)", "Notice: Persona: Terse"]
    assert items[1].text(Description) == "m · 12:00 · 30 tokens"
    assert [iface.indexOfChild(item) for item in items] == [0, 1, 2]
    assert all(item.parent() is iface and item.isValid() for item in items)
    # Each item is where its row is drawn, one below the other, inside the view.
    rects = [item.rect() for item in items]
    screen = view.viewport().rect().translated(view.viewport().mapToGlobal(view.viewport().rect().topLeft()))
    assert all(screen.contains(r) for r in rects) and rects[0].bottom() < rects[1].top() < rects[2].top()
    assert iface.childAt(rects[1].center().x(), rects[1].center().y()).text(Name).startswith("Assistant: ")


def test_focus_follows_the_keyboard_and_the_list_follows_the_chat(qtbot, view):
    for k in range(1, 5):
        view.add_message(k, "user" if k % 2 else "assistant", f"message {k}")
    iface = QAccessible.queryAccessibleInterface(view)
    assert iface.focusChild() is None
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_Up)
    qtbot.keyClick(view, Qt.Key.Key_Up)
    focused = iface.focusChild()
    assert focused.text(Name) == "You: message 3"
    assert focused.state().focused and focused.state().selected
    assert not iface.child(0).state().focused
    qtbot.keyClick(view, Qt.Key.Key_Down)
    assert iface.focusChild().text(Name) == "Assistant: message 4"
    # Rows that come and go: the list reads the view as it is now.
    old = iface.child(0)
    view.remove_message(1)
    assert iface.childCount() == 3 and names(iface)[0] == "Assistant: message 2"
    assert not old.isValid()
    view.set_messages([(7, "user", "another chat")])
    assert names(iface) == ["You: another chat"]


def test_a_long_message_is_named_capped_and_an_unseen_one_is_not_rendered_to_be_read(qtbot, view):
    long = "word " * 5000
    view.set_messages([(k, "assistant", f"**{k}** " + long) for k in range(1, 200)])
    iface = QAccessible.queryAccessibleInterface(view)
    first = iface.child(0)
    assert len(first.text(Name)) == NAME_CHARS and first.text(Name).endswith("…")
    assert first.text(Name).startswith("Assistant: **1** word")  # far above the screen: never rendered
    assert view._rows[0].pieces is None, "reading a name does not lay out a row nobody scrolled to"
    assert first.rect().isEmpty() and first.state().invisible


def test_a_reply_in_the_window_is_an_item_with_its_model_and_tokens(qtbot, tmp_path, fake_server: FakeServer):
    fake_server.token_rule = TokenRule(bytes_per_token=3.0)
    fake_server.default_reply = stream(["Hello", " there."])
    window, chat = create_window({"OPENAI_API_KEY": "fake-test-key-access", "OPENAI_BASE_URL": fake_server.base_url},
                                 paths=AppPaths(config_dir=tmp_path / "c", data_dir=tmp_path / "d"),
                                 keys=KeyStore(MemoryKeyring()), ask_settings=lambda *a, **k: None)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: chat.config.api_key is not None)
    try:
        window.input.setPlainText("Say hello")
        chat.send_from_input()
        qtbot.waitUntil(lambda: not chat.busy, timeout=10000)
        iface = QAccessible.queryAccessibleInterface(window.transcript)
        assert names(iface) == ["You: Say hello", "Assistant: Hello there."]
        assert iface.child(1).text(Description).endswith(" tokens")
        assert iface.child(1).text(Description) == window.transcript.meta_of(chat.conversation.messages[-1].id)
    finally:
        assert chat.shutdown(3000)


ADOPT = """
import os, sys
os.environ["QT_QPA_PLATFORM"] = "offscreen"
from PySide6.QtGui import QAccessible
from PySide6.QtWidgets import QApplication
app = QApplication([])
from chatbot_gui.ui.messages import access
from chatbot_gui.ui.messages.view import MessagesView
view = MessagesView()
view.add_message(1, "user", "hello")
view.show()
app.processEvents()
QAccessible.setActive(True)  # as when a screen reader listens: Qt made the plain interface already
before = QAccessible.queryAccessibleInterface(view)
print(type(before).__name__, before.childCount())
access.install(view)  # what the app does after its first paint
after = QAccessible.queryAccessibleInterface(view)
print(type(after).__name__, after.child(0).text(QAccessible.Text.Name))
view.add_message(2, "assistant", "hi there")
view.setFocus()
view._set_current(2)  # Up/Down's path: the focus event goes out to the listener
access.announce(view, 2)  # a finished reply's path
print(after.focusChild().text(QAccessible.Text.Name))
view.close()
app.quit()
"""


def test_a_view_a_screen_reader_read_before_the_install_is_given_the_list():
    """In a process of its own: Qt's cache of interfaces (and the factory) are per process."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", ADOPT], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert not done.stderr, done.stderr
    before, after, focused = done.stdout.splitlines()
    assert focused == "Assistant: hi there"
    assert not before.startswith("MessagesList"), "Qt's plain interface (viewport, scroll bars) came first"
    assert after == "MessagesList You: hello"
