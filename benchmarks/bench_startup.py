"""Benchmark 3: process start -> main window shown, the app vs. a bare PySide6 window.

Each measurement is a fresh ``python`` process (``_startup_child.py``): the parent notes ``time.time()``
just before ``Popen``, the child prints ``time.time()`` once its window is exposed and painted. The app
and the bare window alternate; the medians are compared. The child also says which heavy modules were
already imported when the window appeared: ``openai`` must not be among them (it loads on the first
request, on the worker thread).

The app child gets a private settings/data folder (XDG_CONFIG_HOME, XDG_DATA_HOME) shared by all runs,
so after the unmeasured warm-up every measured start is a normal (not a first-ever) start, with the
bytecode compiled by the warm-up in a private PYTHONPYCACHEPREFIX (as an installed app has); keyring's
"fail" backend, so no run touches a real OS keyring; and an API key in the environment, so no
first-start Settings dialog opens.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time

from benchmarks.common import BENCH_DIR, KEY, ROOT, Result, log, median, spread

CHILD = BENCH_DIR / "_startup_child.py"
TIMEOUT_S = 60
MUST_NOT_LOAD = ("openai", "httpx2", "httpx", "pydantic")


def _child_env(home: str) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    env["XDG_CONFIG_HOME"] = os.path.join(home, "config")
    env["XDG_DATA_HOME"] = os.path.join(home, "data")
    env["XDG_CACHE_HOME"] = os.path.join(home, "cache")
    # Compiled bytecode goes to a private folder (never into the checkout), so measured starts load
    # .pyc files as an installed app does, even where PYTHONDONTWRITEBYTECODE is set.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = os.path.join(home, "pycache")
    env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
    env["OPENAI_API_KEY"] = KEY
    env["OPENAI_BASE_URL"] = "http://127.0.0.1:9/v1"  # nothing listens there: refused at once
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        env.pop(name, None)
    return env


def _start_once(kind: str, env: dict[str, str]) -> tuple[float, list[str]]:
    """Seconds from just before Popen to the child's window being shown, and the modules it had loaded."""
    t0 = time.time()
    proc = subprocess.Popen(
        [sys.executable, str(CHILD), kind], env=env, cwd=str(ROOT),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        out, err = proc.communicate(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise RuntimeError(f"start-up child '{kind}' did not show its window within {TIMEOUT_S} s") from None
    line = next((ln for ln in out.splitlines() if ln.startswith("{")), None)
    if line is None:
        raise RuntimeError(f"start-up child '{kind}' exited {proc.returncode} without reporting:\n{err[-2000:]}")
    data = json.loads(line)
    if not data.get("paints"):
        raise RuntimeError(f"start-up child '{kind}' reported before its window was painted")
    return data["shown"] - t0, data["modules"]


def run(runs: int = 7) -> list[Result]:
    app_times: list[float] = []
    bare_times: list[float] = []
    loaded: set[str] = set()
    with tempfile.TemporaryDirectory(prefix="chatbot-bench-startup-") as home:
        env = _child_env(home)
        # Unmeasured warm-up: fills the page cache and creates the app's settings and chat store.
        _start_once("app", env)
        _start_once("bare", env)
        for i in range(runs):
            order = ("app", "bare") if i % 2 == 0 else ("bare", "app")
            for kind in order:
                seconds, modules = _start_once(kind, env)
                if kind == "app":
                    app_times.append(seconds)
                    loaded.update(modules)
                else:
                    bare_times.append(seconds)
            log(f"startup: run {i + 1}/{runs}: app {app_times[-1] * 1000:.0f} ms, bare {bare_times[-1] * 1000:.0f} ms")
    result = Result(
        "start-up to window shown", median(app_times) * 1000, median(bare_times) * 1000, "ms", 1.3,
        runs=[t * 1000 for t in app_times], baseline_runs=[t * 1000 for t in bare_times],
    )
    result.notes.append(f"app runs: {spread([t * 1000 for t in app_times], '{:.0f}')} ms; "
                        f"bare runs: {spread([t * 1000 for t in bare_times], '{:.0f}')} ms")
    bad = sorted(m for m in loaded if m in MUST_NOT_LOAD)
    result.notes.append(
        "imported before the window was shown: " + (", ".join(sorted(loaded)) if loaded else "none of "
                                                    + ", ".join(MUST_NOT_LOAD)))
    if bad:
        result.failed_check = f"{', '.join(bad)} imported before the window was shown (must load on first request)"
    return [result]
