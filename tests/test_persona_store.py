"""The persona library on disk (personas.json), export/import files, merging imports, name rules."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from chatbot_gui.core.paths import AppPaths
from chatbot_gui.core.persona_store import (
    PersonaLibrary, PersonaStore, export_personas, import_personas, merge, with_builtins,
)
from chatbot_gui.core.personas import (
    BUILTIN_PERSONAS, Persona, name_problem, personas_problem, unique_name,
)

BIG_PROMPT = ("Réponds en français, s’il te plaît\u00a0! 🦜 مرحبا 日本語 \u2028 line\n" * 2000)[:100_000]
CODER = Persona("Coder 🧑‍💻", "You write Python.\nTabs\tand “quotes”.", model="o3-mini",
                temperature=0.25, max_tokens=4096)
LONG = Persona("Très long", BIG_PROMPT)
EMPTY = Persona("Silent", "")


@pytest.fixture
def store(tmp_path: Path) -> PersonaStore:
    return PersonaStore(AppPaths(tmp_path / "config", tmp_path / "data"))


def write(store: PersonaStore, content: str | bytes) -> None:
    store.path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        content = content.encode("utf-8")
    store.path.write_bytes(content)


# -- the file --------------------------------------------------------------------------------------
def test_no_file_gives_the_builtins_without_a_notice(store: PersonaStore) -> None:
    library, notice = store.load()
    assert notice is None
    assert library.personas == BUILTIN_PERSONAS
    assert library.default_persona == BUILTIN_PERSONAS[0]
    assert not store.path.exists()  # loading never writes


def test_round_trip_keeps_everything(store: PersonaStore) -> None:
    library = PersonaLibrary((CODER, LONG, EMPTY) + BUILTIN_PERSONAS, default_name="Très long")
    store.save(library)
    doc = json.loads(store.path.read_text(encoding="utf-8"))
    assert doc["version"] == 1 and doc["default"] == "Très long"
    assert "🦜" in store.path.read_text(encoding="utf-8")  # readable, not \\u-escaped
    loaded, notice = store.load()
    assert notice is None
    assert loaded == library
    assert loaded.find("très LONG").system_prompt == BIG_PROMPT  # 100 KB, every character intact
    assert loaded.default_persona == LONG
    assert loaded.find("Coder 🧑‍💻") == CODER and loaded.find("Silent").system_prompt == ""


def test_unknown_fields_survive_a_round_trip(store: PersonaStore) -> None:
    write(store, json.dumps({
        "version": 1, "default": "A", "sync": {"token": "x"},
        "personas": [{"name": "A", "system_prompt": "a", "icon": "🐙", "tags": ["x"]}],
    }))
    library, notice = store.load()
    assert notice is None
    assert library.personas[0].extra == {"icon": "🐙", "tags": ["x"]}
    store.save(dataclasses.replace(library, personas=(dataclasses.replace(library.personas[0], system_prompt="b"),)))
    doc = json.loads(store.path.read_text(encoding="utf-8"))
    assert doc["sync"] == {"token": "x"}
    assert doc["personas"] == [{"name": "A", "system_prompt": "b", "icon": "🐙", "tags": ["x"], "model": None,
                                "temperature": None, "max_tokens": None}]


def test_a_newer_version_loads_with_a_notice_and_keeps_its_version(store: PersonaStore) -> None:
    write(store, json.dumps({"version": 7, "personas": [{"name": "A", "system_prompt": "a"}]}))
    library, notice = store.load()
    assert notice and "newer version" in notice
    store.save(library)
    assert json.loads(store.path.read_text(encoding="utf-8"))["version"] == 7


@pytest.mark.parametrize("content, why", [
    (b"{not json", "not valid JSON"),
    (b"\xff\xfe garbage", "not valid JSON"),
    (b"[]", "not a JSON object"),
    (b'{"personas": []}', "no valid version"),
    (b'{"version": 1, "personas": {}}', "'personas' is not a list"),
    (b'{"version": 1, "personas": [{"system_prompt": "x"}]}', "persona number 1 has no name"),
    (b'{"version": 1, "personas": [{"name": "Hot", "system_prompt": "x", "temperature": 9}]}', "temperature"),
    (b'{"version": 1, "personas": [{"name": "N", "system_prompt": "x", "max_tokens": "many"}]}', "max_tokens"),
])
def test_a_corrupt_file_is_set_aside_never_deleted(store: PersonaStore, content: bytes, why: str) -> None:
    write(store, content)
    library, notice = store.load()
    assert library.personas == BUILTIN_PERSONAS
    assert notice is not None and why in notice and "built-in personas" in notice
    aside = [p for p in store.path.parent.iterdir() if p.name.startswith("personas.json.corrupt-")]
    assert len(aside) == 1 and aside[0].name in notice
    assert aside[0].read_bytes() == content
    assert not store.path.exists()
    store.save(library)  # the next save writes a fresh file next to the kept one
    assert store.load() == (library, None)


def test_repeated_names_in_the_file_are_kept_apart_and_a_lost_default_falls_back(store: PersonaStore) -> None:
    write(store, json.dumps({"version": 1, "default": "Gone", "personas": [
        {"name": "Tutor", "system_prompt": "one"}, {"name": "tutor ", "system_prompt": "two"}]}))
    library, _ = store.load()
    assert library.names == ["Tutor", "tutor (2)"]
    assert library.default_name == "Tutor"


def test_an_empty_list_means_the_builtins(store: PersonaStore) -> None:
    write(store, '{"version": 1, "personas": []}')
    assert store.load()[0].personas == BUILTIN_PERSONAS


def test_a_lone_surrogate_still_saves(store: PersonaStore) -> None:
    odd = Persona("Odd", "half a pair: \ud83d")
    store.save(PersonaLibrary((odd,), "Odd"))
    assert store.load()[0].personas == (odd,)


# -- export and import -----------------------------------------------------------------------------
def test_export_then_import_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "mine.json"
    export_personas([CODER, LONG, EMPTY], path)
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert doc["version"] == 1 and [p["name"] for p in doc["personas"]] == [CODER.name, LONG.name, "Silent"]
    assert import_personas(path) == [CODER, LONG, EMPTY]


def test_import_reads_a_personas_json_and_a_bare_list(tmp_path: Path, store: PersonaStore) -> None:
    store.save(PersonaLibrary((CODER,), CODER.name))
    assert import_personas(store.path) == [CODER]
    bare = tmp_path / "list.json"
    bare.write_text('[{"name": "A", "system_prompt": "a"}, {"name": "A", "system_prompt": "b"}]')
    assert import_personas(bare) == [Persona("A", "a"), Persona("A (2)", "b")]


@pytest.mark.parametrize("content, message", [
    (None, "Could not open missing.json"),
    ("not json", "missing.json is not a JSON file."),
    ('{"version": 1}', "missing.json is not a personas file: it has no 'personas' list."),
    ('"text"', "is not a personas file: it holds neither"),
    ('[{"name": "", "system_prompt": "x"}]', "persona number 1 has no name"),
    ('[{"name": "T", "temperature": true}]', "persona “T”: 'temperature' must be a number from 0 to 2"),
    ('[{"name": "M", "model": 5}]', "persona “M”: 'model' is not text"),
    ('{"personas": []}', "missing.json holds no personas."),
])
def test_import_refuses_bad_files_with_a_clear_message(tmp_path: Path, content: str | None, message: str) -> None:
    path = tmp_path / "missing.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError) as info:
        import_personas(path)
    assert message in str(info.value)


# -- merge -----------------------------------------------------------------------------------------
def asked(answer: str, log: list[str]):
    def choose(name: str) -> str:
        log.append(name)
        return answer
    return choose


def test_merge_appends_new_names_without_asking() -> None:
    log: list[str] = []
    merged = merge(PersonaLibrary(), [CODER, EMPTY], asked("skip", log))
    assert merged.personas == BUILTIN_PERSONAS + (CODER, EMPTY)
    assert log == []


def test_merge_replace_keeps_the_place_and_the_existing_spelling() -> None:
    log: list[str] = []
    incoming = Persona("helpful ASSISTANT", "Be brief.", temperature=0.1)
    merged = merge(PersonaLibrary(), [incoming], asked("replace", log))
    assert log == ["Helpful assistant"]
    assert merged.personas[0] == Persona("Helpful assistant", "Be brief.", temperature=0.1)
    assert merged.personas[1:] == BUILTIN_PERSONAS[1:]
    assert merged.default_persona == merged.personas[0]


def test_merge_keep_both_renames_and_skip_ignores() -> None:
    log: list[str] = []
    first = Persona("Sarcastic assistant", "Even more sarcastic.")
    second = Persona("Sarcastic assistant", "The most sarcastic.")
    merged = merge(PersonaLibrary(), [first, second], asked("keep_both", log))
    assert merged.names[-2:] == ["Sarcastic assistant (2)", "Sarcastic assistant (3)"]
    assert merged.personas[-1].system_prompt == "The most sarcastic."
    skipped = merge(PersonaLibrary(), [first], asked("skip", log))
    assert skipped == PersonaLibrary()


def test_merge_skips_identical_personas_silently_and_refuses_odd_answers() -> None:
    log: list[str] = []
    assert merge(PersonaLibrary(), list(BUILTIN_PERSONAS), asked("replace", log)) == PersonaLibrary()
    assert log == []
    with pytest.raises(ValueError, match="unknown choice 'maybe'"):
        merge(PersonaLibrary(), [Persona("French assistant", "Parle.")], asked("maybe", log))


def test_with_builtins_adds_missing_and_resets_changed() -> None:
    changed = Persona("French assistant", "Parle comme un pirate.")
    library = PersonaLibrary((CODER, changed), CODER.name)
    restored, names = with_builtins(library)
    assert names == ["French assistant"]
    assert restored.personas == (CODER, BUILTIN_PERSONAS[2], BUILTIN_PERSONAS[0], BUILTIN_PERSONAS[1])
    assert restored.default_name == CODER.name
    assert with_builtins(PersonaLibrary()) == (PersonaLibrary(), [])


# -- name rules ------------------------------------------------------------------------------------
def test_names() -> None:
    assert unique_name("Tutor", ["Coach"]) == "Tutor"
    assert unique_name("Tutor", ["tutor", "Tutor (2)"]) == "Tutor (3)"
    assert unique_name("Tutor (2)", ["Tutor", "Tutor (2)"]) == "Tutor (3)"
    assert name_problem("  ", []) == "A persona needs a name."
    assert name_problem("Coach ", ["coach"]) == "Another persona is already called “Coach”."
    assert name_problem("Coach", ["Tutor"]) is None
    assert personas_problem([CODER, Persona("coder  🧑‍💻", "")]) is not None
    assert personas_problem([CODER, Persona("", "x")]) == "Persona number 2 has no name."
    assert personas_problem(BUILTIN_PERSONAS) is None
    assert Persona("A", "a", extra={"x": 1}) == Persona("A", "a")  # extra takes no part in equality
