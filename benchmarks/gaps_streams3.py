"""Where the long GUI gaps of the three-stream benchmark fall, and what the GUI thread did in them.

Usage: ``python -m benchmarks.gaps_streams3 [--runs N] [--over MS] [--gc]``. Runs the three-stream
case of :mod:`benchmarks.bench_streams3` (same window, same server, same probe) and prints, for each
probe gap longer than ``--over`` ms (default 11): when it began (ms after the probe started), how
much CPU the GUI thread itself used in it (``time.thread_time``: a gap with little GUI CPU is a wait,
for the interpreter lock or a lock in SQLite, not GUI work), and the events that fell in it:

* the user actions (``send``, ``new_chat``, ``show_conversation``) and how long each took;
* each reply's end on the GUI thread (``Reply._outcome``), its saves (``Reply._write``, the
  background ``update_in_background``) and its request thread's ``finished``;
* the collector's thresholds being raised and restored (``gcpolicy.streaming``), and with ``--gc``
  every collector pass over 1 ms, on whichever thread it ran (``gc.callbacks``; the callbacks
  themselves add a little time to every pass).

A diagnosis tool, not a benchmark: it patches the methods it times, so its figures are a little
above ``--only streams3``'s. Progress goes to stderr, the report to stdout.
"""

from __future__ import annotations

import argparse
import functools
import gc
import threading
import time
from typing import Any, Callable

from benchmarks.bench_stream import N_CHUNKS, _Probe, _run_sdk
from benchmarks.bench_streams3 import _run_three
from benchmarks.common import ServerProcess, percentile, qt_app, reply_tokens

_events: list[tuple[float, str, str]] = []


def _note(name: str, at: float | None = None) -> None:
    _events.append((time.perf_counter() if at is None else at, name, threading.current_thread().name[:14]))


def _timed(owner: Any, attr: str, label: str, over_ms: float = 0.0) -> None:
    """Record each call of ``owner.attr`` (its start and duration) when it took over ``over_ms``."""
    original: Callable[..., Any] = getattr(owner, attr)

    @functools.wraps(original)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            took = (time.perf_counter() - start) * 1000
            if took >= over_ms:
                _note(f"{label} {took:.1f} ms", start)

    setattr(owner, attr, wrapper)


def _instrument(with_gc: bool) -> None:
    from chatbot_gui.core import recorder
    from chatbot_gui.ui import controller, reply

    for name in ("send", "new_chat", "show_conversation", "_reply_ended"):
        _timed(controller.ChatController, name, f"ChatController.{name}")
    for name in ("_outcome", "_write", "_written", "_thread_finished"):
        _timed(reply.Reply, name, f"Reply.{name}")
    _timed(reply.Reply, "save_now", "Reply.save_now", over_ms=1.0)
    _timed(recorder.ChatRecorder, "update_in_background", "ChatRecorder.update_in_background")
    _timed(recorder.ChatRecorder, "save_reply", "ChatRecorder.save_reply")
    from chatbot_gui.ui import history_controller

    _timed(history_controller.HistoryController, "_update_rows", "HistoryController._update_rows")

    set_threshold = gc.set_threshold

    def noted_set_threshold(*args: int) -> None:
        _note(f"gc.set_threshold{args}")
        set_threshold(*args)

    gc.set_threshold = noted_set_threshold  # type: ignore[assignment]
    if with_gc:
        starts: dict[int, float] = {}

        def on_gc(phase: str, info: dict[str, int]) -> None:
            if phase == "start":
                starts[threading.get_ident()] = time.perf_counter()
                return
            start = starts.pop(threading.get_ident(), None)
            if start is not None and (time.perf_counter() - start > 0.001 or info["generation"] == 2):
                took = (time.perf_counter() - start) * 1000
                _note(f"gc generation {info['generation']} {took:.1f} ms, {info['collected']} collected", start)

        gc.callbacks.append(on_gc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=4)
    parser.add_argument("--over", type=float, default=11.0, help="report gaps longer than this (ms)")
    parser.add_argument("--gc", action="store_true", help="also time every collector pass")
    args = parser.parse_args()
    qt_app()
    _instrument(args.gc)
    expected = "".join(reply_tokens(N_CHUNKS))
    with ServerProcess(N_CHUNKS) as server:
        url = server.base_url
        _run_sdk(url)
        _run_three(url, expected)  # warm up, unmeasured
        for i in range(args.runs):
            _run_sdk(url)
            _events.clear()
            probe = _Probe()
            cpu: list[float] = []
            tick = probe._tick

            def tick_with_cpu(tick: Callable[[], None] = tick, cpu: list[float] = cpu) -> None:
                tick()
                cpu.append(time.thread_time())

            probe._timer.timeout.disconnect()
            probe._timer.timeout.connect(tick_with_cpu)
            start_probe = probe.start

            def start(start_probe: Callable[[], None] = start_probe, cpu: list[float] = cpu) -> None:
                start_probe()
                cpu.append(time.thread_time())

            probe.start = start  # type: ignore[method-assign]
            wall, gaps = _run_three(url, expected, probe)
            t0 = probe.ticks[0]
            print(f"run {i + 1}: {wall:.2f} s, GUI gaps max {max(gaps):.1f} ms, p99 {percentile(gaps, 99):.1f} ms")
            for k, gap in enumerate(gaps):
                if gap <= args.over:
                    continue
                a, b = probe.ticks[k], probe.ticks[k + 1]
                own = f"{(cpu[k + 1] - cpu[k]) * 1000:.1f} ms" if k + 1 < len(cpu) else "?"
                print(f"  gap {gap:.1f} ms at {(a - t0) * 1000:.0f} ms, GUI thread CPU in it {own}")
                for at, name, thread in sorted(_events):
                    if a - 0.002 <= at <= b:
                        print(f"      {(at - t0) * 1000:8.1f} [{thread}] {name}")
            ends = [f"{(at - t0) * 1000:.0f} {name}" for at, name, _ in sorted(_events)
                    if "_outcome" in name or "set_threshold" in name or "generation 2" in name]
            print("  reply ends / thresholds / full passes (ms): " + "; ".join(ends))


if __name__ == "__main__":
    main()
