"""Display-only break opportunities in long unbroken runs of text (Qt-free)."""

from __future__ import annotations

import re

#: Qt lays out a paragraph with a very long run of characters and no break opportunity (a pasted
#: base64 blob, a minified file) in time that grows with the square of its length: 1 MB took 96 s.
#: The view (only the view: the message itself is untouched) gets a zero-width space every
#: SOFT_BREAK_EVERY characters of such a run, which brings 1 MB down to about a second.
SOFT_BREAK_EVERY = 500
#: The start of such a run (matched from run starts only: linear in the text's length).
_LONG_RUN_START = re.compile(r"(?<!\S)\S{%d}" % SOFT_BREAK_EVERY)
_ZWSP = "\u200b"
_SPACE = re.compile(r"\s")
_TRAILING_RUN = re.compile(r"\S*\Z")


class SoftBreaker:
    """Adds display-only break opportunities to long unbroken runs, across streamed pieces."""

    def __init__(self) -> None:
        self.run = 0  # length of the non-space run at the end of the text so far

    def feed(self, text: str) -> str:
        first = _SPACE.search(text)
        if first is None:
            if self.run + len(text) < SOFT_BREAK_EVERY:
                self.run += len(text)
                return text
        elif self.run + first.start() < SOFT_BREAK_EVERY and not has_long_run(text):
            # The common case: no run needs breaking (the run carried over from the last piece
            # ends at the first space; none inside is long; the trailing one is carried on).
            self.run = len(_TRAILING_RUN.search(text).group(0))
            return text
        out: list[str] = []
        run = self.run
        for piece in re.split(r"(\s+)", text):
            if not piece:
                continue
            if piece[0].isspace():
                out.append(piece)
                run = 0
                continue
            start = 0
            while run + len(piece) - start > SOFT_BREAK_EVERY:
                take = SOFT_BREAK_EVERY - run
                out.append(piece[start : start + take])
                out.append(_ZWSP)
                start += take
                run = 0
            out.append(piece[start:])
            run += len(piece) - start
        self.run = run
        return "".join(out)


def soft_breaks(text: str) -> str:
    """``text`` with display-only break opportunities in runs longer than SOFT_BREAK_EVERY."""
    if not has_long_run(text):
        return text
    return SoftBreaker().feed(text)


def has_long_run(text: str) -> bool:
    """Whether ``text`` has a run of SOFT_BREAK_EVERY or more characters without a space: one that
    Qt would lay out in quadratic time if it looked for word boundaries in it (~20 us per KB)."""
    return len(text) >= SOFT_BREAK_EVERY and _LONG_RUN_START.search(text) is not None
