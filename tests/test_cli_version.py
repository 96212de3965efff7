"""``--version`` / ``--help`` answer and exit without a window; one version number, from pyproject."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tomllib
from pathlib import Path

from chatbot_gui import APP_NAME, cli
from chatbot_gui.core import version

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT_VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]


def _run(*args: str, env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    # No display and a platform plugin that needs one: opening a window would fail loudly.
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["QT_QPA_PLATFORM"] = "xcb"
    env.update(env_extra or {})
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def test_version_prints_the_pyproject_version_and_exits() -> None:
    result = _run("-m", "chatbot_gui", "--version")
    assert (result.returncode, result.stdout, result.stderr) == (0, f"{APP_NAME} {PYPROJECT_VERSION}\n", "")
    assert _run("-m", "chatbot_gui", "-V").stdout == f"{APP_NAME} {PYPROJECT_VERSION}\n"


def test_frozen_entry_script_answers_version_and_help() -> None:
    # resources/launcher.py is what the frozen app runs.
    launcher = str(ROOT / "resources" / "launcher.py")
    assert _run(launcher, "--version").stdout == f"{APP_NAME} {PYPROJECT_VERSION}\n"
    result = _run(launcher, "--help")
    assert result.returncode == 0 and result.stdout.startswith("usage: ") and "--version" in result.stdout


def test_help_lists_the_options_the_environment_and_the_log_folder(tmp_path: Path) -> None:
    result = _run("-m", "chatbot_gui", "--help", env_extra={"XDG_STATE_HOME": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("usage: python -m chatbot_gui [-h] [-V] [--self-check")
    for text in ("--version", "--self-check", "OPENAI_API_KEY", "OPENAI_BASE_URL", "CHATBOT_DEBUG=1",
                 f"{APP_NAME} {PYPROJECT_VERSION}"):
        assert text in out
    assert f"The log is written to {tmp_path / 'chatbot-gui' / 'log'}." in out


def test_self_check_is_reachable_from_the_source_entry_point() -> None:
    env = {"QT_QPA_PLATFORM": "minimal"}
    result = _run("-m", "chatbot_gui", "--self-check", env_extra=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith(f"{APP_NAME} {PYPROJECT_VERSION} self-check (not frozen")


def test_other_arguments_start_the_app() -> None:
    assert cli.early_exit(["Chatbot"]) is None
    assert cli.early_exit(["Chatbot", "-platform", "offscreen", "-style", "fusion"]) is None


def test_version_in_process_goes_to_the_given_stream() -> None:
    out = io.StringIO()
    assert cli.early_exit(["Chatbot", "--version"], out) == 0
    assert out.getvalue() == f"{APP_NAME} {PYPROJECT_VERSION}\n"


def test_the_version_is_written_nowhere_else_by_hand() -> None:
    # One hand-written copy: pyproject.toml. (The frozen build bakes it from there: resources/buildinfo.py.)
    import chatbot_gui

    assert chatbot_gui.__version__ == PYPROJECT_VERSION
    hits = []
    for path in [*ROOT.glob("chatbot_gui/**/*.py"), ROOT / "build.spec", *ROOT.glob("resources/*.py"),
                 *ROOT.glob("resources/*.sh")]:
        if f'"{PYPROJECT_VERSION}"' in path.read_text(encoding="utf-8"):
            hits.append(str(path.relative_to(ROOT)))
    assert hits == []


def test_a_baked_version_file_wins(tmp_path: Path) -> None:
    package = tmp_path / "chatbot_gui"
    package.mkdir()
    (package / version.BAKED_FILE).write_text("9.8.7\n", encoding="utf-8")
    assert version.app_version(package) == "9.8.7"


def test_pyproject_fallback_reads_only_our_project(tmp_path: Path) -> None:
    ours = tmp_path / "pyproject.toml"
    ours.write_text('[project]\nname = "chatbot-gui"\nversion = "1.2.3"\n', encoding="utf-8")
    assert version.pyproject_version(ours) == "1.2.3"
    ours.write_text('[project]\nname = "something-else"\nversion = "1.2.3"\n', encoding="utf-8")
    assert version.pyproject_version(ours) is None
    ours.write_text("not toml [", encoding="utf-8")
    assert version.pyproject_version(ours) is None
    assert version.pyproject_version(tmp_path / "missing.toml") is None
