"""Issue 11 Speed: a chat that streams while another is shown only buffers; it is drawn when shown.

Runs the real window against the loopback server through the real openai client."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt

from test_replies import idle, new_chat, paths, slow, start, type_and_send, whole  # noqa: F401 - fixtures

__all__ = ["paths", "start"]


class _Paints(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt override
        if event.type() == QEvent.Type.Paint:
            self.count += 1
        return False


def test_a_hidden_streaming_chat_is_not_rendered_or_painted_until_shown(qtbot, start, fake_server) -> None:
    window, chat = start()
    fake_server.queue(slow("a", 60, 0.04))
    type_and_send(qtbot, window, "chat A")
    qtbot.waitUntil(lambda: window.transcript.blocks_of_kind("assistant") not in ([], [""]), timeout=15000)
    chat_a = chat.conversation.chat_id
    reply_a = chat.conversation.messages[-1]
    new_chat(qtbot, window)
    view = window.transcript
    assert not view.has_message(reply_a.id)
    qtbot.wait(150)  # the empty chat's own first paint
    paints = _Paints()
    view.viewport().installEventFilter(paints)
    flushes: list[int] = []
    view._timer.timeout.connect(lambda: flushes.append(1))
    grown = len(reply_a.content)
    qtbot.waitUntil(lambda: len(reply_a.content) > grown + 40, timeout=15000)  # A goes on streaming
    qtbot.wait(200)
    assert paints.count == 0 and flushes == []  # nothing of A drawn or rendered meanwhile
    view.viewport().removeEventFilter(paints)
    window.history_controller.open_chat(chat_a)
    qtbot.waitUntil(lambda: window.transcript.blocks_of_kind("assistant") == [reply_a.content], timeout=15000)
    idle(qtbot, chat)
    qtbot.waitUntil(lambda: window.transcript.blocks_of_kind("assistant") == [whole("a", 60)], timeout=15000)
    assert window.transcript.plain_text(reply_a.id) == whole("a", 60).strip()
