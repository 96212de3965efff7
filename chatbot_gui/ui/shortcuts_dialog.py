"""Help > Keyboard shortcuts: a list made from the shortcuts the window really has.

The rows come from the window's ``QAction`` and ``QShortcut`` objects (its own and its children's),
so a shortcut added, changed or removed in code shows here without anyone editing a list; keys that
widgets handle themselves (Enter in the message box, Esc in the search field) are listed from
:data:`WIDGET_KEYS`, beside the widget code that handles them.
"""

from __future__ import annotations

from typing import NamedTuple

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView, QDialog, QDialogButtonBox, QHeaderView, QTableWidget, QTableWidgetItem, QVBoxLayout,
    QWidget,
)

__all__ = ["Shortcut", "WIDGET_KEYS", "registered_shortcuts", "show_shortcuts", "ShortcutsDialog"]


class Shortcut(NamedTuple):
    """One row: what it does, its keys as the user's platform writes them ("Ctrl+N"), and where."""

    what: str
    keys: str
    where: str = ""


#: Keys handled inside widgets rather than by actions (input_box.py, messages/view.py,
#: search_panel.py, sidebar.py).
WIDGET_KEYS = (
    Shortcut("Send the message", "Enter", "in the message box"),
    Shortcut("New line", "Shift+Enter", "in the message box"),
    Shortcut("Previous / next message", "Up / Down", "in the chat"),
    Shortcut("Previous / next action of the message (Copy, Edit, Regenerate…)", "Left / Right", "in the chat"),
    Shortcut("Run the action", "Enter or Space", "in the chat"),
    Shortcut("Copy the selection, or the message", "Ctrl+C", "in the chat"),
    Shortcut("Delete the current message (none current: the chat)", "Del", "in the chat"),
    Shortcut("Put back the message just deleted", "Ctrl+Z", "in the chat"),
    Shortcut("Top / end of the chat", "Ctrl+Home / Ctrl+End", "in the chat"),
    Shortcut("Open the chat", "Enter", "in the chat list"),
    Shortcut("Leave the search", "Esc", "in the search field"),
    Shortcut("Next control / previous control", "Tab / Shift+Tab", ""),
    Shortcut("Open a menu", "Alt + the underlined letter", ""),
)


def _label(text: str) -> str:
    """A menu text as a sentence: no mnemonic ampersand, no trailing ellipsis."""
    return text.replace("&&", "\0").replace("&", "").replace("\0", "&").rstrip("…").rstrip(".").strip()


def _keys(sequences: list[QKeySequence]) -> str:
    return " or ".join(s.toString(QKeySequence.SequenceFormat.NativeText) for s in sequences if not s.isEmpty())


def registered_shortcuts(window: QWidget) -> list[Shortcut]:
    """Every QAction and QShortcut of ``window`` and its children that has a key, in menu order
    where the action is in a menu."""
    rows: list[Shortcut] = []
    seen: set[int] = set()
    for action in window.findChildren(QAction):
        keys = _keys(action.shortcuts())
        if not keys or id(action) in seen or not action.text():
            continue
        seen.add(id(action))
        context = action.shortcutContext()
        where = "" if context in (Qt.ShortcutContext.WindowShortcut, Qt.ShortcutContext.ApplicationShortcut) \
            else str(action.property("where") or "in its pane")
        rows.append(Shortcut(_label(action.text()), keys, where))
    for shortcut in window.findChildren(QShortcut):
        keys = _keys([shortcut.key()])
        if keys:
            rows.append(Shortcut(shortcut.whatsThis() or shortcut.objectName() or "(unnamed)", keys, ""))
    return rows


class ShortcutsDialog(QDialog):
    """A read-only table of the shortcuts; Esc or Close closes it."""

    def __init__(self, rows: list[Shortcut], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        self.table = QTableWidget(0, 3, self)
        self.table.setHorizontalHeaderLabels(["Action", "Keys", "Where"])
        self.table.setAccessibleName("Keyboard shortcuts")
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().hide()
        self.set_rows(rows)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addWidget(buttons)
        self.resize(560, 480)

    def set_rows(self, rows: list[Shortcut]) -> None:
        """Show ``rows`` (replacing what is shown)."""
        self.table.setRowCount(len(rows))
        for row, item in enumerate(rows):
            for column, text in enumerate(item):
                self.table.setItem(row, column, QTableWidgetItem(text))

    def rows(self) -> list[tuple[str, ...]]:
        """What the table shows (tests)."""
        return [tuple(self.table.item(r, c).text() for c in range(3)) for r in range(self.table.rowCount())]


def show_shortcuts(window: QWidget) -> ShortcutsDialog:
    """Open the list (non-modal; one per window, brought to the front and refreshed when it is
    open already) for ``window``'s shortcuts; returns the dialog."""
    rows = registered_shortcuts(window) + list(WIDGET_KEYS)
    dialog = window.findChild(ShortcutsDialog)
    if dialog is None:
        dialog = ShortcutsDialog(rows, window)
    else:
        dialog.set_rows(rows)
    dialog.show()  # a hidden one comes up in front; a shown one is activated
    dialog.activateWindow()
    return dialog
