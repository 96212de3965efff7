"""Three chats streaming at once: three 20,000-chunk replies received and displayed by one window.

1. Overhead per stream: the wall time until all three replies are complete, divided by three,
   against the bare openai SDK reading one such stream alone in a plain loop (same process, same
   server). Target <= 1.15 (issue 10).
2. Responsiveness: gaps between ticks of a 5 ms timer on the GUI thread while the three stream
   (chat A shown, B and C streaming in the background). Targets: p99 <= 8 ms, max <= 16 ms.

On a 2-core machine the three request threads and the SDK's parsing share one interpreter lock, so
this measures what the app adds to that shared cost, not parallel speed-up.
"""

from __future__ import annotations

import time
from typing import Any

from benchmarks.bench_stream import N_CHUNKS, PROMPT, RUN_TIMEOUT_S, _Probe, _run_sdk
from benchmarks.common import Result, ServerProcess, dispose, log, make_window, median, percentile, qt_app, \
    reply_tokens, spread

STREAMS = 3
STEP_MS = 16  #: between the user's actions (a frame)


def _run_three(base_url: str, expected: str, probe: _Probe | None = None) -> tuple[float, list[float]]:
    """Three chats in one window, each sending at once. Returns (wall s until all done, probe gaps ms)."""
    from PySide6.QtCore import QEventLoop, QTimer

    window, controller = make_window(base_url)
    loop = QEventLoop()
    ended: list[str] = []

    def finished(status: str) -> None:
        ended.append(status)
        if len(ended) == STREAMS:
            loop.quit()

    controller.replyFinished.connect(finished)
    guard = QTimer()
    guard.setSingleShot(True)
    guard.timeout.connect(loop.quit)
    guard.start(RUN_TIMEOUT_S * 1000)
    convs: list[Any] = []

    def send(i: int) -> None:
        if i:
            controller.new_chat()
        convs.append(controller.conversation)
        controller.send(f"{PROMPT} ({i + 1})")

    # Each user action in its own event-loop pass, one frame apart, as a user's clicks are (and far
    # closer than hands can click: the three streams still overlap for all but 50 ms). Done in one
    # pass, the three sends and the switch back added up to one 50-100 ms gap that no user could
    # cause. A zero timer was not enough: Qt runs a chain of zero-timer calls before a due timer, so
    # all three sends still fell between two ticks of the probe.
    steps: list[Any] = [lambda i=i: send(i) for i in range(STREAMS)]
    steps.append(lambda: controller.show_conversation(convs[0]))  # A shown; B and C stream in the background

    def next_step() -> None:
        steps.pop(0)()
        if steps:
            QTimer.singleShot(STEP_MS, next_step)

    if probe is not None:
        probe.start()
    t0 = time.perf_counter()
    QTimer.singleShot(0, next_step)
    loop.exec()
    wall = time.perf_counter() - t0
    gaps = probe.stop() if probe is not None else []
    guard.stop()
    try:
        if ended != ["complete"] * STREAMS:
            raise RuntimeError(f"the replies did not all complete: {ended!r}")
        for conv in convs:
            content = conv.messages[-1].content
            if content != expected:
                raise RuntimeError(f"a reply arrived garbled ({len(content)} chars, expected {len(expected)})")
        shown = "\n".join(window.transcript.blocks_of_kind("assistant"))
        if shown != expected:
            raise RuntimeError("the shown chat's transcript does not hold its reply")
    finally:
        controller.shutdown(5000)
        dispose(window)
    return wall, gaps


def run(runs: int = 5, n_chunks: int = N_CHUNKS) -> list[Result]:
    qt_app()
    expected = "".join(reply_tokens(n_chunks))
    log(f"streams3: starting the server process ({STREAMS} x {n_chunks:,} chunks)")
    with ServerProcess(n_chunks) as server:
        url = server.base_url
        _run_sdk(url)
        _run_three(url, expected)  # warm up, unmeasured
        per_stream: list[float] = []
        sdk_wall: list[float] = []
        busy_max: list[float] = []
        busy_p99: list[float] = []
        for i in range(runs):
            sdk_wall.append(_run_sdk(url)[0])
            probe = _Probe()
            wall, gaps = _run_three(url, expected, probe)
            per_stream.append(wall / STREAMS)
            busy_max.append(max(gaps))
            busy_p99.append(percentile(gaps, 99))
            log(f"streams3: run {i + 1}/{runs}: three streams {wall:.2f} s ({wall / STREAMS:.2f} s each), "
                f"SDK alone {sdk_wall[-1]:.2f} s; GUI gaps max {busy_max[-1]:.1f} ms, p99 {busy_p99[-1]:.1f} ms")
    overhead = Result(f"{STREAMS} streams at once, time per stream", median(per_stream), median(sdk_wall), "s",
                      1.15, runs=per_stream, baseline_runs=sdk_wall)
    overhead.notes.append(f"per-stream runs: {spread(per_stream)} s; SDK alone: {spread(sdk_wall)} s")
    worst = Result(f"GUI timer gap during {STREAMS} streams, max", median(busy_max), float("nan"), "ms", 16.0,
                   kind="abs", runs=busy_max)
    worst.notes.append(f"per-run max: {spread(busy_max, '{:.1f}')} ms")
    p99 = Result(f"GUI timer gap during {STREAMS} streams, p99", median(busy_p99), float("nan"), "ms", 8.0,
                 kind="abs", runs=busy_p99)
    p99.notes.append(f"per-run p99: {spread(busy_p99, '{:.1f}')} ms")
    return [overhead, worst, p99]
