"""Child process: serve one long streamed reply with ``tests/fakeserver.py`` until stdin closes.

Usage: ``python benchmarks/_serve.py N_CHUNKS [PARAGRAPH_EVERY]`` (``tests`` and the repository root on
PYTHONPATH). Prints the base URL on the first line of stdout; every chat request gets the same reply.
"""

from __future__ import annotations

import sys

from benchmarks.common import reply_tokens
from fakeserver import FakeServer, stream


def main() -> None:
    n = int(sys.argv[1])
    every = int(sys.argv[2]) if len(sys.argv) > 2 else 80
    server = FakeServer(default_reply=stream(reply_tokens(n, every)))
    try:
        print(server.base_url, flush=True)
        sys.stdin.read()  # returns at EOF: the parent is done (or gone)
    finally:
        server.close()


if __name__ == "__main__":
    main()
