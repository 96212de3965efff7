"""The real app in a child process, chatting until it is killed (for ``test_durability.py``).

Usage: ``python tests/kill_driver.py <config_dir> <data_dir> <base_url> <message>``

Builds the real window with :func:`create_window` (an in-memory keyring; the key and server come from
``OPENAI_API_KEY`` / ``OPENAI_BASE_URL`` in the env it is given; a Settings dialog would be a bug, so
``ask_settings`` raises), shows it, waits for the chat store to open (the app reopens the last chat),
then sends ``<message> 1`` through the controller, and after each complete reply ``<message> 2``, and
so on, until it is killed. A second chat streams at the same time: right after the first send the
driver opens a new chat, sends ``<message> bg 1`` there, goes back to the first chat (which stays
the one reopened at the next start) and, whenever the background reply completes, sends the next. Product code is not changed: the transcript's ``append_to`` (what the
controller's flush calls) is wrapped on this one window to see what the user sees.

One line per event on stdout, flushed at once (times are ``time.time()``)::

    READY
    SENT <chat_id> <user_message_db_id>
    RECEIVED <chars_of_current_reply_shown> <time>
    COMPLETE <chat_id> <reply_db_id> <reply_chars>
    BGSENT <chat_id> <user_message_db_id>       (the same three for the background chat)
    BGRECEIVED <chars_of_current_reply> <time>
    BGCOMPLETE <chat_id> <reply_db_id> <reply_chars>
    ENDED <status>          (a reply that did not complete: the driver exits 1)
    NOSTORE                 (the chat store could not be opened: the driver exits 2)
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout, when not installed


def emit(*fields: object) -> None:
    sys.stdout.write(" ".join(map(str, fields)) + "\n")
    sys.stdout.flush()


def _no_dialog(*args: object, **kwargs: object) -> None:
    raise RuntimeError("kill_driver: the Settings dialog was asked for (the env should hold a key)")


def main(argv: list[str]) -> int:
    config_dir, data_dir, base_url, message = argv[1:5]
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from chatbot_gui.app import create_window
    from chatbot_gui.core.paths import AppPaths
    from chatbot_gui.core.secrets import KeyStore, MemoryKeyring

    app = QApplication(argv[:1])
    env = {"OPENAI_API_KEY": "sk-kill-driver", "OPENAI_BASE_URL": base_url}
    window, chat = create_window(env, paths=AppPaths(Path(config_dir), Path(data_dir)),
                                 keys=KeyStore(MemoryKeyring()), ask_settings=_no_dialog)
    window.show()
    shown = 0  # characters of the current reply the transcript has shown
    sent = 0
    bg_sent = 0
    main_reply: list[int] = [0]  # the id of the main chat's reply in flight
    state: dict[str, object] = {}

    def append_to(msg_id: int, text: str, _original=window.transcript.append_to) -> None:
        nonlocal shown
        _original(msg_id, text)
        if msg_id == main_reply[0]:  # not when a stored chat is redrawn
            shown += len(text)
            emit("RECEIVED", shown, repr(time.time()))

    def watch(reply, on_complete, on_other) -> None:  # noqa: ANN001 - a ui.reply.Reply
        def ended(msg) -> None:  # noqa: ANN001 - a core Message
            if msg.status.value == "complete":
                QTimer.singleShot(0, lambda: on_complete(msg))
            else:
                on_other(msg.status.value)

        reply.ended.connect(ended)
        reply.failed.connect(lambda info: on_other("error"))

    def fail(status: str) -> None:
        emit("ENDED", status)
        chat.shutdown(3000)  # no request thread left running when the interpreter exits (a Qt abort)
        app.exit(1)

    def send_next() -> None:
        nonlocal shown, sent
        shown = 0
        sent += 1
        chat.send(f"{message} {sent}")
        conv = chat.conversation
        # The user's message is committed before the request goes out (ChatController.send).
        emit("SENT", conv.chat_id, conv.messages[-2].db_id)
        reply = chat.reply_of(conv)
        main_reply[0] = reply.message.id
        watch(reply, lambda msg: (emit("COMPLETE", conv.chat_id, msg.db_id, len(msg.content)), send_next()),
              fail)

    def send_background() -> None:
        nonlocal bg_sent
        bg_sent += 1
        main_id = chat.conversation.chat_id
        if "bg" not in state:
            chat.new_chat()
            state["bg"] = chat.conversation
        else:
            chat.show_conversation(state["bg"])
        chat.send(f"{message} bg {bg_sent}")
        conv = state["bg"]
        emit("BGSENT", conv.chat_id, conv.messages[-2].db_id)
        reply = chat.reply_of(conv)
        received = [0]

        def text(_mid: int, piece: str) -> None:
            received[0] += len(piece)
            emit("BGRECEIVED", received[0], repr(time.time()))

        reply.textAppended.connect(text)
        watch(reply, lambda msg: (emit("BGCOMPLETE", conv.chat_id, msg.db_id, len(msg.content)),
                                  send_background()), fail)
        window.history_controller.open_chat(main_id)  # the main chat stays the one reopened

    def wait_for_store() -> None:
        if window.history_controller.store is None:
            if chat.recorder is not None:  # the store failed to open: nothing to test
                emit("NOSTORE")
                app.exit(2)
                return
            QTimer.singleShot(10, wait_for_store)
            return
        window.transcript.append_to = append_to
        emit("READY")
        send_next()
        send_background()

    QTimer.singleShot(0, wait_for_store)
    return app.exec()


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
