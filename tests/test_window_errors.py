"""What the user sees when a server answers badly, in the real window against the loopback server:
one compact error line with the full text on demand, no stacking of the same error on retries,
"Open Settings" for a refused key, and a window that always comes back (lone surrogates, empty
streams), with replies saved under the model the server reports."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from chatbot_gui.app import create_window
from chatbot_gui.core.paths import AppPaths
from chatbot_gui.core.secrets import KeyStore, MemoryKeyring
from fakeserver import FakeServer, error, raw, sse_event, stream

KEY = "sk-test-errors-0123456789"
LITELLM = ("litellm.BadRequestError: Invalid model name passed in model=gpt-9. Call `/v1/models` to view "
           "available models for your key.\n\nLiteLLM: model group gpt-9 not found. No fallback was attempted."
           "\n\n\n\nReceived Model Group=gpt-9\nAvailable Model Group Fallbacks=None")


class AskRecorder:
    """Stands in for the Settings dialog: records that it was asked, answers Cancel."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        return None


@pytest.fixture
def ask() -> AskRecorder:
    return AskRecorder()


@pytest.fixture
def chat(qtbot, fake_server: FakeServer, tmp_path, ask):
    paths = AppPaths(config_dir=tmp_path / "config", data_dir=tmp_path / "data")
    window, controller = create_window(
        {"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": fake_server.base_url},
        paths=paths, keys=KeyStore(MemoryKeyring()), ask_settings=ask,
    )
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    qtbot.waitUntil(lambda: controller.config.api_key == KEY and controller.recorder is not None)
    yield window, controller
    assert controller.shutdown(3000), "a request thread was left running"


def send(qtbot, window, controller, text: str, timeout: int = 5000) -> None:
    window.input.setFocus()
    qtbot.keyClicks(window.input, text)
    qtbot.keyClick(window.input, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not controller.busy, timeout=timeout)


def link_labels(view) -> list[str]:
    """The text of every link on screen (an error's Details / Retry / Open Settings ...), in order."""
    return [label for _, _, label in view.links()]


def click_link(qtbot, view, label: str) -> None:
    """Click the last link reading ``label`` with the mouse, as a user would."""
    found = [(mid, action) for mid, action, text in view.links() if text == label]
    assert found, f"no link {label!r} among {link_labels(view)}"
    mid, action = found[-1]
    point = view.action_point(mid, action, label)
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=point)


def stored_messages(controller):
    store = controller.recorder.store
    return store.load_chat(controller.conversation.chat_id).messages


# ------------------------------------------------------------------ one compact line, details on demand


def test_a_multi_line_server_error_is_one_line_with_details_on_demand(qtbot, chat, fake_server):
    window, controller = chat
    fake_server.queue(error(400, {"error": {"message": LITELLM, "type": "invalid_request_error", "code": "400"}}))
    send(qtbot, window, controller, "hi")
    (line,) = window.transcript.blocks_of_kind("error")
    assert "\u2028" not in line and "\n" not in line
    assert line.startswith("⚠ The server does not know this model. Choose another model.")
    assert "Server said: litellm.BadRequestError: Invalid model name passed in model=gpt-9." in line
    assert "No fallback" not in line  # the rest is behind "Details"
    assert window.transcript.blocks_of_kind("error-detail") == []
    assert "Details" in link_labels(window.transcript)

    click_link(qtbot, window.transcript, "Details")
    (detail,) = window.transcript.blocks_of_kind("error-detail")
    assert "LiteLLM: model group gpt-9 not found. No fallback was attempted." in detail
    assert "Available Model Group Fallbacks=None" in detail
    assert "\u2028\u2028\u2028" not in detail  # blank runs folded: no rows of empty pink
    assert "Hide details" in link_labels(window.transcript)

    click_link(qtbot, window.transcript, "Hide details")
    assert window.transcript.blocks_of_kind("error-detail") == []
    assert len(window.transcript.blocks_of_kind("error")) == 1
    assert window.send_button.isEnabled()


def test_retrying_the_same_error_updates_its_line_instead_of_stacking(qtbot, chat, fake_server):
    window, controller = chat
    fail = error(500, {"error": {"message": "upstream\n\nconnect error", "type": "server_error"}})
    fake_server.queue(fail, fail, fail, stream(["Finally."]))
    send(qtbot, window, controller, "hi")
    for times in (2, 3):
        click_link(qtbot, window.transcript, "Retry")
        qtbot.waitUntil(lambda: len(fake_server.requests) == times)
        qtbot.waitUntil(lambda: not controller.busy)
        (line,) = window.transcript.blocks_of_kind("error")
        assert f"(failed {times} times)" in line
    click_link(qtbot, window.transcript, "Retry")
    qtbot.waitUntil(lambda: not controller.busy and window.transcript.blocks_of_kind("assistant") == ["Finally."])
    # issue 10: a successful Retry replaces the error in place
    assert window.transcript.blocks_of_kind("error") == []


def test_automatic_retries_of_a_rate_limit_keep_one_error_line(qtbot, chat, fake_server):
    window, controller = chat
    limited = error(429, {"error": {"message": "Rate limit reached", "code": "rate_limit_exceeded"}},
                    headers={"retry-after": "0"})
    fake_server.queue(limited, limited, stream(["After waiting."]))
    window.input.setFocus()
    qtbot.keyClicks(window.input, "hi")
    qtbot.keyClick(window.input, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: any("(failed 2 times)" in line for line in window.transcript.blocks_of_kind("error")),
                    timeout=8000)
    (line,) = window.transcript.blocks_of_kind("error")
    assert "Too many requests" in line
    assert len(window.transcript.blocks_of_kind("countdown")) <= 1
    qtbot.waitUntil(lambda: window.transcript.blocks_of_kind("assistant") == ["After waiting."], timeout=8000)
    # issue 10: the retry that succeeded takes the error's place
    assert window.transcript.blocks_of_kind("error") == []


def test_a_different_error_after_a_retry_gets_its_own_line(qtbot, chat, fake_server):
    window, controller = chat
    fake_server.queue(error(500, {"error": {"message": "boom"}}), error(503, {"error": {"message": "later"}}))
    send(qtbot, window, controller, "hi")
    click_link(qtbot, window.transcript, "Retry")
    qtbot.waitUntil(lambda: len(window.transcript.blocks_of_kind("error")) == 2)


def test_a_refused_key_offers_open_settings_which_opens_them(qtbot, chat, fake_server, ask):
    window, controller = chat
    fake_server.queue(error(401, {"error": {"message": "Incorrect API key provided", "code": "invalid_api_key"}}))
    send(qtbot, window, controller, "hi")
    (line,) = window.transcript.blocks_of_kind("error")
    assert "did not accept the API key" in line and "Open Settings" in line and "Retry" not in line
    assert ask.calls == 0
    click_link(qtbot, window.transcript, "Open Settings")
    assert ask.calls == 1


def test_other_errors_do_not_offer_settings(qtbot, chat, fake_server):
    window, controller = chat
    fake_server.queue(error(500, {"error": {"message": "boom"}}))
    send(qtbot, window, controller, "hi")
    assert "Open Settings" not in link_labels(window.transcript)


# ------------------------------------------------------------------ the window always comes back


def test_a_lone_surrogate_in_a_reply_never_wedges_the_window(qtbot, chat, fake_server):
    window, controller = chat
    body = (b'data: {"model":"m","choices":[{"index":0,"delta":{"content":"caf\\u00e9 \\ud800 end"}}]}\n\n'
            + sse_event({"model": "m", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
            + b"data: [DONE]\n\n")
    fake_server.queue(raw(200, body), stream(["Next."]))
    send(qtbot, window, controller, "hi")
    assert window.send_button.isEnabled() and not window.stop_button.isEnabled()
    assert window.transcript.blocks_of_kind("assistant") == ["café \ufffd end"]
    assert window.transcript.blocks_of_kind("error") == []
    reply = stored_messages(controller)[-1]
    assert (reply.role, reply.content, reply.status.value) == ("assistant", "café \ufffd end", "complete")
    send(qtbot, window, controller, "again")  # and the next turn works
    assert window.transcript.blocks_of_kind("assistant")[-1] == "Next."
    assert fake_server.requests[-1].json["messages"][-2] == {"role": "assistant", "content": "café \ufffd end"}


def test_an_empty_stream_says_the_server_sent_no_reply(qtbot, chat, fake_server):
    window, controller = chat
    fake_server.queue(raw(200, b""))
    send(qtbot, window, controller, "a very long prompt")
    (line,) = window.transcript.blocks_of_kind("error")
    assert "The server sent no reply" in line
    assert window.transcript.blocks_of_kind("assistant") == []
    assert window.send_button.isEnabled()
    assert [m.role for m in stored_messages(controller)] == ["user"]


def test_a_reply_is_saved_with_the_model_the_server_reports(qtbot, chat, fake_server):
    window, controller = chat
    window.model_combo.setEditText("gpt-4o-mini")
    fake_server.queue(stream(["Hi", " there"], model="gpt-4o-mini-2024-07-18", delay=0.3))
    send(qtbot, window, controller, "hi")
    assert fake_server.requests[-1].json["model"] == "gpt-4o-mini"
    # The reply's final save is written in the background: wait for it (flaky under load otherwise).
    qtbot.waitUntil(lambda: stored_messages(controller)[-1].model != "gpt-4o-mini", timeout=5000)
    reply = stored_messages(controller)[-1]
    assert (reply.content, reply.model) == ("Hi there", "gpt-4o-mini-2024-07-18")


def test_test_connection_shows_a_long_server_message_on_one_line_with_the_rest_in_the_tooltip(
        qtbot, fake_server):
    from chatbot_gui.core.settings import Settings
    from chatbot_gui.ui.models_thread import running_models_threads
    from chatbot_gui.ui.settings_dialog import SettingsDialog

    fake_server.models_reply = error(400, {"error": {"message": LITELLM, "type": "invalid_request_error"}})
    dialog = SettingsDialog(Settings(), KeyStore(MemoryKeyring()), {}, False)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    page = dialog.connection
    page.url_edit.setText(fake_server.base_url)
    qtbot.keyClicks(page.key_edit, KEY)
    qtbot.mouseClick(page.test_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "Server said" in page.test_result.text() or "litellm" in page.test_result.text(),
                    timeout=5000)
    lines = page.test_result.text().split("\n")
    assert len(lines) == 2 and lines[1].startswith("litellm.BadRequestError: Invalid model name")
    assert "No fallback was attempted." in page.test_result.toolTip()
    qtbot.waitUntil(lambda: running_models_threads() == 0, timeout=3000)
    dialog.close()


def test_a_stopped_reply_is_saved_with_the_model_the_server_reports(qtbot, chat, fake_server):
    window, controller = chat
    fake_server.queue(stream(["Partial"] + ["more"] * 50, model="llama3.1:8b-instruct-q4", delay=0.1))
    window.input.setFocus()
    qtbot.keyClicks(window.input, "hi")
    qtbot.keyClick(window.input, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: "Partial" in window.transcript.toPlainText())
    qtbot.mouseClick(window.stop_button, Qt.MouseButton.LeftButton)
    assert not controller.busy
    reply = stored_messages(controller)[-1]
    assert reply.status.value == "stopped" and reply.content.startswith("Partial")
    assert reply.model == "llama3.1:8b-instruct-q4"


def test_open_settings_after_a_refused_key_puts_the_cursor_in_that_profiles_key_field(qtbot, tmp_path):
    """Two profiles, the second in use; its server refuses the key. "Open Settings" (a mouse click)
    opens the real dialog on that profile with the cursor in its key field: typing the new key and
    pressing Enter saves it, and the next message goes out with it."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from chatbot_gui.core.secrets import SERVICE
    from chatbot_gui.core.settings import Profile, Settings, SettingsStore
    from chatbot_gui.ui.settings_dialog import SettingsDialog

    old_key, new_key = "fake-test-key-refused", "fake-test-key-typed-anew"
    paths = AppPaths(config_dir=tmp_path / "config", data_dir=tmp_path / "data")
    with FakeServer() as server:
        server.queue(error(401, {"error": {"message": "Incorrect API key provided", "code": "invalid_api_key"}}))
        server.default_reply = stream(["Welcome back."])
        local = Profile(id="local", name="Work server", base_url=server.base_url, key_saved=True)
        SettingsStore(paths).save(Settings(profiles=(Profile(id="default", name="OpenAI"), local),
                                           active_profile_id="local"))
        backend = MemoryKeyring()
        backend.set_password(SERVICE, "local", old_key)
        window, controller = create_window({}, paths=paths, keys=KeyStore(backend))
        qtbot.addWidget(window)
        window.show()
        qtbot.waitExposed(window)
        qtbot.waitUntil(lambda: controller.config.api_key == old_key and controller.recorder is not None)
        try:
            send(qtbot, window, controller, "hi")
            assert server.requests[-1].headers["authorization"] == f"Bearer {old_key}"
            seen: dict[str, object] = {}

            def answer() -> None:
                dialog = QApplication.activeModalWidget()
                if not isinstance(dialog, SettingsDialog) or not dialog.isVisible():
                    QTimer.singleShot(20, answer)
                    return
                try:
                    focus = dialog.focusWidget()
                    seen["focus"] = focus.objectName() if focus is not None else None
                    seen["profile"] = dialog.connection.profile_combo.currentText()
                    seen["page"] = dialog.tabs.tabText(dialog.tabs.currentIndex())
                    qtbot.keyClicks(focus, new_key)
                    qtbot.keyClick(focus, Qt.Key.Key_Return)
                except BaseException as exc:
                    seen["error"] = exc
                    dialog.reject()

            QTimer.singleShot(0, answer)
            click_link(qtbot, window.transcript, "Open Settings")
            assert "error" not in seen, seen.get("error")
            assert seen == {"focus": "apiKey", "profile": "Work server", "page": "Connection"}
            assert backend.get_password(SERVICE, "local") == new_key
            qtbot.waitUntil(lambda: controller.config.api_key == new_key)
            send(qtbot, window, controller, "again")
            assert server.requests[-1].headers["authorization"] == f"Bearer {new_key}"
            assert window.transcript.blocks_of_kind("assistant")[-1] == "Welcome back."
        finally:
            assert controller.shutdown(3000), "a request thread was left running"
