"""Thousands of personas with the same name load, import and merge in linear time.

Measured as a ratio of CPU times in the same run (8x the personas: ~8x the time when linear, ~64x
when quadratic), never against a wall-clock threshold: the machine is shared and noisy."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable

from chatbot_gui.core.persona_store import PersonaLibrary, import_personas, library_from_json, merge
from chatbot_gui.core.personas import Persona, UniqueNames, unique_name


def _cpu(fn: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(3):
        start = time.process_time()
        fn()
        best = min(best, time.process_time() - start)
    return max(best, 1e-4)


def _doc(n: int) -> dict:
    return {"version": 1, "personas": [{"name": "Coach", "system_prompt": f"p{i}"} for i in range(n)]}


def test_loading_many_personas_with_one_name_is_linear() -> None:
    small, large = _doc(1000), _doc(8000)
    library, _ = library_from_json(large)
    assert [p.name for p in library.personas[:3]] == ["Coach", "Coach (2)", "Coach (3)"]
    assert library.personas[-1].name == "Coach (8000)"
    assert len({p.name for p in library.personas}) == 8000
    ratio = _cpu(lambda: library_from_json(large)) / _cpu(lambda: library_from_json(small))
    assert ratio < 24, f"8x the personas took {ratio:.1f}x the time (quadratic would be ~64x)"


def test_importing_and_merging_many_same_name_personas_is_linear(tmp_path: Path) -> None:
    for n in (1000, 8000):
        (tmp_path / f"{n}.json").write_text(json.dumps(_doc(n)))
    imported = import_personas(tmp_path / "8000.json")
    assert imported[-1].name == "Coach (8000)"
    keep_both = lambda _name: "keep_both"  # noqa: E731
    merged = merge(PersonaLibrary(), [Persona("Coach", f"x{i}") for i in range(8000)], keep_both)
    assert merged.personas[-1].name == "Coach (8000)" and len(merged.personas) == 8003

    def work(n: int) -> Callable[[], object]:
        return lambda: merge(PersonaLibrary(), import_personas(tmp_path / f"{n}.json"), keep_both)
    ratio = _cpu(work(8000)) / _cpu(work(1000))
    assert ratio < 24, f"8x the personas took {ratio:.1f}x the time (quadratic would be ~64x)"


def test_unique_names_agree_with_unique_name() -> None:
    taken = ["Tutor", "tutor (2)", "Tutor (4)", "Coach (3)"]
    names = UniqueNames(taken)
    for name in ["Tutor", "Tutor", "Tutor (4)", "Coach (3)", "Coach", " new "]:
        expected = unique_name(name, taken)
        assert names.take(name) == expected
        taken.append(expected)
