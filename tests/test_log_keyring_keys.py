"""A key read from (or saved in) the keyring never reaches the log, whatever its shape.

The log scrubs key shapes (sk-…, Bearer …, gsk_…) and the key in OPENAI_API_KEY; a key the
keyring holds that has none of those shapes (Azure OpenAI's 32 hex digits, a LiteLLM or vLLM
proxy's own token) was written to the log as it was whenever some text quoted it (an exception
from a proxy echoing the header, a debug line)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from chatbot_gui.core import logs
from chatbot_gui.core.secrets import SERVICE, KeyStore, MemoryKeyring

AZURE_SHAPED = "3f9c2b7e51d04a8c9e6b1f0d2a7c4e58"
PROXY_TOKEN = "litellm-virtual-7QmZr2KpXw9T"


@pytest.fixture
def log_file(tmp_path: Path):
    logs.shutdown()
    setup = logs.setup(tmp_path / "log", debug=False, stderr=False)
    try:
        yield setup.path
    finally:
        logs.shutdown()


def logged(path: Path) -> str:
    for handler in logging.getLogger().handlers:
        handler.flush()
    return path.read_text(encoding="utf-8")


def test_a_key_read_from_the_keyring_is_scrubbed_from_the_log(log_file: Path) -> None:
    backend = MemoryKeyring()
    backend.set_password(SERVICE, "p1", AZURE_SHAPED)
    keys = KeyStore(backend)
    assert keys.load("p1") == (AZURE_SHAPED, "keyring")
    logging.getLogger("chatbot_gui.test").error("the proxy said: bad header api-key: %s", AZURE_SHAPED)
    text = logged(log_file)
    assert "bad header api-key" in text
    assert AZURE_SHAPED not in text


def test_a_key_saved_or_held_until_quit_is_scrubbed_too(log_file: Path) -> None:
    keys = KeyStore(MemoryKeyring())
    keys.set("p1", PROXY_TOKEN)
    keys.set_session("p2", PROXY_TOKEN[::-1])
    logging.getLogger("chatbot_gui.test").error("echo %s / %s", PROXY_TOKEN, PROXY_TOKEN[::-1])
    text = logged(log_file)
    assert "echo" in text and PROXY_TOKEN not in text and PROXY_TOKEN[::-1] not in text
