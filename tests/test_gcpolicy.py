"""No full collector pass while replies stream; the thresholds come back when the last one ends."""

from __future__ import annotations

import gc
import threading

import pytest

from chatbot_gui.core import gcpolicy


@pytest.fixture(autouse=True)
def _thresholds_restored():
    saved = gc.get_threshold()
    yield
    gc.set_threshold(*saved)


def test_full_passes_held_off_while_streaming_and_back_after_the_last_one() -> None:
    gc.set_threshold(700, 10, 10)
    first, second = gcpolicy.streaming(), gcpolicy.streaming()
    first.__enter__()
    young0, young1, full = gc.get_threshold()
    assert (young0, young1) == (700, 10) and full > 1_000_000  # young passes go on as usual
    second.__enter__()
    first.__exit__(None, None, None)
    assert gc.get_threshold()[2] > 1_000_000  # one stream still running
    second.__exit__(None, None, None)
    assert gc.get_threshold() == (700, 10, 10)
    assert gcpolicy.active_streams() == 0


def test_no_full_pass_runs_while_streaming() -> None:
    full_passes: list[int] = []

    def count(phase: str, info: dict) -> None:
        if phase == "start" and info["generation"] == 2:
            full_passes.append(1)

    gc.callbacks.append(count)
    try:
        with gcpolicy.streaming():
            junk = []
            for _ in range(200_000):  # enough young passes to trigger several full ones normally
                a: list = []
                a.append(a)
                junk.append(a)
                if len(junk) > 1000:
                    junk.clear()
        assert full_passes == []
    finally:
        gc.callbacks.remove(count)


def test_streams_on_other_threads_count_together() -> None:
    gc.set_threshold(700, 10, 10)
    inside = threading.Barrier(3)
    leave = threading.Event()

    def stream() -> None:
        with gcpolicy.streaming():
            inside.wait(5)
            leave.wait(5)

    threads = [threading.Thread(target=stream) for _ in range(2)]
    for t in threads:
        t.start()
    inside.wait(5)
    assert gcpolicy.active_streams() == 2 and gc.get_threshold()[2] > 1_000_000
    leave.set()
    for t in threads:
        t.join(5)
    assert gcpolicy.active_streams() == 0 and gc.get_threshold() == (700, 10, 10)


def test_an_error_inside_still_puts_the_thresholds_back() -> None:
    gc.set_threshold(700, 10, 10)
    with pytest.raises(RuntimeError):
        with gcpolicy.streaming():
            raise RuntimeError("the stream broke")
    assert gc.get_threshold() == (700, 10, 10)
