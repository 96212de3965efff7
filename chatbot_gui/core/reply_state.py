"""Where one reply stands, and what happens next: a Qt-free state machine with a clock passed in.

A reply goes ``sending → streaming → done``; Stop ends it as ``stopped``; an error ends it as
``failed``, or, when the server asked to be retried later (429 with ``retry-after``) and automatic
retries are left, as ``waiting``: a countdown to a deadline, after which the next attempt starts
(``sending`` again). Stop during the countdown, or during a retry before anything of it arrived,
leaves a normal ``failed`` reply with Retry. The UI observes this object (and drives it with what the worker reports); it never keeps
retry counters or deadlines of its own.
"""

from __future__ import annotations

import math
from enum import Enum
from typing import Callable

from chatbot_gui.core.errors import ErrorInfo

#: Automatic retries after a rate limit (each after the server's retry-after, capped) per reply.
MAX_AUTO_RETRIES = 3
#: The longest wait before an automatic retry, whatever the server asks.
MAX_WAIT_S = 60.0


class Phase(str, Enum):
    SENDING = "sending"  # the request is out; nothing has arrived yet
    STREAMING = "streaming"  # text is arriving
    WAITING = "waiting"  # failed; an automatic retry is due at ``deadline``
    DONE = "done"
    STOPPED = "stopped"
    FAILED = "failed"


ACTIVE = frozenset({Phase.SENDING, Phase.STREAMING, Phase.WAITING})


class ReplyState:
    """One reply's phase, error, automatic-retry budget and countdown deadline."""

    def __init__(self, clock: Callable[[], float], max_auto_retries: int = MAX_AUTO_RETRIES,
                 max_wait: float = MAX_WAIT_S) -> None:
        self._clock = clock
        self.max_auto_retries = max_auto_retries
        self.max_wait = max_wait
        self.phase = Phase.SENDING
        self.attempts = 1
        self.auto_retries = 0
        self.deadline: float | None = None
        self.error: ErrorInfo | None = None
        self.finish_reason: str | None = None

    @property
    def active(self) -> bool:
        """Sending, streaming or counting down: the chat has something to stop."""
        return self.phase in ACTIVE

    def text_arrived(self) -> None:
        if self.phase is Phase.SENDING:
            self.phase = Phase.STREAMING

    def ended(self, status: str, error: ErrorInfo | None = None, finish_reason: str | None = None) -> Phase:
        """The attempt ended ("complete", "stopped" or "error"); return the phase now."""
        if self.phase not in (Phase.SENDING, Phase.STREAMING):
            return self.phase  # a late report from an attempt already stopped
        self.finish_reason = finish_reason
        if status == "complete":
            self.phase = Phase.DONE
        elif status == "stopped":
            self.phase = Phase.STOPPED
        else:
            self.error = error or ErrorInfo("unexpected", "The request failed.")
            wait = self.error.retry_after
            if wait is not None and self.auto_retries < self.max_auto_retries:
                self.auto_retries += 1
                self.deadline = self._clock() + max(1.0, math.ceil(min(wait, self.max_wait)))
                self.phase = Phase.WAITING
            else:
                self.phase = Phase.FAILED
        return self.phase

    def seconds_left(self) -> int:
        """Whole seconds until the automatic retry (0 when none is waiting or it is due)."""
        if self.phase is not Phase.WAITING or self.deadline is None:
            return 0
        return max(0, math.ceil(self.deadline - self._clock() - 1e-9))

    def due(self) -> bool:
        """Whether the automatic retry should start now."""
        return self.phase is Phase.WAITING and self.deadline is not None and self._clock() >= self.deadline

    @property
    def can_retry(self) -> bool:
        """Whether Retry may be offered (a failed reply whose error retrying can help)."""
        return self.phase in (Phase.FAILED, Phase.WAITING) and self.error is not None and self.error.retryable

    def retry(self) -> bool:
        """Start the next attempt (the countdown's end, or the user's Retry). False if not allowed."""
        if self.phase not in (Phase.WAITING, Phase.FAILED):
            return False
        self.phase = Phase.SENDING
        self.deadline = None
        self.finish_reason = None
        self.attempts += 1
        return True

    @property
    def retrying(self) -> bool:
        """A retry's request is out and nothing of it has arrived yet."""
        return self.phase is Phase.SENDING and self.error is not None

    def cancel(self) -> Phase:
        """Stop: a request in flight ends as stopped; a countdown, or a retry that nothing arrived
        from yet, ends as the normal failure it retried (with Retry, when retrying can help)."""
        if self.retrying:
            self.phase = Phase.FAILED
        elif self.phase in (Phase.SENDING, Phase.STREAMING):
            self.phase = Phase.STOPPED
        elif self.phase is Phase.WAITING:
            self.phase = Phase.FAILED
            self.deadline = None
        return self.phase
