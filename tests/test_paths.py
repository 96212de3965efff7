"""Where files go: the same folders platformdirs names, without its import on the start-up path."""

from __future__ import annotations

import sys
from pathlib import Path

import platformdirs
import pytest

from chatbot_gui.core.paths import APP_DIR_NAME, AppPaths


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the XDG rules are Linux's")
@pytest.mark.parametrize("env", [
    {},
    {"XDG_CONFIG_HOME": "/tmp/cfg-test", "XDG_DATA_HOME": "/tmp/data-test"},
    {"XDG_CONFIG_HOME": "relative/ignored", "XDG_DATA_HOME": ""},
])
def test_linux_folders_match_platformdirs(monkeypatch, env):
    for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    paths = AppPaths.default()
    assert paths.config_dir == Path(platformdirs.user_config_dir(APP_DIR_NAME, appauthor=False))
    assert paths.data_dir == Path(platformdirs.user_data_dir(APP_DIR_NAME, appauthor=False))
