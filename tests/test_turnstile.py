"""The request threads' turnstile (core/turnstile.py): fair turns, bounded waits, socket waits outside."""

from __future__ import annotations

import threading
import time

from chatbot_gui.core import turnstile
from chatbot_gui.core.turnstile import MAX_WAIT_S, Turnstile
from fakeserver import FakeServer, stream
from test_streaming import Chat, chat


def test_handover_goes_to_the_request_waiting_not_back_to_the_one_letting_go() -> None:
    gate = Turnstile()
    first = gate.new_pass()
    first.enter()
    order: list[str] = []

    def second() -> None:
        other = gate.new_pass()
        other.enter()
        order.append("second")
        other.leave()

    thread = threading.Thread(target=second)
    thread.start()
    deadline = time.monotonic() + 5
    while not gate.waiting() and time.monotonic() < deadline:
        time.sleep(0.001)
    first.handover()  # a plain Lock would let "first" take it straight back
    order.append("first")
    first.leave()
    thread.join(5)
    assert order == ["second", "first"]
    assert gate.timeouts == 0


def test_a_request_never_waits_for_its_turn_longer_than_the_cap() -> None:
    gate = Turnstile()
    holder = gate.new_pass()
    holder.enter()
    waiter = gate.new_pass()
    t0 = time.monotonic()
    waiter.enter()  # goes on without the turnstile
    waited = time.monotonic() - t0
    assert MAX_WAIT_S * 0.9 <= waited < MAX_WAIT_S + 1.0
    assert gate.timeouts == 1
    waiter.leave()
    holder.leave()
    again = gate.new_pass()
    again.enter()  # free again: no wait
    assert gate.timeouts == 1
    again.leave()


def test_a_stalled_stream_does_not_hold_up_another(fake_server: FakeServer) -> None:
    """The stalled reply waits in a socket read, which lets go of the turnstile: the other reply
    streams without ever waiting out the cap."""
    gate = turnstile.shared
    assert gate is not None
    before = gate.timeouts
    fake_server.queue(stream(["before ", "after"], stall_after=1))
    stalled = Chat(fake_server, read_timeout=30)
    thread = threading.Thread(target=stalled.run)
    thread.start()
    try:
        assert stalled.first_text.wait(10)
        pieces = [f"w{i} " for i in range(300)]
        t0 = time.monotonic()
        outcome, other = chat(fake_server, stream(pieces))
        assert outcome.status == "complete"
        assert other.text == "".join(pieces)
        assert gate.timeouts == before
        assert time.monotonic() - t0 < 10
    finally:
        stalled.abort.abort()
        thread.join(10)
    assert stalled.outcome is not None and stalled.outcome.status == "stopped"
    assert stalled.text == "before "
