"""Trimming a 10,000-message chat before a send (issue 12: ≤ 5 ms; it runs on every send).

``plan_context`` over a generated chat of 10,000 messages (~1 KB each, one in eight with CJK text,
a system prompt and two pinned messages), with a calibrated estimator:

- 128k window: the usual case, most of the chat is dropped (only the newest ~500 messages are costed);
- 1M window (gpt-4.1): about 3,700 messages fit and are costed;
- send everything: the footer's count of the whole chat.

Each figure is the median of many calls after one warm-up call (the first call encodes the non-ASCII
messages once to count their UTF-8 bytes; later sends find them cached). The first, cold call is
reported as information. Baseline: building today's ``messages`` list (a dict per message) for the
same chat, which every send does anyway.
"""

from __future__ import annotations

import random
import time

from benchmarks.common import Result, log, median

N_MESSAGES = 10_000
REPS = 200


def _chat() -> list:
    from chatbot_gui.core.context import Turn

    rng = random.Random(12)
    words = ["context", "window", "token", "model", "reply", "question", "stream", "server", "answer", "chat"]
    turns = [Turn("system", "You are a helpful assistant.")]
    for i in range(N_MESSAGES - 1):
        text = " ".join(rng.choice(words) for _ in range(140))[:1000] + f" #{i}"
        if i % 8 == 3:
            text = "日本語の文章と中文的句子。" * 20 + text[:700]
        role = "user" if i % 2 == 0 else "assistant"
        turns.append(Turn(role, text, pinned=i in (10, 4000)))
    return turns


def _time(fn, reps: int = REPS) -> list[float]:
    runs = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        runs.append((time.perf_counter() - t0) * 1000)
    return runs


def run(runs: int = 5) -> list[Result]:
    from chatbot_gui.core import context as ctx
    from chatbot_gui.core.context import ContextMode, TokenEstimator, plan_context

    log("context: building a 10,000-message chat")
    ctx._byte_cache.clear()
    turns = _chat()
    est = TokenEstimator({"m": 3.7})

    t0 = time.perf_counter()
    cold = plan_context(turns, window=128_000, reserve=4096, estimator=est, model="m")
    cold_ms = (time.perf_counter() - t0) * 1000
    reps = max(REPS, runs * 40)

    def baseline() -> object:
        return [{"role": t.role, "content": t.content} for t in turns]

    cases = [
        ("trim 10,000-msg chat, 128k window", lambda: plan_context(turns, window=128_000, reserve=4096,
                                                                   estimator=est, model="m")),
        ("trim 10,000-msg chat, 1M window", lambda: plan_context(turns, window=1_047_576, reserve=4096,
                                                                           estimator=est, model="m")),
        ("count 10,000-msg chat (send everything)", lambda: plan_context(turns, window=128_000, reserve=4096,
                                                                         mode=ContextMode.EVERYTHING,
                                                                         estimator=est, model="m")),
    ]
    results = []
    base_runs = _time(baseline, reps)
    for name, fn in cases:
        fn()  # warm
        log(f"context: {name}")
        measured = _time(fn, reps)
        plan = fn()
        res = Result(name, median(measured), median(base_runs), "ms", 5.0, kind="abs", runs=measured,
                     baseline_runs=base_runs)
        res.notes.append(f"sent {len(plan.sent):,} of {len(turns):,} messages, ~{plan.tokens:,} tokens; "
                         f"max {max(measured):.2f} ms over {reps} calls; baseline = building the messages list")
        results.append(res)
    results[0].notes.append(f"first (cold) call {cold_ms:.1f} ms (encodes {sum(1 for t in turns if not t.content.isascii()):,} "
                            f"non-ASCII messages once); sent {len(cold.sent):,}")
    return results


if __name__ == "__main__":
    from benchmarks.run import table

    print(table(run()))
