"""Packaging checks that need no build: the spec, the frozen entry script, the icons, the desktop entry.

A full PyInstaller build takes ~30 s and is checked by hand or in a release job (resources/README.md);
these tests catch the cheap mistakes: a keyring backend the app imports but the spec does not list, an
asset pyproject would not ship, a desktop entry naming an executable or icon that does not exist.
"""

from __future__ import annotations

import ast
import configparser
import inspect
import io
import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from chatbot_gui import APP_NAME, selfcheck
from chatbot_gui.core import secrets

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "build.spec"
ASSETS = ROOT / "chatbot_gui" / "assets"
ICON_SIZES = (16, 32, 48, 64, 128, 256)


def _spec_strings(name: str) -> set[str]:
    """Every string literal assigned or added (``=``, ``+=``) to ``name`` anywhere in build.spec."""
    tree = ast.parse(SPEC.read_text(encoding="utf-8"), filename=str(SPEC))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            value = node.value
        elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name) and node.target.id == name:
            value = node.value
        else:
            continue
        found |= {n.value for n in ast.walk(value) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
    return found


def _backends_imported_by_select_backend() -> set[str]:
    """The modules ``select_backend`` imports with static ``from keyring.backends import X`` statements."""
    tree = ast.parse(inspect.getsource(secrets.select_backend))
    return {
        f"{node.module}.{alias.name}"
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module == "keyring.backends"
        for alias in node.names
    }


def test_spec_is_python_and_names_the_app() -> None:
    ast.parse(SPEC.read_text(encoding="utf-8"), filename=str(SPEC))
    assert _spec_strings("NAME") == {APP_NAME}


def test_spec_bundles_every_keyring_backend_select_backend_imports() -> None:
    imported = _backends_imported_by_select_backend()
    # The three OS keyrings, imported by name so PyInstaller's analysis sees them.
    assert imported == {"keyring.backends.SecretService", "keyring.backends.macOS", "keyring.backends.Windows"}
    hidden = _spec_strings("HIDDEN_IMPORTS")
    assert imported <= hidden, f"missing from build.spec HIDDEN_IMPORTS: {sorted(imported - hidden)}"
    # The Secret Service backend works through secretstorage over jeepney; SOCKS proxies need socksio.
    assert {"secretstorage", "jeepney", "socksio"} <= hidden


@pytest.mark.parametrize("module", sorted(_backends_imported_by_select_backend()))
def test_backend_modules_exist_under_the_names_the_spec_uses(module: str) -> None:
    # A renamed module in a keyring release would otherwise only show up in a frozen build.
    __import__(module)


def test_spec_keeps_only_the_qt_modules_the_app_uses() -> None:
    kept = _spec_strings("QT_MODULES")
    assert kept == {"QtCore", "QtGui", "QtWidgets", "QtNetwork", "QtDBus"}
    used = set()
    for path in (ROOT / "chatbot_gui").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("PySide6."):
                used.add(node.module.split(".")[1])
            elif isinstance(node, ast.Import):
                used |= {a.name.split(".")[1] for a in node.names if a.name.startswith("PySide6.")}
    assert used <= kept, f"the app imports Qt modules build.spec excludes: {sorted(used - kept)}"


def test_icons_are_package_data_of_the_right_sizes() -> None:
    for size in ICON_SIZES:
        data = (ASSETS / f"chatbot-{size}.png").read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        assert struct.unpack(">II", data[16:24]) == (size, size)
    # pyproject ships assets/* as package data, and the spec collects the same pattern.
    assert 'chatbot_gui = ["assets/*"]' in (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert "includes=[\"assets/*\"]" in SPEC.read_text(encoding="utf-8")
    ico = (ROOT / "resources" / "chatbot.ico").read_bytes()
    assert struct.unpack("<HHH", ico[:6]) == (0, 1, len(ICON_SIZES))


def test_desktop_entry_matches_the_build() -> None:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # keys are case-sensitive
    parser.read(ROOT / "resources" / "chatbot.desktop", encoding="utf-8")
    entry = parser["Desktop Entry"]
    assert entry["Type"] == "Application"
    assert entry["Exec"].split()[0] == APP_NAME == entry["TryExec"]  # the executable build.spec makes
    assert (ROOT / "resources" / f"{entry['Icon']}.svg").is_file()
    # Qt sets WM_CLASS to the application name (checked under Xvfb with xprop).
    assert entry["StartupWMClass"] == APP_NAME
    assert entry["Terminal"] == "false"


def test_self_check_passes_from_source() -> None:
    out = io.StringIO()
    code = selfcheck.run(out)
    lines = out.getvalue().splitlines()
    assert code == 0, out.getvalue()
    names = {line.split()[1] for line in lines[1:]}
    assert names == {"keyring", "tls", "sdk", "sqlite", "assets", "qt", "render"}
    assert not [line for line in lines if line.startswith("FAIL")]
    # From source every Pygments lexer is there: the unbundled language is highlighted too.
    assert "Python code highlighted, cobol code highlighted" in out.getvalue()


def test_frozen_self_check_fails_when_the_pygments_trim_did_not_apply(monkeypatch: pytest.MonkeyPatch) -> None:
    """In a frozen build, a language build.spec leaves out must come back plain: here (every lexer
    installed) it is highlighted, which is what a build without the trim would do."""
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    status, text = selfcheck.check_render()
    assert (status, text) == ("FAIL", "cobol code is highlighted: build.spec's Pygments trim did not apply")


def test_self_check_fails_when_a_check_breaks(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing() -> tuple[str, str]:
        raise ModuleNotFoundError("No module named 'socksio'")

    monkeypatch.setattr(selfcheck, "CHECKS", (("sdk", missing),))
    out = io.StringIO()
    assert selfcheck.run(out) == 1
    assert "FAIL sdk      ModuleNotFoundError: No module named 'socksio'" in out.getvalue()


def test_frozen_entry_script_routes_the_self_check_before_any_qt_import() -> None:
    # resources/launcher.py is build.spec's entry; run it as a script, as the frozen app does.
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    env["QT_QPA_PLATFORM"] = "minimal"
    result = subprocess.run(
        [sys.executable, str(ROOT / "resources" / "launcher.py"), "--self-check"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith(f"{APP_NAME} ") and "self-check (not frozen" in result.stdout
    assert "ok   sdk" in result.stdout
