"""The chat pane (ChatView over the message list) on its own: long chats, long unbroken runs, rows by id."""

from __future__ import annotations

import random

from chatbot_gui.core.conversation import Message, Status
from chatbot_gui.ui.chat_view import ChatView
from chatbot_gui.ui.render.softbreak import SOFT_BREAK_EVERY, SoftBreaker
from chatting import shown_view


def reference_breaks(pieces: list[str]) -> str:
    """A zero-width space after every SOFT_BREAK_EVERY characters of a run without whitespace."""
    out, run = [], 0
    for piece in pieces:
        for ch in piece:
            if ch.isspace():
                run = 0
            elif run == SOFT_BREAK_EVERY:
                out.append("\u200b")
                run = 0
            if not ch.isspace():
                run += 1
            out.append(ch)
    return "".join(out)


def test_soft_breaks_match_the_rule_across_any_split():
    rng = random.Random(7)
    for _ in range(300):
        text = "".join(rng.choice(["a" * rng.randint(1, 1200), " ", "\n", "word ", "x" * rng.randint(100, 600)])
                       for _ in range(rng.randint(1, 30)))
        cuts = sorted(rng.sample(range(len(text) + 1), min(5, len(text))))
        pieces = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)])]
        breaker = SoftBreaker()
        shown = "".join(breaker.feed(p) for p in pieces)
        assert shown.replace("\u200b", "") == text
        assert shown == reference_breaks(pieces)


def _shown_view(qtbot) -> ChatView:
    return shown_view(qtbot, ChatView(), (700, 400))


def test_a_long_chat_opens_scrolled_to_its_last_message(qtbot):
    view = _shown_view(qtbot)
    messages = []
    for i in range(1000):  # ~2 M characters
        messages.append(Message("user", f"question {i} " + "words " * 40))
        messages.append(Message("assistant", f"answer {i}\n\n" + "more words here " * 110, status=Status.COMPLETE))
    view.show_messages(messages)
    qtbot.wait(300)
    bar = view.verticalScrollBar()
    assert bar.maximum() > 10_000
    assert bar.value() == bar.maximum()
    assert messages[-1].id in view.visible_ids()
    assert view.blocks_of_kind("user")[-1].startswith("question 999")


def test_a_long_chat_has_every_message_and_scrolls_to_the_top(qtbot):
    # The old transcript showed the last 300 messages and "N earlier messages"; the message list
    # lays out only what is seen, so it holds them all and there is nothing to "show earlier".
    view = _shown_view(qtbot)
    messages = [Message("user" if i % 2 == 0 else "assistant", f"message {i} " + "text " * 30)
                for i in range(400)]
    view.show_messages(messages)
    assert view.hidden_earlier == 0
    assert view.blocks_of_kind("user")[0].startswith("message 0 ")
    view.verticalScrollBar().setValue(0)  # the user scrolls to the top
    qtbot.waitUntil(lambda: messages[0].id in view.visible_ids())
    assert "message 0 " in view.shown_text(messages[0].id)


def test_a_search_match_in_an_early_message_is_marked_and_scrolled_to(qtbot):
    view = _shown_view(qtbot)
    messages = [Message("user", f"message {i}") for i in range(350)]
    messages[3].content = "the needle is here"
    for i, msg in enumerate(messages):
        msg.db_id = i + 1
    view.show_messages(messages)
    assert messages[3].id not in view.visible_ids()
    assert view.highlight("needle", message_db_id=4) == 1
    assert messages[3].id in view.visible_ids()
    assert view.highlighted() == ["needle"]


# -- messages addressed by id (issue 10) ----------------------------------------------------------

def _view(qtbot) -> ChatView:
    view = ChatView()
    qtbot.addWidget(view)
    return view


def test_text_streams_into_its_own_message_even_with_a_notice_after_it(qtbot):
    view = _view(qtbot)
    user = Message("user", "question")
    reply = Message("assistant", "", status=Status.STREAMING)
    notice = Message("notice", "Persona: Sarcastic assistant")
    for msg in (user, reply, notice):
        view.add_message(msg)
    view.append_to(reply.id, "first part, ")
    view.append_to(reply.id, "second line\nand a third")
    assert view.blocks_of_kind("assistant") == ["first part, second line\nand a third"]
    assert view.toPlainText().splitlines()[-1] == "Persona: Sarcastic assistant"
    reply.content, reply.status = "first part, second line\nand a third", Status.STOPPED
    view.end_message(reply)
    lines = view.toPlainText().splitlines()
    assert lines[-2].startswith("■ Stopped") and lines[-1] == "Persona: Sarcastic assistant"
    assert view.links_of(reply.id) == [("keep", "keep it"), ("pin", "Pin")]


def test_a_message_is_replaced_and_removed_in_place(qtbot):
    view = _view(qtbot)
    msgs = [Message("user", "q1"), Message("assistant", "a1", status=Status.INTERRUPTED),
            Message("user", "q2"), Message("assistant", "a2")]
    view.show_messages(msgs)
    assert view.blocks_of_kind("marker") and "keep it" in view.blocks_of_kind("marker")[0]
    msgs[1].kept = True
    view.replace_message(msgs[1], (2, 3))
    assert view.blocks_of_kind("assistant") == ["a1", "a2"]
    assert view.blocks_of_kind("marker")[0].endswith("unless you keep it.")
    assert view.blocks_of_kind("notice") == ["Kept: this partial reply is part of the conversation."]
    assert view.blocks_of_kind("assistant-label")[0].endswith("‹ 2/3 ›")
    assert view.row_index(msgs[1].id) == 1, "replaced in its place"
    view.remove_message(msgs[2].id)
    assert view.blocks_of_kind("user") == ["q1"]
    view.remove_message(msgs[0].id)  # the first one too
    assert view.toPlainText().splitlines()[0] == "Assistant   ‹ 2/3 ›"
    view.append_to(msgs[3].id, " more")
    assert view.blocks_of_kind("assistant") == ["a1", "a2 more"]


def test_the_version_arrows_look_and_act_dead_at_the_first_and_last_version(qtbot):
    """Seen (QA): at 1/3, "‹" looked as clickable as "›" (and at 3/3, "›" as "‹")."""
    from PySide6.QtCore import Qt

    view = _view(qtbot)
    msgs = [Message("user", "q1"), Message("assistant", "a1")]
    view.show_messages(msgs, versions=lambda mid: (1, 3) if mid == msgs[1].id else (1, 1))
    image = view.viewport().grab().toImage()

    def darkest(action: str) -> int:
        rect = next(h for h in view._row(msgs[1].id).hits if h.action == action).rect
        rect.translate(view._column()[0], view._tops[view.row_index(msgs[1].id)] - view.verticalScrollBar().value())
        return min(image.pixelColor(x, y).lightness() for x in range(rect.left(), rect.right())
                   for y in range(rect.top(), rect.bottom()))

    assert darkest("previous_version") > darkest("next_version") + 40, "'‹' faded at 1/3, '›' not"
    with qtbot.assertNotEmitted(view.versionRequested):
        view.trigger_action(msgs[1].id, "previous_version")
    with qtbot.waitSignal(view.versionRequested) as asked:
        view.trigger_action(msgs[1].id, "next_version")
    assert asked.args == [msgs[1].id, 2]


def test_errors_are_addressed_by_their_reply(qtbot):
    from chatbot_gui.core.errors import ErrorInfo

    view = _view(qtbot)
    view.add_message(Message("user", "q"))
    first = ErrorInfo("server", "The server had a problem (500).", retryable=True)
    view.show_error(first, can_retry=True, key=7)
    view.set_countdown("Retrying in 3 s…", 7)
    view.add_message(Message("notice", "Persona: X"))
    view.set_countdown("Retrying in 2 s…", 7)  # updated in place, under its error
    assert view.blocks_of_kind("countdown") == ["Retrying in 2 s…"]
    assert view.toPlainText().splitlines()[-1] == "Persona: X"
    view.show_error(first, can_retry=True, key=7)  # the same again: one line
    (line,) = view.blocks_of_kind("error")
    assert "(failed 2 times)" in line and "Retry" in line and view.blocks_of_kind("countdown") == []
    retried = []
    view.retryRequested.connect(retried.append)
    (error_row,) = [mid for mid, action, _ in view.links() if action == "retry"]
    view.trigger_action(error_row, "retry")
    assert retried == [7], "Retry names the reply that failed"
    view.disable_retry(7)
    assert "Retry" not in view.blocks_of_kind("error")[0]
    view.remove_error(7)
    assert view.blocks_of_kind("error") == [] and view.toPlainText().splitlines() == ["You", "q", "Persona: X"]


def test_the_context_menu_offers_what_fits_the_message(qtbot):
    view = _view(qtbot)
    user, reply = Message("user", "q"), Message("assistant", "a")
    view.add_message(user)
    view.add_message(reply)
    actions = [[a.text() for a in view.context_menu(msg.id).actions() if a.text()] for msg in (user, reply)]
    pin = "Pin: always send to the model"
    assert actions == [["Copy", "Edit and resend", "Delete", pin], ["Copy", "Copy Markdown", "Regenerate", "Delete", pin]]
    chosen = []
    view.messageActionRequested.connect(lambda action, mid: chosen.append((action, mid)))
    [a for a in view.context_menu(reply.id).actions() if a.text() == "Regenerate"][0].trigger()
    [a for a in view.context_menu(user.id).actions() if a.text() == "Edit and resend"][0].trigger()
    [a for a in view.context_menu(user.id).actions() if a.text() == "Delete"][0].trigger()
    assert chosen == [("regenerate", reply.id), ("edit", user.id), ("delete", user.id)]


def test_the_context_line_stays_above_its_message_when_that_message_is_redrawn(qtbot):
    view = _view(qtbot)
    msgs = [Message("user", "q1"), Message("assistant", "a1"), Message("user", "q2"),
            Message("assistant", "a2", status=Status.STOPPED)]
    view.show_messages(msgs)
    view.set_context_marker(msgs[2].id, "Earlier messages are not sent")
    assert view.context_marker() == (msgs[2].id, "⋯ Earlier messages are not sent")
    assert view.toPlainText().splitlines()[4] == "⋯ Earlier messages are not sent"
    msgs[2].pinned = True
    view.replace_message(msgs[2])
    assert view.context_marker() == (msgs[2].id, "⋯ Earlier messages are not sent")
    view.remove_message(msgs[2].id)
    assert view.context_marker() is None
