"""Benchmark 4: the cost of one streamed delta when a long chat is already on screen.

Time per ``ChatView.append_to`` of a ~20-character delta (2,000 deltas, each followed by
``QApplication.processEvents()`` so the transcript's layout, scrolling and repaint happen as they do on
screen) in a shown window whose transcript already holds 2,000 messages (1,000 user + 1,000 assistant
turns of ~1 KB), against the same in a window with an empty transcript. The cost of a delta should not
grow with the length of the chat.
"""

from __future__ import annotations

import time
from typing import Any

from benchmarks.common import Result, dispose, log, make_window, median, qt_app, reply_tokens, spread

N_DELTAS = 2_000
N_TURNS = 1_000  # user + assistant pairs
#: Nothing listens here, and nothing is sent: this benchmark never makes a request.
NO_SERVER = "http://127.0.0.1:9/v1"


def _deltas(n: int) -> list[str]:
    tokens = reply_tokens(n * 4)
    return ["".join(tokens[i:i + 4]) for i in range(0, len(tokens), 4)]  # ~20-24 characters each


def _message(i: int, size: int = 1_000) -> str:
    words = reply_tokens(size // 5 + 20, paragraph_every=90)
    text = f"Message {i}:" + "".join(words)
    return text[:size]


def _settle(window: Any) -> None:
    """Let the message list finish rendering and painting what is on screen (it follows the end)."""
    from PySide6.QtWidgets import QApplication

    view = window.transcript
    for _ in range(200):
        QApplication.processEvents()
        if not view.rendering_pending():
            break
    for _ in range(5):
        QApplication.processEvents()


def _fill(window: Any, turns: int) -> None:
    from chatbot_gui.core.conversation import Message, Status

    view = window.transcript
    for i in range(turns):
        view.add_message(Message("user", _message(2 * i)))
        view.add_message(Message("assistant", _message(2 * i + 1), status=Status.COMPLETE))
    _settle(window)


def _time_deltas(window: Any, deltas: list[str]) -> float:
    """Seconds per delta, layout and paint included."""
    from PySide6.QtWidgets import QApplication

    from chatbot_gui.core.conversation import Message, Status

    view = window.transcript
    reply = Message("assistant", "", status=Status.STREAMING)
    view.add_message(reply)
    _settle(window)
    start = time.perf_counter()
    for delta in deltas:
        view.append_to(reply.id, delta)
        QApplication.processEvents()
    elapsed = time.perf_counter() - start
    reply.status = Status.COMPLETE
    view.end_message(reply)
    return elapsed / len(deltas)


def run(runs: int = 5) -> list[Result]:
    qt_app()
    deltas = _deltas(N_DELTAS)
    log(f"append: building a transcript of {2 * N_TURNS} messages")
    started = time.perf_counter()
    full, full_controller = make_window(NO_SERVER)
    _fill(full, N_TURNS)
    build_s = time.perf_counter() - started
    ids = full.transcript.message_ids()
    chars = sum(len(full.transcript.text_of(i)) for i in ids)
    blocks = len(ids)

    # Warm-up (unmeasured): first use of fonts, glyph caches, code paths.
    warm, warm_controller = make_window(NO_SERVER)
    _time_deltas(warm, deltas[:200])
    warm_controller.shutdown(1000)
    dispose(warm)

    with_chat: list[float] = []
    empty: list[float] = []
    for i in range(runs):
        for case in (("full", "empty") if i % 2 == 0 else ("empty", "full")):
            if case == "full":
                with_chat.append(_time_deltas(full, deltas) * 1e6)
            else:
                window, controller = make_window(NO_SERVER)
                empty.append(_time_deltas(window, deltas) * 1e6)
                controller.shutdown(1000)
                dispose(window)
        log(f"append: run {i + 1}/{runs}: {with_chat[-1]:.0f} us/delta with the chat, {empty[-1]:.0f} us empty")
    full_controller.shutdown(1000)
    dispose(full)

    result = Result(
        "append per delta, 2k-msg chat", median(with_chat), median(empty), "us", 1.5,
        runs=with_chat, baseline_runs=empty,
    )
    result.notes += [
        f"with the chat: {spread(with_chat, '{:.0f}')} us; empty: {spread(empty, '{:.0f}')} us",
        f"message list: {blocks:,} messages, {chars / 1e6:.1f} M characters, built and laid out in {build_s:.1f} s; "
        f"{N_DELTAS:,} deltas per run, processEvents() after each",
    ]
    return [result]
