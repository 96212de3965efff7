"""Chat history for one main window: the store, the sidebar, search, export and import.

The store is opened after the window is shown (opening checks the file), then the last open chat
comes back. Deleting a chat offers Undo. Exports are written atomically: a failure says why and
leaves any existing file untouched.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Callable

from PySide6.QtCore import QObject, Qt

from chatbot_gui.core.paths import AppPaths, ensure_private_dir
from chatbot_gui.core.persona_store import PersonaLibrary
from chatbot_gui.ui.controller import ChatController
from chatbot_gui.ui.main_window import MainWindow

if TYPE_CHECKING:  # sqlite3, the store and the file dialogs load after the first paint
    from PySide6.QtWidgets import QWidget

    from chatbot_gui.core.conversation import Conversation
    from chatbot_gui.core.store import ChatStore, StoredChat

DB_NAME = "chats.sqlite3"
LAST_CHAT = "last_chat_id"
#: A send's sidebar update (its row, the selection, the last chat) waits this long, so the send's own
#: event-loop pass stays short while other chats stream (issue 10's three-stream gap): it reads the
#: store ~16 times, and every read lets a streaming thread take the interpreter for up to 5 ms.
ROWS_DELAY_MS = 30
FORMATS = {"txt": "Plain text (*.txt)", "md": "Markdown (*.md)", "json": "Chatbot chat, lossless (*.json)"}


def _documents() -> Path:
    """Where file dialogs start: the user's documents folder, else their home."""
    from PySide6.QtCore import QStandardPaths

    docs = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
    return Path(docs) if docs and Path(docs).is_dir() else Path.home()


class HistoryInteraction:
    """The questions history actions ask, as real dialogs. Tests pass an object with these methods."""

    def __init__(self, parent: QWidget) -> None:
        self.parent = parent

    def ask_save_path(self, suggested: str) -> tuple[Path, str] | None:
        from PySide6.QtWidgets import QFileDialog

        filters = ";;".join(FORMATS.values())
        start = str(_documents() / suggested)
        path, chosen = QFileDialog.getSaveFileName(self.parent, "Export chat", start, filters)
        if not path:
            return None
        fmt = next((f for f, label in FORMATS.items() if label == chosen), "txt")
        suffix = Path(path).suffix.lower().lstrip(".")
        if suffix in FORMATS:
            fmt = suffix
        else:
            path += "." + fmt
        return Path(path), fmt

    def ask_folder_and_format(self) -> tuple[Path, str] | None:
        from PySide6.QtWidgets import QFileDialog, QInputDialog

        folder = QFileDialog.getExistingDirectory(self.parent, "Export all chats to a folder", str(_documents()))
        if not folder:
            return None
        labels = list(FORMATS.values())
        label, ok = QInputDialog.getItem(self.parent, "Export all chats", "One file per chat, as:", labels, 0, False)
        if not ok:
            return None
        return Path(folder), next(f for f, text in FORMATS.items() if text == label)

    def ask_open_path(self) -> Path | None:
        from PySide6.QtWidgets import QFileDialog

        path, _ = QFileDialog.getOpenFileName(self.parent, "Import chat", str(_documents()), FORMATS["json"])
        return Path(path) if path else None

    def warn(self, title: str, text: str) -> None:
        from PySide6.QtWidgets import QMessageBox

        QMessageBox.warning(self.parent, title, text)


class HistoryController(QObject):
    """Connects the sidebar and the File menu's history actions to the store and the chat."""

    def __init__(self, window: MainWindow, chat: ChatController, paths: AppPaths,
                 personas: Callable[[], PersonaLibrary], interaction: object | None = None) -> None:
        super().__init__(window)
        self.window = window
        self.chat = chat
        self.paths = paths
        self.personas = personas
        self.ask = interaction or HistoryInteraction(window)
        self.store: ChatStore | None = None
        self._closed = False
        self._opening = None
        self._purge: object | None = None  # the running purge_deleted task
        self._files_task: object | None = None  # the running import or export-all task
        self._purge_again = False
        from PySide6.QtCore import QTimer

        self._changed_rows: dict[int, None] = {}  # chats whose sidebar row waits for _update_rows
        self._rows_timer = QTimer(self)
        self._rows_timer.setSingleShot(True)
        self._rows_timer.setInterval(ROWS_DELAY_MS)
        self._rows_timer.timeout.connect(self._update_rows)
        self._last_written: int | None = None  # LAST_CHAT as stored
        self._last_wanted: int | None = None  # LAST_CHAT as it should be
        self._last_task: object | None = None  # the background write of LAST_CHAT in flight
        window.new_chat_action.triggered.connect(self._deselect)
        # The user sending moves on from a deleted chat: its Undo goes (a reply saved does not).
        window.input.submitted.connect(self._user_sent)
        window.send_button.clicked.connect(self._user_sent)
        window.search_action.triggered.connect(self.focus_search)
        window.export_action.triggered.connect(self.export_current)
        window.export_all_action.triggered.connect(self.export_all)
        window.import_action.triggered.connect(self.import_chat)
        chat.chatChanged.connect(self._chat_changed)
        chat.chatTouched.connect(self._chat_touched)
        chat.marksChanged.connect(self._marks_changed)
        window.on_close(self.close)

    # -- start-up --------------------------------------------------------------------------------
    def start(self) -> None:
        self.window.after_first_paint(self.open_store)

    def _build_sidebar(self) -> None:
        if self.window.sidebar is not None:
            return
        sb = self.window.build_sidebar()
        sb.chatActivated.connect(self.open_chat)
        sb.newChatRequested.connect(self.new_chat)
        sb.renameRequested.connect(self.rename_chat)
        sb.deleteRequested.connect(self.delete_chat)
        sb.searchResultActivated.connect(self.open_search_result)

    def _user_sent(self) -> None:
        if self.window.sidebar is not None:
            self.window.sidebar.hide_undo()

    def _deselect(self) -> None:
        if self.window.sidebar is not None:
            self.window.sidebar.select_chat(None)

    def open_store(self) -> None:
        """Open the history on a worker (``ui/tasks.py``): the integrity check at open reads the
        whole file, which takes long enough with a big history to freeze the window."""
        from chatbot_gui.core.store import ChatStore
        from chatbot_gui.ui.tasks import runner

        self._build_sidebar()
        self._closed = False
        path = self.paths.data_dir / DB_NAME
        data_dir = self.paths.data_dir

        def work() -> tuple[ChatStore, str | None]:
            ensure_private_dir(data_dir)
            store, notice = ChatStore.open(path)
            try:
                # A reply that was streaming when the app was killed is kept and marked interrupted.
                # (main() lets one instance per data folder run: no other process writes a live stream.)
                store.mark_interrupted_streams()
            except BaseException:
                store.close()
                raise
            return store, notice

        self._opening = runner().run(work, self._store_opened, self._store_failed, name="open chat history")

    def _store_failed(self, exc: BaseException) -> None:
        from chatbot_gui.core.store import NewerSchemaError

        if isinstance(exc, NewerSchemaError):
            self._no_history(f"{exc} Chats in this window are not saved.")
        else:  # any failure (OSError, sqlite3.Error…): keep chatting, say so
            self._no_history(f"Chat history could not be opened ({exc}). Chats in this window are not saved.")

    def _store_opened(self, opened: tuple[ChatStore, str | None]) -> None:
        from chatbot_gui.core.recorder import ChatRecorder

        store, notice = opened
        if self._closed:
            store.close()
            return
        self.store = store
        if notice:
            self.chat.context.notify(notice)
        self.chat.set_recorder(ChatRecorder(store))
        self.window.sidebar.set_store(store)
        last = store.get_meta(LAST_CHAT)
        self._last_written = self._last_wanted = int(last) if last and last.isdigit() else None
        if last and last.isdigit() and not self.chat.conversation.messages:
            self.open_chat(int(last))  # (at once: the greeting below is not drawn over a chat)
        self.chat.show_empty_hint()

    def _no_history(self, text: str) -> None:
        from chatbot_gui.core.recorder import ChatRecorder

        self.chat.set_recorder(ChatRecorder(None))
        self.chat.context.notify(text)
        self.chat.show_empty_hint()

    def close(self) -> None:
        self._closed = True
        self._rows_timer.stop()
        if self.store is not None and self._changed_rows:
            current = self.chat.conversation.chat_id
            if current in self._changed_rows:
                self._last_wanted = current
        self._changed_rows.clear()
        if self.store is not None and self._last_wanted != self._last_written:
            try:  # quitting: nothing streams any more, and the next start opens this chat
                self.store.set_meta(LAST_CHAT, None if self._last_wanted is None else str(self._last_wanted))
            except Exception:  # noqa: BLE001 - sqlite3.Error, OSError: the next start opens the one before
                pass
        if self.chat.recorder is not None:
            self.chat.recorder.close()
        if self.store is not None and self.window.sidebar is not None:
            self.window.sidebar.set_store(None)
            self.store.close()
            self.store = None

    # -- sidebar ---------------------------------------------------------------------------------
    def _chat_changed(self, chat_id: int) -> None:
        """A write changed a chat (a message sent, a notice, a reply's first save): its sidebar row
        moves a moment later, in a pass of its own (:data:`ROWS_DELAY_MS`)."""
        if self.store is None:
            return
        self._changed_rows[chat_id] = None
        if not self._rows_timer.isActive():
            self._rows_timer.start()

    def _update_rows(self) -> None:
        if self.store is None or self.window.sidebar is None:
            self._changed_rows.clear()
            return
        changed, self._changed_rows = list(self._changed_rows), {}
        current = self.chat.conversation.chat_id
        # (A deleted chat's Undo stays: a reply saved in another chat is not the user moving on.)
        for chat_id in changed:
            try:
                self.window.sidebar.upsert_chat(self.store.summary(chat_id))
            except KeyError:
                continue  # deleted meanwhile
            if chat_id == current:
                if not self.window.sidebar.is_highlighted(chat_id):  # a new chat's first save
                    self.window.sidebar.select_chat(chat_id)
                self._remember_last(chat_id)

    def _remember_last(self, chat_id: int) -> None:
        """Store which chat is open (the next start opens it), off the GUI thread and only when it
        changed: a commit on the GUI thread waits for the streaming threads' turn on the interpreter."""
        self._last_wanted = chat_id
        if chat_id == self._last_written or self._last_task is not None or self.chat.recorder is None:
            return
        from chatbot_gui.ui.tasks import runner

        recorder = self.chat.recorder

        def work() -> int:
            recorder.write_meta(LAST_CHAT, str(chat_id))
            return chat_id

        def done(written: int) -> None:
            self._last_task = None
            self._last_written = written
            if not self._closed and self._last_wanted is not None and self._last_wanted != written:
                self._remember_last(self._last_wanted)

        def failed(_exc: BaseException) -> None:
            self._last_task = None  # a hint only: close() tries once more on the GUI thread

        self._last_task = runner().run(work, done, failed, name="remember the open chat")

    def _chat_touched(self, chat_id: int) -> None:
        """A reply's final save changed a chat's last update: move its row (the selection follows its
        chat). Only the list: no write on the GUI thread here, and an undo bar stays."""
        if self.store is None or self.window.sidebar is None:
            return
        try:
            self.window.sidebar.upsert_chat(self.store.summary(chat_id))
        except KeyError:
            return

    def _marks_changed(self) -> None:
        if self.window.sidebar is not None:
            self.window.sidebar.set_marks(self.chat.streaming_chat_ids(), self.chat.unseen_marks())

    def open_chat(self, chat_id: int) -> bool:
        if self.store is None:
            return False
        if self.chat.conversation.chat_id == chat_id:
            self.window.sidebar.select_chat(chat_id)
            return True
        from chatbot_gui.core.recorder import conversation_from_stored

        try:
            stored = self.store.load_chat(chat_id)
        except KeyError:
            self.window.show_status("That chat no longer exists.")
            return False
        except (ValueError, TypeError) as exc:  # stored fields another version or tool wrote
            self.window.show_status(f"That chat could not be opened: its stored data is not what this "
                                    f"version expects ({exc}).", 0)
            return False
        self.chat.show_conversation(conversation_from_stored(stored, self.personas()))
        self.window.sidebar.select_chat(chat_id)
        self._remember_last(chat_id)
        return True

    def new_chat(self) -> None:
        self.chat.new_chat()
        self._deselect()

    def rename_chat(self, chat_id: int, title: str) -> None:
        if self.store is None:
            return
        try:
            self.store.rename_chat(chat_id, title)
        except Exception:  # noqa: BLE001 - KeyError, sqlite3.Error: the list already shows the new title
            self.window.sidebar.chat_model.reload()
            return
        self.chat.retitle(chat_id, title)
        if self.chat.conversation.chat_id == chat_id:
            self.window.set_chat_title(title)

    def delete_chat(self, chat_id: int) -> None:
        if self.store is None:
            return
        self.chat.stop_chat(chat_id)
        try:
            snapshot = self.store.delete_chat(chat_id)
        except KeyError:
            return
        self.window.sidebar.remove_chat(chat_id)
        was_open = self.chat.conversation.chat_id == chat_id
        if was_open:
            self.new_chat()
        # Undo reopens it if it was open and its place was not taken since (the blank chat unused).
        blank = self.chat.conversation if was_open else None
        title = snapshot.title or "New chat"
        self.window.sidebar.show_undo(f"Deleted “{title}”.", lambda: self._restore(snapshot, reopen_over=blank))
        self._wipe_deleted()

    def _wipe_deleted(self) -> None:
        """Wipe the deleted chat's leftovers (search index, WAL) from the file, off the GUI thread.

        The rows are gone (and zeroed) already; Undo puts the chat back from memory. One wipe at a
        time: deletes during a wipe ask for one more afterwards."""
        from chatbot_gui.core.store import purge_deleted
        from chatbot_gui.ui.tasks import runner

        if self.store is None:
            return
        if self._purge is not None:
            self._purge_again = True
            return
        path = self.store.path

        def done(_result: object = None) -> None:
            self._purge = None
            if self._purge_again:
                self._purge_again = False
                self._wipe_deleted()

        def failed(exc: BaseException) -> None:
            done()
            self.window.show_status(f"The deleted chat's text could not be wiped from the history file yet ({exc}).")

        self._purge = runner().run(lambda: purge_deleted(path), done, failed, name="wipe deleted chats")

    def _restore(self, snapshot: StoredChat, reopen_over: Conversation | None = None) -> None:
        """Undo of a delete: the chat back in the list, and open again when it was open and the
        blank chat that replaced it is still shown, untouched. The keyboard goes where the user
        was (the message box of the reopened chat, else the restored row in the list), not to
        whatever follows the vanished Undo button (the Model field, text selected)."""
        if self.store is None:
            return
        new_id = self.store.restore_chat(snapshot)
        self.window.sidebar.upsert_chat(self.store.summary(new_id))
        reopen = reopen_over is not None and self.chat.conversation is reopen_over and not reopen_over.messages
        if reopen and self.open_chat(new_id):
            self.window.input.setFocus(Qt.FocusReason.OtherFocusReason)
        else:
            self.window.sidebar.focus_chat(new_id)

    def open_search_result(self, chat_id: int, message_id: int, query: str) -> None:
        if self.chat.conversation.chat_id == chat_id or self.open_chat(chat_id):
            if message_id >= 0:
                self.chat.reveal_stored(message_id)  # a hit in a version not shown: show that version
            self.window.transcript.highlight(query, message_id if message_id >= 0 else None)

    def focus_search(self) -> None:
        if self.window.sidebar is None:
            return
        self.window.sidebar.setVisible(True)
        self.window.sidebar.focus_search()

    # -- export / import -------------------------------------------------------------------------
    def _current_snapshot(self) -> StoredChat | None:
        from chatbot_gui.core.recorder import stored_from_conversation

        conv = self.chat.conversation
        if not conv.messages:
            return None
        if self.store is not None and conv.chat_id is not None:
            self.chat.save_now()
            try:
                return self.store.load_chat(conv.chat_id)
            except KeyError:
                pass
        return stored_from_conversation(conv, self.window.current_model())

    def export_current(self) -> None:
        from chatbot_gui.core.export import export_chat, safe_filename

        try:
            snapshot = self._current_snapshot()
        except (ValueError, TypeError, RecursionError) as exc:  # stored fields this version cannot read
            self.ask.warn("Export failed", f"This chat's stored data is not what this version expects ({exc}).")
            return
        if snapshot is None:
            self.window.show_status("Nothing to export yet: this chat is empty.")
            return
        answer = self.ask.ask_save_path(safe_filename(snapshot.title or "chat") + ".txt")
        if answer is None:
            return
        path, fmt = answer
        try:
            export_chat(snapshot, path, fmt)  # type: ignore[arg-type]
        except OSError as exc:
            self.ask.warn("Export failed", f"Could not write {path}: {exc.strerror or exc}.\n"
                          "Any file already there was left untouched.")
            return
        except (ValueError, TypeError, RecursionError) as exc:
            self.ask.warn("Export failed", f"This chat could not be exported ({exc}).")
            return
        self.window.show_status(f"Exported to {path}")

    def export_all(self) -> None:
        """Write every chat to a folder, on a worker thread with its own connection; a chat that
        cannot be exported is named in the end, the others are written."""
        from chatbot_gui.core.export import export_all
        from chatbot_gui.core.store import ChatStore
        from chatbot_gui.ui.tasks import runner

        if self.store is None or self.store.count_chats() == 0:
            self.window.show_status("There are no saved chats to export.")
            return
        if self._busy_with_files():
            return
        answer = self.ask.ask_folder_and_format()
        if answer is None:
            return
        folder, fmt = answer
        self.chat.save_now()
        db_path = self.store.path
        failures: list[tuple[str, str]] = []

        def work(task: object) -> list[Path]:
            store, _ = ChatStore.open(db_path)
            try:
                return export_all(store, folder, fmt, failures=failures,  # type: ignore[arg-type]
                                  progress=lambda done, total: task.report(  # type: ignore[attr-defined]
                                      done, f"Exporting chat {done + 1} of {total}…"))
            finally:
                store.close()

        def done(written: list[Path]) -> None:
            self._files_task = None
            if not failures:
                self.window.show_status(f"Exported {len(written)} chats to {folder}")
                return
            listed = "\n".join(f"• {title}: {why}" for title, why in failures[:10])
            more = f"\n…and {len(failures) - 10} more." if len(failures) > 10 else ""
            self.window.show_status(f"Exported {len(written)} of {len(written) + len(failures)} chats to {folder}")
            self.ask.warn("Some chats were not exported",
                          f"{len(written)} chats were exported to {folder}. These {len(failures)} could not be:"
                          f"\n{listed}{more}")

        def failed(exc: BaseException) -> None:
            self._files_task = None
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            self.ask.warn("Export failed", f"Could not write to {folder}: {why}.")

        self._files_task = runner().run_with_task(
            work, done, failed, on_progress=lambda _v, text: self.window.show_status(text), name="export all chats")

    def _busy_with_files(self) -> bool:
        if self._files_task is not None:
            self.window.show_status("An import or export is still running; try again when it is done.")
            return True
        return False

    def import_chat(self) -> None:
        """Read a JSON export and add it as a new chat, off the GUI thread (a big export takes
        seconds to parse and store), with progress in the status line and a clear message for
        whatever is wrong with the file."""
        from chatbot_gui.core.store import ChatStore
        from chatbot_gui.ui.tasks import runner

        if self._busy_with_files():
            return
        path = self.ask.ask_open_path()
        if path is None:
            return
        if self.store is None:
            self.ask.warn("Import failed", "Chat history is not available, so the chat cannot be added.")
            return
        db_path = self.store.path

        def work(task: object) -> tuple[int, str, int]:
            from chatbot_gui.core.export import read_export

            task.report(None, f"Reading {path.name}…")  # type: ignore[attr-defined]
            stored = read_export(path)
            task.report(None, f"Saving {len(stored.messages)} messages from {path.name}…")  # type: ignore[attr-defined]
            store, _ = ChatStore.open(db_path)
            try:
                return store.import_chat(stored), stored.title, len(stored.messages)
            finally:
                store.close()

        def done(result: tuple[int, str, int]) -> None:
            self._files_task = None
            new_id, title, count = result
            if self.store is None:
                return
            self.window.sidebar.upsert_chat(self.store.summary(new_id))
            self.open_chat(new_id)
            self.window.show_status(f"Imported “{title or path.name}” ({count} messages).")

        def failed(exc: BaseException) -> None:
            self._files_task = None
            self.window.show_status("")
            if isinstance(exc, OSError):
                self.ask.warn("Import failed", f"Could not read {path}: {exc.strerror or exc}.")
            elif isinstance(exc, ValueError) and not isinstance(exc, UnicodeError):
                self.ask.warn("Import failed", f"{path.name} is not a chat this app can read: {exc}")
            elif isinstance(exc, MemoryError):
                self.ask.warn("Import failed", f"{path.name} is too large to import on this computer.")
            else:  # sqlite3.Error, RecursionError, UnicodeError…: say what happened, never nothing
                self.ask.warn("Import failed", f"{path.name} could not be added to the history: "
                              f"{exc or type(exc).__name__}.")

        self._files_task = runner().run_with_task(
            work, done, failed, on_progress=lambda _v, text: self.window.show_status(text), name="import chat")
