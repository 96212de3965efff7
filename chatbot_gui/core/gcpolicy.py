"""When the garbage collector may run: not in the middle of a streaming reply.

CPython's cyclic collector runs on whichever thread happens to allocate when a threshold is reached,
and holds the interpreter lock for the whole pass. With the openai SDK and pydantic loaded, a full
(generation 2) pass takes ~50-120 ms on the project's machines; when it lands on a request thread
the GUI thread waits that long for the lock (benchmarks/bench_streams3.py measured single GUI timer
gaps of 75-215 ms with three chats streaming, and a gc callback showed a 119 ms generation-2 pass on
a request thread inside such a gap).

Two measures, both process-wide and both cheap:

* :func:`freeze_loaded_modules`: once the request machinery is imported, everything alive (mostly
  module-level objects of openai, pydantic and httpx2) moves to the permanent generation
  (``gc.freeze()``), so later full passes no longer walk it.
* :func:`streaming`: while at least one reply streams, no automatic *full* pass runs (the third
  threshold is raised out of reach); the young generations are still collected as usual, which
  takes well under a millisecond each time. (Switching the collector off altogether was tried: the
  young generation then grew for the whole reply and the one pass at its end took ~45 ms.) When the
  last stream ends the thresholds are put back, and a full pass may come at a calm moment.
"""

from __future__ import annotations

import gc
import threading
from contextlib import contextmanager
from typing import Iterator

_lock = threading.Lock()
_active = 0
_saved_threshold: tuple[int, int, int] | None = None
_frozen = False
#: The third threshold while streaming: this many young-generation-1 passes before a full one.
_OUT_OF_REACH = 1 << 30


def freeze_loaded_modules() -> None:
    """Move every object alive now to the permanent generation (once per process)."""
    global _frozen
    with _lock:
        if _frozen:
            return
        _frozen = True
    gc.freeze()


@contextmanager
def streaming() -> Iterator[None]:
    """No automatic full collection while any block like this is running, in any thread."""
    global _active, _saved_threshold
    with _lock:
        if _active == 0:
            _saved_threshold = gc.get_threshold()
            gc.set_threshold(_saved_threshold[0], _saved_threshold[1], _OUT_OF_REACH)
        _active += 1
    try:
        yield
    finally:
        with _lock:
            _active -= 1
            if _active == 0 and _saved_threshold is not None:
                gc.set_threshold(*_saved_threshold)
                _saved_threshold = None


def active_streams() -> int:
    """How many ``streaming()`` blocks are running (tests)."""
    return _active
