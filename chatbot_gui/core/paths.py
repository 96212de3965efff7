"""Where the app keeps its files. Passed around as a value so tests can point it anywhere."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

APP_DIR_NAME = "chatbot-gui"


@dataclass(frozen=True)
class AppPaths:
    config_dir: Path  # settings.json, personas.json
    data_dir: Path  # chats.sqlite3

    @classmethod
    def default(cls) -> "AppPaths":
        import platformdirs

        return cls(
            config_dir=Path(platformdirs.user_config_dir(APP_DIR_NAME, appauthor=False)),
            data_dir=Path(platformdirs.user_data_dir(APP_DIR_NAME, appauthor=False)),
        )
