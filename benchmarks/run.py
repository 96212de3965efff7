"""Run every benchmark and print one table: ``python -m benchmarks`` or ``python benchmarks/run.py``.

Options: ``--only stream,startup,append,history,context`` picks benchmarks, ``--runs N`` repeats each
measurement N times (default 5; start-up uses max(N, 7)), ``--json PATH`` also writes the results as JSON. Nothing
is written anywhere unless ``--json`` is given. The exit status is 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `benchmarks` and `chatbot_gui` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Only ever talk to 127.0.0.1 directly (httpx honours proxy variables).
for _name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
    os.environ.pop(_name, None)

from benchmarks.common import Result, log  # noqa: E402 - after the sys.path fix above

BENCHMARKS = ("stream", "streams3", "startup", "append", "history", "render", "context")
#: Not in the default run: it builds the app four times (~4 minutes) and needs PyInstaller ('.[build]').
EXTRA_BENCHMARKS = ("frozen",)


def _fmt(value: float, unit: str) -> str:
    if unit == "s":
        return f"{value:.3f} s"
    if unit == "ms":
        return f"{value:.1f} ms"
    if unit in ("MiB", "MB"):
        return f"{value:.1f} {unit}"
    if unit == "us":
        return f"{value:.1f} us"
    return f"{value:.3g} {unit}"


def table(results: list[Result]) -> str:
    head = ("benchmark", "value", "baseline", "ratio", "target", "result")
    rows = [head] + [
        (r.name, _fmt(r.value, r.unit), *(("-", "-") if math.isnan(r.baseline) else  # NaN: no baseline
                                            (_fmt(r.baseline, r.unit), f"{r.ratio:.2f}")), r.target,
         "info" if r.kind == "info" and not r.failed_check else ("PASS" if r.passed else "FAIL"))
        for r in results
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    notes = []
    for r in results:
        if r.failed_check:
            notes.append(f"- {r.name}: FAILED CHECK: {r.failed_check}")
        notes += [f"- {r.name}: {n}" for n in r.notes]
    return "\n".join(lines + ([""] + notes if notes else []))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(BENCHMARKS),
                        help=f"comma-separated subset of {BENCHMARKS + EXTRA_BENCHMARKS} (default: all but frozen)")
    parser.add_argument("--runs", type=int, default=5, help="measurements per benchmark (median is reported)")
    parser.add_argument("--json", metavar="PATH", help="also write the results to PATH as JSON")
    parser.add_argument("--frozen-app", metavar="DIR", help="frozen: measure this built app folder (dist/Chatbot) "
                                                            "instead of building one")
    parser.add_argument("--frozen-python", metavar="PY", help="frozen: the Python (with PyInstaller) that builds "
                                                              "(default: this one)")
    parser.add_argument("--frozen-hello", metavar="DIR", help="frozen: the hello-world folder (dist/Hello) built "
                                                              "already by build.spec -- --hello")
    parser.add_argument("--no-onefile", action="store_true", help="frozen: skip the two one-file builds")
    args = parser.parse_args(argv)
    chosen = [b.strip() for b in args.only.split(",") if b.strip()]
    unknown = [b for b in chosen if b not in BENCHMARKS + EXTRA_BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}")

    started = time.perf_counter()
    results: list[Result] = []
    # Start-up first: it runs in child processes and is least disturbed before this process grows.
    order = ("frozen", "startup", "stream", "streams3", "append", "history", "render", "context")
    for name in sorted(chosen, key=order.index):
        if name == "frozen":
            from benchmarks import bench_frozen

            results += bench_frozen.run(max(args.runs, 7), args.frozen_app, args.frozen_python,
                                        onefile=not args.no_onefile, hello_dir=args.frozen_hello)
        elif name == "startup":
            from benchmarks import bench_startup

            results += bench_startup.run(max(args.runs, 7))
        elif name == "stream":
            from benchmarks import bench_stream

            results += bench_stream.run(args.runs)
        elif name == "streams3":
            from benchmarks import bench_streams3

            results += bench_streams3.run(args.runs)
        elif name == "append":
            from benchmarks import bench_append

            results += bench_append.run(args.runs)
        elif name == "history":
            from benchmarks import bench_history

            results += bench_history.run(args.runs)
        elif name == "render":
            from benchmarks import bench_render

            results += bench_render.run(args.runs)
        elif name == "context":
            from benchmarks import bench_context

            results += bench_context.run(args.runs)
    elapsed = time.perf_counter() - started

    print(table(results))
    targets = [r for r in results if r.kind != "info"]
    print(f"\n{sum(r.passed for r in targets)}/{len(targets)} targets met; total {elapsed:.0f} s; "
          f"Python {sys.version.split()[0]}, QT_QPA_PLATFORM={os.environ.get('QT_QPA_PLATFORM')}, "
          f"{os.cpu_count()} CPUs")
    if args.json:
        # No baseline is NaN, which strict JSON lacks: written as null.
        rows = [{k: None if isinstance(v, float) and math.isnan(v) else v for k, v in r.as_dict().items()}
                for r in results]
        payload = {"elapsed_s": elapsed, "results": rows}
        Path(args.json).write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
        log(f"wrote {args.json}")
    return 0 if all(r.passed for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
