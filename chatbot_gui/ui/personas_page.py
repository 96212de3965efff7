"""The Personas page of the Settings dialog: list, edit, reorder, import and export system-prompt presets.

The page edits a working copy of a :class:`PersonaLibrary`; nothing is stored until the dialog's OK
takes :meth:`PersonasPage.result` (after :meth:`PersonasPage.problem` returned None). Cancel simply
drops the page. Questions to the user (conflicts on import, file names, confirmations) go through an
:class:`Interaction`, so tests answer them without modal dialogs.
"""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path
from typing import Any, Callable, Sequence

from PySide6.QtWidgets import (
    QCheckBox, QComboBox, QDoubleSpinBox, QFileDialog, QFormLayout, QGridLayout, QHBoxLayout, QLabel,
    QLineEdit, QListWidget, QListWidgetItem, QMessageBox, QPlainTextEdit, QPushButton, QSpinBox,
    QVBoxLayout, QWidget,
)

from chatbot_gui.core.persona_store import (
    PersonaLibrary, export_personas, import_personas, merge, with_builtins,
)
from chatbot_gui.core.personas import (
    MAX_TEMPERATURE, MIN_TEMPERATURE, Persona, name_key, name_problem, personas_problem,
    unique_name,
)
from chatbot_gui.ui.theme import error_style

MAX_REPLY_TOKENS = 2_000_000_000  # QSpinBox holds a C int; no model comes near this anyway


class Interaction:
    """The questions the page asks the user, as real message boxes and file dialogs.

    Tests pass any object with the same methods, answering them directly.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        self._parent = parent

    def ask_conflict(self, name: str) -> str:
        """An imported persona is called like ``name``: "replace", "keep_both" or "skip"."""
        box = QMessageBox(QMessageBox.Icon.Question, "Import personas",
                          f"A persona called “{name}” already exists.", parent=self._parent)
        box.setInformativeText("Replace it with the imported one, keep both (the imported one gets a "
                               "new name), or skip the imported one?")
        answers = {"replace": box.addButton("Replace", QMessageBox.ButtonRole.AcceptRole),
                   "keep_both": box.addButton("Keep both", QMessageBox.ButtonRole.AcceptRole)}
        box.setEscapeButton(box.addButton("Skip", QMessageBox.ButtonRole.RejectRole))
        box.setDefaultButton(answers["keep_both"])
        box.exec()
        return next((answer for answer, button in answers.items() if button is box.clickedButton()), "skip")

    def ask_open_path(self) -> str | None:
        """The file to import, or None."""
        filters = "JSON files (*.json);;All files (*)"
        return QFileDialog.getOpenFileName(self._parent, "Import personas", "", filters)[0] or None

    def ask_save_path(self, suggested: str) -> str | None:
        """Where to export, or None."""
        return QFileDialog.getSaveFileName(self._parent, "Export personas", suggested, "JSON files (*.json)")[0] or None

    def confirm_delete(self, name: str) -> bool:
        """Whether to delete the persona ``name``."""
        return self._yes("Delete persona", f"Delete the persona “{name}”?")

    def confirm_restore(self, names: Sequence[str]) -> bool:
        """Whether restoring the built-ins may reset the changed personas ``names``."""
        listed = ", ".join(f"“{n}”" for n in names)
        return self._yes("Restore built-in personas", f"This resets your changes to {listed}. Continue?")

    def _yes(self, title: str, text: str) -> bool:
        return QMessageBox.question(self._parent, title, text) == QMessageBox.StandardButton.Yes


def _prompt_text(edit: QPlainTextEdit) -> str:
    # toPlainText() turns no-break spaces into plain ones (French punctuation!); the raw text keeps
    # them and marks line breaks with U+2029 (paragraph) / U+2028 (Shift+Enter).
    return edit.document().toRawText().replace("\u2029", "\n").replace("\u2028", "\n")


def _button(text: str, name: str, slot: Callable[[], None]) -> QPushButton:
    button = QPushButton(text, objectName=name)
    button.clicked.connect(slot)
    return button


class PersonasPage(QWidget):
    """Edits a copy of a persona library. ``models`` fill the model picker's suggestions."""

    def __init__(self, library: PersonaLibrary, models: Sequence[str] = (),
                 interaction: Interaction | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._library = library
        self.interaction: Interaction = interaction or Interaction(self)
        self._ids = itertools.count(1)
        self._drafts: dict[int, Persona] = {}
        self._order: list[int] = []
        self._default = 0
        self._current = 0  # the id of the persona in the editor; ids start at 1
        self._loaded: tuple[Any, ...] = ()
        self._build(models)
        self._set_library(library)

    # -- layout ------------------------------------------------------------------------------------
    def _build(self, models: Sequence[str]) -> None:
        self.list = QListWidget(objectName="personaList")
        self.add_button = _button("Add", "addPersona", self.add_persona)
        self.duplicate_button = _button("Duplicate", "duplicatePersona", self.duplicate_persona)
        self.delete_button = _button("Delete…", "deletePersona", self.delete_persona)
        self.up_button = _button("Move up", "movePersonaUp", lambda: self.move_persona(-1))
        self.down_button = _button("Move down", "movePersonaDown", lambda: self.move_persona(1))
        self.default_button = _button("Use for new chats", "makeDefaultPersona", self.make_default)
        self.restore_button = _button("Restore built-ins", "restoreBuiltins", self.restore_builtins)
        self.import_button = _button("Import…", "importPersonas", self.import_file)
        self.export_button = _button("Export…", "exportPersonas", self.export_file)
        self.default_label = QLabel(objectName="defaultPersona", wordWrap=True)
        self.status = QLabel(objectName="personaStatus", wordWrap=True)

        self.name_edit = QLineEdit(objectName="personaName")
        self.name_error = QLabel(objectName="personaNameError", wordWrap=True, styleSheet=error_style())
        self.prompt_edit = QPlainTextEdit(objectName="systemPrompt", tabChangesFocus=True, minimumHeight=180,
                                          placeholderText="Empty: no system message is sent.")
        self.model_combo = QComboBox(objectName="personaModel", editable=True,
                                     insertPolicy=QComboBox.InsertPolicy.NoInsert)
        self.model_combo.addItems(list(models))
        self.model_combo.lineEdit().setPlaceholderText("the chat's model")
        self.temp_check = QCheckBox("Temperature:", objectName="useTemperature")
        self.temp_spin = QDoubleSpinBox(objectName="temperature", minimum=MIN_TEMPERATURE, maximum=MAX_TEMPERATURE,
                                        singleStep=0.1, decimals=2, value=1.0, enabled=False,
                                        toolTip="Lower is more focused, higher more varied. Off: the server's default.")
        self.max_check = QCheckBox("Limit reply length:", objectName="useMaxTokens")
        self.max_spin = QSpinBox(objectName="maxTokens", minimum=1, maximum=MAX_REPLY_TOKENS, value=1024,
                                 suffix=" tokens", enabled=False)

        name_row = QHBoxLayout()
        name_row.addWidget(self.name_edit, 1)
        name_row.addWidget(self.name_error, 1)
        form = QFormLayout()
        for label, field in (("Name:", name_row), ("System prompt:", self.prompt_edit), ("Model:", self.model_combo),
                             (self.temp_check, self.temp_spin), (self.max_check, self.max_spin)):
            form.addRow(label, field)

        buttons = QGridLayout()
        for i, button in enumerate((self.add_button, self.duplicate_button, self.delete_button,
                                    self.up_button, self.down_button, self.default_button,
                                    self.restore_button, self.import_button, self.export_button)):
            buttons.addWidget(button, i // 3, i % 3)
        left = QVBoxLayout()
        left.addWidget(self.list, 1)
        left.addLayout(buttons)
        left.addWidget(self.default_label)
        top = QHBoxLayout()
        top.addLayout(left, 2)
        top.addLayout(form, 3)
        layout = QVBoxLayout(self)
        layout.addLayout(top, 1)
        layout.addWidget(self.status)

        self.list.currentRowChanged.connect(self._on_row_changed)
        self.name_edit.textEdited.connect(self._on_name_edited)
        self.temp_check.toggled.connect(self.temp_spin.setEnabled)
        self.max_check.toggled.connect(self.max_spin.setEnabled)

    # -- drafts <-> widgets --------------------------------------------------------------------------
    def _widget_values(self) -> tuple[Any, ...]:
        return (self.name_edit.text(), _prompt_text(self.prompt_edit), self.model_combo.currentText(),
                self.temp_check.isChecked(), self.temp_spin.value(), self.max_check.isChecked(),
                self.max_spin.value())

    def _load(self, pid: int) -> None:
        self._current = pid
        p = self._drafts[pid]
        self.name_edit.setText(p.name)
        self.prompt_edit.setPlainText(p.system_prompt)
        self.model_combo.setCurrentText(p.model or "")
        self.temp_check.setChecked(p.temperature is not None)
        self.temp_spin.setValue(1.0 if p.temperature is None else p.temperature)
        self.max_check.setChecked(p.max_tokens is not None)
        self.max_spin.setValue(1024 if p.max_tokens is None else min(p.max_tokens, MAX_REPLY_TOKENS))
        self._loaded = self._widget_values()
        self._show_name_problem()
        self._update_buttons()

    def _store(self) -> None:
        """Copy what was changed in the widgets into the current draft.

        A field whose widget still shows what was loaded keeps the draft's exact value (a
        temperature of 0.755 or a prompt with U+2028 is not rounded or rewritten by merely looking).
        """
        if not self._current:
            return
        now, was = self._widget_values(), self._loaded
        fields = {"name": (0,), "system_prompt": (1,), "model": (2,), "temperature": (3, 4), "max_tokens": (5, 6)}
        values = {"name": now[0].strip(), "system_prompt": now[1], "model": now[2].strip() or None,
                  "temperature": now[4] if now[3] else None, "max_tokens": now[6] if now[5] else None}
        changes = {f: values[f] for f, idx in fields.items() if any(now[i] != was[i] for i in idx)}
        if changes:
            self._drafts[self._current] = dataclasses.replace(self._drafts[self._current], **changes)
            self._loaded = now

    def _set_library(self, library: PersonaLibrary, select: str | None = None) -> None:
        self._drafts.clear()
        self._order.clear()
        for persona in library.personas:
            pid = next(self._ids)
            self._drafts[pid] = persona
            self._order.append(pid)
        self._default = self._find(library.default_persona.name) or self._order[0]
        self._rebuild((select and self._find(select)) or self._order[0])

    def _find(self, name: str) -> int | None:
        return next((pid for pid in self._order if name_key(self._drafts[pid].name) == name_key(name)), None)

    def _rebuild(self, select: int) -> None:
        """Refill the list from the drafts (stored already) and show ``select``."""
        self._current = 0
        self.list.blockSignals(True)
        self.list.clear()
        for pid in self._order:
            self._label(item := QListWidgetItem(), pid)
            self.list.addItem(item)
        self.list.setCurrentRow(self._order.index(select))
        self.list.blockSignals(False)
        self._load(select)

    def _label(self, item: QListWidgetItem, pid: int) -> None:
        name = self._drafts[pid].name if pid != self._current else self.name_edit.text().strip()
        item.setText(name or "(unnamed)")
        font = item.font()
        font.setBold(pid == self._default)
        item.setFont(font)
        item.setToolTip("New chats start with this persona" if pid == self._default else "")

    def _on_row_changed(self, row: int) -> None:
        if 0 <= row < len(self._order) and self._order[row] != self._current:
            self._store()
            self._load(self._order[row])

    def _on_name_edited(self, _text: str) -> None:
        self._label(self.list.item(self._order.index(self._current)), self._current)
        self._show_name_problem()
        self._update_buttons()

    def _show_name_problem(self) -> None:
        others = [self._drafts[pid].name for pid in self._order if pid != self._current]
        why = name_problem(self.name_edit.text(), others) or ""
        self.name_error.setText(why)
        self.name_error.setVisible(bool(why))

    def _update_buttons(self) -> None:
        row = self._order.index(self._current)
        self.delete_button.setEnabled(len(self._order) > 1)
        self.up_button.setEnabled(row > 0)
        self.down_button.setEnabled(0 <= row < len(self._order) - 1)
        self.default_button.setEnabled(self._current != self._default)
        name = self.selected_name() if self._current == self._default else self._drafts[self._default].name
        self.default_label.setText(f"New chats start with “{name}”.")

    def _say(self, text: str, error: bool = False) -> None:
        self.status.setText(text)
        self.status.setStyleSheet(error_style() if error else "")

    # -- the result --------------------------------------------------------------------------------
    def problem(self) -> str | None:
        """What must be fixed before OK (an empty or repeated name), or None.

        The persona at fault is selected, so its message shows next to its name field.
        """
        self._store()
        why = personas_problem(self._drafts[pid] for pid in self._order)
        if why is not None:
            for pid in self._order:
                others = [self._drafts[o].name for o in self._order if o != pid]
                if name_problem(self._drafts[pid].name, others):
                    self.list.setCurrentRow(self._order.index(pid))
                    break
        return why

    def _names_ok(self) -> bool:
        why = self.problem()
        if why:
            self._say(why, error=True)
        return not why

    def result(self) -> PersonaLibrary:
        """The library as edited (check :meth:`problem` first); unknown fields of the original are kept."""
        self._store()
        return dataclasses.replace(self._library, personas=tuple(self._drafts[pid] for pid in self._order),
                                   default_name=self._drafts[self._default].name)

    def selected_name(self) -> str:
        """The name of the persona shown in the editor."""
        return self.name_edit.text().strip()

    # -- actions -------------------------------------------------------------------------------------
    def _insert(self, persona: Persona, at: int) -> None:
        """Add ``persona`` at ``at`` (the current draft is stored already) and show it."""
        pid = next(self._ids)
        self._drafts[pid] = persona
        self._order.insert(at, pid)
        self._rebuild(pid)

    def add_persona(self) -> None:
        """Add an empty persona after the selected one and put the cursor in its name."""
        self._store()
        name = unique_name("New persona", (p.name for p in self._drafts.values()))
        self._insert(Persona(name, ""), self.list.currentRow() + 1)
        self.name_edit.setFocus()
        self.name_edit.selectAll()

    def duplicate_persona(self) -> None:
        """Add a copy of the selected persona right after it, named "Name (2)"."""
        self._store()
        source = self._drafts[self._current]
        name = unique_name(source.name or "Persona", (p.name for p in self._drafts.values()))
        self._insert(dataclasses.replace(source, name=name), self.list.currentRow() + 1)

    def delete_persona(self) -> None:
        """Delete the selected persona after asking (the last one cannot go)."""
        if len(self._order) <= 1:
            return
        self._store()
        pid = self._current
        if not self.interaction.confirm_delete(self._drafts[pid].name or "(unnamed)"):
            return
        row = self._order.index(pid)
        self._order.remove(pid)
        del self._drafts[pid]
        if self._default == pid:
            self._default = self._order[0]
        self._rebuild(self._order[min(row, len(self._order) - 1)])

    def move_persona(self, step: int) -> None:
        """Move the selected persona ``step`` places (-1 up, 1 down)."""
        row = self._order.index(self._current)
        target = row + step
        if not 0 <= target < len(self._order):
            return
        self._store()
        self._order[row], self._order[target] = self._order[target], self._order[row]
        self._rebuild(self._current)

    def make_default(self) -> None:
        """New chats start with the selected persona."""
        self._store()
        self._default = self._current
        self._rebuild(self._current)

    def restore_builtins(self) -> None:
        """Bring back the built-in personas: missing ones are added, changed ones reset (after asking)."""
        restored, changed = with_builtins(self.result())
        if changed and not self.interaction.confirm_restore(changed):
            return
        self._set_library(restored, select=self.selected_name())
        self._say("The built-in personas are back.")

    def import_file(self) -> None:
        """Ask for a file and merge its personas in, asking what to do with each name already taken."""
        if not self._names_ok():  # merging by name needs names that tell the personas apart
            return
        path = self.interaction.ask_open_path()
        if not path:
            return
        try:
            incoming = import_personas(path)
        except ValueError as exc:
            self._say(str(exc), error=True)
            return
        current = self.result()
        answers: list[str] = []

        def choose(name: str) -> str:
            answers.append(self.interaction.ask_conflict(name))
            return answers[-1]

        merged = merge(current, incoming, choose)
        added = len(merged.personas) - len(current.personas)
        replaced = answers.count("replace")
        self._set_library(merged, select=merged.personas[-1].name if added else self.selected_name())
        self._say(f"Imported from {Path(path).name}: {added} added, {replaced} replaced, "
                  f"{len(incoming) - added - replaced} skipped.")

    def export_file(self) -> None:
        """Ask for a file name and write every persona to it."""
        if not self._names_ok():
            return
        path = self.interaction.ask_save_path("personas.json")
        if not path:
            return
        personas = self.result().personas
        try:
            export_personas(personas, path)
        except OSError as exc:
            self._say(f"Could not write {Path(path).name}: {exc.strerror or exc}.", error=True)
            return
        self._say(f"Exported {len(personas)} persona{'s' if len(personas) != 1 else ''} to {Path(path).name}.")
