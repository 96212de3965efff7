"""The smaller things from issue 9, in the real window: narrow pickers, no text cursor in the
transcript, an inert "keep it", menus that leave the status line alone, the undo bar's whole chat
name, deleted chats wiped from the file, unreadable settings left alone at quit."""

from __future__ import annotations

import os

import pytest
from PySide6.QtCore import QPoint, Qt

from chatbot_gui.app import create_window
from chatbot_gui.core.paths import AppPaths
from chatbot_gui.core.personas import BUILTIN_PERSONAS, Persona
from chatbot_gui.core.secrets import KeyStore, MemoryKeyring
from fakeserver import stream

LONG_PERSONA = "A very long persona name for the marketing department's weekly review meeting"
LONG_MODEL = "accounts/fireworks/models/llama-v3p1-405b-instruct-long-context"


@pytest.fixture
def app(qtbot, tmp_path, fake_server):
    made = []

    def start(paths: AppPaths | None = None):
        paths = paths or AppPaths(config_dir=tmp_path / "config", data_dir=tmp_path / "data")
        window, chat = create_window({"OPENAI_API_KEY": "sk-small-ui-000000", "OPENAI_BASE_URL": fake_server.base_url},
                                     paths=paths, keys=KeyStore(MemoryKeyring()), ask_settings=lambda *a, **k: None)
        qtbot.addWidget(window)
        window.show()
        qtbot.waitExposed(window)
        qtbot.waitUntil(lambda: window.history_controller.store is not None and chat.config.api_key is not None)
        made.append((window, chat))
        return window, chat

    yield start
    for window, chat in made:
        assert chat.shutdown(3000)
        window.close()


def send(qtbot, window, chat, text: str) -> None:
    window.input.setPlainText(text)
    qtbot.keyClick(window.input, Qt.Key.Key_Return)


# -- pickers at 500 x 400 ------------------------------------------------------------------------
def test_at_500_by_400_both_pickers_fit_and_stay_readable(qtbot, app):
    window, chat = app()
    window.set_personas(BUILTIN_PERSONAS + (Persona(LONG_PERSONA, ""),), LONG_PERSONA)
    window.set_models([LONG_MODEL], LONG_MODEL)
    window.resize(500, 400)
    qtbot.waitUntil(lambda: window.width() == 500)
    for combo in (window.model_combo, window.persona_combo):
        right = combo.mapTo(window, QPoint(combo.width(), 0)).x()
        assert right <= window.width(), "a picker is cut off at the window's edge"
        assert combo.width() >= combo.fontMetrics().horizontalAdvance("x") * 7  # ~7 characters or more
    # The persona's name is elided ("A very long…"), not cut mid-letter; the model shows its start.
    shown = window.persona_combo.displayed_text()
    assert shown.endswith("…") and LONG_PERSONA.startswith(shown[:-1])
    assert window.model_combo.lineEdit().cursorPosition() == 0
    # The tooltips give the whole names, for the picker and for each item of its list.
    assert LONG_PERSONA in window.persona_combo.toolTip()
    assert LONG_MODEL in window.model_combo.toolTip()
    row = window.persona_combo.findText(LONG_PERSONA)
    assert window.persona_combo.itemData(row, Qt.ItemDataRole.ToolTipRole) == LONG_PERSONA
    window.model_combo.setCurrentText("gpt-4o")
    assert "gpt-4o" in window.model_combo.toolTip() and LONG_MODEL not in window.model_combo.toolTip()


def test_wide_windows_give_the_pickers_room(qtbot, app):
    window, chat = app()
    window.set_models([LONG_MODEL], LONG_MODEL)
    window.resize(1100, 720)
    qtbot.waitUntil(lambda: window.width() == 1100)
    assert window.model_combo.width() >= 300


# -- transcript ----------------------------------------------------------------------------------
def test_the_read_only_transcript_shows_no_text_cursor(qtbot, app):
    window, chat = app()
    transcript = window.transcript
    transcript.add_notice("hello there")
    window.activateWindow()
    qtbot.waitUntil(lambda: transcript.viewport().isVisible())
    qtbot.waitUntil(lambda: "hello there" in transcript.shown_text(transcript.message_ids()[0]))
    qtbot.wait(200)
    before = transcript.viewport().grab().toImage()
    transcript.setFocus()
    qtbot.waitUntil(transcript.hasFocus)
    qtbot.wait(600)  # longer than a caret's blink
    after = transcript.viewport().grab().toImage()
    assert after == before, "focusing the transcript drew something (a text cursor)"


def test_keep_it_is_inert_once_the_reply_is_kept(qtbot, app, fake_server):
    window, chat = app()
    fake_server.queue(stream(["Half an answer"], stall_after=1))
    send(qtbot, window, chat, "q")
    qtbot.waitUntil(lambda: "Half an answer" in window.transcript.toPlainText())
    window.stop_button.click()
    reply = chat.conversation.messages[-1]
    point = window.transcript.action_point(reply.id, "keep")
    with qtbot.waitSignal(window.transcript.keepRequested):
        qtbot.mouseClick(window.transcript.viewport(), Qt.MouseButton.LeftButton, pos=point)
    assert reply.kept
    # The words stay, but they are no longer a link: nothing to click.
    assert "keep it" in window.transcript.toPlainText()
    assert ("keep", "keep it") not in window.transcript.links_of(reply.id)
    with pytest.raises(KeyError):
        window.transcript.action_point(reply.id, "keep")
    with qtbot.assertNotEmitted(window.transcript.keepRequested, wait=100):
        qtbot.mouseClick(window.transcript.viewport(), Qt.MouseButton.LeftButton, pos=point)
    assert sum("Kept:" in n for n in window.transcript.blocks_of_kind("notice")) == 1


# -- menus and the status line ---------------------------------------------------------------------
@pytest.mark.qt_log_ignore("This plugin does not support raise", "This plugin does not support grabbing")
def test_opening_a_menu_does_not_clear_the_status_line(qtbot, app):
    window, chat = app()
    window.show_status("Exported 3 chats to /tmp/out", 0)
    file_menu = window.menuBar().actions()[0].menu()
    window.menuBar().setActiveAction(window.menuBar().actions()[0])  # as a click on "File" does
    qtbot.waitUntil(file_menu.isVisible)
    file_menu.setActiveAction(file_menu.actions()[0])  # hover the first item
    qtbot.wait(50)
    assert window.statusBar().currentMessage() == "Exported 3 chats to /tmp/out"
    file_menu.close()
    assert window.statusBar().currentMessage() == "Exported 3 chats to /tmp/out"


# -- deleting ------------------------------------------------------------------------------------
def test_the_undo_bar_shows_the_whole_name_elided_in_the_middle(qtbot, app, fake_server):
    window, chat = app()
    title = "Trip planning " + "with many stops " * 8 + "ending in Lisbon"
    fake_server.queue(stream(["ok"]))
    send(qtbot, window, chat, "hello")
    qtbot.waitUntil(lambda: not chat.busy)
    chat_id = chat.conversation.chat_id
    window.history_controller.rename_chat(chat_id, title)
    window.history_controller.delete_chat(chat_id)
    bar = window.sidebar.undo_bar
    qtbot.waitUntil(bar.isVisible)
    text = bar.label.text()
    assert text.startswith("Deleted “T") and text.endswith("in Lisbon”.")
    assert "…" in text
    assert bar.label.fontMetrics().horizontalAdvance(text) <= bar.label.width()
    assert bar.label.toolTip() == f"Deleted “{title}”."
    # A name that fits is shown whole (the old bar cut every name at 40 characters).
    fake_server.queue(stream(["ok"]))
    send(qtbot, window, chat, "second")
    qtbot.waitUntil(lambda: not chat.busy)
    window.history_controller.rename_chat(chat.conversation.chat_id, "Short name")
    window.history_controller.delete_chat(chat.conversation.chat_id)
    qtbot.waitUntil(lambda: bar.label.text() == "Deleted “Short name”.")


def test_a_deleted_chat_is_wiped_from_the_file(qtbot, app, fake_server, tmp_path):
    window, chat = app()
    secret = "okapi-4d2e-UNIQUE-quince"
    fake_server.queue(stream([f"I noted {secret}."]))
    send(qtbot, window, chat, f"remember {secret}")
    qtbot.waitUntil(lambda: not chat.busy)
    db = tmp_path / "data" / "chats.sqlite3"

    def found() -> int:
        return sum(p.read_bytes().count(secret.encode()) for p in (db, db.with_name(db.name + "-wal")) if p.exists())

    assert found() > 0
    window.history_controller.delete_chat(chat.conversation.chat_id)
    qtbot.waitUntil(lambda: window.history_controller._purge is None, timeout=10_000)
    assert found() == 0


# -- settings that cannot be read ----------------------------------------------------------------
def test_an_unreadable_settings_file_is_left_alone_at_quit(qtbot, app, tmp_path):
    paths = AppPaths(config_dir=tmp_path / "config", data_dir=tmp_path / "data")
    paths.config_dir.mkdir(parents=True)
    settings = paths.config_dir / "settings.json"
    settings.symlink_to("settings.json")  # ELOOP: a real read failure, even for root
    window, chat = app(paths)
    notices = " ".join(window.notices())  # an app-level notice: the banner (issue 10)
    assert "Could not read the settings file" in notices and "leaves the file as it is" in notices
    window.resize(700, 500)
    chat.shutdown(3000)
    window.close()  # saves window state at quit: must not replace the file
    assert settings.is_symlink() and os.readlink(settings) == "settings.json"
    assert not any(p.name.startswith(".settings.json") for p in paths.config_dir.iterdir())


# -- the persona picker's start-up paint ---------------------------------------------------------
@pytest.mark.parametrize("style", ["Fusion", "Windows"])
def test_a_name_the_persona_picker_paints_whole_fits_its_field_in_every_style(qtbot, style):
    """The picker paints a name that fits through QComboBox's own C++ paint (no QStyle built on the
    start-up path); ``text_room`` must never promise more room than the style's text field has."""
    from PySide6.QtWidgets import QStyle, QStyleFactory, QStyleOptionComboBox

    from chatbot_gui.ui.main_window import MainWindow

    window = MainWindow()
    qtbot.addWidget(window)
    combo = window.persona_combo
    combo.setStyle(QStyleFactory.create(style))
    window.show()
    qtbot.waitExposed(window)
    for width in (90, 141, 200, 320):
        combo.setMinimumWidth(width)
        combo.setMaximumWidth(width)
        qtbot.waitUntil(lambda: combo.width() == width)
        opt = QStyleOptionComboBox()
        combo.initStyleOption(opt)
        field = combo.style().subControlRect(QStyle.ComplexControl.CC_ComboBox, opt,
                                             QStyle.SubControl.SC_ComboBoxEditField, combo)
        assert 0 < combo.text_room() <= field.width(), (style, width)
        # Whichever way it is painted, a name within that room is shown whole.
        fits = "W" * max(1, combo.text_room() // combo.fontMetrics().horizontalAdvance("W"))
        combo.setItemText(combo.currentIndex(), fits)
        assert combo.displayed_text() == fits
        fast = combo.grab().toImage()
        combo.text_room = lambda: -1  # forces the eliding paint
        assert combo.grab().toImage() == fast, (style, width)
        del combo.text_room
