"""Where the long GUI gaps of the Markdown flood fall, and what the GUI thread did in them.

Usage: ``python -m benchmarks.gaps_render [--runs N] [--over MS]``. Runs the streamed case of
:mod:`benchmarks.bench_render` (same window, same server, a 5 ms precise timer as the probe) and
prints per run:

* for each kind of GUI-thread work (a render pass ``MessagesView._flush``, ``_settle``, the view's
  ``paintEvent``, the window's events, which include the paints and the flush to the screen, and
  ``Reply._flush``, which hands text to the view): how many, their CPU time in all, and their wall
  time p50 / p90 / max;
* for each probe gap longer than ``--over`` ms (default 7.5): when it began, the GUI thread's own CPU
  in it (``time.thread_time``: a gap with little of it is a wait), and the work that fell in it as
  ``name@start+wall/cpu`` in ms from the gap's start.

A diagnosis tool, not a benchmark: it patches the methods it times, so its figures are a little
above ``--only render``'s. It found the passes far over their budget (a burst's block structure
parsed in one piece) and the paints that drew whole documents for a strip.
"""

from __future__ import annotations

import argparse
import functools
import time
from typing import Any

from benchmarks.bench_render import N_CHUNKS, _MarkdownServer, _run_window
from benchmarks.bench_stream import _Probe
from benchmarks.common import percentile, qt_app

_events: list[tuple[float, str, float, float]] = []  # (start, name, wall ms, CPU ms)
KINDS = ("render pass", "settle", "view paint", "window event", "reply flush")


def _timed(owner: Any, attr: str, name: str) -> None:
    original = getattr(owner, attr)

    @functools.wraps(original)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start, cpu = time.perf_counter(), time.thread_time()
        try:
            return original(*args, **kwargs)
        finally:
            _events.append((start, name, (time.perf_counter() - start) * 1000, (time.thread_time() - cpu) * 1000))

    setattr(owner, attr, wrapper)


def _instrument() -> None:
    from chatbot_gui.ui import main_window, reply
    from chatbot_gui.ui.messages import view

    for attr, name in (("_flush", "render pass"), ("_settle", "settle"), ("paintEvent", "view paint")):
        _timed(view.MessagesView, attr, name)
    _timed(main_window.MainWindow, "event", "window event")
    _timed(reply.Reply, "_flush", "reply flush")


class _CpuProbe(_Probe):
    """The benchmark's probe, also noting the GUI thread's CPU time at each tick."""

    def _tick(self) -> None:
        super()._tick()
        self.cpu.append(time.thread_time())

    def start(self) -> None:
        self.cpu = [time.thread_time()]
        super().start()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--over", type=float, default=7.5, help="report gaps longer than this (ms)")
    args = parser.parse_args()
    qt_app()
    _instrument()
    from benchmarks.markdown_sample import long_reply

    expected = long_reply()
    server = _MarkdownServer(N_CHUNKS)
    try:
        _run_window(server.base_url, expected)  # warm up, unmeasured
        for i in range(args.runs):
            _events.clear()
            probe = _CpuProbe()
            wall, gaps = _run_window(server.base_url, expected, probe)
            print(f"run {i + 1}: {wall:.2f} s, GUI gaps max {max(gaps):.1f} ms, p99 {percentile(gaps, 99):.1f} ms")
            for kind in KINDS:
                walls = sorted(w for _, name, w, _ in _events if name == kind)
                if walls:
                    cpu = sum(c for _, name, _, c in _events if name == kind)
                    print(f"  {kind:>12}: {len(walls)} calls, {cpu:.0f} ms CPU; wall p50 {percentile(walls, 50):.2f}, "
                          f"p90 {percentile(walls, 90):.2f}, max {walls[-1]:.1f} ms")
            for k, gap in enumerate(gaps):
                if gap <= args.over or k + 1 >= len(probe.cpu):
                    continue
                a, b = probe.ticks[k], probe.ticks[k + 1]
                work = " ".join(f"{name.replace(' ', '-')}@{(start - a) * 1000:.1f}+{w:.1f}/{c:.1f}"
                                for start, name, w, c in sorted(_events) if start + w / 1000 > a and start < b and w > 0.3)
                print(f"  gap {gap:.1f} ms at {(a - probe.ticks[0]) * 1000:.0f} ms, GUI CPU in it "
                      f"{(probe.cpu[k + 1] - probe.cpu[k]) * 1000:.1f} ms: {work}")
    finally:
        server.close()


if __name__ == "__main__":
    main()
