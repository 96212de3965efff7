"""Text that may not be valid text.

JSON can carry a UTF-16 surrogate on its own (``"\\ud800"``); ``json.loads`` turns it into a Python
str that cannot be encoded as UTF-8, so SQLite, files and the clipboard refuse it (and Qt silently
drops it). Such text is cleaned where it enters the app (the reply reader, model lists) and where it
is stored (the chat store), so it can never wedge a save.
"""

from __future__ import annotations

import re

#: A surrogate on its own. (A proper pair in JSON decodes to one character and never matches.)
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def clean_text(text: str) -> str:
    """``text`` with every lone surrogate replaced by U+FFFD, so it can always be stored as UTF-8."""
    if text.isascii():  # O(1) for CPython's compact strings: the common case costs nothing
        return text
    return _LONE_SURROGATE.sub("\ufffd", text)


def clean_optional(text: str | None) -> str | None:
    return None if text is None else clean_text(text)
