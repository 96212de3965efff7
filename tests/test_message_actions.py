"""Issue 11 stories in the real window: the message list's own buttons, clicked with the mouse,
do what they say, against the loopback server (request bodies asserted) and the real clipboard."""

from __future__ import annotations

import re

import pytest
from PySide6.QtCore import QRect, Qt
from PySide6.QtWidgets import QApplication

from chatting import open_window
from fakeserver import FakeServer, stream

KEY = "sk-test-actions-0123456789"
SYSTEM = {"role": "system", "content": "You are a helpful assistant."}
MARKDOWN = "## Plan\n\n- **one**\n- two\n\n```python\nprint('hi')\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |\n"


@pytest.fixture
def window(qtbot, fake_server: FakeServer, tmp_path):
    win, chat = open_window(qtbot, fake_server, tmp_path, KEY)
    yield win, chat
    assert chat.shutdown(3000)
    win.close()


def send(qtbot, win, chat, text: str) -> None:
    win.input.setFocus()
    qtbot.keyClicks(win.input, text)
    qtbot.keyClick(win.input, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not chat.busy, timeout=15000)


def click(qtbot, win, message_id: int, action: str) -> None:
    """A left click on the message's button, where it is drawn."""
    view = win.transcript
    point = view.action_point(message_id, action)
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=point)


def test_copy_buttons_and_copy_chat_put_what_they_say_on_the_clipboard(qtbot, window, fake_server):
    win, chat = window
    fake_server.queue(stream([MARKDOWN[:20], MARKDOWN[20:]]))
    send(qtbot, win, chat, "make a plan")
    reply = chat.conversation.messages[-1]
    clipboard = QApplication.clipboard()
    click(qtbot, win, reply.id, "copy_markdown")
    assert clipboard.text() == MARKDOWN
    click(qtbot, win, reply.id, "copy")
    plain = clipboard.text()
    assert "**" not in plain and "##" not in plain and "Plan" in plain and "print('hi')" in plain
    click(qtbot, win, reply.id, "copy_code")
    assert clipboard.text() == "print('hi')"
    clipboard.clear()
    win.copy_chat_action.trigger()  # Chat > Copy chat as Markdown
    assert clipboard.text() == f"**You:**\n\nmake a plan\n\n**Assistant:**\n\n{MARKDOWN.strip()}\n"


def test_copy_as_plain_text_keeps_list_markers_link_addresses_and_table_rows(qtbot, window, fake_server):
    """Seen (QA): Copy gave "First\nSecond\nnested a", "A link" without its address, and every
    table cell on a line of its own."""
    win, chat = window
    reply = ("1. First\n2. Second\n   - nested *a*\n\n- [ ] a task\n\nA [link](https://example.com) and "
             "<https://auto.example>.\n\n---\n\n| a | b |\n|---|---|\n| 1 | 2 |\n")
    fake_server.queue(stream([reply]))
    send(qtbot, win, chat, "structure")
    click(qtbot, win, chat.conversation.messages[-1].id, "copy")
    assert QApplication.clipboard().text() == (
        "1. First\n2. Second\n  • nested a\n\n☐ a task\n\n"
        "A link (https://example.com) and https://auto.example.\n\n———\n\na\tb\n1\t2")


def test_each_copy_says_it_copied(qtbot, window, fake_server):
    """Seen (QA): Copy changed nothing on screen; the user could not tell whether it worked."""
    win, chat = window
    fake_server.queue(stream([MARKDOWN]))
    send(qtbot, win, chat, "make a plan")
    reply = chat.conversation.messages[-1]
    for action, said in (("copy", "Copied the message."), ("copy_markdown", "Copied the message as Markdown."),
                         ("copy_code", "Copied the code.")):
        win.statusBar().clearMessage()
        click(qtbot, win, reply.id, action)
        assert win.statusBar().currentMessage() == said
    win.statusBar().clearMessage()
    win.copy_chat_action.trigger()
    assert win.statusBar().currentMessage() == "Copied the chat as Markdown."


def test_regenerate_button_sends_the_conversation_before_the_reply_and_keeps_both(qtbot, window, fake_server):
    win, chat = window
    fake_server.queue(stream(["first answer"]), stream(["second answer"]))
    send(qtbot, win, chat, "q")
    reply = chat.conversation.messages[-1]
    click(qtbot, win, reply.id, "regenerate")
    qtbot.waitUntil(lambda: not chat.busy, timeout=15000)
    assert fake_server.requests[-1].json["messages"] == [SYSTEM, {"role": "user", "content": "q"}]
    view = win.transcript
    assert view.blocks_of_kind("assistant") == ["second answer"]
    shown = chat.conversation.messages[-1]
    assert view.versions_of(shown.id) == (2, 2)
    click(qtbot, win, shown.id, "previous_version")  # "‹"
    assert view.blocks_of_kind("assistant") == ["first answer"]


def test_edit_and_delete_buttons_change_what_is_sent_next(qtbot, window, fake_server):
    win, chat = window
    fake_server.queue(stream(["a1"]), stream(["a1 again"]), stream(["a2"]))
    send(qtbot, win, chat, "q1")
    chat.context.ask_edit = lambda text: text + ", please"
    click(qtbot, win, chat.conversation.messages[0].id, "edit")
    qtbot.waitUntil(lambda: not chat.busy, timeout=15000)
    assert fake_server.requests[-1].json["messages"] == [SYSTEM, {"role": "user", "content": "q1, please"}]
    assert win.transcript.blocks_of_kind("user") == ["q1, please"]
    click(qtbot, win, chat.conversation.messages[-1].id, "delete")
    assert win.transcript.blocks_of_kind("assistant") == []
    send(qtbot, win, chat, "q2")
    # Its answer deleted, q1 is followed by q2: one user turn (roles alternate, as strict servers want).
    assert fake_server.requests[-1].json["messages"] == [SYSTEM, {"role": "user", "content": "q1, please\n\nq2"}]


def test_a_reply_shows_its_model_time_and_the_tokens_the_server_counted(qtbot, window, fake_server):
    win, chat = window
    fake_server.queue(stream(["Hello there"], usage=True))
    send(qtbot, win, chat, "hi")
    body = fake_server.requests[-1].json
    assert body["stream_options"] == {"include_usage": True}
    reply = chat.conversation.messages[-1]
    qtbot.waitUntil(lambda: "tokens" in win.transcript.meta_of(reply.id))
    meta = win.transcript.meta_of(reply.id)
    assert re.fullmatch(r"gpt-4o-mini · \d\d:\d\d · 16 tokens", meta), meta
    # What the window shows of it at its usual size: the time beside "Assistant" (QA: beside the
    # actions there was never room for it), the model and tokens beside the actions.
    above, beside = win.transcript.shown_meta(reply.id)
    assert above == f"Assistant · {meta.split(' · ')[1]}"
    assert beside == "gpt-4o-mini · 16 tokens"


def test_the_time_beside_a_reply_is_on_screen_once_the_reply_ends(qtbot, window, fake_server):
    """Seen in the window: a reply that had just streamed read "Assistant" without its time until
    something else repainted it (only the action bar was repainted as the reply ended)."""
    win, chat = window
    fake_server.queue(stream(["Hel", "lo ", "there"], delay=0.05, usage=True))
    send(qtbot, win, chat, "hi")
    reply = chat.conversation.messages[-1]
    view = win.transcript
    qtbot.waitUntil(lambda: "·" in view.shown_meta(reply.id)[0])
    for _ in range(5):
        QApplication.processEvents()
    k = view.row_index(reply.id)
    x0, width = view._column()
    top = view._tops[k] - view.verticalScrollBar().value()
    heading = QRect(x0, top, width, 40)
    on_screen = win.screen().grabWindow(win.winId(), *_in_window(view, heading)).toImage()
    fresh = view.viewport().grab(heading).toImage()
    assert on_screen.convertToFormat(fresh.format()) == fresh, "the heading on screen is the heading as it is now"


def _in_window(view, rect):
    origin = view.viewport().mapTo(view.window(), rect.topLeft())
    return origin.x(), origin.y(), rect.width(), rect.height()


def test_the_markdown_libraries_load_after_the_window_is_first_painted():
    import subprocess
    import sys

    code = (
        "import os, sys; os.environ['QT_QPA_PLATFORM'] = 'offscreen'\n"
        "from PySide6.QtWidgets import QApplication; app = QApplication([])\n"
        "from chatbot_gui.ui.main_window import MainWindow\n"
        "w = MainWindow(); w.show(); app.processEvents()\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('markdown_it', 'pygments', 'mdit_py_plugins', 'linkify_it')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]"


def test_a_tool_call_only_reply_says_so_instead_of_a_bare_heading(qtbot, window, fake_server):
    import json

    from fakeserver import raw

    win, chat = window

    def event(delta: dict, finish=None) -> bytes:
        chunk = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o-mini",
                 "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
        return b"data: " + json.dumps(chunk).encode() + b"\n\n"

    call = {"index": 0, "id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
    fake_server.queue(raw(200, event({"role": "assistant", "tool_calls": [call]}) + event({}, "tool_calls")
                          + b"data: [DONE]\n\n", headers={"Content-Type": "text/event-stream"}))
    send(qtbot, win, chat, "weather?")
    view = win.transcript
    assert view.blocks_of_kind("assistant") == [] and view.blocks_of_kind("assistant-label") == []
    assert view.blocks_of_kind("notice") == [
        "The model answered with a tool call and no text (this app does not run tools)."]
