"""Guards against Qt-binding bugs that would crash the app in everyday use.

PySide6 6.12.0's ``SignalInstance.emit()`` returned a bool without taking a reference, so on Python
3.11 every emit decremented ``True``/``False``; after ~100 emits the interpreter aborted with
"bool_dealloc". pyproject.toml excludes that release; this test fails if a version with the bug is
installed again.
"""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject, Signal


class _Emitter(QObject):
    ping = Signal()
    value = Signal(int)


def test_emitting_signals_does_not_drain_bool_refcounts():
    emitter = _Emitter()
    seen: list[int] = []
    emitter.ping.connect(lambda: seen.append(0))
    emitter.value.connect(seen.append)
    before = (sys.getrefcount(True), sys.getrefcount(False))
    for i in range(20):
        emitter.ping.emit()
        emitter.value.emit(i)
    after = (sys.getrefcount(True), sys.getrefcount(False))
    assert len(seen) == 40
    assert after[0] >= before[0] - 2 and after[1] >= before[1] - 2, (before, after)
