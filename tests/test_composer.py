"""The message box: one pane with the messages, in the reading column's width, growing with what the
user types (up to a cap, then it scrolls) and back to one line once the message is sent."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from chatbot_gui.ui.input_box import MAX_INPUT_LINES
from chatting import open_window
from fakeserver import stream


@pytest.fixture
def window(qtbot, tmp_path, fake_server):
    window, chat = open_window(qtbot, fake_server, tmp_path, "fake-test-key-composer", size=(1200, 800))
    window.chat = chat
    yield window
    assert chat.shutdown(3000)


def test_the_box_grows_with_the_text_and_shrinks_after_sending(qtbot, window, fake_server):
    fake_server.queue(stream(["Noted."]))
    box = window.input
    one_line = box.height()
    line = box.fontMetrics().lineSpacing()
    assert one_line < 3 * line, "an empty message box is one line tall"
    window.input.setFocus()
    qtbot.keyClicks(box, "first")
    for word in ("second", "third", "fourth"):
        qtbot.keyClick(box, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
        qtbot.keyClicks(box, word)
    qtbot.waitUntil(lambda: box.height() >= one_line + 3 * line - 2)
    assert box.verticalScrollBar().isHidden() or not box.verticalScrollBar().isVisible()
    qtbot.keyClick(box, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not window.chat.busy, timeout=10000)
    assert fake_server.requests[-1].json["messages"][-1]["content"] == "first\nsecond\nthird\nfourth"
    qtbot.waitUntil(lambda: box.height() == one_line)


def test_a_long_paste_stops_growing_and_scrolls(qtbot, window):
    box = window.input
    one_line = box.height()
    box.setPlainText("\n".join(f"line {i}" for i in range(60)))
    line = box.fontMetrics().lineSpacing()
    qtbot.waitUntil(lambda: box.height() > one_line + (MAX_INPUT_LINES - 2) * line)
    assert box.height() <= one_line + MAX_INPUT_LINES * line
    qtbot.waitUntil(lambda: box.verticalScrollBar().isVisible())
    assert window.transcript.height() > box.height(), "the messages keep most of the window"


def test_the_box_lines_up_with_the_reading_column(qtbot, window):
    composer = window.composer
    view = window.transcript
    assert composer.width() == view.reading_width()
    left = composer.mapTo(window, composer.rect().topLeft()).x()
    column_left = view.viewport().mapTo(window, view.viewport().rect().topLeft()).x() + view._column()[0]
    assert abs(left - column_left) <= 16
    for button in (window.send_button, window.stop_button):
        assert composer.isAncestorOf(button), "Send and Stop are part of the message box"
    qtbot.keyClick(window, Qt.Key.Key_Equal, Qt.KeyboardModifier.ControlModifier)  # zoom in
    qtbot.waitUntil(lambda: composer.width() == view.reading_width())
    window.resize(560, 700)
    qtbot.waitUntil(lambda: composer.width() < view.reading_width())
    assert composer.geometry().right() <= view.width()
