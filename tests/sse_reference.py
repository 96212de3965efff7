"""The event-stream rules (WHATWG) read straight off a whole body, the simplest way: a test oracle
for the app's incremental decoder (core/sse.py) and for reading the recorded corpus independently."""

from __future__ import annotations


def reference_events(body: bytes) -> list[tuple[str, str]]:
    """(event type, data) of every dispatched event; an event not ended by a blank line is not."""
    text = body.decode("utf-8", "replace").removeprefix("\ufeff")
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    lines.pop()  # the part after the last line ending is not a complete line
    events: list[tuple[str, str]] = []
    kind, data = "", []
    for line in lines:
        if line == "":
            if data:
                events.append((kind, "\n".join(data)))
            kind, data = "", []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "data":
            data.append(value)
        elif name == "event":
            kind = value
    return events
