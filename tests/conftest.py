"""Shared fixtures: the fake OpenAI server, the recorded-response corpus, and a leaked-thread check.

Test modules import the server helpers as ``from fakeserver import ...`` (pytest puts this directory on
``sys.path``; there is no ``tests`` package).
"""

from __future__ import annotations

import os

# Qt runs offscreen in tests (no display needed, same result on every machine). Set
# CHATBOT_TEST_QPA=xcb to run the same tests in real windows under Xvfb.
os.environ["QT_QPA_PLATFORM"] = os.environ.get("CHATBOT_TEST_QPA", "offscreen")

import threading
import time
from pathlib import Path
from typing import Iterator

import pytest

from fakeserver import CORPUS_DIR, FakeServer

#: How long a thread a test started may take to finish after the test before it counts as leaked.
_THREAD_GRACE = 2.0


@pytest.fixture
def fake_server() -> Iterator[FakeServer]:
    """A Chat Completions server on 127.0.0.1 (random port); closed after the test."""
    server = FakeServer()
    try:
        yield server
    finally:
        server.close()
    assert not server.errors, f"the fake server's handlers raised: {server.errors!r}"


@pytest.fixture
def hosts() -> Iterator[tuple[FakeServer, FakeServer]]:
    """Two loopback servers: keys saved for one must never reach the other."""
    first, second = FakeServer(), FakeServer()
    try:
        yield first, second
    finally:
        first.close()
        second.close()


#: The key the real window is started with by the ``app`` fixture (a test module may set its own ``KEY``).
APP_KEY = "sk-test-0123456789abcdef"


@pytest.fixture
def paths(tmp_path):  # noqa: ANN001, ANN201 - AppPaths
    """Private settings and data folders for the real window (kept across its restarts in a test)."""
    from chatbot_gui.core.paths import AppPaths

    return AppPaths(config_dir=tmp_path / "config", data_dir=tmp_path / "data")


@pytest.fixture
def app(qtbot, fake_server: FakeServer, paths, request):  # noqa: ANN001, ANN201
    """Start (and restart) the real window on the same folders, talking to ``fake_server`` with the
    test module's ``KEY`` (else APP_KEY), an in-memory keyring and no Settings dialog; every window
    is shut down at the end (a request thread left running fails the test)."""
    from chatbot_gui.app import create_window
    from chatbot_gui.core.secrets import KeyStore, MemoryKeyring

    key = getattr(request.module, "KEY", APP_KEY)
    opened = []

    def never_asked(*_args, **_kwargs):  # noqa: ANN002, ANN003
        raise AssertionError("the Settings dialog must not open when a key is available")

    def start():  # noqa: ANN202
        window, chat = create_window({"OPENAI_API_KEY": key, "OPENAI_BASE_URL": fake_server.base_url},
                                     paths=paths, keys=KeyStore(MemoryKeyring()), ask_settings=never_asked)
        qtbot.addWidget(window)
        window.show()
        qtbot.waitExposed(window)
        qtbot.waitUntil(lambda: chat.config.api_key == key)
        qtbot.waitUntil(lambda: chat.recorder is not None and chat.recorder.store is not None, timeout=5000)
        opened.append((window, chat))
        return window, chat

    yield start
    for window, chat in opened:
        assert chat.shutdown(3000), "a request thread was left running"
        window.close()


@pytest.fixture
def corpus_dir() -> Path:
    """The recorded real responses (``tests/corpus/openai``)."""
    return CORPUS_DIR


@pytest.fixture(autouse=True)
def _no_proxy_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """httpx honours *_PROXY variables; a test must only ever talk to 127.0.0.1 directly."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(autouse=True)
def _no_leaked_qthreads() -> Iterator[None]:
    """Fail a test that leaves a request QThread, a model-list QThread or a background task running."""
    yield
    from chatbot_gui.ui.models_thread import running_models_threads
    from chatbot_gui.ui.tasks import running_tasks
    from chatbot_gui.ui.worker import running_completion_threads

    def left() -> int:
        return running_completion_threads() + running_models_threads() + running_tasks()

    deadline = time.monotonic() + _THREAD_GRACE
    while left() and time.monotonic() < deadline:
        time.sleep(0.02)
    if left():
        pytest.fail(f"test left {left()} QThread(s) or background task(s) running", pytrace=False)


@pytest.fixture(autouse=True)
def _no_leaked_threads() -> Iterator[None]:
    """Fail a test that leaves a non-daemon Python thread it started still running."""
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + _THREAD_GRACE
    while True:
        leaked = [t for t in threading.enumerate() if t not in before and t.is_alive() and not t.daemon]
        if not leaked or time.monotonic() >= deadline:
            break
        time.sleep(0.02)
    if leaked:
        pytest.fail(f"test left threads running: {', '.join(t.name for t in leaked)}", pytrace=False)
