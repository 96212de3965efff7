"""Child process: the bare openai SDK streaming loop in a Python process that never imported Qt.

Usage: ``python benchmarks/_sdk_plain.py BASE_URL``. For every line read on stdin it streams one reply
from BASE_URL and prints the seconds it took; it exits at EOF. The parent compares these figures with
the same loop inside its own (PySide6) process: PySide6 replaces ``builtins.__import__`` with its
``__feature__`` hook, which slows every ``import`` statement executed at run time, and the SDK runs
~20 of them per chunk.
"""

from __future__ import annotations

import sys
import time

import openai


def main() -> None:
    base_url = sys.argv[1]
    messages = [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "Tell me a long story."},
    ]
    assert "PySide6" not in sys.modules
    print("ready", flush=True)
    for _line in sys.stdin:
        client = openai.OpenAI(api_key="sk-bench", base_url=base_url, max_retries=0)  # a fresh connection
        t0 = time.perf_counter()
        for _chunk in client.chat.completions.create(model="gpt-4o-mini", messages=messages, stream=True):
            pass
        print(f"{time.perf_counter() - t0:.6f}", flush=True)
        client.close()


if __name__ == "__main__":
    main()
