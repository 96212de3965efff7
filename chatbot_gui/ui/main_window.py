"""The main window: model and persona pickers, the transcript above the input pane, Send/Stop.

Thin: it lays widgets out and offers small accessors; the controller does the chat logic.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from PySide6.QtCore import QEvent, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QFont, QPainter, QPalette
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from chatbot_gui import APP_NAME
from chatbot_gui.core.personas import BUILTIN_PERSONAS, DEFAULT_MODEL, Persona
from chatbot_gui.ui.input_box import ChatInput, Composer
from chatbot_gui.ui.chat_view import ChatView

if TYPE_CHECKING:  # built with the menus' actions, after the first paint at start-up
    from PySide6.QtGui import QAction

SUGGESTED_MODELS = ("gpt-4o-mini", "gpt-4o", "gpt-4.1", "gpt-4.1-mini", "o4-mini")


class WidePopupComboBox(QComboBox):
    """A combo box whose open list is as wide as its longest entry (at most its window's width):
    a picker shrunk in a narrow window still lists whole names, not "accoun…ontext"."""

    def showPopup(self) -> None:  # noqa: N802 - Qt override
        view = self.view()
        extra = 2 * view.frameWidth() + view.verticalScrollBar().sizeHint().width() + 8
        room = max(self.width(), self.window().width() - 16)
        view.setMinimumWidth(min(view.sizeHintForColumn(0) + extra, room))
        super().showPopup()


class ElidingComboBox(WidePopupComboBox):
    """A (non-editable) combo box that shows a name too long for it as "A very long na…"; Qt's
    styles just cut it off."""

    def paintEvent(self, event) -> None:  # noqa: ANN001, N802 - Qt override
        if self.fontMetrics().horizontalAdvance(self.currentText()) <= self.text_room():
            # The name fits: QComboBox paints it exactly as the code below would, in C++. (On the
            # start-up path: touching QStyle from Python builds its ~600 enum members, ~4 ms.)
            super().paintEvent(event)
            return
        from PySide6.QtWidgets import QStyle, QStyleOptionComboBox, QStylePainter

        painter = QStylePainter(self)
        opt = QStyleOptionComboBox()
        self.initStyleOption(opt)
        painter.drawComplexControl(QStyle.ComplexControl.CC_ComboBox, opt)
        opt.currentText = self._elided(opt)
        painter.drawControl(QStyle.ControlElement.CE_ComboBoxLabel, opt)

    def text_room(self) -> int:
        """A width any name up to which fits in the field, from what the style itself asks to have
        around the text (the minimum size hint is the style's size for 7 "X", plus the icon and 4
        px, by QComboBox's rule for this size policy); asked of Qt in C++, so QStyle stays unbuilt."""
        content = self.minimumContentsLength() * self.fontMetrics().horizontalAdvance("X")
        content += self.iconSize().width() + 4
        return self.width() - (self.minimumSizeHint().width() - content)

    def _elided(self, opt) -> str:  # noqa: ANN001 - a QStyleOptionComboBox
        from PySide6.QtWidgets import QStyle

        field = self.style().subControlRect(QStyle.ComplexControl.CC_ComboBox, opt,
                                            QStyle.SubControl.SC_ComboBoxEditField, self)
        return opt.fontMetrics.elidedText(opt.currentText, Qt.TextElideMode.ElideRight, field.width())

    def displayed_text(self) -> str:
        """What the closed picker shows (tests)."""
        from PySide6.QtWidgets import QStyleOptionComboBox

        opt = QStyleOptionComboBox()
        self.initStyleOption(opt)
        return self._elided(opt)


def _action(text: str, parent) -> QAction:  # noqa: ANN001 - a QObject
    """``QAction(text, parent)`` without its overload check against ``QAction(QIcon, ...)``, which
    builds the QIcon type and its ~150 theme-icon enum members (~1 ms on the start-up path)."""
    from PySide6.QtGui import QAction

    action = QAction(parent)
    action.setText(text)
    return action


#: The history list's narrowest width; with the pickers' minimum it lets the window be 500 px wide.
SIDEBAR_MIN_WIDTH = 150
#: The smallest font the zoom gives the transcript and the input, in points.
MIN_FONT_POINTS = 6.0


class StatusLabel(QLabel):
    """The connection line at the right of the status bar. It may shrink to nothing (the window
    caps it at :data:`STATUS_LABEL_SHARE` of its width, so the status message keeps its room in a
    narrow window) and then paints its text elided; ``text()`` and the tooltip keep all of it."""

    #: The text was set (the window then shares the status bar out again).
    changed = Signal()

    def setText(self, text: str) -> None:  # noqa: N802 - Qt override
        if text == self.text():
            return  # (set at every send and chat shown; the status bar is not shared out again)
        super().setText(text)
        self.setToolTip(text)
        self.changed.emit()

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt override
        return QSize(0, super().minimumSizeHint().height())

    def paintEvent(self, event) -> None:  # noqa: ANN001, N802 - Qt override
        rect = self.contentsRect()
        shown = self.fontMetrics().elidedText(self.text(), Qt.TextElideMode.ElideRight, rect.width())
        painter = QPainter(self)
        painter.setPen(self.palette().color(QPalette.ColorRole.WindowText))
        painter.drawText(rect, int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter), shown)


#: At most this share of the window's width goes to the connection line in the status bar.
STATUS_LABEL_SHARE = 0.45


class MainWindow(QMainWindow):
    """The chat window. ``closing`` handlers (the controller's shutdown) run before it closes.

    Signals:
        zoomChanged(int steps): the user zoomed the transcript and input (points above the default).
    """

    zoomChanged = Signal(int)

    def __init__(self, personas: Sequence[Persona] = BUILTIN_PERSONAS, model: str = DEFAULT_MODEL, *,
                 actions_later: bool = False) -> None:
        super().__init__()
        self.setWindowTitle(APP_NAME)
        self.resize(1100, 720)
        self._personas = list(personas)
        self._close_handlers: list = []

        # Top bar: model and persona pickers.
        self.model_combo = WidePopupComboBox()
        self.model_combo.setEditable(True)
        self.model_combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.model_combo.addItems(list(dict.fromkeys((model, *SUGGESTED_MODELS))))
        self.model_combo.setCurrentText(model)
        self.persona_combo = ElidingComboBox()
        for persona in self._personas:
            self.persona_combo.addItem(persona.name)
        # Narrow windows (500 px) keep both pickers readable: they shrink to ~7 characters (the
        # persona's name elided, the model's start shown) instead of pushing the window wider, grow
        # up to a cap when there is room, and their tooltips always give the whole name.
        for combo, cap in ((self.model_combo, 420), (self.persona_combo, 320)):
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(7)
            combo.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
            combo.setMaximumWidth(cap)
        self.model_combo.currentTextChanged.connect(self._update_picker_tips)
        self.persona_combo.currentIndexChanged.connect(self._update_picker_tips)
        for combo in (self.model_combo, self.persona_combo):
            # Chosen (from the list, or Enter on a typed model): what comes next is the message.
            combo.activated.connect(lambda _index: self.input.setFocus(Qt.FocusReason.OtherFocusReason))
        top = QHBoxLayout()
        model_label = QLabel("&Model:")  # Alt+M, Alt+P: the keyboard path to the pickers
        model_label.setBuddy(self.model_combo)
        persona_label = QLabel("&Persona:")
        persona_label.setBuddy(self.persona_combo)
        top.addWidget(model_label)
        top.addWidget(self.model_combo, 3)
        top.addSpacing(8)
        top.addWidget(persona_label)
        top.addWidget(self.persona_combo, 2)
        top.addStretch(1)

        # Transcript above input.
        self.transcript = ChatView()
        self.input = ChatInput()
        self.send_button = QPushButton("Send")
        self.send_button.setDefault(False)
        self.send_button.setToolTip("Send (Enter)")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop the reply (Esc)")
        self.stop_button.setEnabled(False)
        self._name_controls()
        # The message box sits under the messages, in the reading column's width, on the same
        # background: one pane, as chat apps draw it (the box grows with its text, so no splitter).
        self.composer = Composer(self.input, [self.stop_button, self.send_button])
        self.transcript.typed.connect(self._type_into_input)
        # A copy is silent otherwise: the status line says what went to the clipboard.
        self.transcript.copied.connect(lambda _text, what: what and self.show_status(f"Copied {what}.", 3000))
        self.transcript.nothingCopied.connect(self.show_status)  # the clipboard keeps what it had
        self.composer.setMaximumWidth(self.transcript.reading_width())
        composer_row = QHBoxLayout()
        composer_row.setContentsMargins(12, 4, 12 + self.transcript.verticalScrollBar().sizeHint().width(), 12)
        composer_row.addWidget(self.composer)
        chat_pane = QFrame()
        chat_pane.setFrameShape(QFrame.Shape.StyledPanel)
        chat_pane.setBackgroundRole(QPalette.ColorRole.Base)
        chat_pane.setAutoFillBackground(True)
        self.transcript.setFrameShape(QFrame.Shape.NoFrame)
        pane_layout = QVBoxLayout(chat_pane)
        pane_layout.setContentsMargins(1, 1, 1, 1)
        pane_layout.setSpacing(0)
        pane_layout.addWidget(self.transcript, 1)
        pane_layout.addLayout(composer_row)

        # App-level notices (a file set aside, the store failing): one banner, above the chat, that
        # loading a chat never wipes. Chat-related notices belong in the transcript instead.
        self.banner = QLabel()
        self.banner.setWordWrap(True)
        self.banner.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.banner.setStyleSheet("QLabel { background: #fff4ce; color: #3b3000; padding: 6px; }")
        self.banner_close = QPushButton("Dismiss")
        self.banner_close.clicked.connect(self.dismiss_notices)
        self.banner_bar = QWidget()
        banner_layout = QHBoxLayout(self.banner_bar)
        banner_layout.setContentsMargins(0, 0, 0, 0)
        banner_layout.addWidget(self.banner, 1)
        banner_layout.addWidget(self.banner_close)
        self.banner_bar.hide()
        self._notices: list[str] = []

        chat_area = QWidget()
        layout = QVBoxLayout(chat_area)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.banner_bar)
        layout.addWidget(chat_pane, 1)

        # The history sidebar on the left of the chat: a placeholder until the first paint, so
        # building the list, the search panel and opening the store stay off the start-up path.
        self.sidebar = None
        self._sidebar_slot = QWidget()
        self._sidebar_slot.setMinimumWidth(SIDEBAR_MIN_WIDTH)
        self.main_splitter = QSplitter(Qt.Orientation.Horizontal)
        self.main_splitter.addWidget(self._sidebar_slot)
        self.main_splitter.addWidget(chat_area)
        self.main_splitter.setStretchFactor(1, 1)
        self.main_splitter.setSizes([240, 760])
        central = QWidget()
        outer = QVBoxLayout(central)
        outer.setContentsMargins(6, 6, 6, 6)
        outer.addWidget(self.main_splitter)
        self.setCentralWidget(central)
        self._update_picker_tips()

        # Menus and shortcuts: the menu bar's titles now; their actions now or, with
        # ``actions_later`` (start-up), right after the first paint, which shows only the titles
        # (~2 ms of start-up: ~20 actions, their shortcuts and the QKeySequence type).
        self._menus = {title: self.menuBar().addMenu(title)
                       for title in ("&File", "&Chat", "&View", "&Settings", "&Help")}
        self.settings_menu = self._menus["&Settings"]
        self._zoom = 0
        self._base_points = self.transcript.font().pointSizeF()
        self.transcript.zoomRequested.connect(lambda steps: self.set_zoom(self._zoom + steps))
        self._after_paint: list = []
        self._painted = False
        #: The chat's size against the model's window, and the tokens it used ("38k / 128k tokens · …").
        self.context_label = StatusLabel()
        self.statusBar().addPermanentWidget(self.context_label)
        self.connection_label = StatusLabel()
        self.statusBar().addPermanentWidget(self.connection_label)
        # Shown when the keyring could not be read (locked, prompt cancelled, no answer).
        self.keyring_retry_button = QPushButton("Try again", objectName="keyringRetry")
        self.keyring_retry_button.setToolTip("Ask the system keyring for the saved key again")
        self.keyring_retry_button.setAccessibleName("Try reading the saved key again")
        self.keyring_retry_button.hide()
        self.statusBar().addPermanentWidget(self.keyring_retry_button)
        self.statusBar().messageChanged.connect(self._fit_status)
        self.context_label.changed.connect(self._fit_status)
        self.connection_label.changed.connect(self._fit_status)
        self.statusBar().showMessage("Ready")
        self.input.setFocus()
        if actions_later:
            self.after_first_paint(self._add_actions)
        else:
            self._add_actions()

    def _add_actions(self) -> None:
        """The menus' actions and the window's shortcuts (the menus themselves exist already)."""
        from PySide6.QtGui import QAction, QKeySequence

        file_menu = self._menus["&File"]
        self.new_chat_action = _action("&New chat", self)
        self.new_chat_action.setShortcut(QKeySequence.StandardKey.New)
        file_menu.addAction(self.new_chat_action)
        self.import_action = _action("&Import chat…", self)
        file_menu.addAction(self.import_action)
        file_menu.addSeparator()
        self.export_action = _action("&Export chat…", self)
        self.export_action.setShortcut(QKeySequence("Ctrl+E"))
        file_menu.addAction(self.export_action)
        self.export_all_action = _action("Export &all chats…", self)
        file_menu.addAction(self.export_all_action)
        file_menu.addSeparator()
        self.quit_action = _action("&Quit", self)
        self.quit_action.setShortcut(QKeySequence("Ctrl+Q"))
        self.quit_action.setMenuRole(QAction.MenuRole.QuitRole)
        self.quit_action.triggered.connect(self.close)
        file_menu.addAction(self.quit_action)
        chat_menu = self._menus["&Chat"]
        self.stop_action = _action("&Stop reply", self)
        self.stop_action.setShortcut(QKeySequence(Qt.Key.Key_Escape))
        self.stop_action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        self.stop_action.setEnabled(False)
        chat_menu.addAction(self.stop_action)
        self.addAction(self.stop_action)
        self.regenerate_action = _action("&Regenerate last reply", self)
        self.regenerate_action.setShortcut(QKeySequence("Ctrl+Shift+R"))
        chat_menu.addAction(self.regenerate_action)
        self.send_everything_action = _action("Send the &whole conversation", self)
        self.send_everything_action.setCheckable(True)
        self.send_everything_action.setToolTip(
            "This chat: send every message, even past the model's limit (the server may refuse it). "
            "Off: the oldest messages are left out when the chat grows too long.")
        chat_menu.addAction(self.send_everything_action)
        self.copy_chat_action = _action("&Copy chat as Markdown", self)
        self.copy_chat_action.setShortcut(QKeySequence("Ctrl+Shift+C"))
        self.copy_chat_action.triggered.connect(lambda: self.transcript.copy_chat())
        chat_menu.addAction(self.copy_chat_action)
        self.search_action = _action("Search all c&hats", self)
        self.search_action.setShortcut(QKeySequence("Ctrl+Shift+F"))
        chat_menu.addAction(self.search_action)
        chat_menu.addSeparator()
        # F2 and Delete act on the open chat wherever focus is, except that a text field keeps
        # Delete for its text (Qt gives an editable field the key first: ShortcutOverride); in the
        # chat list they act on the highlighted row (Sidebar's own handling).
        self.rename_action = _action("&Rename chat", self)
        self.rename_action.setShortcut(QKeySequence(Qt.Key.Key_F2))
        self.rename_action.triggered.connect(lambda: self.sidebar is not None and self.sidebar.rename_open_chat())
        chat_menu.addAction(self.rename_action)
        self.delete_action = _action("&Delete chat", self)
        self.delete_action.setShortcut(QKeySequence(QKeySequence.StandardKey.Delete))
        self.delete_action.triggered.connect(lambda: self.sidebar is not None and self.sidebar.delete_open_chat())
        chat_menu.addAction(self.delete_action)
        view_menu = self._menus["&View"]
        self.zoom_in_action = _action("Zoom &in", self)
        # Ctrl+= is Ctrl++ without Shift on most layouts; both work.
        self.zoom_in_action.setShortcuts([QKeySequence("Ctrl+="), QKeySequence("Ctrl++")])
        self.zoom_in_action.triggered.connect(lambda: self.set_zoom(self._zoom + 1))
        self.zoom_out_action = _action("Zoom &out", self)
        self.zoom_out_action.setShortcut(QKeySequence("Ctrl+-"))
        self.zoom_out_action.triggered.connect(lambda: self.set_zoom(self._zoom - 1))
        self.zoom_reset_action = _action("&Reset zoom", self)
        self.zoom_reset_action.setShortcut(QKeySequence("Ctrl+0"))
        self.zoom_reset_action.triggered.connect(lambda: self.set_zoom(0))
        for action in (self.zoom_in_action, self.zoom_out_action, self.zoom_reset_action):
            view_menu.addAction(action)
        self.settings_action = _action("&Settings…", self)
        self.settings_action.setShortcut(QKeySequence("Ctrl+,"))
        self.settings_action.setMenuRole(QAction.MenuRole.PreferencesRole)
        self._menus["&Settings"].addAction(self.settings_action)
        help_menu = self._menus["&Help"]
        self.shortcuts_action = _action("&Keyboard shortcuts", self)
        self.shortcuts_action.setShortcut(QKeySequence("Ctrl+/"))
        self.shortcuts_action.triggered.connect(self.show_shortcuts)
        help_menu.addAction(self.shortcuts_action)
        self.about_action = _action(f"&About {APP_NAME}", self)
        self.about_action.setMenuRole(QAction.MenuRole.AboutRole)
        help_menu.addAction(self.about_action)

    # -- start-up ----------------------------------------------------------------------------------
    def after_first_paint(self, callback) -> None:  # noqa: ANN001 - a plain callable
        """Run ``callback`` once the window has been painted (work that must not delay it); after
        the first paint, in the next event-loop turn."""
        if self._painted:
            QTimer.singleShot(0, callback)
        else:
            self._after_paint.append(callback)

    def paintEvent(self, event) -> None:  # noqa: ANN001, N802 - Qt override
        # The window paints once it is exposed; the callbacks run after that frame is on screen.
        # (Not an event filter on the transcript's viewport: the first viewport() call costs ~11 ms.)
        super().paintEvent(event)
        self._painted = True
        if self._after_paint:
            callbacks, self._after_paint = self._after_paint, []
            for callback in callbacks:
                QTimer.singleShot(0, callback)

    def build_sidebar(self):  # noqa: ANN201 - returns the Sidebar
        """Create the history sidebar in place of its placeholder (once)."""
        if self.sidebar is not None:
            return self.sidebar
        from datetime import datetime

        from PySide6.QtGui import QKeySequence

        from chatbot_gui.ui.sidebar import Sidebar

        sidebar = Sidebar(clock=datetime.now)
        sidebar.setMinimumWidth(SIDEBAR_MIN_WIDTH)
        self.main_splitter.replaceWidget(0, sidebar)
        self._sidebar_slot.deleteLater()
        # Ctrl+F while the sidebar has focus searches too.
        self.sidebar_search_action = _action("Search all chats", sidebar)
        self.sidebar_search_action.setProperty("where", "in the chat list")  # Help > Keyboard shortcuts
        self.sidebar_search_action.setShortcut(QKeySequence.StandardKey.Find)
        self.sidebar_search_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.sidebar_search_action.triggered.connect(sidebar.focus_search)
        sidebar.addAction(self.sidebar_search_action)
        self.sidebar = sidebar
        return sidebar

    def _name_controls(self) -> None:
        """Accessible names and descriptions (what a screen reader says; a picker's own name would
        be its current text)."""
        for widget, name, description in (
            (self.model_combo, "Model", "The model to use. Type any name your server knows"),
            (self.persona_combo, "Persona", "The system prompt that sets the assistant's persona"),
            (self.transcript, "Conversation", "The chat so far; read-only, text can be selected and copied"),
            (self.input, "Message", "Enter sends, Shift+Enter adds a line"),
            (self.send_button, "Send", "Send the message (Enter)"),
            (self.stop_button, "Stop", "Stop the reply (Esc)"),
        ):
            widget.setAccessibleName(name)
            widget.setAccessibleDescription(description)

    # -- zoom ------------------------------------------------------------------------------------
    @property
    def zoom(self) -> int:
        """Points added to (removed from) the transcript's and input's default font size."""
        return self._zoom

    def set_zoom(self, steps: int, announce: bool = True) -> None:
        """Make the transcript and input text ``steps`` points larger than the default (0: default);
        ``announce`` says the new size in the status line."""
        from chatbot_gui.core.settings import clamp_zoom

        steps = clamp_zoom(steps)
        if self._base_points + steps < MIN_FONT_POINTS:
            steps = int(MIN_FONT_POINTS - self._base_points)
        for widget in (self.transcript, self.input):
            font = QFont(widget.font())
            font.setPointSizeF(self._base_points + steps)
            widget.setFont(font)
        if steps != self._zoom:
            self._zoom = steps
            self.zoomChanged.emit(steps)
        self.composer.setMaximumWidth(self.transcript.reading_width())
        if announce:
            self.show_status("Text size: default" if not steps else f"Text size: {steps:+d} pt (Ctrl+0 resets)",
                             2000)

    # -- help ------------------------------------------------------------------------------------
    def show_shortcuts(self) -> None:
        """Help > Keyboard shortcuts: the list made from the window's actions and shortcuts."""
        from chatbot_gui.ui.shortcuts_dialog import show_shortcuts

        show_shortcuts(self)

    def _update_picker_tips(self) -> None:
        """Tooltips with the whole names (the pickers may show them cut short), per item too."""
        model = self.model_combo.currentText().strip()
        self.model_combo.setToolTip(f"Model: {model}\nThe model to use. Type any name your server knows."
                                    if model else "The model to use. Type any name your server knows.")
        for i in range(self.model_combo.count()):
            self.model_combo.setItemData(i, self.model_combo.itemText(i), Qt.ItemDataRole.ToolTipRole)
        index = self.persona_combo.currentIndex()
        name = self.persona_combo.itemText(index) if index >= 0 else ""
        self.persona_combo.setToolTip(f"Persona: {name}\nThe system prompt that sets the assistant's persona"
                                      if name else "The system prompt that sets the assistant's persona")
        for i in range(self.persona_combo.count()):
            self.persona_combo.setItemData(i, self.persona_combo.itemText(i), Qt.ItemDataRole.ToolTipRole)
        line = self.model_combo.lineEdit()
        if line is not None and not line.hasFocus():
            line.setCursorPosition(0)  # a long name shows its start ("accounts/fireworks/…"), not its end

    # -- accessors the controller uses -----------------------------------------------------------
    def current_persona(self) -> Persona:
        index = max(0, self.persona_combo.currentIndex())
        return self._personas[index]

    def current_model(self) -> str:
        return self.model_combo.currentText().strip()

    def set_models(self, models: Sequence[str], current: str) -> None:
        """Fill the model picker (the server's list when known, else suggestions); keep it editable."""
        names = list(dict.fromkeys([current, *models] if models else [current, *SUGGESTED_MODELS]))
        self.model_combo.blockSignals(True)
        self.model_combo.clear()
        self.model_combo.addItems([n for n in names if n])
        self.model_combo.setCurrentText(current)
        self.model_combo.blockSignals(False)
        self._update_picker_tips()

    def set_personas(self, personas: Sequence[Persona], select: str) -> None:
        """Refill the persona picker without announcing a change; ``select`` by name."""
        self._personas = list(personas)
        self.persona_combo.blockSignals(True)
        self.persona_combo.clear()
        for persona in self._personas:
            self.persona_combo.addItem(persona.name)
        self.persona_combo.blockSignals(False)
        self.select_persona(select)
        self._update_picker_tips()  # (other names may be under the same index now)

    def select_persona(self, name: str) -> None:
        """Show ``name`` in the picker without announcing a change."""
        names = [p.name for p in self._personas]
        index = names.index(name) if name in names else 0
        if index == self.persona_combo.currentIndex():
            return  # (each new chat and each chat shown comes here: nothing to redo)
        self.persona_combo.blockSignals(True)
        self.persona_combo.setCurrentIndex(index)
        self.persona_combo.blockSignals(False)
        self._update_picker_tips()

    def set_connection_label(self, text: str) -> None:
        self.connection_label.setText(text)

    def resizeEvent(self, event) -> None:  # noqa: ANN001, N802 - Qt override
        super().resizeEvent(event)
        self._fit_status()

    def _fit_status(self, *_args: object) -> None:
        """The status line's message first: the footer labels (the chat's tokens, then the
        server) get the room it leaves, elided, so in a narrow window "A reply is still coming…"
        is read whole rather than cut to "A rep"; they come back whole when it is short again."""
        bar = self.statusBar()
        width = self.width()
        message = bar.currentMessage()
        room = width - (bar.fontMetrics().horizontalAdvance(message) + 40 if message else 0)
        context = self.context_label
        want = context.fontMetrics().horizontalAdvance(context.text()) + 8 if context.text() else 0
        context.setMaximumWidth(max(0, min(want, room)))
        room -= min(want, max(0, room))
        self.connection_label.setMaximumWidth(max(0, min(room, int(width * STATUS_LABEL_SHARE))))

    def set_busy(self, busy: bool, status: str | None = None) -> None:
        """The shown chat's Send/Stop state and its status line."""
        self.send_button.setEnabled(not busy)
        self.stop_button.setEnabled(busy)
        self.stop_action.setEnabled(busy)
        self.statusBar().showMessage(status or ("Receiving reply… (Esc to stop)" if busy else "Ready"))

    # -- the app-level notification channel ----------------------------------------------------
    def notify(self, text: str) -> None:
        """Show an app-level notice in the banner (kept until dismissed; never wiped by a chat)."""
        if text in self._notices:
            return
        self._notices.append(text)
        self.banner.setText("\n".join(self._notices))
        self.banner_bar.show()

    def notices(self) -> list[str]:
        return list(self._notices)

    def dismiss_notices(self) -> None:
        self._notices.clear()
        self.banner.clear()
        self.banner_bar.hide()

    def _type_into_input(self, text: str) -> None:
        self.input.setFocus(Qt.FocusReason.OtherFocusReason)
        self.input.insertPlainText(text)

    def set_chat_title(self, title: str) -> None:
        self.setWindowTitle(f"{title} — {APP_NAME}" if title else APP_NAME)

    def event(self, event: QEvent) -> bool:  # noqa: N802 - Qt override
        # Opening a menu or moving over its items sends an empty status tip, and QMainWindow shows
        # it: the status line ("Exported 3 chats to …") was wiped by merely looking at a menu. Our
        # actions have no status tips, so an empty one is dropped.
        if event.type() == QEvent.Type.StatusTip and not event.tip():  # type: ignore[attr-defined]
            return True
        return super().event(event)

    def show_status(self, text: str, timeout_ms: int = 5000) -> None:
        self.statusBar().showMessage(text, timeout_ms)

    def on_close(self, handler, first: bool = False) -> None:  # noqa: ANN001 - a plain callable
        """Run ``handler`` when the window closes (``first``: before those registered earlier)."""
        if first:
            self._close_handlers.insert(0, handler)
        else:
            self._close_handlers.append(handler)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        for handler in self._close_handlers:
            handler()
        super().closeEvent(event)
