"""Help > About and the third-party notices (generated from the installed metadata)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from PySide6.QtWidgets import QMenu

from chatbot_gui import APP_NAME
from chatbot_gui.app import create_window
from chatbot_gui.core import notices
from chatbot_gui.core.paths import AppPaths
from chatbot_gui.core.secrets import KeyStore, MemoryKeyring
from chatbot_gui.ui.about_dialog import AboutDialog, AboutInfo, load_notices

ROOT = Path(__file__).resolve().parents[1]
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]


@pytest.fixture(scope="module")
def notices_text() -> str:
    return notices.generate(standard_texts=ROOT / "resources" / "licenses", app_licence=ROOT / "LICENSE")


# What the app loads at run time, measured in a fresh interpreter: the modules imported by the app,
# a request's worth of the SDK and the self-check's probes (keyring backend, TLS, SOCKS, SQLite, Qt).
_LOADED = r"""
import io, json, sys
before = set(sys.modules)
import chatbot_gui.app, chatbot_gui.ui.about_dialog, chatbot_gui.ui.crash
from chatbot_gui import selfcheck
selfcheck.run(io.StringIO())
from chatbot_gui.core import notices
print(json.dumps(sorted(notices.distributions_of_modules(set(sys.modules) - before))))
"""


def test_notices_list_every_distribution_the_app_loads_and_its_whole_closure(notices_text: str) -> None:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring")
    result = subprocess.run([sys.executable, "-c", _LOADED], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    loaded = set(json.loads(result.stdout.strip().splitlines()[-1])) - {"chatbot-gui"}
    listed = notices.listed_distributions(notices_text)
    assert loaded - listed == set(), "loaded at run time but missing from the notices"
    # The closure from pyproject's dependencies, walked independently of notices.closure().
    from packaging.requirements import Requirement
    from importlib import metadata

    todo, closure = ["chatbot-gui"], set()
    while todo:
        name = notices.canonical(todo.pop())
        if name in closure:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        closure.add(name)
        todo += [Requirement(r).name for r in dist.requires or []
                 if Requirement(r).marker is None or Requirement(r).marker.evaluate({"extra": ""})]
    assert listed == (closure - {"chatbot-gui"}) | {"python"}
    assert {"pyside6-essentials", "shiboken6", "openai", "keyring", "httpx2", "pydantic", "platformdirs",
            "socksio"} <= listed


def test_every_listed_distribution_carries_its_licence_text(notices_text: str) -> None:
    sections = notices_text.split("=" * 78)
    for name in notices.listed_distributions(notices_text) - {"python"}:
        section = next(s for s in sections if notices.canonical(s.strip().split(" ", 1)[0]) == name
                       and "\nLicence: " in s)
        assert "\n--- " in section and len(section) > 400, f"{name}: no licence text"
    assert "PSF LICENSE AGREEMENT" in notices_text or "PYTHON SOFTWARE FOUNDATION LICENSE" in notices_text
    assert (ROOT / "LICENSE").read_text(encoding="utf-8").strip() in notices_text


def test_qt_is_under_the_lgpl_with_the_replacement_notice(notices_text: str) -> None:
    assert "GNU LESSER GENERAL PUBLIC LICENSE\n                       Version 3, 29 June 2007" in notices_text
    assert "GNU GENERAL PUBLIC LICENSE\n                       Version 3, 29 June 2007" in notices_text
    assert "Used under LGPL-3.0-only" in notices_text
    assert "You may replace them with your own build of the same Qt version" in notices_text
    assert "_internal/PySide6/Qt/lib/libQt6*.so.6" in notices_text


def test_a_distribution_without_any_licence_text_fails_the_generation(tmp_path: Path) -> None:
    from importlib import metadata

    qt = metadata.distribution("PySide6-Essentials")
    with pytest.raises(notices.NoticeError, match="ships no licence file"):
        notices.notice_for(qt, tmp_path)  # an empty folder of standard texts


@pytest.fixture
def window(qtbot, tmp_path):
    paths = AppPaths(config_dir=tmp_path / "config", data_dir=tmp_path / "data")
    win, chat = create_window({"OPENAI_API_KEY": "sk-about-0123456789", "OPENAI_BASE_URL": "http://127.0.0.1:9/v1"},
                              paths=paths, keys=KeyStore(MemoryKeyring()))
    qtbot.addWidget(win)
    win.show()
    yield win
    win.close()


def test_help_about_shows_version_places_and_the_licences(qtbot, window, tmp_path) -> None:
    help_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Help")
    assert isinstance(help_menu, QMenu) and window.about_action in help_menu.actions()
    window.about_action.trigger()
    about = window._about_dialog
    assert isinstance(about, AboutDialog) and about.isVisible()
    text = "\n".join(label.text() for label in about.findChildren(type(about.place_labels["chats"])))
    assert f"{APP_NAME} {VERSION}" in text
    assert str(tmp_path / "config") in about.place_labels["settings"].text()
    assert str(tmp_path / "data" / "chats.sqlite3") in about.place_labels["chats"].text()
    assert "chatbot-gui" in about.place_labels["logs"].text() and "log" in about.place_labels["logs"].text().lower()
    assert "OS keyring" in about.place_labels["key"].text()
    about.licences_button.click()
    view = about.notices_view
    assert view is not None and view.isVisible()
    qtbot.waitUntil(lambda: view.loaded, timeout=30000)
    shown = view.text.toPlainText()
    assert shown.startswith(f"{APP_NAME} {VERSION}: third-party notices")
    assert "PySide6_Essentials" in shown and "Used under LGPL-3.0-only" in shown


def test_about_prefers_the_bundled_notices_file() -> None:
    # From a checkout there is no bundled file: the text is generated (the frozen build has the file).
    from importlib.resources import files

    assert not (files("chatbot_gui") / notices.NOTICES_FILE).is_file()
    assert load_notices().startswith(f"{APP_NAME} {VERSION}: third-party notices")


def test_about_info_uses_the_installed_log_folder(tmp_path) -> None:
    from chatbot_gui.core import logs

    logs.shutdown()
    logs.setup(tmp_path / "logs", debug=False, stderr=False)
    try:
        info = AboutInfo.current(AppPaths(config_dir=tmp_path / "c", data_dir=tmp_path / "d"))
    finally:
        logs.shutdown()
    assert info.log_dir == tmp_path / "logs" and info.version == VERSION
