"""Rendering benchmarks (issue 11): Markdown replies in the message list view (``MessagesView``).

1. Stream: a 3,000-line Markdown reply (50 code blocks, 5 tables) served as 20,000 chunks by
   ``tests/fakeserver.py`` in its own process, sent and received by the real window (controller,
   ``Reply``, its request thread; text reaches the view at the app's frame rate) and shown until the
   finished reply is rendered and painted, against the plain openai SDK loop reading the same stream
   in the same process. Also the gaps of a 5 ms GUI timer meanwhile, against the idle window.
2. Append: one ~20-character delta to a streaming Markdown reply, then the view's coalesced update
   and a repaint, with 10,000 messages in the view against 2.
3. Open a 10,000-message Markdown chat (code in every answer): ``set_messages`` until the first paint;
   then PageUp from the bottom to the top, the longest step (render + layout + paint) is the figure;
   and the memory (RSS) that adds above the empty shown view.
"""

from __future__ import annotations

import subprocess
import sys
import time
from typing import Any

from benchmarks.bench_stream import PROBE_INTERVAL_MS, _idle_gaps, _Probe, _run_sdk
from benchmarks.common import BENCH_DIR, ROOT, Result, dispose, log, make_window, median, percentile, qt_app, spread

N_CHUNKS = 20_000
N_MESSAGES = 10_000
RUN_TIMEOUT_S = 120


class _MarkdownServer:
    """``_serve_markdown.py`` in its own process (see ``common.ServerProcess`` for why)."""

    def __init__(self, n_chunks: int) -> None:
        import os

        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "tests"), str(ROOT)])
        self._proc = subprocess.Popen([sys.executable, str(BENCH_DIR / "_serve_markdown.py"), str(n_chunks)],
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, text=True)
        assert self._proc.stdout is not None
        self.base_url = self._proc.stdout.readline().strip()
        if not self.base_url.startswith("http://127.0.0.1:"):
            self.close()
            raise RuntimeError("the Markdown server did not start")

    def close(self) -> None:
        if self._proc.poll() is None:
            assert self._proc.stdin is not None
            self._proc.stdin.close()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()


def _view(n_messages: int = 0) -> Any:
    from chatbot_gui.ui.messages.view import MessagesView
    from benchmarks.markdown_sample import chat_messages

    view = MessagesView()
    view.resize(1000, 760)
    view.show()
    if n_messages:
        view.set_messages(chat_messages(n_messages))
    _paint(view)
    return view


def _paint(view: Any) -> None:
    from PySide6.QtWidgets import QApplication

    QApplication.processEvents()
    view.viewport().repaint()


def _dispose(view: Any) -> None:
    from PySide6.QtWidgets import QApplication

    view.close()
    view.deleteLater()
    QApplication.processEvents()


def _run_window(base_url: str, expected: str, probe: _Probe | None = None) -> tuple[float, list[float]]:
    """One streamed Markdown reply in the real window (controller, ``Reply``, request thread, the
    message view), from Send until the finished reply is rendered and painted. Returns (wall s,
    probe gaps ms)."""
    from PySide6.QtCore import QEventLoop, QTimer

    window, controller = make_window(base_url)
    view = window.transcript
    loop = QEventLoop()
    done: dict[str, Any] = {}

    def shown() -> None:
        if view.rendering_pending():  # the view spreads a flood over several passes
            QTimer.singleShot(1, shown)
            return
        view.viewport().repaint()
        done["t"] = time.perf_counter()
        loop.quit()

    def finished(status: str) -> None:
        done["status"] = status
        shown()

    controller.replyFinished.connect(finished)
    guard = QTimer()
    guard.setSingleShot(True)
    guard.timeout.connect(loop.quit)
    guard.start(RUN_TIMEOUT_S * 1000)
    if probe is not None:
        probe.start()
    t0 = time.perf_counter()
    controller.send("Write a long answer.")
    loop.exec()
    gaps = probe.stop() if probe is not None else []
    guard.stop()
    try:
        if done.get("status") != "complete" or "t" not in done:
            raise RuntimeError(f"the reply did not complete ({done.get('status')!r})")
        reply = controller.conversation.messages[-1]
        if reply.content != expected:
            raise RuntimeError("the reply arrived garbled")
        kinds = [p.kind for p in view._row(reply.id).pieces]
        if kinds.count("code") != 50 or kinds.count("table") != 5:
            raise RuntimeError(f"rendered {kinds.count('code')} code blocks and {kinds.count('table')} tables")
    finally:
        controller.shutdown(5000)
        dispose(window)
    return done["t"] - t0, gaps


def bench_stream(runs: int) -> list[Result]:
    from benchmarks.markdown_sample import long_reply

    expected = long_reply()
    server = _MarkdownServer(N_CHUNKS)
    try:
        url = server.base_url
        _run_sdk(url)
        _run_window(url, expected)
        app_wall, sdk_wall, busy_max, busy_p99, idle_max, idle_p99 = [], [], [], [], [], []
        gui_cpu: list[float] = []
        for i in range(runs):
            for side in (("sdk", "app") if i % 2 == 0 else ("app", "sdk")):
                if side == "sdk":
                    sdk_wall.append(_run_sdk(url)[0])
                else:
                    app_wall.append(_run_window(url, expected)[0])
            probe = _Probe()
            cpu0 = time.thread_time()
            _, gaps = _run_window(url, expected, probe)
            gui_cpu.append(time.thread_time() - cpu0)
            busy_max.append(max(gaps))
            busy_p99.append(percentile(gaps, 99))
            idle = _idle_gaps(url, 2.0)
            idle_max.append(max(idle))
            idle_p99.append(percentile(idle, 99))
            log(f"render stream: run {i + 1}/{runs}: window {app_wall[-1]:.2f} s, SDK {sdk_wall[-1]:.2f} s, "
                f"gaps max {busy_max[-1]:.1f} ms p99 {busy_p99[-1]:.1f} ms (idle view: max {idle_max[-1]:.1f}, "
                f"p99 {idle_p99[-1]:.1f})")
    finally:
        server.close()
    overhead = Result("Markdown stream into the window (20k chunks)", median(app_wall), median(sdk_wall), "s", 1.15,
                      runs=app_wall, baseline_runs=sdk_wall)
    overhead.notes.append(f"window runs {spread(app_wall)} s; SDK runs {spread(sdk_wall)} s; 3,000 lines, "
                          f"50 code blocks, 5 tables, {len(expected):,} characters")
    worst = Result("  GUI timer gap during it, max", median(busy_max), median(idle_max), "ms", 16.0, kind="abs",
                   runs=busy_max, baseline_runs=idle_max)
    worst.notes.append(f"per-run max {spread(busy_max, '{:.1f}')} ms ({PROBE_INTERVAL_MS} ms precise timer)")
    p99 = Result("  GUI timer gap during it, p99", median(busy_p99), median(idle_p99), "ms", 8.0, kind="abs",
                 runs=busy_p99, baseline_runs=idle_p99)
    p99.notes.append(f"per-run p99 {spread(busy_p99, '{:.1f}')} ms; GUI-thread CPU time per probed reply "
                     f"(rendering, painting, the request thread's signals): {spread(gui_cpu, '{:.2f}')} s")
    return [overhead, worst, p99]


def _append_cost(n_messages: int, n_deltas: int = 1_000) -> float:
    from benchmarks.markdown_sample import chunks_of, long_reply

    view = _view(n_messages)
    deltas = chunks_of(long_reply(lines=600, code_blocks=10, tables=1), n_deltas)
    view.add_message(10**9, "assistant", "", streaming=True)
    _paint(view)
    t0 = time.perf_counter()
    from PySide6.QtWidgets import QApplication

    for delta in deltas:
        view.append_text(10**9, delta)
        view._flush()  # what the coalescing timer does, once per delta here (the worst case)
        QApplication.processEvents()  # the partial repaint it asked for
    elapsed = (time.perf_counter() - t0) / n_deltas
    _dispose(view)
    return elapsed


def bench_append(runs: int) -> list[Result]:
    big, small = [], []
    for i in range(runs):
        for n in ((2, N_MESSAGES) if i % 2 == 0 else (N_MESSAGES, 2)):
            (small if n == 2 else big).append(_append_cost(n))
        log(f"render append: run {i + 1}/{runs}: {big[-1] * 1e6:.0f} µs with {N_MESSAGES:,}, "
            f"{small[-1] * 1e6:.0f} µs with 2")
    r = Result(f"view append per delta, {N_MESSAGES:,} msgs vs 2", median(big), median(small), "s", 1.5,
               runs=big, baseline_runs=small)
    r.notes.append(f"1,000 deltas into a 600-line Markdown reply, each followed by the view's update and its "
                   f"(partial) repaint; runs {spread([x * 1e6 for x in big])} µs vs {spread([x * 1e6 for x in small])} µs")
    return [r]


def _rss() -> int:
    with open("/proc/self/statm") as f:
        import os

        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _scroll_to_top(view: Any) -> tuple[list[float], list[float]]:
    """PageUp once per 16 ms frame from the bottom to the top. Returns (step times s, probe gaps ms)."""
    from PySide6.QtCore import QEventLoop, QTimer

    bar = view.verticalScrollBar()
    steps: list[float] = []
    cpu: list[float] = []
    loop = QEventLoop()

    def step() -> None:
        if bar.value() <= 0:
            loop.quit()
            return
        t, c = time.perf_counter(), time.thread_time()
        bar.setValue(bar.value() - bar.pageStep())
        view.viewport().repaint()
        steps.append(time.perf_counter() - t)
        cpu.append(time.thread_time() - c)

    frames = QTimer()
    frames.setTimerType(frames.timerType().PreciseTimer)
    frames.setInterval(16)
    frames.timeout.connect(step)
    probe = _Probe()
    probe.start()
    frames.start()
    loop.exec()
    frames.stop()
    _scroll_to_top.cpu = cpu  # type: ignore[attr-defined]
    return steps, probe.stop()


def _wait_exposed(view: Any, timeout_s: float = 5.0) -> None:
    from PySide6.QtWidgets import QApplication

    end = time.perf_counter() + timeout_s
    while time.perf_counter() < end:
        QApplication.processEvents()
        handle = view.windowHandle()
        if handle is not None and handle.isExposed():
            return
        time.sleep(0.005)
    raise RuntimeError("the view was not shown on screen")


def bench_open(runs: int) -> list[Result]:
    from benchmarks.markdown_sample import chat_messages
    from chatbot_gui.ui.messages.view import MessagesView

    messages = chat_messages(N_MESSAGES)
    opens, worst_steps, mems, probe_max, cpu_max, cpu_p99 = [], [], [], [], [], []
    for i in range(runs):
        view = MessagesView()
        view.resize(1000, 760)
        view.show()
        _wait_exposed(view)  # a user scrolls a window that is on screen, not one still being mapped
        view.set_messages(messages[:2])
        _paint(view)
        import gc

        gc.collect()
        rss0 = _rss()
        t0 = time.perf_counter()
        view.set_messages(messages)
        view.viewport().repaint()
        opens.append(time.perf_counter() - t0)
        steps, gaps = _scroll_to_top(view)
        probe_max.append(max(gaps))
        cpu_steps = [x * 1000 for x in _scroll_to_top.cpu]  # type: ignore[attr-defined]
        cpu_max.append(max(cpu_steps))
        cpu_p99.append(percentile(cpu_steps, 99))
        worst_steps.append(max(steps) * 1000)
        gc.collect()
        mems.append((_rss() - rss0) / 2**20)
        log(f"render open: run {i + 1}/{runs}: first paint {opens[-1] * 1000:.0f} ms, {len(steps)} PageUp "
            f"steps to the top, longest {worst_steps[-1]:.1f} ms (p99 {percentile([s * 1000 for s in steps], 99):.1f}), "
            f"memory +{mems[-1]:.0f} MB")
        _dispose(view)
    r_open = Result(f"open {N_MESSAGES:,}-msg Markdown chat: first paint", median(opens), float("nan"), "s", 0.3,
                    kind="abs", runs=opens)
    r_scroll = Result("  then PageUp to the top: longest step", median(worst_steps), float("nan"), "ms", 16.0,
                      kind="abs", runs=worst_steps)
    r_scroll.notes.append(f"per-run longest step {spread(worst_steps, '{:.1f}')} ms; one PageUp per 16 ms "
                          f"frame; the longest gap of a 5 ms GUI timer meanwhile (frames and the idle "
                          f"rendering ahead together): {spread(probe_max, '{:.1f}')} ms; GUI-thread CPU "
                          f"time per step (what the machine's load does not inflate): p99 "
                          f"{spread(cpu_p99, '{:.1f}')} ms, longest {spread(cpu_max, '{:.1f}')} ms")
    r_mem = Result("  memory above the empty view (after scrolling)", median(mems), float("nan"), "MB", 200.0,
                   kind="abs", runs=mems)
    return [r_open, r_scroll, r_mem]


def run(runs: int = 5) -> list[Result]:
    qt_app()
    return bench_stream(runs) + bench_append(min(runs, 3)) + bench_open(min(runs, 2))


if __name__ == "__main__":
    from benchmarks.run import table

    print(table(run(int(sys.argv[1]) if len(sys.argv) > 1 else 3)))
