"""What the benchmarks share: results, statistics, the server process, Qt helpers, reply text.

Every figure is a ratio (or an absolute budget) against a baseline measured in the same run, because
absolute times on a shared 2-core machine move by 2x from one minute to the next. Measurements are
repeated, alternating the measured case and its baseline, and the median is taken.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

ROOT = Path(__file__).resolve().parents[1]
BENCH_DIR = ROOT / "benchmarks"
KEY = "sk-bench"


# --------------------------------------------------------------------------- results


@dataclass
class Result:
    """One line of the table. ``value`` and ``baseline`` are in ``unit``.

    ``limit`` is compared with the ratio (``kind="ratio"``) or with the value itself (``kind="abs"``);
    ``kind="info"`` rows have no target (shown for diagnosis, never failing).
    """

    name: str
    value: float
    baseline: float
    unit: str
    limit: float
    kind: str = "ratio"  # "ratio", "abs" or "info"
    runs: list[float] = field(default_factory=list)
    baseline_runs: list[float] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    failed_check: str | None = None  # a precondition that failed (e.g. openai imported at start-up)

    @property
    def ratio(self) -> float:
        return self.value / self.baseline if self.baseline else float("inf")

    @property
    def passed(self) -> bool:
        if self.failed_check:
            return False
        if self.kind == "info":
            return True
        measured = self.ratio if self.kind == "ratio" else self.value
        return measured <= self.limit

    @property
    def target(self) -> str:
        if self.kind == "info":
            return "(info)"
        return f"ratio <= {self.limit:g}" if self.kind == "ratio" else f"<= {self.limit:g} {self.unit}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "value": self.value, "baseline": self.baseline, "unit": self.unit,
            "ratio": self.ratio, "target": self.target, "passed": self.passed, "runs": self.runs,
            "baseline_runs": self.baseline_runs, "notes": self.notes, "failed_check": self.failed_check,
        }


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (no interpolation: a p99 is a gap that really happened)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * pct // 100))  # ceil
    return ordered[int(rank) - 1]


def spread(values: Sequence[float], fmt: str = "{:.3g}") -> str:
    return ", ".join(fmt.format(v) for v in values)


def log(message: str) -> None:
    """Progress goes to stderr, so stdout holds only the table."""
    print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- reply text

_WORDS = (
    "the", "model", "streams", "its", "answer", "one", "token", "at", "a", "time", "and", "every",
    "piece", "is", "shown", "as", "soon", "arrives", "so", "reader", "never", "waits", "for", "whole",
    "reply", "to", "finish", "before", "reading", "begins",
)


def reply_tokens(n: int, paragraph_every: int = 80) -> list[str]:
    """``n`` token-sized pieces of text (~5 characters, like a real model's) with a paragraph break
    every ``paragraph_every`` tokens, as in a real multi-paragraph answer."""
    out = []
    for i in range(n):
        word = _WORDS[(i * 7 + i // 13) % len(_WORDS)]
        if paragraph_every and i and i % paragraph_every == 0:
            out.append("\n\n" + word.capitalize())
        else:
            out.append(" " + word)
    return out


# --------------------------------------------------------------------------- the server process


class ServerProcess:
    """``tests/fakeserver.py`` serving one fixed reply to every request, in a separate process.

    A separate process keeps the server's Python work off the measured process's GIL: an in-process
    server thread competes with the app's GUI and worker threads (and with the baseline loop) for the
    one interpreter lock, which distorts exactly what is being measured.
    """

    def __init__(self, n_chunks: int, paragraph_every: int = 80) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "tests"), str(ROOT)])
        self._proc = subprocess.Popen(
            [sys.executable, str(BENCH_DIR / "_serve.py"), str(n_chunks), str(paragraph_every)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, text=True,
        )
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline().strip()
        if not line.startswith("http://127.0.0.1:"):
            self.close()
            raise RuntimeError(f"the benchmark server did not start (said {line!r})")
        self.base_url = line

    def close(self) -> None:
        if self._proc.poll() is None:
            try:
                assert self._proc.stdin is not None
                self._proc.stdin.close()  # EOF: the server closes itself
                self._proc.wait(10)
            except (OSError, subprocess.TimeoutExpired):
                self._proc.kill()
                self._proc.wait()

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class PlainSdkProcess:
    """``_sdk_plain.py``: the SDK's streaming loop in a Python process that never imported Qt.

    :meth:`run_once` streams one reply there and returns its wall time in seconds.
    """

    def __init__(self, base_url: str) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
        self._proc = subprocess.Popen(
            [sys.executable, str(BENCH_DIR / "_sdk_plain.py"), base_url],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, text=True,
        )
        if self._readline() != "ready":
            self.close()
            raise RuntimeError("the Qt-free SDK process did not start")

    def _readline(self) -> str:
        assert self._proc.stdout is not None
        return self._proc.stdout.readline().strip()

    def run_once(self) -> float:
        assert self._proc.stdin is not None
        self._proc.stdin.write("go\n")
        self._proc.stdin.flush()
        line = self._readline()
        if not line:
            raise RuntimeError("the Qt-free SDK process died")
        return float(line)

    def close(self) -> None:
        if self._proc.poll() is None:
            try:
                assert self._proc.stdin is not None
                self._proc.stdin.close()
                self._proc.wait(30)
            except (OSError, subprocess.TimeoutExpired):
                self._proc.kill()
                self._proc.wait()


# --------------------------------------------------------------------------- Qt helpers


def qt_app() -> Any:
    """The one QApplication of this process (offscreen unless QT_QPA_PLATFORM says otherwise)."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from chatbot_gui.app import qt_environment

    qt_environment()  # what the app sets before its QApplication (no paint thread pool)
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    if app is None:
        app = QApplication([sys.argv[0]])
    return app


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Process events until ``predicate()`` is true (False on timeout)."""
    from PySide6.QtCore import QEventLoop
    from PySide6.QtWidgets import QApplication

    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        QApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)
        time.sleep(0.001)
    return True


_TEMP_DIRS: list[Any] = []


def make_window(base_url: str, key: str = KEY) -> tuple[Any, Any]:
    """The app's real main window and chat controller, talking to ``base_url`` with ``key``.

    When ``create_window`` takes collaborators (settings paths, key store, the settings prompt), the
    benchmark gives it a new temporary folder and an in-memory keyring, so a run never reads or writes
    the user's settings, chats or OS keyring, never restores an earlier window's chat, and never opens
    a dialog. The window is shown and the controller's
    connection applied before this returns.
    """
    import gc
    import inspect
    import tempfile

    from chatbot_gui.app import create_window

    # The window of an earlier run is cyclic garbage (~2,900 objects: widgets, controllers, their
    # signals) once its run returned; left alone, a collector pass inside this run's measurement
    # freed it (20-32 ms on the GUI thread, or on a request thread). Freed here, before anything is
    # timed: no user closes and rebuilds the main window between two replies.
    gc.collect()

    env = {"OPENAI_API_KEY": key, "OPENAI_BASE_URL": base_url}
    params = inspect.signature(create_window).parameters
    kwargs: dict[str, Any] = {}
    if "paths" in params:
        from chatbot_gui.core.paths import AppPaths

        # A fresh folder per window: no chat saved by an earlier window is restored into this one.
        folder = tempfile.TemporaryDirectory(prefix="chatbot-bench-")
        _TEMP_DIRS.append(folder)
        root = Path(folder.name)
        kwargs["paths"] = AppPaths(config_dir=root / "config", data_dir=root / "data")
    if "keys" in params:
        from chatbot_gui.core.secrets import KeyStore, MemoryKeyring

        kwargs["keys"] = KeyStore(MemoryKeyring())
    if "ask_settings" in params:
        def never_ask(*_args: Any, **_kwargs: Any) -> None:
            raise RuntimeError("the Settings dialog opened during a benchmark")

        kwargs["ask_settings"] = never_ask
    window, controller = create_window(env, **kwargs)
    show_window(window)
    if not wait_until(lambda: getattr(controller.config, "api_key", None) == key, 5.0):
        raise RuntimeError("the window never picked up the benchmark's connection settings")
    settle(0.2)  # work the window defers until it is shown (history, model list) happens now, untimed
    return window, controller


def settle(seconds: float) -> None:
    """Process events for ``seconds``."""
    wait_until(lambda: False, seconds)


def show_window(window: Any) -> None:
    """Show a window and let it be exposed and painted once."""
    from PySide6.QtWidgets import QApplication

    window.show()
    wait_until(lambda: window.windowHandle() is not None and window.windowHandle().isExposed(), 5.0)
    QApplication.processEvents()


def dispose(window: Any) -> None:
    """Close a window and really delete it (deleteLater needs the DeferredDelete events sent)."""
    from PySide6.QtCore import QCoreApplication, QEvent
    from PySide6.QtWidgets import QApplication

    window.close()
    window.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    QApplication.processEvents()
