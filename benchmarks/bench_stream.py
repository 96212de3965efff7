"""Benchmarks 1 and 2: a 20,000-chunk reply, received and displayed by the real app.

1. Stream overhead: send -> ``replyFinished`` in the real window (controller, worker thread, transcript)
   divided by the bare openai SDK reading the same stream from the same server in a plain loop.
2. Responsiveness: the gaps between ticks of a 5 ms timer on the GUI thread while that stream is shown,
   against the same timer in an idle GUI.

The server is ``tests/fakeserver.py`` in its own process (see :class:`common.ServerProcess`); both the
app and the baseline talk to it over loopback TCP, one fresh connection per request.
"""

from __future__ import annotations

import time
from typing import Any

from benchmarks.common import (
    KEY,
    PlainSdkProcess,
    Result,
    ServerProcess,
    dispose,
    log,
    make_window,
    median,
    percentile,
    qt_app,
    reply_tokens,
    spread,
)

N_CHUNKS = 20_000
PROBE_INTERVAL_MS = 5
PROMPT = "Tell me a long story."
#: Longest a single run may take before it is abandoned (the benchmark then fails loudly).
RUN_TIMEOUT_S = 120


class _Probe:
    """A 5 ms precise timer on the GUI thread that records when it really fired."""

    def __init__(self) -> None:
        from PySide6.QtCore import Qt, QTimer

        self.ticks: list[float] = []
        self._timer = QTimer()
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(PROBE_INTERVAL_MS)
        self._timer.timeout.connect(self._tick)

    def _tick(self) -> None:
        self.ticks.append(time.perf_counter())

    def start(self) -> None:
        self.ticks = [time.perf_counter()]
        self._timer.start()

    def stop(self) -> list[float]:
        """The gaps between consecutive ticks, in milliseconds."""
        self._timer.stop()
        self.ticks.append(time.perf_counter())  # the last stretch counts too
        return [(b - a) * 1000 for a, b in zip(self.ticks, self.ticks[1:])]


def _run_app(base_url: str, expected: str, probe: _Probe | None = None) -> tuple[float, float, list[float]]:
    """One reply through the real window. Returns (wall s, process CPU s, probe gaps ms)."""
    from PySide6.QtCore import QEventLoop, QTimer

    window, controller = make_window(base_url)
    loop = QEventLoop()
    done: dict[str, Any] = {}

    def finished(status: str) -> None:
        done["t"] = time.perf_counter()
        done["cpu"] = time.process_time()
        done["status"] = status
        loop.quit()

    controller.replyFinished.connect(finished)
    guard = QTimer()
    guard.setSingleShot(True)
    guard.timeout.connect(loop.quit)
    guard.start(RUN_TIMEOUT_S * 1000)
    if probe is not None:
        probe.start()
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    controller.send(PROMPT)
    loop.exec()
    gaps = probe.stop() if probe is not None else []
    guard.stop()
    try:
        if done.get("status") != "complete":
            raise RuntimeError(f"the reply did not complete (status {done.get('status')!r})")
        content = controller.conversation.messages[-1].content
        if content != expected:
            raise RuntimeError(f"the reply arrived garbled ({len(content)} chars, expected {len(expected)})")
    finally:
        controller.shutdown(5000)
        dispose(window)
    return done["t"] - t0, done["cpu"] - cpu0, gaps


def _make_sdk_client(base_url: str) -> Any:
    import openai

    return openai.OpenAI(api_key=KEY, base_url=base_url, max_retries=0)


def _run_sdk(base_url: str) -> tuple[float, float]:
    """The baseline: the openai SDK's own streaming loop, nothing else. Returns (wall s, CPU s)."""
    client = _make_sdk_client(base_url)
    messages = [{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": PROMPT}]
    try:
        cpu0 = time.process_time()
        t0 = time.perf_counter()
        for _chunk in client.chat.completions.create(model="gpt-4o-mini", messages=messages, stream=True):
            pass
        return time.perf_counter() - t0, time.process_time() - cpu0
    finally:
        client.close()


def _idle_gaps(base_url: str, seconds: float) -> list[float]:
    """The probe in a shown, idle window for ``seconds``."""
    from PySide6.QtCore import QEventLoop, QTimer

    window, controller = make_window(base_url)
    probe = _Probe()
    loop = QEventLoop()
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    probe.start()
    loop.exec()
    gaps = probe.stop()
    controller.shutdown(1000)
    dispose(window)
    return gaps


def run(runs: int = 5, n_chunks: int = N_CHUNKS) -> list[Result]:
    qt_app()
    expected = "".join(reply_tokens(n_chunks))
    log(f"stream: starting the server process ({n_chunks:,} chunks per reply)")
    with ServerProcess(n_chunks) as server:
        url = server.base_url
        plain = PlainSdkProcess(url)
        try:
            # Warm up every side once (imports, first connection, page cache), unmeasured.
            _run_sdk(url)
            _run_app(url, expected)
            plain.run_once()

            app_wall: list[float] = []
            app_cpu: list[float] = []
            sdk_wall: list[float] = []
            sdk_cpu: list[float] = []
            plain_wall: list[float] = []
            sides = ["sdk", "app", "plain"]
            for i in range(runs):
                # Rotate which side goes first, so a drift in machine load hits all of them.
                for side in sides[i % 3:] + sides[:i % 3]:
                    if side == "app":
                        w, c, _ = _run_app(url, expected)
                        app_wall.append(w)
                        app_cpu.append(c)
                    elif side == "sdk":
                        w, c = _run_sdk(url)
                        sdk_wall.append(w)
                        sdk_cpu.append(c)
                    else:
                        plain_wall.append(plain.run_once())
                log(f"stream: run {i + 1}/{runs}: app {app_wall[-1]:.2f} s, SDK {sdk_wall[-1]:.2f} s, "
                    f"SDK in a Qt-free process {plain_wall[-1]:.2f} s")
        finally:
            plain.close()

        overhead = Result(
            "stream overhead (20k chunks)", median(app_wall), median(sdk_wall), "s", 1.15,
            runs=app_wall, baseline_runs=sdk_wall,
        )
        pairs = [a / b for a, b in zip(app_wall, sdk_wall)]
        overhead.notes += [
            f"app runs: {spread(app_wall)} s; SDK runs (same process): {spread(sdk_wall)} s; "
            f"run-by-run ratios: {spread(pairs, '{:.2f}')}",
            f"chunks/s: app {n_chunks / overhead.value:,.0f}, SDK {n_chunks / overhead.baseline:,.0f}; "
            f"process CPU per reply: app {median(app_cpu):.2f} s, SDK {median(sdk_cpu):.2f} s "
            f"(ratio {median(app_cpu) / median(sdk_cpu):.2f})",
        ]
        qt_tax = Result(
            "  same, vs SDK without Qt", median(app_wall), median(plain_wall), "s", 0.0, kind="info",
            runs=app_wall, baseline_runs=plain_wall,
        )
        qt_tax.notes.append(
            f"SDK in a process that never imported PySide6: {spread(plain_wall)} s; the same loop in this "
            f"(PySide6) process takes {median(sdk_wall) / median(plain_wall):.2f}x as long"
        )

        # Responsiveness: the probe during the stream vs. in an idle GUI.
        busy_max: list[float] = []
        busy_p99: list[float] = []
        idle_max: list[float] = []
        idle_p99: list[float] = []
        ticks = 0
        for i in range(runs):
            probe = _Probe()
            wall, _, gaps = _run_app(url, expected, probe)
            ticks += len(gaps)
            busy_max.append(max(gaps))
            busy_p99.append(percentile(gaps, 99))
            idle = _idle_gaps(url, min(wall, 2.0))
            idle_max.append(max(idle))
            idle_p99.append(percentile(idle, 99))
            log(f"responsiveness: run {i + 1}/{runs}: max {busy_max[-1]:.1f} ms, p99 {busy_p99[-1]:.1f} ms "
                f"(idle: max {idle_max[-1]:.1f}, p99 {idle_p99[-1]:.1f})")

    worst = Result(
        "GUI timer gap during stream, max", median(busy_max), median(idle_max), "ms", 16.0, kind="abs",
        runs=busy_max, baseline_runs=idle_max,
    )
    worst.notes += [
        f"per-run max during stream: {spread(busy_max, '{:.1f}')} ms; idle: {spread(idle_max, '{:.1f}')} ms "
        f"(value = median of the runs' max; worst single gap {max(busy_max):.1f} ms)",
        f"{PROBE_INTERVAL_MS} ms precise QTimer on the GUI thread, {ticks:,} gaps over {runs} streams",
    ]
    p99 = Result(
        "GUI timer gap during stream, p99", median(busy_p99), median(idle_p99), "ms", 8.0, kind="abs",
        runs=busy_p99, baseline_runs=idle_p99,
    )
    p99.notes.append(f"per-run p99 during stream: {spread(busy_p99, '{:.1f}')} ms; "
                     f"idle: {spread(idle_p99, '{:.1f}')} ms")
    return [overhead, qt_tax, worst, p99]
