"""Long chats in the real window against a loopback server that enforces a 4k-token limit (issue 12)."""

from __future__ import annotations

import re

import pytest

from chatbot_gui.app import create_window
from chatbot_gui.core.conversation import Conversation, Status
from chatbot_gui.core.paths import AppPaths
from chatbot_gui.core.secrets import KeyStore, MemoryKeyring
from fakeserver import FakeServer, TokenRule, stream

KEY = "sk-test-context-0123456789"
RULE = TokenRule(bytes_per_token=3.0)  # denser than the app's first guess (4 bytes a token)
ANSWER = ["Here is ", "a considered answer ", "that takes some room in the window. " * 3]


def never_asked(*args, **kwargs):
    raise AssertionError("the Settings dialog must not open when a key is available")


@pytest.fixture
def chat(qtbot, fake_server: FakeServer, tmp_path):
    fake_server.token_limit = 4096
    fake_server.token_rule = RULE
    fake_server.default_reply = stream(ANSWER)
    window, controller = create_window(
        {"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": fake_server.base_url},
        paths=AppPaths(config_dir=tmp_path / "config", data_dir=tmp_path / "data"),
        keys=KeyStore(MemoryKeyring()), ask_settings=never_asked,
    )
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    qtbot.waitUntil(lambda: controller.config.api_key == KEY)
    window.model_combo.setEditText("local-model")
    yield window, controller
    assert controller.shutdown(3000), "a request thread was left running"


def long_chat(turns: int = 300) -> Conversation:
    """A chat of ``turns`` messages (questions and answers) that is far past a 4k window."""
    conv = Conversation()
    for k in range(turns // 2):
        conv.add_user(f"Question {k}: " + "tell me more about that, in some detail please. " * 3)
        reply = conv.start_reply("local-model")
        reply.content, reply.status = f"Answer {k}: " + "here is what I know about it. " * 4, Status.COMPLETE
    return conv


def chat_requests(server: FakeServer) -> list:
    """The chat requests (the app also asks the server for its models' windows, in the background)."""
    return [r for r in server.requests if r.path.endswith("/chat/completions")]


def send(qtbot, window, controller, text: str) -> None:
    window.input.setPlainText(text)
    controller.send_from_input()
    qtbot.waitUntil(lambda: not controller.busy, timeout=10000)


def test_a_300_turn_chat_keeps_answering_with_the_pin_and_the_marker(qtbot, chat, fake_server):
    window, controller = chat
    conv = long_chat()
    controller.show_conversation(conv)
    pinned = conv.messages[4]
    window.transcript.messageActionRequested.emit("pin", pinned.id)
    assert pinned.pinned and "pinned: always sent" in window.transcript.toPlainText()

    send(qtbot, window, controller, "First new question?")
    # The app did not know the model's window: the server refused once, the app learnt the limit from
    # its words, left out the oldest messages and sent again, saying so in the chat.
    assert len(chat_requests(fake_server)) == 2
    refused, sent = (r.json for r in chat_requests(fake_server))
    assert RULE.prompt(refused["messages"]) > 4096 >= RULE.prompt(sent["messages"])
    text = window.transcript.toPlainText()
    assert re.search(r"The server refused the conversation as too long \(the model's limit is 4k tokens\): "
                     r"[\d,]+ earlier messages were left out and it was sent again\.", text)
    assert window.transcript.blocks_of_kind("assistant")[-1] == "".join(ANSWER)

    for k in range(2, 5):
        before = len(chat_requests(fake_server))
        # Between replies the marker shows where the next send begins (as when the chat is reopened).
        ahead = window.transcript.context_marker()
        send(qtbot, window, controller, f"New question number {k}?")
        assert len(chat_requests(fake_server)) == before + 1, "trimmed in advance: no second refusal"
        body = chat_requests(fake_server)[-1].json
        assert body["stream_options"] == {"include_usage": True}
        msgs = body["messages"]
        assert msgs[0] == {"role": "system", "content": "You are a helpful assistant."}
        assert msgs[1] == {"role": "user", "content": pinned.content}
        assert msgs[-1] == {"role": "user", "content": f"New question number {k}?"}
        assert msgs[2]["role"] == "user"
        assert 4096 - 512 - 300 < RULE.prompt(msgs) <= 4096 - 512
        # The marker sat right above the first message sent after the pinned one.
        first = next(m for m in conv.messages if m.role == "user" and m.content == msgs[2]["content"])
        assert ahead == (first.id, "⋯ Earlier messages are not sent: the model's limit is 4k tokens")
        # Now the reply counts too: the next send begins there or later, and the marker says so.
        marker = window.transcript.context_marker()
        assert marker is not None and marker[1] == ahead[1]
        assert conv.messages.index(conv.find(marker[0])) >= conv.messages.index(first)
    footer = window.context_label.text()
    assert re.fullmatch(r"3\.\dk / 4k tokens · [\d,]+ tokens used", footer)
    assert "$" not in footer, "no cost for a server that is not OpenAI"
    # The chat opened again reads the same: its size as the next send would make it.
    marker = window.transcript.context_marker()
    controller.new_chat()
    assert window.context_label.text() == ""
    controller.show_conversation(conv)
    assert window.context_label.text() == footer and window.transcript.context_marker() == marker


def test_send_everything_reproduces_the_servers_refusal(qtbot, chat, fake_server):
    window, controller = chat
    conv = long_chat()
    controller.show_conversation(conv)
    window.send_everything_action.trigger()
    assert conv.context_mode == "everything"
    assert window.transcript.context_marker() is None
    send(qtbot, window, controller, "Everything, please.")
    assert len(chat_requests(fake_server)) == 1
    assert len(chat_requests(fake_server)[0].json["messages"]) == 1 + 300 + 1
    assert "The conversation is too long for this model" in window.transcript.toPlainText()
    window.send_everything_action.trigger()  # back to "fit the model": the app knows the limit now
    assert window.transcript.context_marker() is not None
    send(qtbot, window, controller, "Now fit it.")
    assert len(chat_requests(fake_server)) == 2 and RULE.prompt(chat_requests(fake_server)[1].json["messages"]) <= 4096


def test_the_marker_and_footer_follow_the_chat_shown(qtbot, chat, fake_server):
    window, controller = chat
    controller.context.windows.set_override("local-model", 4096)
    long = long_chat()
    controller.show_conversation(long)
    marker = window.transcript.context_marker()
    assert marker is not None and marker[1].endswith("the model's limit is 4k tokens")
    assert window.context_label.text().endswith(" / 4k tokens")
    controller.new_chat()
    assert window.transcript.context_marker() is None and window.context_label.text() == ""
    controller.show_conversation(long)
    assert window.transcript.context_marker() == marker


def test_a_window_set_in_settings_applies_at_start(qtbot, fake_server, tmp_path):
    import json

    config = tmp_path / "config"
    config.mkdir()
    (config / "settings.json").write_text(json.dumps({"version": 1, "context_windows": {"local-model": 4096}}))
    window, controller = create_window(
        {"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": fake_server.base_url},
        paths=AppPaths(config_dir=config, data_dir=tmp_path / "data"),
        keys=KeyStore(MemoryKeyring()), ask_settings=never_asked,
    )
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: controller.config.api_key == KEY)
    window.model_combo.setEditText("local-model")
    controller.show_conversation(long_chat())
    assert window.context_label.text().endswith(" / 4k tokens")
    assert window.transcript.context_marker() is not None
    assert controller.shutdown(3000)


def test_an_ollama_servers_window_is_asked_before_it_matters(qtbot, chat, fake_server):
    # Ollama cuts a prompt longer than num_ctx silently, so the app asks it (in the background).
    window, controller = chat
    fake_server.token_rule = TokenRule(bytes_per_token=4.0)  # the app's first guess is right here
    fake_server.ollama = {"local-model": {"parameters": "num_ctx 4096", "model_info": {"llama.context_length": 131072}}}
    controller.show_conversation(long_chat())
    qtbot.waitUntil(lambda: window.context_label.text().endswith(" / 4k tokens"), timeout=5000)
    assert window.transcript.context_marker() is not None
    send(qtbot, window, controller, "Does it fit?")
    chat_requests = [r for r in fake_server.requests if r.path.endswith("/chat/completions")]
    assert len(chat_requests) == 1 and TokenRule(4.0).prompt(chat_requests[0].json["messages"]) <= 4096
    show = [r for r in fake_server.requests if r.path == "/api/show"]
    assert len(show) == 1 and "authorization" not in show[0].headers


def test_a_pinned_message_offers_unpin_and_says_it_is_pinned(qtbot):
    from chatbot_gui.core.conversation import Message
    from chatbot_gui.ui.chat_view import ChatView

    view = ChatView()
    qtbot.addWidget(view)
    msg = Message("user", "remember this", pinned=True)
    view.add_message(msg)
    assert "pinned: always sent" in view.toPlainText()
    chosen = []
    view.messageActionRequested.connect(lambda action, mid: chosen.append((action, mid)))
    unpin = next(a for a in view.context_menu(msg.id).actions() if a.text() == "Unpin")
    unpin.trigger()
    assert chosen == [("unpin", msg.id)]
    view.trigger_action(msg.id, "unpin")  # the message's own "Unpin" button
    assert chosen == [("unpin", msg.id)] * 2
    msg.pinned = False
    view.replace_message(msg)
    assert "pinned" not in view.toPlainText()