"""The persona library in ``personas.json``, export and import files, and merging imports.

Like ``settings.json`` the file carries ``"version": 1``, is written atomically and keeps fields
this version does not know, both at the top level and per persona (in :attr:`Persona.extra`). A
file that cannot be read as a persona library is set aside (never deleted) and the built-in
personas are used, with a notice the UI shows.

An export file has the same shape minus the default (``{"version": 1, "personas": [...]}``);
:func:`import_personas` also accepts a ``personas.json`` and a bare list of persona objects.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Literal, Mapping, Sequence

from chatbot_gui.core.atomic import LeftAlone, load_json_file, write_atomic
from chatbot_gui.core.paths import AppPaths, ensure_private_dir
from chatbot_gui.core.personas import (
    BUILTIN_PERSONAS, MAX_TEMPERATURE, MIN_TEMPERATURE, Persona, UniqueNames, name_key,
)

VERSION = 1
FILE_NAME = "personas.json"
EXPORT_KIND = "chatbot-gui personas"

Choice = Literal["replace", "keep_both", "skip"]
CHOICES: tuple[str, ...] = ("replace", "keep_both", "skip")

_PERSONA_FIELDS = ("name", "system_prompt", "model", "temperature", "max_tokens")
_TOP_FIELDS = {"version", "personas", "default", "kind"}


@dataclass(frozen=True)
class PersonaLibrary:
    """The user's personas in their order, and the one new chats start with. Never empty."""

    personas: tuple[Persona, ...] = BUILTIN_PERSONAS
    default_name: str = BUILTIN_PERSONAS[0].name
    version: int = VERSION
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def find(self, name: str) -> Persona | None:
        """The persona called ``name`` (compared as names are: case and spacing aside), or None."""
        key = name_key(name)
        return next((p for p in self.personas if name_key(p.name) == key), None)

    @property
    def default_persona(self) -> Persona:
        """The persona for new chats (the first one if the default's name is gone)."""
        return self.find(self.default_name) or self.personas[0]

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.personas]


class ShapeError(ValueError):
    """The JSON parsed but is not shaped like personas. The message says what is wrong, for the user."""


# -- JSON <-> personas -----------------------------------------------------------------------------
def persona_from_json(obj: Any, where: str = "a persona") -> Persona:
    """Read one persona object. Raises :class:`ShapeError` naming ``where`` and the field at fault."""
    if not isinstance(obj, dict):
        raise ShapeError(f"{where} is not an object")
    name = obj.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ShapeError(f"{where} has no name")
    where = f"persona “{name.strip()}”"
    prompt = obj.get("system_prompt", "")
    if not isinstance(prompt, str):
        raise ShapeError(f"{where}: 'system_prompt' is not text")
    model = obj.get("model")
    if model is not None and not isinstance(model, str):
        raise ShapeError(f"{where}: 'model' is not text")
    temperature = obj.get("temperature")
    if temperature is not None:
        if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) \
                or not MIN_TEMPERATURE <= temperature <= MAX_TEMPERATURE:
            raise ShapeError(f"{where}: 'temperature' must be a number from {MIN_TEMPERATURE:g} "
                             f"to {MAX_TEMPERATURE:g}")
        temperature = float(temperature)
    max_tokens = obj.get("max_tokens")
    if max_tokens is not None and (isinstance(max_tokens, bool) or not isinstance(max_tokens, int)
                                   or max_tokens < 1):
        raise ShapeError(f"{where}: 'max_tokens' must be a whole number above 0")
    return Persona(
        name=name.strip(),
        system_prompt=prompt,
        model=(model.strip() or None) if model is not None else None,
        temperature=temperature,
        max_tokens=max_tokens,
        extra={k: v for k, v in obj.items() if k not in _PERSONA_FIELDS},
    )


def persona_to_json(persona: Persona) -> dict[str, Any]:
    """One persona as a JSON object; its unknown fields come first, ours win on a clash."""
    obj: dict[str, Any] = dict(persona.extra)
    obj.update({name: getattr(persona, name) for name in _PERSONA_FIELDS})
    return obj


def _personas_from_list(items: Any) -> list[Persona]:
    if not isinstance(items, list):
        raise ShapeError("'personas' is not a list")
    return [persona_from_json(obj, f"persona number {i}") for i, obj in enumerate(items, 1)]


def _dedupe(personas: Iterable[Persona]) -> tuple[Persona, ...]:
    """Rename later personas whose names clash with earlier ones ("Name (2)"): nothing is lost."""
    out: list[Persona] = []
    names = UniqueNames()
    for persona in personas:
        name = names.take(persona.name)
        out.append(persona if name == persona.name else dataclasses.replace(persona, name=name))
    return tuple(out)


def library_from_json(data: Any) -> tuple[PersonaLibrary, str | None]:
    """Parse a decoded ``personas.json``. Raises :class:`ShapeError`; returns a notice for newer versions."""
    if not isinstance(data, dict):
        raise ShapeError("the file is not a JSON object")
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ShapeError("the file has no valid version")
    personas = _dedupe(_personas_from_list(data.get("personas", [])))
    default = data.get("default", "")
    if not isinstance(default, str):
        raise ShapeError("'default' is not a name")
    notice = None
    if version > VERSION:
        notice = ("The personas file was written by a newer version of Chatbot. Fields it added are "
                  "kept, but this version may not understand all of them.")
    library = PersonaLibrary(
        personas=personas or BUILTIN_PERSONAS,
        default_name=default,
        version=version,
        extra={k: v for k, v in data.items() if k not in _TOP_FIELDS},
    )
    return dataclasses.replace(library, default_name=library.default_persona.name), notice


def library_to_json(library: PersonaLibrary) -> dict[str, Any]:
    """The JSON document for ``library``."""
    doc: dict[str, Any] = dict(library.extra)
    doc.update({
        "version": max(library.version, VERSION),
        "default": library.default_persona.name,
        "personas": [persona_to_json(p) for p in library.personas],
    })
    return doc


def _dump(doc: Mapping[str, Any]) -> str:
    """Readable JSON (non-ASCII kept as is); escaped instead when text holds a lone surrogate."""
    try:
        text = json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(doc, indent=2, ensure_ascii=True) + "\n"
    return text


# -- the store ------------------------------------------------------------------------------------
class PersonaStore:
    """Loads and saves ``personas.json`` in ``paths.config_dir``."""

    def __init__(self, paths: AppPaths) -> None:
        self.path = paths.config_dir / FILE_NAME
        self.writable = True  # False once load() found a file it could not read: it is left alone

    def load(self) -> tuple[PersonaLibrary, str | None]:
        """The stored library and a notice for the user (None when all went well).

        No file yet: the built-ins. A file that cannot be parsed is set aside and the built-ins used.
        """
        library, notice, self.writable = load_json_file(
            self.path, library_from_json, PersonaLibrary, what="personas file",
            instead="using the built-in personas", instead_long="the built-in personas are used")
        return library, notice

    def save(self, library: PersonaLibrary) -> None:
        """Write ``library`` atomically. Raises ``OSError`` (the old file stays) on failure, and
        :class:`LeftAlone` when the file could not be read at load: it may hold the user's personas."""
        if not self.writable:
            raise LeftAlone(0, "the personas file could not be read when Chatbot started, so it is left as it is")
        ensure_private_dir(self.path.parent)
        write_atomic(self.path, _dump(library_to_json(library)))


# -- export, import, merge -------------------------------------------------------------------------
def export_personas(personas: Sequence[Persona], path: str | Path) -> None:
    """Write ``personas`` to an export file (atomically). Raises ``OSError``."""
    doc = {"version": VERSION, "kind": EXPORT_KIND, "personas": [persona_to_json(p) for p in personas]}
    write_atomic(Path(path), _dump(doc))


def import_personas(path: str | Path) -> list[Persona]:
    """The personas in an export file, a ``personas.json`` or a JSON list of persona objects.

    Raises ``ValueError`` with a message for the user when the file cannot be read or holds no
    usable personas. Names repeated inside the file are kept apart as "Name (2)".
    """
    name = Path(path).name
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise ValueError(f"Could not open {name}: {exc.strerror or exc}.") from None
    try:
        data = json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise ValueError(f"{name} is not a JSON file.") from None
    try:
        if isinstance(data, dict):
            if "personas" not in data:
                raise ShapeError("it has no 'personas' list")
            personas = _personas_from_list(data["personas"])
        elif isinstance(data, list):
            personas = _personas_from_list(data)
        else:
            raise ShapeError("it holds neither a list of personas nor an object with one")
    except ShapeError as exc:
        raise ValueError(f"{name} is not a personas file: {exc}.") from None
    if not personas:
        raise ValueError(f"{name} holds no personas.")
    return list(_dedupe(personas))


def merge(library: PersonaLibrary, incoming: Iterable[Persona],
          choose: Callable[[str], str]) -> PersonaLibrary:
    """``library`` with ``incoming`` added; new names go at the end.

    For each incoming persona whose name is taken, ``choose(existing_name)`` decides: "replace" (in
    place, keeping the position), "keep_both" (added as "Name (2)") or "skip". One that is identical
    to the persona it clashes with is skipped without asking. Raises ``ValueError`` for any other answer.
    """
    personas = list(library.personas)
    where = {name_key(p.name): i for i, p in reversed(list(enumerate(personas)))}  # first one wins
    names = UniqueNames(p.name for p in personas)
    for persona in incoming:
        index = where.get(name_key(persona.name))
        if index is None:
            where[name_key(persona.name)] = len(personas)
            names.take(persona.name)
            personas.append(persona)
            continue
        if personas[index] == persona:
            continue
        choice = choose(personas[index].name)
        if choice == "replace":
            # Keep the existing spelling: a default chat or history entry may refer to it.
            personas[index] = dataclasses.replace(persona, name=personas[index].name)
        elif choice == "keep_both":
            new_name = names.take(persona.name)
            where[name_key(new_name)] = len(personas)
            personas.append(dataclasses.replace(persona, name=new_name))
        elif choice != "skip":
            raise ValueError(f"unknown choice {choice!r}; expected one of {', '.join(CHOICES)}")
    return dataclasses.replace(library, personas=tuple(personas))


def with_builtins(library: PersonaLibrary) -> tuple[PersonaLibrary, list[str]]:
    """``library`` with the built-in personas restored, and the names of personas that this resets.

    A built-in that is missing is added at the end; one that was changed gets its original text and
    settings back, in its place.
    """
    personas = list(library.personas)
    changed: list[str] = []
    for builtin in BUILTIN_PERSONAS:
        index = next((i for i, p in enumerate(personas) if name_key(p.name) == name_key(builtin.name)), None)
        if index is None:
            personas.append(builtin)
        elif personas[index] != builtin:
            changed.append(personas[index].name)
            personas[index] = builtin
    return dataclasses.replace(library, personas=tuple(personas)), changed
