"""A/B comparison for the three-stream rows: variants measured alternately in the same minutes.

Usage: ``python -m benchmarks.ab_streams3 [--runs N] VARIANT [VARIANT ...]``, where a variant is
``on`` (the app as it is), ``off`` (no turnstile: every request thread parses whenever it gets the
interpreter lock), or comma-separated settings: ``hand=N`` (deltas between turnstile handovers),
``yield=N`` (deltas between GIL offers), e.g. ``off on yield=8,hand=64``.

On a shared machine the load moves from minute to minute, so one figure against another measured
ten minutes later says little. Here every run measures each variant once (the order reversed on
every other run), plus the probe in an idle shown window, and the medians are printed with the load
average. Progress goes to stderr, the summary to stdout.
"""

from __future__ import annotations

import argparse
import os
import statistics

from benchmarks.bench_stream import N_CHUNKS, _idle_gaps, _Probe
from benchmarks.bench_streams3 import STREAMS, _run_three
from benchmarks.common import ServerProcess, log, percentile, qt_app, reply_tokens


def _apply(variant: str) -> None:
    from chatbot_gui.core import turnstile
    from chatbot_gui.ui import worker

    turnstile.shared = turnstile.Turnstile()
    turnstile.HANDOVER_EVERY = 16
    worker.YIELD_EVERY = 2
    for part in variant.split(","):
        key, _, value = part.partition("=")
        if key == "off":
            turnstile.shared = None
        elif key == "hand":
            turnstile.HANDOVER_EVERY = int(value)
        elif key == "yield":
            worker.YIELD_EVERY = int(value)
        elif key != "on":
            raise SystemExit(f"unknown variant setting {part!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=4)
    parser.add_argument("variants", nargs="+")
    args = parser.parse_args()
    for name in args.variants:
        _apply(name)  # fail early on a typo
    qt_app()
    expected = "".join(reply_tokens(N_CHUNKS))
    rows: dict[str, list[tuple[float, float, float]]] = {n: [] for n in ["idle", *args.variants]}
    loads: list[float] = []
    with ServerProcess(N_CHUNKS) as server:
        url = server.base_url
        _apply("on")
        _run_three(url, expected)  # warm up, unmeasured
        for i in range(args.runs):
            idle = _idle_gaps(url, 2.0)
            rows["idle"].append((0.0, max(idle), percentile(idle, 99)))
            for name in args.variants if i % 2 == 0 else args.variants[::-1]:
                _apply(name)
                probe = _Probe()
                wall, gaps = _run_three(url, expected, probe)
                rows[name].append((wall / STREAMS, max(gaps), percentile(gaps, 99)))
                loads.append(os.getloadavg()[0])
                log(f"run {i + 1}/{args.runs} {name}: {wall / STREAMS:.2f} s per stream, GUI gaps max "
                    f"{max(gaps):.1f} ms, p99 {percentile(gaps, 99):.1f} ms (load {loads[-1]:.1f})")
    _apply("on")
    print(f"load average during the runs: {min(loads):.1f}-{max(loads):.1f}")
    for name, got in rows.items():
        med = [statistics.median(r[k] for r in got) for k in range(3)]
        per = "" if name == "idle" else f"time per stream {med[0]:.2f} s, "
        print(f"{name:>16}: {per}GUI timer gap max {med[1]:.1f} ms, p99 {med[2]:.1f} ms "
              f"(medians of {len(got)} runs; p99 runs: {', '.join(f'{r[2]:.1f}' for r in got)})")


if __name__ == "__main__":
    main()
