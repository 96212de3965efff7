"""The transcript view on its own: text shown as text, long chats, long unbroken runs."""

from __future__ import annotations

import random

from chatbot_gui.core.conversation import Message, Status
from chatbot_gui.ui.transcript import SOFT_BREAK_EVERY, SoftBreaker, TranscriptView


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


def test_a_long_chat_opens_scrolled_to_its_last_message(qtbot):
    view = TranscriptView()
    qtbot.addWidget(view)
    view.resize(700, 400)
    view.show()
    qtbot.waitExposed(view)
    messages = []
    for i in range(1000):  # ~2 M characters: Qt lays out a document this size in the background
        messages.append(Message("user", f"question {i} " + "words " * 40))
        messages.append(Message("assistant", f"answer {i}\n\n" + "more words here " * 110, status=Status.COMPLETE))
    view.show_messages(messages)
    qtbot.wait(300)
    bar = view.verticalScrollBar()
    assert bar.maximum() > 10_000
    assert bar.value() == bar.maximum()
    assert view.blocks_of_kind("user")[-1].startswith("question 999")


def test_a_long_chat_shows_its_recent_messages_and_the_rest_on_scrolling_up(qtbot):
    from chatbot_gui.ui.transcript import RECENT_MESSAGES

    view = TranscriptView()
    qtbot.addWidget(view)
    view.resize(700, 400)
    view.show()
    qtbot.waitExposed(view)
    messages = [Message("user" if i % 2 == 0 else "assistant", f"message {i} " + "text " * 30)
                for i in range(RECENT_MESSAGES + 100)]
    for i, msg in enumerate(messages):
        msg.db_id = i + 1
    view.show_messages(messages)
    assert view.hidden_earlier == 100
    assert "100 earlier messages" in view.blocks_of_kind("earlier")[0]
    assert view.blocks_of_kind("user")[0].startswith("message 100 ")
    shown_last = view.blocks_of_kind("assistant")[-1]
    view.verticalScrollBar().setValue(0)  # the user scrolls to the top
    qtbot.waitUntil(lambda: view.hidden_earlier == 0)
    assert view.blocks_of_kind("user")[0].startswith("message 0 ")
    assert view.blocks_of_kind("earlier") == []
    assert view.blocks_of_kind("assistant")[-1] == shown_last
    bar = view.verticalScrollBar()
    assert 0 < bar.value() < bar.maximum(), "the view stays where the user was, not at an end"


def test_a_search_match_in_an_earlier_message_is_shown(qtbot):
    from chatbot_gui.ui.transcript import RECENT_MESSAGES

    view = TranscriptView()
    qtbot.addWidget(view)
    view.show()
    messages = [Message("user", f"message {i}") for i in range(RECENT_MESSAGES + 50)]
    messages[3].content = "the needle is here"
    for i, msg in enumerate(messages):
        msg.db_id = i + 1
    view.show_messages(messages)
    assert "needle" not in view.toPlainText()
    assert view.highlight("needle", message_db_id=4) == 1
    assert view.textCursor().selectedText() == "needle"


# -- messages addressed by id (issue 10) ----------------------------------------------------------

def _view(qtbot) -> TranscriptView:
    view = TranscriptView()
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
    assert view.blocks_of_kind("assistant") == ["first part, second line", "and a third"]
    assert view.toPlainText().splitlines()[-1] == "Persona: Sarcastic assistant"
    reply.content, reply.status = "first part, second line\nand a third", Status.STOPPED
    view.end_message(reply)
    lines = view.toPlainText().splitlines()
    assert lines[-2].startswith("■ Stopped") and lines[-1] == "Persona: Sarcastic assistant"


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
    view.remove_message(msgs[2].id)
    assert view.blocks_of_kind("user") == ["q1"]
    view.remove_message(msgs[0].id)  # the first one too
    assert view.toPlainText().splitlines()[0] == "Assistant   ‹ 2/3 ›"
    view.append_to(msgs[3].id, " more")
    assert view.blocks_of_kind("assistant") == ["a1", "a2 more"]


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
    view.disable_retry(7)
    assert "Retry" not in view.blocks_of_kind("error")[0]
    view.remove_error(7)
    assert view.blocks_of_kind("error") == [] and view.toPlainText().splitlines() == ["You", "q", "Persona: X"]


def test_the_context_menu_offers_what_fits_the_message(qtbot):
    from PySide6.QtWidgets import QMenu

    view = _view(qtbot)
    user, reply = Message("user", "q"), Message("assistant", "a")
    view.add_message(user)
    view.add_message(reply)
    actions = []
    for msg in (user, reply):
        menu = QMenu()
        view.add_message_actions(menu, msg.id)
        actions.append([a.text() for a in menu.actions() if a.text()])
    assert actions == [["Edit and resend…", "Pin: always send to the model", "Delete message"],
                       ["Regenerate reply", "Pin: always send to the model", "Delete message"]]
    chosen = []
    view.messageActionRequested.connect(lambda action, mid: chosen.append((action, mid)))
    menu = QMenu()
    view.add_message_actions(menu, reply.id)
    menu.actions()[1].trigger()
    assert chosen == [("regenerate", reply.id)]
