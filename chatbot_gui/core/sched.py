"""Request threads give way to the GUI thread: their wake-ups do not preempt it, and they hold back
while it is busy with something the user waits for.

A streaming reply's request thread wakes up thousands of times per reply (each read from the socket,
each hand-over of the interpreter lock). Under Linux's default policy a thread that wakes up may
preempt the one running, and the GUI thread was preempted ~3,800 times in a 5-second benchmark of
three chats streaming (``nonvoluntary_ctxt_switches`` in ``/proc``; up to 80 times inside one 14 ms
gap of a 5 ms GUI timer), each time while it was painting or handling input.

:func:`make_background` puts the calling thread under ``SCHED_BATCH``: the same share of the CPU as
before (same nice value: a thread holding the interpreter lock is not starved, so the GUI thread does
not wait longer for it; a lower priority, nice 10, did make the Markdown flood worse), but a thread
that wakes up no longer preempts a running one. Any thread may choose this policy for itself, without
privileges. Other systems have no such policy: nothing changes there.

Measured (A/B in one process, request threads only): the GUI thread was preempted 300-420 times per
three-stream run instead of ~3,800; three streams' GUI timer p99 6.9 -> 6.6 ms, max 13.4 -> 12.5 ms
(medians of 10 runs); the Markdown flood's p99 7.6 -> 7.3 ms, max 11.5 -> 10.2 ms (8 runs). The task
runner's workers were tried too and left out: the three-stream max got worse (12.3 -> 14.4 ms); the
GUI thread waits on what they hand back, and a batch thread that wakes up waits for a free CPU.

:func:`gui_busy` / :func:`pause_for_gui`: Python threads share one interpreter lock, and a request
thread parsing a fast stream is pure Python; the GUI thread then gets the lock about half the time,
and a send or a chat switched to took about twice its CPU time. The controller marks those actions
(and the repaint after them, :data:`GUI_BUSY_S` in all), and request threads sleep between deltas
until then. A/B with three chats streaming (8 runs each, the machine in a slow phase): GUI timer max
24.3 -> 20.3 ms, p99 7.8 -> 7.6 ms (medians). A reply is held back for at most 10 ms per action.
"""

from __future__ import annotations

import os
import time

#: How long request threads hold back after the GUI thread begins something the user waits for.
GUI_BUSY_S = 0.010
_busy_until = 0.0


def make_background() -> bool:
    """Puts the calling thread under the background policy (see the module's text); whether it did."""
    policy = getattr(os, "SCHED_BATCH", None)
    if policy is None:
        return False
    try:
        os.sched_setscheduler(0, policy, os.sched_param(0))  # pid 0: the calling thread (Linux)
    except OSError:  # (a sandbox that forbids it: the thread stays as it was)
        return False
    return True


def gui_busy(seconds: float = GUI_BUSY_S) -> None:
    """The GUI thread begins something the user waits for (a send, a chat to show) and its repaint:
    request threads hold back for up to ``seconds`` (see :func:`pause_for_gui`)."""
    global _busy_until
    _busy_until = time.monotonic() + seconds


def pause_for_gui() -> None:
    """Called by a request thread between deltas: while the GUI thread is busy with the user's
    action, sleep (the interpreter lock free) rather than take turns on the lock with it. Python
    threads share one lock: a pure-Python request thread parsing a fast stream made each of the GUI
    thread's actions take about twice its CPU time."""
    left = _busy_until - time.monotonic()
    while left > 0:
        time.sleep(min(left, 0.002))
        left = _busy_until - time.monotonic()
