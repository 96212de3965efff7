"""Benchmark 5: the frozen app's size and start-up, against a frozen PySide6 hello-world.

Both are built in this run by ``build.spec``, so the same trimming applies to both (Qt plugins,
excluded modules, host libraries, stripping): the app as users get it, and ``-- --hello``
(``_frozen_hello.py``: a QMainWindow with a QTextBrowser and a QPlainTextEdit, nothing of the app).
What the app adds on top of Qt is then what the ratios show.

- one-folder size: the sum of the file sizes in the built folder (MiB); budget 135 MiB.
- start to first paint: just before ``Popen`` → the time the process prints once its window was
  first exposed and painted (``Chatbot --startup-probe`` and ``Hello --startup-probe``, the same
  reporter, ``chatbot_gui/startup_report.py``); alternating, median; budget ratio 1.3. The app gets
  the same private settings folder, "fail" keyring and key in the environment as ``bench_startup``.
  The same starts' CPU time to the first paint (``time.process_time()`` there) is shown as an info
  row: on a busy machine wall time mostly measures waiting for a CPU.
- one-file size: the single executable ``-- --onefile`` makes (MB, 10^6 bytes); budget 65 MB.

``--frozen-app DIR`` measures an app folder built already (CI builds it once, in a clean venv, for
its smoke test) instead of building one; ``--frozen-python PY`` is the interpreter (with PyInstaller)
that builds; the hello-world is always built here, with that interpreter. ``--no-onefile`` skips
the two one-file builds (~1.5 minutes). ``--frozen-hello DIR`` takes a hello-world folder built
already with the same spec and interpreter (CI builds it while it builds the app).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.bench_startup import MUST_NOT_LOAD, TIMEOUT_S, _child_env
from benchmarks.common import ROOT, Result, log, median, spread

SPEC = ROOT / "build.spec"
APP, HELLO = "Chatbot", "Hello"
MIB, MB = 1024 * 1024, 1000 * 1000
FOLDER_BUDGET_MIB = 135.0
ONEFILE_BUDGET_MB = 65.0
START_RATIO = 1.3


def build(python: str, out: Path, *options: str) -> Path:
    """Run ``build.spec`` with ``python``; the path of what it made (folder or one file)."""
    name = HELLO if "--hello" in options else APP
    work = out / "work" / "-".join((name, *options))
    started = time.perf_counter()
    done = subprocess.run(
        [python, "-m", "PyInstaller", str(SPEC), "--noconfirm", "--log-level", "WARN",
         "--distpath", str(out / "dist" / "-".join(options or ("onedir",))), "--workpath", str(work),
         *(("--", *options) if options else ())],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
    )
    if done.returncode != 0:
        raise RuntimeError(f"build.spec {' '.join(options)} failed:\n{done.stderr[-3000:]}")
    shutil.rmtree(work, ignore_errors=True)
    made = out / "dist" / "-".join(options or ("onedir",)) / name
    log(f"frozen: built {made} in {time.perf_counter() - started:.0f} s")
    return made


def folder_bytes(folder: Path) -> int:
    """The sum of the sizes of the files in ``folder`` (symbolic links count as links)."""
    total = 0
    for dirpath, dirs, files in os.walk(folder):
        for name in files + [d for d in dirs if os.path.islink(os.path.join(dirpath, d))]:
            total += os.lstat(os.path.join(dirpath, name)).st_size
    return total


def _start_once(exe: Path, env: dict[str, str]) -> tuple[float, float, list[str]]:
    """Wall seconds from just before Popen to the first paint, CPU seconds the process used by
    then, and the watched modules it had loaded."""
    t0 = time.time()
    proc = subprocess.Popen([str(exe), "--startup-probe"], env=env, cwd=str(exe.parent),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise RuntimeError(f"{exe} --startup-probe did not show its window within {TIMEOUT_S} s") from None
    line = next((ln for ln in out.splitlines() if ln.startswith("{")), None)
    if line is None:
        raise RuntimeError(f"{exe} --startup-probe exited {proc.returncode} without reporting:\n{err[-2000:]}")
    data = json.loads(line)
    if not data.get("paints"):
        raise RuntimeError(f"{exe} reported before its window was painted")
    return data["shown"] - t0, data["cpu"], data["modules"]


def startup(app_exe: Path, hello_exe: Path, runs: int) -> list[Result]:
    app_times: list[float] = []
    hello_times: list[float] = []
    app_cpu: list[float] = []
    hello_cpu: list[float] = []
    loaded: set[str] = set()
    with tempfile.TemporaryDirectory(prefix="chatbot-bench-frozen-") as home:
        env = _child_env(home)
        env.pop("PYTHONPATH", None)  # a frozen app has its own modules; nothing from the checkout
        _start_once(app_exe, env)  # unmeasured warm-up: page cache, the app's first-start files
        _start_once(hello_exe, env)
        for i in range(runs):
            for exe in ((app_exe, hello_exe) if i % 2 == 0 else (hello_exe, app_exe)):
                seconds, cpu, modules = _start_once(exe, env)
                if exe == app_exe:
                    app_times.append(seconds * 1000)
                    app_cpu.append(cpu * 1000)
                    loaded.update(modules)
                else:
                    hello_times.append(seconds * 1000)
                    hello_cpu.append(cpu * 1000)
            log(f"frozen start-up: run {i + 1}/{runs}: app {app_times[-1]:.0f} ms, hello {hello_times[-1]:.0f} ms")
    result = Result("frozen: start to first paint", median(app_times), median(hello_times), "ms", START_RATIO,
                    runs=app_times, baseline_runs=hello_times)
    result.notes.append(f"app runs: {spread(app_times, '{:.0f}')} ms; hello runs: {spread(hello_times, '{:.0f}')} ms")
    bad = sorted(m for m in loaded if m in MUST_NOT_LOAD)
    if sys.platform.startswith("linux") and "ctypes" in loaded:
        bad.append("ctypes")  # PyInstaller's bootstrap imports it when bundled (~2 ms); build.spec leaves it out
    if bad:
        result.failed_check = f"{', '.join(bad)} imported before the frozen window was shown"
    # The same starts' CPU time to the first paint: what the app adds, with the machine's other load
    # mostly taken out (wall time waits for the CPU whenever others use it). Diagnosis, no target.
    cpu = Result("frozen: CPU time to first paint", median(app_cpu), median(hello_cpu), "ms", 0, kind="info",
                 runs=app_cpu, baseline_runs=hello_cpu)
    cpu.notes.append(f"app: {spread(app_cpu, '{:.0f}')} ms; hello: {spread(hello_cpu, '{:.0f}')} ms")
    return [result, cpu]


def run(runs: int = 7, app_dir: str | None = None, python: str | None = None, onefile: bool = True,
        hello_dir: str | None = None) -> list[Result]:
    python = python or sys.executable
    probe = subprocess.run([python, "-c", "import PyInstaller"], capture_output=True, timeout=120)
    if probe.returncode != 0:
        raise RuntimeError(f"{python} has no PyInstaller: pip install -e '.[build]' (or pass --frozen-python)")
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="chatbot-bench-build-") as tmp:
        out = Path(tmp)
        app = Path(app_dir).resolve() if app_dir else build(python, out)
        hello = Path(hello_dir).resolve() if hello_dir else build(python, out, "--hello")
        app_size, hello_size = folder_bytes(app) / MIB, folder_bytes(hello) / MIB
        size = Result("frozen: one-folder size", app_size, hello_size, "MiB", FOLDER_BUDGET_MIB, kind="abs")
        size.notes.append(f"{app} vs {hello} (hello-world, same spec); built with {python}")
        results.append(size)
        results += startup(app / APP, hello / HELLO, runs)
        if onefile:
            app_one = build(python, out, "--onefile")
            hello_one = build(python, out, "--onefile", "--hello")
            results.append(Result("frozen: one-file size", app_one.stat().st_size / MB, hello_one.stat().st_size / MB,
                                  "MB", ONEFILE_BUDGET_MB, kind="abs"))
    return results
