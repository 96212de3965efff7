"""One process-wide turnstile for the request threads' Python work while several replies stream.

Why: the request threads are CPU-bound on one interpreter lock (GIL). With three fast streams, three
threads ask for the GIL whenever the GUI thread does, and CPython hands a dropped GIL to any waiter,
so the GUI thread waited several switch intervals at a time (benchmarks/: GUI timer gaps p99 ~50 ms
with three 20,000-chunk streams). Serialising the request threads' parsing through one lock means
the GUI thread competes with one of them, not three, at no loss of total throughput: they could
never parse in parallel anyway.

A request holds its :class:`Pass` while it parses the body, and lets go around every socket read
(:meth:`Pass.blocking`), so a stream that waits for its server never holds up the others; the next
request in line takes over there. Waiting for the turnstile is bounded (:data:`MAX_WAIT_S`): past it
a request goes on without it, so no code path that reads while holding the pass can stall another
stream for longer than that. Stop is unaffected: it shuts the socket down, which wakes a read at
once, and a request waiting for its turn notices the abort as soon as it has it.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Callable, TypeVar

T = TypeVar("T")

#: Longest a request waits for its turn before it parses without the turnstile (seconds).
MAX_WAIT_S = 0.1
#: Deltas a request parses before it lets the next one in line have a turn.
HANDOVER_EVERY = 16


class Turnstile:
    """A fair lock the request threads take turns on: FIFO, ownership handed straight to the next in
    line (a plain ``threading.Lock`` lets the thread that releases it take it straight back). Thread-safe."""

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._busy = False
        self._queue: deque[threading.Lock] = deque()
        #: How often a request gave up waiting (diagnosis; benchmarks print it).
        self.timeouts = 0

    def new_pass(self) -> Pass:
        return Pass(self)

    def waiting(self) -> bool:
        """Whether another request waits for its turn (a plain read: a hint, no lock taken)."""
        return bool(self._queue)

    def acquire(self, timeout: float) -> bool:
        with self._mutex:
            if not self._busy:
                self._busy = True
                return True
            waiter = threading.Lock()
            waiter.acquire()
            self._queue.append(waiter)
        if waiter.acquire(timeout=timeout):
            return True  # handed over by release()
        with self._mutex:
            try:
                self._queue.remove(waiter)
            except ValueError:  # handed over just as the wait ran out: it is ours after all
                waiter.acquire()
                return True
            self.timeouts += 1
            return False

    def release(self) -> None:
        with self._mutex:
            if self._queue:
                self._queue.popleft().release()  # straight to the next in line; still busy
            else:
                self._busy = False


class Pass:
    """One request's use of the turnstile. Used by one thread only (the request's)."""

    __slots__ = ("_turnstile", "_held", "_inside")

    def __init__(self, turnstile: Turnstile) -> None:
        self._turnstile = turnstile
        self._held = False  # this request holds the turnstile now
        self._inside = False  # between enter() and leave(): reads let go and take it again

    def enter(self) -> None:
        """Start parsing: wait for this request's turn (at most :data:`MAX_WAIT_S`)."""
        self._inside = True
        self._take()

    def leave(self) -> None:
        """Done parsing (the body ended, failed or was stopped)."""
        self._inside = False
        self._let_go()

    def blocking(self, fn: Callable[..., T], *args: object, **kwargs: object) -> T:
        """Run ``fn`` (a socket read) without holding the turnstile, then take it back."""
        if not self._inside:
            return fn(*args, **kwargs)
        self._let_go()
        try:
            return fn(*args, **kwargs)
        finally:
            self._take()

    def handover(self) -> None:
        """Let the next request in line parse for a while, if one waits (every
        :data:`HANDOVER_EVERY` deltas: one read can bring hundreds of events)."""
        if self._held and self._turnstile.waiting():
            self._let_go()
            self._take()

    def _take(self) -> None:
        if not self._held and self._turnstile.acquire(MAX_WAIT_S):
            self._held = True

    def _let_go(self) -> None:
        if self._held:
            self._held = False
            self._turnstile.release()


#: The one turnstile of the process (None: every request parses whenever it likes).
shared: Turnstile | None = Turnstile()
