"""Chatbot: a desktop chat client for OpenAI-compatible Chat Completions servers."""

from __future__ import annotations

APP_NAME = "Chatbot"


def __getattr__(name: str) -> str:
    # ``__version__`` is read on first use (chatbot_gui/core/version.py): looking it up imports
    # importlib.metadata, which costs start-up time the window should not wait for.
    if name == "__version__":
        from chatbot_gui.core.version import app_version

        version = globals()["__version__"] = app_version()
        return version
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
