"""What the app learnt about a model survives a restart (issue 12): a small-window server refuses once, ever.

The limit a refusal stated (per server and model) and the per-model calibration of the token estimate
are kept in ``learned.json`` beside settings.json; the story restarts the real window on the same
folders against the fake server's token-limit mode.
"""

from __future__ import annotations

import json

import pytest

from chatbot_gui.core.context import TokenEstimator
from chatbot_gui.core.learned import FILE_NAME, LearnedStore, learned_from_json
from chatbot_gui.core.windows import ContextWindows
from fakeserver import FakeServer, stream
from test_context_window import ANSWER, RULE, chat_requests, long_chat, send

KEY = "sk-test-learned-0123456789"


@pytest.fixture
def app(app, fake_server: FakeServer):  # noqa: ANN001, ANN201 - conftest's app, with this module's server
    """conftest's real window (restartable, on the same folders), against a server with a 4,096-token limit."""
    fake_server.token_limit = 4096
    fake_server.token_rule = RULE
    fake_server.default_reply = stream(ANSWER)

    def start():  # noqa: ANN202
        window, chat = app()
        window.model_combo.setEditText("local-model")
        return window, chat

    return start


def test_the_learnt_limit_and_calibration_survive_a_restart(qtbot, app, paths, fake_server):
    window, chat = app()
    chat.show_conversation(long_chat())
    send(qtbot, window, chat, "First question?")
    assert len(chat_requests(fake_server)) == 2, "the server refused once and the app sent again"
    saved = paths.config_dir / FILE_NAME
    qtbot.waitUntil(lambda: saved.exists() and "local-model" in saved.read_text())
    data = json.loads(saved.read_text())
    assert data["version"] == 1
    assert data["windows"] == {fake_server.base_url.rstrip("/").lower(): {"local-model": 4096}}
    assert 2.5 < data["bytes_per_token"]["local-model"] < 3.5  # the server counts 3 bytes a token
    assert KEY not in saved.read_text() and "Question" not in saved.read_text()  # no key, no text
    window.close()

    window2, chat2 = app()
    chat2.show_conversation(long_chat())
    # Before anything is sent the footer already knows the window.
    assert window2.context_label.text().endswith("/ 4k tokens")
    send(qtbot, window2, chat2, "After the restart?")
    assert len(chat_requests(fake_server)) == 3, "trimmed in advance: no refusal after the restart"
    msgs = chat_requests(fake_server)[-1].json["messages"]
    assert msgs[-1] == {"role": "user", "content": "After the restart?"}
    assert RULE.prompt(msgs) <= 4096 - 512
    assert "refused the conversation as too long" not in window2.transcript.toPlainText()


def test_a_broken_file_is_set_aside_with_a_notice_and_the_app_learns_again(qtbot, app, paths, fake_server):
    paths.config_dir.mkdir(parents=True)
    (paths.config_dir / FILE_NAME).write_text("{not json")
    window, chat = app()
    assert "could not be read (it is not valid JSON)" in window.banner.text()
    assert "learns the limits again" in window.banner.text()
    aside = [p.name for p in paths.config_dir.iterdir() if p.name.startswith(FILE_NAME) and p.name != FILE_NAME]
    assert len(aside) == 1, "the unreadable file is kept beside, never deleted"
    notices: list[str] = []
    chat.context.listeners.append(notices.append)
    chat.show_conversation(long_chat())
    send(qtbot, window, chat, "Learn it again?")
    assert len(chat_requests(fake_server)) == 2
    qtbot.waitUntil(lambda: (paths.config_dir / FILE_NAME).exists())
    assert "local-model" in (paths.config_dir / FILE_NAME).read_text()
    assert notices == []


# -- the file on its own -------------------------------------------------------------------------
def test_invalid_entries_are_dropped_and_valid_ones_kept():
    learned, notice = learned_from_json({
        "version": 1,
        "windows": {"http://a/v1": {"m": 4096, "bad": -1, "nan": float("nan"), "inf": float("inf"), "s": "9"},
                    "": {"m": 1}, "http://b/v1": "nope"},
        "bytes_per_token": {"m": 3.2, "tiny": 0.1, "huge": 1e9, "nan": float("nan"), "t": True},
    })
    assert notice is None
    assert learned.windows == {"http://a/v1": {"m": 4096}}
    assert learned.bytes_per_token == {"m": 3.2}
    for bad in ([], {"version": "1"}, {"version": 0}, {}):
        with pytest.raises(ValueError):
            learned_from_json(bad)


def test_save_writes_only_when_something_changed(paths):
    store = LearnedStore(paths)
    windows, estimator = ContextWindows(), TokenEstimator()
    assert store.seed(windows, estimator) is None  # no file: nothing to say
    assert not store.changed(windows, estimator) and store.save(windows, estimator) is False
    assert not (paths.config_dir / FILE_NAME).exists()
    windows.learn("http://LOCALHOST:8080/v1/", "llama", 2048)
    assert store.save(windows, estimator) is True
    assert store.save(windows, estimator) is False
    again, estimator2 = ContextWindows(), TokenEstimator()
    LearnedStore(paths).seed(again, estimator2)
    window = again.lookup("http://localhost:8080/v1", "llama")
    assert window is not None and (window.tokens, window.source) == (2048, "learned")
    assert (paths.config_dir / FILE_NAME).stat().st_mode & 0o077 == 0, "private, like settings.json"
    again.set_overrides({"llama": 8192})  # the user's figure replaces what was learnt
    assert LearnedStore(paths).load()[0].windows != {} and store.changed(again, estimator2)


def test_a_window_set_by_hand_replaces_the_learnt_one_in_the_file_too(qtbot, app, paths, fake_server):
    paths.config_dir.mkdir(parents=True)
    server = fake_server.base_url.rstrip("/").lower()
    saved = paths.config_dir / FILE_NAME
    saved.write_text(json.dumps({"version": 1, "windows": {server: {"local-model": 4096, "other": 2048}},
                                 "bytes_per_token": {}}))
    window, chat = app()
    chat.set_context_settings({"local-model": 8192}, {})  # what OK in Settings > Models does
    qtbot.waitUntil(lambda: "local-model" not in saved.read_text())
    assert json.loads(saved.read_text())["windows"] == {server: {"other": 2048}}
    chat.show_conversation(long_chat())
    assert window.context_label.text().endswith("/ 8k tokens")
