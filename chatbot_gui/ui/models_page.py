"""Settings > Models: per model a context-window override and prices (issue 12 [Context]).

A table of OpenAI's models (list prices) and the user's own, editable in place; Add, Remove and Restore
defaults. The rules live in :mod:`chatbot_gui.core.model_table`; this page shows the rows, says what is
wrong under the table as the user types, and hands back the two settings on OK.
"""

from __future__ import annotations

from typing import Mapping

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QAbstractItemView, QHBoxLayout, QHeaderView, QLabel, QPushButton,
                               QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from chatbot_gui.core.model_table import (COLUMN_LABELS, COLUMNS, Problem, Row, builtin_row, check_rows,
                                          describe, rows_from_settings)
from chatbot_gui.core.usage import Price

INTRO = ("Context window: how many tokens the model takes (empty: what the server says, what it said "
         "when it refused a long chat, or the built-in figure). Prices in US dollars per million tokens, "
         "for the cost shown in the footer (OpenAI's server only).")

#: Column titles, on two lines so the table fits the dialog's width (the full name is the tooltip).
HEADERS = {"model": "Model", "window": "Context window\n(tokens)", "input": "Input\n$/1M",
           "cached_input": "Cached input\n$/1M", "output": "Output\n$/1M"}


class ModelsPage(QWidget):
    """The table; :meth:`problem` before OK, then :meth:`context_windows` and :meth:`model_prices`."""

    def __init__(self, windows: Mapping[str, int], prices: Mapping[str, Price],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        intro = QLabel(INTRO, wordWrap=True, objectName="modelsIntro")
        self.table = QTableWidget(0, len(COLUMNS), objectName="modelTable")
        self.table.setHorizontalHeaderLabels([HEADERS[c] for c in COLUMNS])
        for c, column in enumerate(COLUMNS):
            self.table.horizontalHeaderItem(c).setToolTip(COLUMN_LABELS[column])
            self.table.horizontalHeader().setSectionResizeMode(
                c, QHeaderView.ResizeMode.Stretch if c == 0 else QHeaderView.ResizeMode.ResizeToContents)
        self.table.verticalHeader().setVisible(False)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectItems)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked | QAbstractItemView.EditTrigger.EditKeyPressed
                                   | QAbstractItemView.EditTrigger.AnyKeyPressed | QAbstractItemView.EditTrigger.SelectedClicked)
        self.table.setAccessibleName("Models: context windows and prices")
        self.add_button = QPushButton("&Add model", objectName="addModel")
        self.remove_button = QPushButton("&Remove", objectName="removeModel")
        self.remove_button.setToolTip("A model you added goes; one of OpenAI's gets its list prices back")
        self.restore_button = QPushButton("Restore &defaults", objectName="restoreModels")
        self.restore_button.setToolTip("OpenAI's list prices, and no window set by hand")
        self.error_label = QLabel(objectName="modelsError", wordWrap=True)
        self.error_label.setStyleSheet("color: #b00020;")
        buttons = QHBoxLayout()
        for button in (self.add_button, self.remove_button, self.restore_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.error_label)
        self.add_button.clicked.connect(self.add_model)
        self.remove_button.clicked.connect(self.remove_current)
        self.restore_button.clicked.connect(self.restore_defaults)
        self._fill(rows_from_settings(windows, prices))
        self.table.itemChanged.connect(self._check)

    def keyPressEvent(self, event) -> None:  # noqa: ANN001, N802 - Qt override
        # Enter that ends a cell's edit is the table's (Qt's delegate commits it queued and lets the key
        # go on): it must not reach the dialog, where it would press OK with the edit half done.
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.table.isAncestorOf(self.focusWidget()
                                                                                            or self.table):
            event.accept()
            return
        super().keyPressEvent(event)

    # -- rows --------------------------------------------------------------------------------------
    def _fill(self, rows: list[Row]) -> None:
        blocked = self.table.blockSignals(True)
        self.table.setRowCount(0)
        for row in rows:
            self._append(row)
        self.table.blockSignals(blocked)

    def _append(self, row: Row) -> int:
        r = self.table.rowCount()
        self.table.insertRow(r)
        for c, column in enumerate(COLUMNS):
            item = QTableWidgetItem(getattr(row, column))
            if column != "model":
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.table.setItem(r, c, item)
        return r

    def rows(self) -> list[Row]:
        """The table as typed."""
        out = []
        for r in range(self.table.rowCount()):
            cells = [(self.table.item(r, c).text() if self.table.item(r, c) else "") for c in range(len(COLUMNS))]
            out.append(Row(*cells))
        return out

    def add_model(self) -> None:
        """A new empty row, its name cell open for typing."""
        r = self._append(Row(""))
        self.table.setCurrentCell(r, 0)
        self.table.scrollToItem(self.table.item(r, 0))
        self.table.setFocus(Qt.FocusReason.OtherFocusReason)
        self.table.editItem(self.table.item(r, 0))

    def remove_current(self) -> None:
        """Remove the current row (one of OpenAI's models: its list prices come back, no window)."""
        r = self.table.currentRow()
        if r < 0:
            return
        row = self.rows()[r]
        if row.builtin:
            rows = self.rows()
            rows[r] = builtin_row(row.model.strip().lower())
            self._fill(rows)
            self.table.setCurrentCell(r, 0)
        else:
            self.table.removeRow(r)
        self._check()

    def restore_defaults(self) -> None:
        """OpenAI's list prices and no window set by hand (Cancel still discards it)."""
        self._fill(rows_from_settings({}, {}))
        self._check()

    # -- checking ------------------------------------------------------------------------------------
    def _problems(self) -> list[Problem]:
        return check_rows(self.rows())[0]

    def _check(self, _item: QTableWidgetItem | None = None) -> None:
        problems = self._problems()
        self.error_label.setText(describe(problems[0], self.rows()) if problems else "")
        bad = {(p.row, COLUMNS.index(p.column)): p.text for p in problems}
        blocked = self.table.blockSignals(True)
        for r in range(self.table.rowCount()):
            for c in range(len(COLUMNS)):
                item = self.table.item(r, c)
                if item is not None:
                    item.setToolTip(bad.get((r, c), ""))
        self.table.blockSignals(blocked)

    def problem(self) -> str:
        """What must be fixed before OK, in words, or "" (the cell in question becomes current)."""
        problems = self._problems()
        self._check()
        if not problems:
            return ""
        first = problems[0]
        self.table.setCurrentCell(first.row, COLUMNS.index(first.column))
        return describe(first, self.rows())

    def context_windows(self) -> dict[str, int]:
        """The windows set by hand (model -> tokens)."""
        return check_rows(self.rows())[1]

    def model_prices(self) -> dict[str, Price]:
        """The prices that differ from OpenAI's list (model -> price)."""
        return check_rows(self.rows())[2]
