"""The real app in a child process, chatting until it is killed (for ``test_durability.py``).

Usage: ``python tests/kill_driver.py <config_dir> <data_dir> <base_url> <message>``

Builds the real window with :func:`create_window` (an in-memory keyring; the key and server come from
``OPENAI_API_KEY`` / ``OPENAI_BASE_URL`` in the env it is given; a Settings dialog would be a bug, so
``ask_settings`` raises), shows it, waits for the chat store to open (the app reopens the last chat),
then sends ``<message> 1`` through the controller, and after each complete reply ``<message> 2``, and
so on, until it is killed. Product code is not changed: the transcript's ``append_to`` (what the
controller's flush calls) is wrapped on this one window to see what the user sees.

One line per event on stdout, flushed at once (times are ``time.time()``)::

    READY
    SENT <chat_id> <user_message_db_id>
    RECEIVED <chars_of_current_reply_shown> <time>
    COMPLETE <chat_id> <reply_db_id> <reply_chars>
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

    def append_to(msg_id: int, text: str, _original=window.transcript.append_to) -> None:
        nonlocal shown
        _original(msg_id, text)
        if chat.busy:  # not when a stored chat is redrawn
            shown += len(text)
            emit("RECEIVED", shown, repr(time.time()))

    def send_next() -> None:
        nonlocal shown, sent
        shown = 0
        sent += 1
        chat.send(f"{message} {sent}")
        # The user's message is committed before the request goes out (ChatController.send).
        emit("SENT", chat.conversation.chat_id, chat.conversation.messages[-2].db_id)

    def finished(status: str) -> None:
        reply = chat.conversation.messages[-1]
        if status != "complete" or reply.role != "assistant":
            emit("ENDED", status)
            app.exit(1)
            return
        emit("COMPLETE", chat.conversation.chat_id, reply.db_id, len(reply.content))
        QTimer.singleShot(0, send_next)

    def wait_for_store() -> None:
        if window.history_controller.store is None:
            if chat.recorder is not None:  # the store failed to open: nothing to test
                emit("NOSTORE")
                app.exit(2)
                return
            QTimer.singleShot(10, wait_for_store)
            return
        window.transcript.append_to = append_to
        chat.replyFinished.connect(finished)
        emit("READY")
        send_next()

    QTimer.singleShot(0, wait_for_store)
    return app.exec()


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
