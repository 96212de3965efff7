"""A fresh clone passes its own tests: nothing in the project reads files from outside the repository.

The recorded responses used to be read from a folder beside the checkout that only the original
developers had; a user's clone failed 8 tests and silently skipped two parametrized sets. These tests
keep that from coming back (and `.ci/run` runs the suite from a copy with no such folder beside it).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from fakeserver import CORPUS_DIR, corpus_cases

ROOT = Path(__file__).resolve().parents[1]
#: Spelled in pieces so this file does not match itself.
FORBIDDEN = ("../" + "shared", "shared/" + "corpus", "PLATFORM" + ".md")
SKIP_DIRS = {".git", ".venv", "venv", "build", "dist", "__pycache__", ".pytest_cache", ".mypy_cache"}


def _project_files() -> list[Path]:
    out = []
    for path in ROOT.rglob("*"):
        rel = path.relative_to(ROOT)
        if any(part in SKIP_DIRS or part.endswith(".egg-info") for part in rel.parts):
            continue
        if path.is_file() and rel.parts[:2] != ("tests", "corpus"):  # recorded data, quoted verbatim
            out.append(path)
    return out


def test_nothing_in_the_project_reads_outside_the_repository() -> None:
    offenders = []
    files = _project_files()
    assert len(files) > 50  # the walk really saw the project
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue  # icons and other binaries
        for needle in FORBIDDEN:
            if needle in text:
                offenders.append(f"{path.relative_to(ROOT)}: {needle}")
    assert offenders == []


def test_the_recorded_corpus_is_in_the_repository() -> None:
    assert CORPUS_DIR.is_relative_to(ROOT)
    assert (CORPUS_DIR / "INDEX.md").is_file()
    cases = corpus_cases(CORPUS_DIR)
    assert len(cases) == 44
    for case in cases:
        meta = json.loads((CORPUS_DIR / f"{case}.meta.json").read_text(encoding="utf-8"))
        assert isinstance(meta.get("status"), int), case
        bodies = [p for p in CORPUS_DIR.glob(f"{case}.*") if not p.name.endswith(".meta.json")]
        assert len(bodies) == 1 and bodies[0].stat().st_size > 0, case


def test_an_empty_parameter_set_fails_instead_of_skipping(tmp_path: Path) -> None:
    test_file = tmp_path / "test_empty.py"
    test_file.write_text(
        "import pytest\n\n@pytest.mark.parametrize('case', [])\ndef test_case(case):\n    pass\n",
        encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-c", str(ROOT / "pyproject.toml"), "--rootdir", str(tmp_path),
         "-q", "-p", "no:cacheprovider", str(test_file)],
        capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert result.returncode != 0, result.stdout
    assert "Empty parameter set" in result.stdout + result.stderr
