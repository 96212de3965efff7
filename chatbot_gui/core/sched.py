"""Request threads do not preempt the GUI thread when they wake up.

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
"""

from __future__ import annotations

import os


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
