"""Child process: serve the long Markdown reply (``markdown_sample.long_reply``) as N chunks until
stdin closes. Usage: ``python benchmarks/_serve_markdown.py N_CHUNKS``; prints the base URL."""

from __future__ import annotations

import sys

from benchmarks.markdown_sample import chunks_of, long_reply
from fakeserver import FakeServer, stream


def main() -> None:
    server = FakeServer(default_reply=stream(chunks_of(long_reply(), int(sys.argv[1]))))
    try:
        print(server.base_url, flush=True)
        sys.stdin.read()
    finally:
        server.close()


if __name__ == "__main__":
    main()
