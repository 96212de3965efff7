"""Where requests go and with which key. Never logs, prints or repr()s the key."""

from __future__ import annotations

from dataclasses import dataclass, field

from chatbot_gui.core.defaults import DEFAULT_BASE_URL, DEFAULT_CONNECT_TIMEOUT, DEFAULT_READ_TIMEOUT

__all__ = ["DEFAULT_BASE_URL", "DEFAULT_CONNECT_TIMEOUT", "DEFAULT_READ_TIMEOUT", "ConnectionConfig"]


@dataclass(frozen=True)
class ConnectionConfig:
    """Everything needed to reach one server. ``api_key`` is excluded from ``repr``."""

    api_key: str | None = field(default=None, repr=False)
    base_url: str = DEFAULT_BASE_URL
    organization: str | None = None
    project: str | None = None
    read_timeout: float = DEFAULT_READ_TIMEOUT
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    proxy: str | None = field(default=None, repr=False)  # may carry a user and password
    key_source: str = ""  # "environment", "keyring", "session", or "" when there is none

    @property
    def is_default_server(self) -> bool:
        return self.base_url.rstrip("/") == DEFAULT_BASE_URL

    @property
    def usable_key(self) -> str | None:
        """The key to send. Local servers (Ollama, LM Studio, llama.cpp) accept any key."""
        if self.api_key:
            return self.api_key
        if not self.is_default_server:
            return "no-key"  # the SDK insists on some key; local servers ignore it
        return None
