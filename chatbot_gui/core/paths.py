"""Where the app keeps its files. Passed around as a value so tests can point it anywhere."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

APP_DIR_NAME = "chatbot-gui"


@dataclass(frozen=True)
class AppPaths:
    config_dir: Path  # settings.json, personas.json
    data_dir: Path  # chats.sqlite3

    @classmethod
    def default(cls, env: Mapping[str, str] | None = None) -> "AppPaths":
        """The platform's per-user config and data folders for the app."""
        if sys.platform.startswith("linux"):
            # The XDG base directories, as platformdirs computes them on Linux; importing
            # platformdirs costs ~30 ms, on the start-up path.
            env = os.environ if env is None else env
            home = Path.home()
            config = _xdg(env, "XDG_CONFIG_HOME", home / ".config")
            data = _xdg(env, "XDG_DATA_HOME", home / ".local" / "share")
            return cls(config_dir=config / APP_DIR_NAME, data_dir=data / APP_DIR_NAME)
        import platformdirs

        return cls(
            config_dir=Path(platformdirs.user_config_dir(APP_DIR_NAME, appauthor=False)),
            data_dir=Path(platformdirs.user_data_dir(APP_DIR_NAME, appauthor=False)),
        )


def _xdg(env: Mapping[str, str], name: str, fallback: Path) -> Path:
    value = env.get(name, "").strip()
    # The spec: a relative path in these variables is invalid and must be ignored.
    return Path(value) if value and os.path.isabs(value) else fallback
