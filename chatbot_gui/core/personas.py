"""Personas: a named system prompt with optional model and parameters, and the rules for their names."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

#: Temperatures the Chat Completions API accepts.
MIN_TEMPERATURE = 0.0
MAX_TEMPERATURE = 2.0


@dataclass(frozen=True)
class Persona:
    """A preset that sets the assistant's behaviour. An empty system prompt sends no system message.

    ``model`` (None = the chat's model), ``temperature`` and ``max_tokens`` (None = the server's
    default) are optional. ``extra`` holds fields a newer version of the app stored with the persona;
    they are written back unchanged and take no part in comparisons.
    """

    name: str
    system_prompt: str
    model: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)


#: The original terminal script's three examples.
BUILTIN_PERSONAS: tuple[Persona, ...] = (
    Persona("Helpful assistant", "You are a helpful assistant."),
    Persona("Sarcastic assistant", "You are a sarcastic assistant."),
    Persona(
        "French assistant",
        "You are a French assistant. You only speak and respond in French.",
    ),
)

DEFAULT_MODEL = "gpt-4o-mini"

_NUMBERED = re.compile(r"^(?P<base>.*?) \((?P<n>\d+)\)$")


def name_key(name: str) -> str:
    """What two names are compared by: "Coach" and " coach " are the same persona name."""
    return " ".join(name.split()).casefold()


def unique_name(name: str, taken: Iterable[str]) -> str:
    """``name``, or "Name (2)", "Name (3)", ... whichever is not among ``taken`` (compared by :func:`name_key`)."""
    return UniqueNames(taken).take(name)


class UniqueNames:
    """Hands out names that differ from each other and from ``taken``, as :func:`unique_name` would.

    For many names in a row (loading or importing personas): it keeps the set of names in use and,
    per base name, the last number it gave, so thousands of "Coach" become "Coach (2)" … "Coach (5000)"
    in linear time; calling :func:`unique_name` for each would be quadratic."""

    def __init__(self, taken: Iterable[str] = ()) -> None:
        self._keys = {name_key(t) for t in taken}
        self._last: dict[str, int] = {}  # name_key(base) -> the highest number tried for it

    def take(self, name: str) -> str:
        """``name`` (stripped) if it is free, else the first free "Name (n)"; it is then in use."""
        name = name.strip()
        key = name_key(name)
        if key not in self._keys:
            self._keys.add(key)
            return name
        match = _NUMBERED.match(name)
        base, n = (match["base"], int(match["n"])) if match else (name, 1)
        base_key = name_key(base)
        # Names are only ever added, so every number up to the last one tried for this base is taken.
        n = max(n, self._last.get(base_key, 1))
        while True:
            n += 1
            candidate = f"{base} ({n})"
            if name_key(candidate) not in self._keys:
                self._last[base_key] = n
                self._keys.add(name_key(candidate))
                return candidate


def name_problem(name: str, other_names: Iterable[str]) -> str | None:
    """Why ``name`` cannot be used next to ``other_names`` (the other personas), in words, or None."""
    if not name.strip():
        return "A persona needs a name."
    if name_key(name) in {name_key(n) for n in other_names}:
        return f"Another persona is already called “{name.strip()}”."
    return None


def personas_problem(personas: Iterable[Persona]) -> str | None:
    """The first naming problem in a list of personas (empty or shared names), or None."""
    seen: set[str] = set()
    for index, persona in enumerate(personas, 1):
        if not persona.name.strip():
            return f"Persona number {index} has no name."
        key = name_key(persona.name)
        if key in seen:
            return f"Two personas are called “{persona.name.strip()}”. Rename one of them."
        seen.add(key)
    return None
