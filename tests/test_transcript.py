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
