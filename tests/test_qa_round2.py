"""Defects found by using the app as a new user would (QA, second round), each pinned by what the
user sees: a narrow window, the message box's placeholder and focus ring, hovering while scrolling."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QEvent, QPoint, QPointF, QRect, Qt
from PySide6.QtGui import QColor, QFontMetrics, QMouseEvent, QWheelEvent
from PySide6.QtWidgets import QApplication

from chatbot_gui.ui.messages.view import ASSISTANT, USER, MessagesView
from chatbot_gui.ui.theme import contrast_ratio
from chatting import open_window, shown_view
from fakeserver import FakeServer, stream

KEY = "fake-test-key-qa-round2"


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


def _on_screen(view, message_id: int, action: str) -> QRect:
    """Where a message's action button is drawn, in viewport coordinates (scrolled into view)."""
    view.action_point(message_id, action)
    k = view._index[message_id]
    hit = next(h for h in view._rows[k].hits if h.action == action)
    x0, _ = view._column()
    return hit.rect.translated(x0, view._tops[k] - view.verticalScrollBar().value())


def test_in_a_narrow_window_every_action_is_on_screen_and_clicks(qtbot, window, fake_server):
    win, chat = window
    fake_server.queue(stream(["A short reply."]))
    send(qtbot, win, chat, "hello")
    win.resize(500, 700)
    view = win.transcript
    qtbot.waitUntil(lambda: view.viewport().width() < 360)
    question, reply = chat.conversation.messages[-2:]
    room = view.viewport().rect()
    for message, actions in ((reply, ("copy", "copy_markdown", "regenerate", "delete", "pin")),
                             (question, ("copy", "edit", "delete", "pin"))):
        for action in actions:
            rect = _on_screen(view, message.id, action)
            assert room.contains(rect), f"{action!r} under the {message.role} message is cut off: {rect} in {room}"
    # The last one of the reply's row, clicked where it is drawn, does what it says.
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=view.action_point(reply.id, "pin"))
    qtbot.waitUntil(lambda: reply.pinned)


def test_the_empty_box_shows_its_whole_hint_in_a_narrow_window(qtbot, window):
    win, _ = window
    win.resize(500, 700)
    box = win.input
    qtbot.waitUntil(lambda: box.width() < 320)
    QApplication.processEvents()
    margin = int(box.document().documentMargin())
    room = box.viewport().width() - 2 * margin
    needed = QFontMetrics(box.font()).boundingRect(QRect(0, 0, room, 10000), Qt.TextFlag.TextWordWrap,
                                                   box.placeholderText()).height()
    qtbot.waitUntil(lambda: box.viewport().height() - 2 * margin >= needed, timeout=2000)
    height = box.height()
    box.setFocus()
    qtbot.keyClicks(box, "h")
    QApplication.processEvents()
    assert box.height() == height, "the first letter typed does not make the box jump"
    box.clear()
    win.resize(1000, 760)  # and one line again when there is room
    qtbot.waitUntil(lambda: box.viewport().height() - 2 * margin < 2 * box.fontMetrics().lineSpacing())


_contrast = contrast_ratio  # WCAG 2 contrast of two opaque colours


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_the_box_focus_ring_stands_out_in_light_and_dark(qtbot, window, theme, request):
    """WCAG 1.4.11: a focus indicator needs 3:1 against what is next to it (inside and outside)."""
    win, _ = window
    from chatbot_gui.ui.theme import theme as app_theme

    app_theme().set_mode(theme)
    request.addfinalizer(lambda: app_theme().set_mode("system"))
    win.input.setFocus()
    qtbot.waitUntil(lambda: win.input.hasFocus())
    qtbot.waitUntil(lambda: (win.palette().window().color().lightness() < 80) == (theme == "dark"))
    composer = win.composer
    QApplication.processEvents()
    parent = composer.parentWidget()
    image = parent.grab(composer.geometry().adjusted(-4, -4, 4, 4)).toImage()
    y = image.height() // 2
    inside = image.pixelColor(image.width() // 2 - 40, image.height() - 10)
    outside = image.pixelColor(1, y)
    ring = [image.pixelColor(x, y) for x in range(2, 10)]
    best = max(ring, key=lambda c: min(_contrast(c, inside), _contrast(c, outside)))
    assert min(_contrast(best, inside), _contrast(best, outside)) >= 3.0, (
        theme, [c.name() for c in ring], inside.name(), outside.name())


def _move(view, pos: QPoint) -> None:
    vp = view.viewport()
    QApplication.sendEvent(vp, QMouseEvent(QEvent.Type.MouseMove, QPointF(pos), vp.mapToGlobal(QPointF(pos)),
                                           Qt.MouseButton.NoButton, Qt.MouseButton.NoButton,
                                           Qt.KeyboardModifier.NoModifier))


@pytest.mark.parametrize("how", ["wheel", "keyboard"])
def test_after_scrolling_the_actions_follow_the_message_under_the_pointer(qtbot, how):
    view = MessagesView()
    qtbot.addWidget(view)
    view.resize(900, 600)
    view.show()
    qtbot.waitExposed(view)
    for n in range(1, 81):
        view.add_message(n, USER if n % 2 else ASSISTANT, f"message {n} " + "words " * (n % 7 * 10))
    view.verticalScrollBar().setValue(view.verticalScrollBar().maximum() // 2)
    QApplication.processEvents()
    pos = QPoint(view.viewport().width() // 2, view.viewport().height() // 2)
    _move(view, pos)
    QApplication.processEvents()

    def under_pointer():
        y = pos.y() + view.verticalScrollBar().value()
        return max(r for r in range(len(view._rows)) if view._tops[r] <= y)

    before = view._rows[under_pointer()]
    assert view.actions_shown(before)
    vp = view.viewport()
    for _ in range(3):  # three notches (or Page Down presses) down, the pointer still
        if how == "wheel":
            QApplication.sendEvent(vp, QWheelEvent(QPointF(pos), vp.mapToGlobal(QPointF(pos)), QPoint(0, 0),
                                                   QPoint(0, -120), Qt.MouseButton.NoButton,
                                                   Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase,
                                                   False))
        else:
            qtbot.keyClick(view, Qt.Key.Key_PageDown)
    QApplication.processEvents()
    now = view._rows[under_pointer()]
    assert now is not before, "the wheel moved the list"
    assert view.actions_shown(now), "the message now under the pointer shows its actions"
    assert not view.actions_shown(before), "the one scrolled away no longer does"


def test_a_click_anywhere_in_the_message_box_puts_the_cursor_in_it(qtbot, window, fake_server):
    """The rounded box looks like one text field: a click on its padding or beside Stop/Send (not
    only on the text line itself) must let the user type there. Seen: the click did nothing, and
    the letters typed next went to the message list, where Space ran the Edit action."""
    win, chat = window
    fake_server.queue(stream(["Hi."]))
    send(qtbot, win, chat, "hello")
    win.transcript.setFocus()
    qtbot.waitUntil(lambda: win.transcript.hasFocus())
    composer, box = win.composer, win.input
    beside_buttons = QPoint(20, win.stop_button.geometry().center().y())
    assert composer.childAt(beside_buttons) is None, "a spot of the box that is neither the text nor a button"
    qtbot.mouseClick(composer, Qt.MouseButton.LeftButton, pos=beside_buttons)
    qtbot.waitUntil(lambda: box.hasFocus())
    fake_server.queue(stream(["Again."]))
    qtbot.keyClicks(QApplication.focusWidget(), "typed after the click")
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: len(fake_server.requests) == 2 and not chat.busy, timeout=15000)
    assert fake_server.requests[-1].json["messages"][-1]["content"] == "typed after the click"


def test_an_edited_message_keeps_its_version_switch_under_its_own_bubble(qtbot):
    """Seen: under an edited message (right-aligned bubble) "‹ 2/2 ›" floated ~190 px left of the
    bubble's edge, over empty space, because the hidden Copy/Edit/Delete/Pin kept their room to
    its right. It belongs at the bubble's edge, where the user's eye is, with or without hover."""
    view = MessagesView()
    qtbot.addWidget(view)
    view.resize(900, 600)
    view.show()
    qtbot.waitExposed(view)
    view.add_message(1, USER, "edited first", version=2, versions=2)
    view.add_message(2, ASSISTANT, "A reply.")
    view.viewport().repaint()
    QApplication.processEvents()
    row = view._row(1)
    switch = [h.rect for h in row.hits if h.action in ("previous_version", "version", "next_version")]
    assert not view.actions_shown(row)
    assert abs(max(r.right() for r in switch) - row.bubble.right()) <= 2, (switch, row.bubble)
    # Pointing at it shows the actions beside the switch, which does not move.
    before = [QRect(r) for r in switch]
    pos = QPoint(view._column()[0] + row.bubble.center().x(), view._tops[0] + row.bubble.center().y())
    _move(view, pos)
    QApplication.processEvents()
    assert view.actions_shown(view._row(1))
    assert [h.rect for h in view._row(1).hits if h.action in ("previous_version", "version", "next_version")] == before


def _message_room(win) -> int:
    """How wide the status line's message may be: up to the leftmost footer label on screen."""
    bar = win.statusBar()
    lefts = [w.mapTo(bar, QPoint(0, 0)).x() for w in (win.context_label, win.connection_label)
             if w.isVisible() and w.width() > 0]
    return (min(lefts) if lefts else bar.width()) - 8


def test_in_a_narrow_window_the_status_line_says_why_enter_did_nothing(qtbot, window, fake_server):
    """Seen at 500 px: Enter while a reply streams put "A reply is still coming in this chat…" in
    the status line, but the token and server labels took the bar and only "A rep" showed."""
    win, chat = window
    fake_server.queue(stream(["First."]), stream(["part"] * 3, stall_after=1))
    send(qtbot, win, chat, "hello")
    qtbot.waitUntil(lambda: "tokens" in win.context_label.text())
    win.resize(500, 700)
    qtbot.waitUntil(lambda: win.width() <= 520)
    win.input.setFocus()
    qtbot.keyClicks(win.input, "second")
    qtbot.keyClick(win.input, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: chat.busy)
    qtbot.keyClicks(win.input, "third")
    qtbot.keyClick(win.input, Qt.Key.Key_Return)
    bar = win.statusBar()
    qtbot.waitUntil(lambda: "still coming" in bar.currentMessage())
    QApplication.processEvents()
    needed = bar.fontMetrics().horizontalAdvance(bar.currentMessage())
    qtbot.waitUntil(lambda: needed <= _message_room(win), timeout=2000)
    qtbot.keyClick(win.input, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not chat.busy)
    # Once the message is short again, the chat's tokens come back beside it.
    qtbot.waitUntil(lambda: win.context_label.width() >= win.context_label.fontMetrics().horizontalAdvance(
        win.context_label.text()), timeout=2000)


def test_zoomed_in_the_action_buttons_are_as_tall_as_their_text_and_do_not_overlap(qtbot):
    """Seen at +12 pt in a 700 px window: the bar's lines were 24 px apart whatever the text size,
    so 'Copy Markdown' sat on 'Regenerate' and the model name under the reply was cut at the bottom."""
    view = MessagesView()
    qtbot.addWidget(view)
    view.resize(420, 700)
    view.show()
    qtbot.waitExposed(view)
    view.set_zoom(12)
    view.add_message(1, USER, "hello")
    view.add_message(2, ASSISTANT, "A reply.", status="Stopped. This partial reply is not sent.",
                     links=[("keep", "keep it"), ("pin", "Pin")], meta="gpt-4o-mini · 12:00 · 42 tokens")
    view.viewport().repaint()
    QApplication.processEvents()
    font = view.content_font()
    small = type(font)(font)
    small.setPointSizeF(font.pointSizeF() * 0.9)
    text_h = QFontMetrics(small).height()
    for message_id in (1, 2):
        view.action_point(message_id, "copy")
        hits = [h for h in view._row(message_id).hits if h.piece == -1]
        assert len({h.rect.top() for h in hits}) >= (2 if message_id == 2 else 1)
        for h in hits:
            assert h.rect.height() >= text_h, (h.label, h.rect, text_h)
        for a in hits:
            for b in hits:
                assert a is b or not a.rect.intersects(b.rect), (a.label, a.rect, b.label, b.rect)


def test_help_lists_the_keys_that_move_through_the_messages_and_they_work(qtbot, window, fake_server):
    """README: 'in the chat, Up/Down move between messages, Left/Right between a message's actions,
    Enter runs one'. Seen: Help > Keyboard shortcuts did not list any of them, so a keyboard user
    could not find out how to reach Copy, Edit or Regenerate."""
    from PySide6.QtGui import QGuiApplication

    from chatbot_gui.ui.shortcuts_dialog import ShortcutsDialog

    win, chat = window
    fake_server.queue(stream(["The answer."]))
    send(qtbot, win, chat, "the question")
    win.shortcuts_action.trigger()
    dialog = win.findChild(ShortcutsDialog)
    qtbot.waitUntil(lambda: dialog is not None and dialog.isVisible())
    rows = {keys: (what, where) for what, keys, where in dialog.rows()}
    dialog.close()
    for keys in ("Up / Down", "Left / Right", "Enter or Space"):
        assert keys in rows and rows[keys][1] == "in the chat", (keys, sorted(rows))
    # And they do what the list says: Up to the question, Right to its first action (Copy), Enter.
    view = win.transcript
    view.setFocus()
    qtbot.waitUntil(view.hasFocus)
    qtbot.keyClick(view, Qt.Key.Key_Down)
    qtbot.keyClick(view, Qt.Key.Key_Up)
    qtbot.keyClick(view, Qt.Key.Key_Right)
    QGuiApplication.clipboard().clear()
    qtbot.keyClick(view, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: QGuiApplication.clipboard().text() == "the question")


def _a_message_current(qtbot, window, fake_server):
    """One question answered; the message list has the focus and Up made the question current."""
    win, chat = window
    fake_server.queue(stream(["The answer."]))
    send(qtbot, win, chat, "the question")
    view = win.transcript
    view.setFocus()
    qtbot.waitUntil(view.hasFocus)
    qtbot.keyClick(view, Qt.Key.Key_Up)  # the message list's key
    return win, view


def test_typing_while_the_messages_have_the_focus_writes_in_the_message_box(qtbot, window, fake_server):
    """Seen: after clicking a message or moving through them with the keys, typed letters went
    nowhere. Now they land in the message box, which takes the focus; the message keys still work."""
    win, view = _a_message_current(qtbot, window, fake_server)
    assert view.current_message() >= 0
    win.input.setPlainText("draft: ")
    cursor = win.input.textCursor()
    cursor.movePosition(cursor.MoveOperation.End)
    win.input.setTextCursor(cursor)
    view.setFocus()
    qtbot.waitUntil(view.hasFocus)
    qtbot.keyClicks(view, "Why?")
    qtbot.waitUntil(win.input.hasFocus)
    assert win.input.toPlainText() == "draft: Why?"
    # Ctrl+A in the messages still selects the messages, not the box's text.
    view.setFocus()
    qtbot.waitUntil(view.hasFocus)
    qtbot.keyClick(view, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    assert view.hasFocus() and win.input.toPlainText() == "draft: Why?"


def test_the_current_messages_frame_goes_when_the_focus_leaves_the_messages(qtbot, window, fake_server):
    """Seen under Xvfb: after a click on a message and typing (the box takes the focus), the message
    kept its blue focus frame: the list was not repainted when it lost the focus."""
    win, view = _a_message_current(qtbot, window, fake_server)

    def on_screen():  # the messages as the screen holds them (the window's pixels), not a fresh render
        qtbot.wait(60)  # on X11 the drawing reaches the server a moment later
        vp = view.viewport()
        at = vp.mapTo(win, QPoint(0, 0))
        return win.screen().grabWindow(win.winId(), at.x(), at.y(), vp.width(), vp.height()).toImage()

    framed = on_screen()
    win.input.setFocus()
    qtbot.waitUntil(win.input.hasFocus)
    after = on_screen()
    view.viewport().repaint()
    fresh = on_screen()
    assert framed != fresh  # the frame was drawn while the list had the focus
    assert after == fresh  # and is gone from the screen once it left


def test_a_users_bubble_sits_as_close_to_the_reply_under_it_as_to_the_one_above(qtbot):
    """Seen: ~65 px of blank under a user's bubble before the reply's "Assistant" label, against
    ~30 px above the bubble: the bubble looked attached to the reply before it. The room kept under
    a bubble for its hover actions (Copy, Edit, Delete) is the only extra allowed."""
    from chatbot_gui.ui.messages.rows import _ACTION_H, _PAD

    view = shown_view(qtbot, MessagesView())
    view.add_message(1, ASSISTANT, "An earlier reply.")
    view.add_message(2, USER, "A question")
    view.add_message(3, ASSISTANT, "The reply.")
    view.viewport().repaint()
    QApplication.processEvents()
    earlier, user = view._row(1), view._row(2)
    bar_bottom = view._tops[0] + max(h.rect.bottom() for h in earlier.hits)
    bubble = user.bubble.translated(0, view._tops[1])
    label_top = view._tops[2] + _PAD  # where the reply's "Assistant" label is drawn
    above, below = bubble.top() - bar_bottom, label_top - bubble.bottom()
    assert above > 0 and below > 0
    assert below - _ACTION_H <= above, (above, below)


def test_a_reply_still_streaming_offers_no_actions_until_it_ends(qtbot):
    """Seen: under a reply still streaming, Copy, Copy Markdown, Regenerate and Delete were drawn
    and clickable (Regenerate and Delete were then refused, Copy took half a reply). They appear
    when it ends, in the room kept for them (nothing jumps)."""
    view = shown_view(qtbot, MessagesView())
    view.add_message(1, USER, "A question")
    view.add_message(2, ASSISTANT, "Half of the ", streaming=True)
    view.append_text(2, "answer")
    qtbot.waitUntil(lambda: view._row(2).measured and bool(view._row(2).hits))
    regenerated: list[int] = []
    view.regenerateRequested.connect(regenerated.append)
    pos = view.action_point(2, "regenerate")
    height = view._row(2).height
    assert not view.actions_shown(view._row(2))
    _move(view, pos)
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    assert not view.actions_shown(view._row(2)) and regenerated == []
    # Nor by keyboard: the reply is current (clicked), Right finds no action, Enter does nothing.
    assert view.current_message() == 2 and view.hasFocus()
    qtbot.keyClick(view, Qt.Key.Key_Right)
    qtbot.keyClick(view, Qt.Key.Key_Return)
    assert view.current_message() == 2 and view.current_action() == "" and regenerated == []
    view.finish(2)
    qtbot.waitUntil(lambda: view._row(2).measured)
    assert view.actions_shown(view._row(2)) and view._row(2).height == height
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=view.action_point(2, "regenerate"))
    assert regenerated == [2]


@pytest.mark.qt_log_ignore("This plugin does not support raise", "This plugin does not support grabbing")
@pytest.mark.parametrize("picker", ["persona_combo", "model_combo"])
def test_after_choosing_a_persona_or_model_the_next_keys_go_to_the_message_box(qtbot, window, fake_server, picker):
    """Seen: after picking "Pirate" from the Persona list, the message typed next and its Enter went
    to the list (a keyboard search), and nothing was sent."""
    win, chat = window
    combo = getattr(win, picker)
    combo.setFocus()
    qtbot.waitUntil(combo.hasFocus)
    combo.showPopup()
    popup = combo.view()
    qtbot.waitUntil(popup.isVisible)
    rect = popup.visualRect(popup.model().index(1, 0))
    qtbot.mouseClick(popup.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.waitUntil(lambda: not popup.isVisible())
    assert combo.currentIndex() == 1
    qtbot.waitUntil(win.input.hasFocus)
    fake_server.queue(stream(["Arr."]))
    qtbot.keyClicks(QApplication.focusWidget(), "Ahoy?")
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: len(fake_server.requests) == 1)
    assert fake_server.requests[-1].json["messages"][-1] == {"role": "user", "content": "Ahoy?"}
