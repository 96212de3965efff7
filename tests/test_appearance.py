"""Appearance and keyboard: light/dark (live), font zoom (remembered), the shortcut list made from
the real actions, shortcuts that work wherever focus is, and accessible names on every control."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QAccessible, QAction, QColor, QGuiApplication, QKeySequence, QPalette, QShortcut
from PySide6.QtWidgets import (
    QAbstractButton, QAbstractItemView, QAbstractSpinBox, QApplication, QComboBox, QLabel, QLineEdit,
    QPlainTextEdit, QTabBar, QTextEdit, QWidget,
)

from chatbot_gui.app import create_window
from chatbot_gui.core.conversation import Message, Status
from chatbot_gui.core.errors import ErrorInfo
from chatbot_gui.core.paths import AppPaths
from chatbot_gui.core.persona_store import PersonaLibrary
from chatbot_gui.core.secrets import KeyStore, MemoryKeyring
from chatbot_gui.core.settings import Settings, settings_from_json, settings_to_json
from chatbot_gui.ui.main_window import MainWindow
from chatbot_gui.ui.settings_dialog import SettingsDialog
from chatbot_gui.ui.shortcuts_dialog import WIDGET_KEYS, ShortcutsDialog
from chatbot_gui.ui.sidebar import ChatIdRole
from chatbot_gui.ui.theme import DARK, LIGHT, Theme, palette_for, theme
from fakeserver import FakeServer, stream

pytestmark = pytest.mark.gui

KEY = "sk-appearance-0123456789abcdef"


@pytest.fixture(autouse=True)
def _back_to_system_theme(qapp):
    yield
    theme()._system_changed(Qt.ColorScheme.Unknown)
    theme().set_mode("system")
    QApplication.processEvents()


def window_bg() -> QColor:
    return QGuiApplication.palette().color(QPalette.ColorRole.Window)


def painted_colors(view) -> set[str]:
    """Every colour the message list paints on screen now."""
    from PySide6.QtWidgets import QApplication

    QApplication.processEvents()
    image = view.viewport().grab().toImage()
    return {image.pixelColor(x, y).name() for x in range(0, image.width(), 2) for y in range(0, image.height(), 2)}


# -- settings.json --------------------------------------------------------------------------------

def test_theme_and_zoom_are_kept_in_settings_json_and_odd_values_read_as_defaults():
    doc = settings_to_json(Settings(theme="dark", font_zoom=3))
    assert doc["theme"] == "dark" and doc["font_zoom"] == 3 and doc["version"] >= 1
    back, notice = settings_from_json(json.loads(json.dumps(doc)))
    assert (back.theme, back.font_zoom, notice) == ("dark", 3, None)
    odd, _ = settings_from_json({**doc, "theme": "purple", "font_zoom": 999})
    assert (odd.theme, odd.font_zoom) == ("system", 24)
    older, _ = settings_from_json({"version": 1})  # a file from before these settings
    assert (older.theme, older.font_zoom) == ("system", 0)


# -- the theme --------------------------------------------------------------------------------------

def test_dark_and_light_switch_live_and_the_transcript_recolours_what_it_shows(qtbot):
    window = MainWindow()
    qtbot.addWidget(window)
    window.resize(900, 700)
    window.show()
    qtbot.waitExposed(window)
    view = window.transcript
    view.add_message(Message("user", "hello"))
    view.add_message(Message("assistant", "partial", status=Status.STOPPED))  # a note with a "keep it" link
    view.show_error(ErrorInfo("auth", "The server refused the key.", detail="bad key", action="settings"), can_retry=True)
    view.highlight("hello")
    light = painted_colors(view)
    assert {LIGHT.base, LIGHT.error_bg, LIGHT.search_bg} <= light
    assert view.colors()["muted"] == LIGHT.note and view.colors()["link"] == LIGHT.link
    with qtbot.waitSignal(theme().themeChanged) as changed:
        theme().set_mode("dark")
    assert changed.args == [DARK]
    assert window_bg().lightness() < 80  # the palette is dark
    dark = painted_colors(view)
    assert {DARK.base, DARK.error_bg, DARK.search_bg} <= dark
    assert not {LIGHT.base, LIGHT.error_bg, LIGHT.search_bg} & dark
    assert (view.colors()["muted"], view.colors()["error"], view.colors()["link"]) == (DARK.note, DARK.error, DARK.link)
    # Something written after the switch has the dark colours too.
    view.add_notice("a notice")
    assert LIGHT.base not in painted_colors(view)
    theme().set_mode("light")
    assert window_bg().lightness() > 180
    assert {LIGHT.base, LIGHT.error_bg} <= painted_colors(view)
    assert DARK.base not in painted_colors(view)


def test_problem_labels_in_dialogs_are_readable_in_dark(qtbot):
    theme().set_mode("dark")
    dialog = SettingsDialog(Settings(), KeyStore(MemoryKeyring()), {}, personas=PersonaLibrary())
    qtbot.addWidget(dialog)
    dialog.connection.url_edit.setText("not a url")
    dialog.accept()  # refused: the problem is shown in the error label
    assert dialog.error_label.text()
    assert DARK.error in dialog.error_label.styleSheet()


def test_system_follows_the_desktop_scheme_live(qtbot):
    window = MainWindow()
    qtbot.addWidget(window)
    theme().set_mode("system")
    hints = QGuiApplication.styleHints()
    with qtbot.waitSignal(theme().themeChanged):
        hints.colorSchemeChanged.emit(Qt.ColorScheme.Dark)  # what Qt sends when the desktop switches
    assert theme().dark and window_bg().lightness() < 80
    with qtbot.waitSignal(theme().themeChanged):
        hints.colorSchemeChanged.emit(Qt.ColorScheme.Light)
    assert not theme().dark and window_bg().lightness() > 180
    # A fixed choice ignores the desktop.
    theme().set_mode("light")
    with qtbot.assertNotEmitted(theme().themeChanged, wait=50):
        hints.colorSchemeChanged.emit(Qt.ColorScheme.Dark)
    assert window_bg().lightness() > 180


def test_system_keeps_a_dark_desktop_palette_when_the_desktop_does_not_name_its_scheme(qtbot, qapp):
    original = QGuiApplication.palette()
    try:
        QGuiApplication.setPalette(palette_for(DARK))  # as a dark KDE/X resources theme gives it
        probe = Theme(qapp, "system")
        probe._system_changed(Qt.ColorScheme.Unknown)
        assert probe.dark
        probe.apply()
        assert window_bg().lightness() < 80  # not forced light
        probe.deleteLater()
    finally:
        QGuiApplication.setPalette(original)


def test_sidebar_marks_are_sharp_at_200_percent(qtbot):
    from chatbot_gui.ui.sidebar import _mark_icon

    icon = _mark_icon("unread")
    pixmap = icon.pixmap(QSize(12, 12), 2.0)  # a 12 px icon on a 2x screen: drawn at 24 px, not blown up
    assert (pixmap.width(), pixmap.height()) == (24, 24) and pixmap.devicePixelRatio() == 2.0


@pytest.mark.parametrize("colors", [LIGHT, DARK], ids=["light", "dark"])
def test_transcript_colours_are_readable(colors):
    """WCAG AA: 4.5:1 for text on its background."""
    def luminance(name: str) -> float:
        c = QColor(name)
        def lin(v: float) -> float:
            return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4
        return 0.2126 * lin(c.redF()) + 0.7152 * lin(c.greenF()) + 0.0722 * lin(c.blueF())

    def contrast(a: str, b: str) -> float:
        la, lb = sorted((luminance(a), luminance(b)), reverse=True)
        return (la + 0.05) / (lb + 0.05)

    for fg, bg in ((colors.text, colors.base), (colors.note, colors.base), (colors.link, colors.base),
                   (colors.error, colors.error_bg), (colors.text, colors.search_bg),
                   (colors.highlighted_text, colors.highlight), (colors.text, colors.window)):
        assert contrast(fg, bg) >= 4.5, (fg, bg, contrast(fg, bg))


# -- the app: settings, zoom, shortcuts ----------------------------------------------------------------

@pytest.fixture
def paths(tmp_path: Path) -> AppPaths:
    return AppPaths(config_dir=tmp_path / "config", data_dir=tmp_path / "data")


class Answers:
    def __init__(self) -> None:
        self.save_paths: list[str] = []

    def ask_save_path(self, suggested):
        self.save_paths.append(suggested)
        return None  # cancelled

    def ask_folder_and_format(self):
        return None

    def ask_open_path(self):
        return None

    def warn(self, title, text):
        raise AssertionError(f"unexpected warning: {title}: {text}")


@pytest.fixture
def app(qtbot, paths, fake_server: FakeServer):
    opened = []
    answers = Answers()

    def start(ask_settings=None):
        def never(*args, **kwargs):
            raise AssertionError("no Settings dialog expected")

        window, chat = create_window({"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": fake_server.base_url},
                                     paths=paths, keys=KeyStore(MemoryKeyring()),
                                     ask_settings=ask_settings or never, history_interaction=answers)
        qtbot.addWidget(window)
        window.show()
        qtbot.waitUntil(lambda: window.history_controller.store is not None and chat.config.api_key == KEY)
        window.activateWindow()
        qtbot.waitUntil(window.isActiveWindow)
        opened.append((window, chat))
        return window, chat

    start.answers = answers
    yield start
    for window, chat in opened:
        assert chat.shutdown(3000)
        window.close()


def send(qtbot, window, chat, text: str) -> None:
    window.input.setPlainText(text)
    qtbot.keyClick(window.input, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not chat.busy, timeout=8000)


def chat_titles(window) -> list[str]:
    model = window.sidebar.chat_model
    return [model.index(r).data() for r in range(model.rowCount()) if model.index(r).data(ChatIdRole)]


def test_zoom_keys_size_transcript_and_input_and_the_size_is_remembered(qtbot, app, paths):
    window, _ = app()
    base = window.transcript.font().pointSizeF()
    window.input.setFocus()
    qtbot.keyClick(window.input, Qt.Key.Key_Equal, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(window.input, Qt.Key.Key_Plus, Qt.KeyboardModifier.ControlModifier)
    assert window.transcript.font().pointSizeF() == base + 2
    assert window.input.font().pointSizeF() == base + 2
    assert "+2 pt" in window.statusBar().currentMessage()
    window.transcript.setFocus()
    qtbot.keyClick(window.transcript, Qt.Key.Key_Minus, Qt.KeyboardModifier.ControlModifier)
    assert window.transcript.font().pointSizeF() == base + 1
    window.close()
    assert json.loads((paths.config_dir / "settings.json").read_text())["font_zoom"] == 1
    window2, _ = app()
    assert window2.transcript.font().pointSizeF() == base + 1 and window2.input.font().pointSizeF() == base + 1
    qtbot.keyClick(window2.input, Qt.Key.Key_0, Qt.KeyboardModifier.ControlModifier)
    assert window2.transcript.font().pointSizeF() == base
    for _ in range(40):  # the size stops at a readable minimum
        qtbot.keyClick(window2.input, Qt.Key.Key_Minus, Qt.KeyboardModifier.ControlModifier)
    assert window2.transcript.font().pointSizeF() >= 6


def test_the_appearance_chosen_in_settings_applies_at_once_and_at_the_next_start(qtbot, app, paths):
    def choose_dark(parent, settings, keys, env, first_run=False, personas=None):
        from chatbot_gui.ui.settings_dialog import DialogResult
        return DialogResult(settings.__class__(**{**settings.__dict__, "theme": "dark"}), None)

    window, _ = app(ask_settings=choose_dark)
    assert not theme().dark
    window.settings_action.trigger()
    assert theme().dark and window_bg().lightness() < 80
    assert json.loads((paths.config_dir / "settings.json").read_text())["theme"] == "dark"
    window.close()
    theme().set_mode("system")
    assert not theme().dark
    app()  # the next start reads it before the window is shown
    assert theme().mode == "dark" and theme().dark


def test_settings_dialog_has_an_appearance_page(qtbot):
    dialog = SettingsDialog(Settings(theme="light"), KeyStore(MemoryKeyring()), {}, personas=PersonaLibrary())
    qtbot.addWidget(dialog)
    tabs = [dialog.tabs.tabText(i) for i in range(dialog.tabs.count())]
    assert "Appearance" in tabs
    combo = dialog.appearance.theme_combo
    assert [combo.itemData(i) for i in range(combo.count())] == ["system", "light", "dark"]
    assert dialog.appearance.mode() == "light"
    combo.setCurrentIndex(2)
    dialog.accept()
    qtbot.waitUntil(lambda: dialog.result_settings() is not None)
    assert dialog.result_settings().theme == "dark"
    assert not theme().dark  # applied by the controller after OK, not by the dialog


def test_shortcut_list_is_made_from_the_registered_actions(qtbot, app):
    window, _ = app()
    with qtbot.waitSignal(window.shortcuts_action.triggered):
        qtbot.keyClick(window.input, Qt.Key.Key_Slash, Qt.KeyboardModifier.ControlModifier)
    dialog = window.findChild(ShortcutsDialog)
    assert dialog is not None and dialog.isVisible()
    shown = {(what, keys) for what, keys, _ in dialog.rows()}
    # Every action and QShortcut in the window that has a key is listed with exactly its keys ...
    expected = set()
    for action in window.findChildren(QAction):
        keys = " or ".join(s.toString(QKeySequence.SequenceFormat.NativeText) for s in action.shortcuts())
        if keys:
            expected.add((action.text().replace("&", "").rstrip("…"), keys))
    for shortcut in window.findChildren(QShortcut):
        expected.add((shortcut.whatsThis() or shortcut.objectName(), shortcut.key().toString()))
    widget_rows = {(w.what, w.keys) for w in WIDGET_KEYS}
    assert shown - widget_rows == expected
    # ... among them the ones people look for.
    for what, keys in [("New chat", "Ctrl+N"), ("Export chat", "Ctrl+E"), ("Rename chat", "F2"),
                       ("Delete chat", "Del"), ("Zoom in", "Ctrl+= or Ctrl++"), ("Zoom out", "Ctrl+-"),
                       ("Reset zoom", "Ctrl+0"), ("Stop reply", "Esc"), ("Quit", "Ctrl+Q"),
                       ("Search all chats", "Ctrl+Shift+F"), ("Keyboard shortcuts", "Ctrl+/")]:
        assert (what, keys) in shown, (what, keys)
    # A shortcut added later is listed without anyone editing a list.
    extra = QAction("Frobnicate", window)
    extra.setShortcut(QKeySequence("Ctrl+Alt+J"))
    window.addAction(extra)
    window.shortcuts_action.trigger()
    assert ("Frobnicate", "Ctrl+Alt+J", "") in window.findChild(ShortcutsDialog).rows()


def test_f2_delete_ctrl_n_and_ctrl_e_work_wherever_focus_is(qtbot, app, fake_server):
    window, chat = app()
    fake_server.queue(stream(["one"]), stream(["two"]))
    send(qtbot, window, chat, "first chat")
    qtbot.keyClick(window.input, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)  # focus in the input
    assert window.transcript.blocks_of_kind("user") == []
    send(qtbot, window, chat, "second chat")
    qtbot.waitUntil(lambda: chat_titles(window) == ["second chat", "first chat"], timeout=2000)
    # Delete in the message box deletes text, not the chat.
    window.input.setPlainText("abc")
    window.input.setFocus()
    cursor = window.input.textCursor()
    cursor.setPosition(0)
    window.input.setTextCursor(cursor)
    qtbot.keyClick(window.input, Qt.Key.Key_Delete)
    assert window.input.toPlainText() == "bc"
    assert chat_titles(window) == ["second chat", "first chat"]
    # Ctrl+E from the input: export (the file picker is asked, here cancelled).
    qtbot.keyClick(window.input, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    assert app.answers.save_paths and "second chat" in app.answers.save_paths[-1]
    # F2 from the transcript: the open chat's title is edited in the list.
    window.transcript.setFocus()
    qtbot.keyClick(window.transcript, Qt.Key.Key_F2)
    view = window.sidebar.chat_list
    assert view.state() == QAbstractItemView.State.EditingState
    editor = QApplication.focusWidget()
    assert isinstance(editor, QLineEdit) and editor.text() == "second chat"
    editor.setText("renamed")
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: chat_titles(window)[0] == "renamed")
    # Delete from the transcript (read-only: the key is free) deletes the open chat, with Undo.
    window.transcript.setFocus()
    qtbot.keyClick(window.transcript, Qt.Key.Key_Delete)
    assert chat_titles(window) == ["first chat"]
    assert window.sidebar.undo_bar.isVisible()
    # Delete in the search field edits the query.
    window.sidebar.search_edit.setText("xy")
    window.sidebar.search_edit.setCursorPosition(0)
    window.sidebar.search_edit.setFocus()
    qtbot.keyClick(window.sidebar.search_edit, Qt.Key.Key_Delete)
    assert window.sidebar.search_edit.text() == "y" and chat_titles(window) == ["first chat"]


def test_delete_on_the_current_message_deletes_that_message_not_the_chat(qtbot, app, fake_server):
    window, chat = app()
    fake_server.queue(stream(["first ", "answer"]), stream(["second ", "answer"]))
    send(qtbot, window, chat, "question one")
    send(qtbot, window, chat, "question two")
    assert window.transcript.blocks_of_kind("assistant") == ["first answer", "second answer"]
    qtbot.waitUntil(lambda: chat_titles(window) == ["question one"])  # listed a moment after the send
    view = window.transcript
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_Up)  # the latest reply is current (highlighted, actions shown)
    qtbot.keyClick(view, Qt.Key.Key_Delete)
    assert view.blocks_of_kind("assistant") == ["first answer"]
    assert view.blocks_of_kind("user") == ["question one", "question two"]
    assert chat_titles(window) == ["question one"] and not window.sidebar.undo_bar.isVisible()
    assert [m.content for m in chat.conversation.messages if m.role == "assistant"] == ["first answer"]
    qtbot.keyClick(view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # Ctrl+Z puts it back
    assert view.blocks_of_kind("assistant") == ["first answer", "second answer"]
    qtbot.keyClick(view, Qt.Key.Key_Up)
    qtbot.keyClick(view, Qt.Key.Key_Delete)
    assert view.blocks_of_kind("assistant") == ["first answer"]
    # The deleted message was current; with none current, Delete is the window's again: Delete chat.
    qtbot.keyClick(view, Qt.Key.Key_Delete)
    assert chat_titles(window) == [] and window.sidebar.undo_bar.isVisible()


# -- accessibility -----------------------------------------------------------------------------------

INTERACTIVE = (QAbstractButton, QComboBox, QLineEdit, QAbstractItemView, QTextEdit, QPlainTextEdit,
               QAbstractSpinBox, QTabBar)


def unnamed_controls(root: QWidget) -> list[str]:
    """Interactive controls a screen reader would announce without a name, or that Tab cannot reach.

    A name counts when set explicitly, when a label names the control (its buddy), or, for buttons,
    check boxes and tabs, from their own text; a picker's or field's content is not its name."""
    buddies = {id(label.buddy()) for label in root.findChildren(QLabel) if label.buddy() is not None}
    problems = []
    for widget in root.findChildren(QWidget):
        if not isinstance(widget, INTERACTIVE) or isinstance(widget.parent(), (QComboBox, QAbstractSpinBox)):
            continue  # a combo's or spin box's own line edit and popup list are parts of it
        if isinstance(widget.parent(), QAbstractItemView):
            continue  # a table's headers and corner button are parts of it: its cells are what Tab reaches
        if isinstance(widget.parent(), (QLineEdit, QTabBar)) or widget.objectName() == "qt_menubar_ext_button":
            continue  # a line edit's clear button, a tab bar's scroll arrows: Qt's own, keyboard has another way
        if widget.window() is not root:
            continue  # a popup
        what = f"{type(widget).__name__} {widget.objectName()!r}"
        iface = QAccessible.queryAccessibleInterface(widget)
        name = iface.text(QAccessible.Text.Name) if iface is not None else ""
        own = isinstance(widget, (QAbstractButton, QTabBar)) and bool(name)
        if not (widget.accessibleName() or id(widget) in buddies or own):
            problems.append(f"{what}: no accessible name (a screen reader says {name!r})")
        if not widget.focusPolicy() & Qt.FocusPolicy.TabFocus:
            problems.append(f"{what}: Tab does not reach it")
    return problems


def test_every_control_in_the_main_window_has_a_name_and_a_keyboard_path(qtbot, app):
    window, _ = app()
    window.keyring_retry_button.show()
    window.sidebar.show_undo("Deleted “x”.", lambda: None)
    assert unnamed_controls(window) == []


def test_every_control_in_the_settings_dialog_has_a_name_and_a_keyboard_path(qtbot):
    dialog = SettingsDialog(Settings(), KeyStore(MemoryKeyring()), {}, personas=PersonaLibrary())
    qtbot.addWidget(dialog)
    dialog.show()
    assert unnamed_controls(dialog) == []


def test_the_walk_finds_an_unnamed_control(qtbot):
    """The check above can fail: a field with no label and no name is reported."""
    window = MainWindow()
    qtbot.addWidget(window)
    window.statusBar().addWidget(QLineEdit(objectName="mystery"))
    assert unnamed_controls(window) == ["QLineEdit 'mystery': no accessible name (a screen reader says '')"]


def test_the_message_list_view_can_follow_the_theme_and_the_zoom(qtbot):
    """The hook the Markdown message view gets when it is put into the window (theme.py's docstring)."""
    from chatbot_gui.ui.messages.view import MessagesView
    from chatbot_gui.ui.theme import follow

    window = MainWindow()
    qtbot.addWidget(window)
    view = MessagesView()
    qtbot.addWidget(view)
    def hook(colors) -> None:
        view.set_theme("dark" if colors.dark else "light")

    follow(hook)
    try:
        window.zoomChanged.connect(view.set_zoom)
        assert view.theme() == "light"
        theme().set_mode("dark")
        assert view.theme() == "dark"
        window.zoom_in_action.trigger()
        assert view.zoom_level() == 1
    finally:
        theme().themeChanged.disconnect(hook)  # a plain function: not dropped with the view
