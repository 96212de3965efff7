"""The Personas settings page as a person uses it: typing, clicking, importing, exporting."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import pytest
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QApplication, QWidget

from chatbot_gui.core.persona_store import PersonaLibrary, export_personas
from chatbot_gui.core.personas import BUILTIN_PERSONAS, Persona
from chatbot_gui.ui.personas_page import PersonasPage

HELPFUL, SARCASTIC, FRENCH = BUILTIN_PERSONAS


class Answers:
    """Answers the page's questions the way a test says; records what was asked."""

    def __init__(self) -> None:
        self.delete = True
        self.restore = True
        self.open_path: str | None = None
        self.save_path: str | None = None
        self.conflicts: dict[str, str] = {}
        self.asked: list[tuple[str, object]] = []

    def ask_conflict(self, name: str) -> str:
        self.asked.append(("conflict", name))
        return self.conflicts[name]

    def ask_open_path(self) -> str | None:
        self.asked.append(("open", None))
        return self.open_path

    def ask_save_path(self, suggested: str) -> str | None:
        self.asked.append(("save", suggested))
        return self.save_path

    def confirm_delete(self, name: str) -> bool:
        self.asked.append(("delete", name))
        return self.delete

    def confirm_restore(self, names: Sequence[str]) -> bool:
        self.asked.append(("restore", list(names)))
        return self.restore


@pytest.fixture
def answers() -> Answers:
    return Answers()


@pytest.fixture
def make_page(qtbot, answers: Answers):
    def make(library: PersonaLibrary | None = None, models: Sequence[str] = ()) -> PersonasPage:
        page = PersonasPage(library or PersonaLibrary(), models, answers)
        qtbot.addWidget(page)
        page.show()
        qtbot.waitExposed(page)
        return page
    return make


def click(qtbot, widget: QWidget) -> None:
    qtbot.mouseClick(widget, Qt.MouseButton.LeftButton)


def listed(page: PersonasPage) -> list[str]:
    return [page.list.item(i).text() for i in range(page.list.count())]


def select(page: PersonasPage, row: int) -> None:
    page.list.setCurrentRow(row)


def type_text(qtbot, widget: QWidget, text: str) -> None:
    """Type ``text`` as a keyboard would. ``QTest.keyClicks`` only knows ASCII (it aborts on anything
    else: qasciikey.cpp), so other characters arrive as key events carrying their text, as from an
    input method or a compose key."""
    for char in text:
        if char.isascii():
            qtbot.keyClicks(widget, char)
        else:
            QApplication.sendEvent(widget, QKeyEvent(QEvent.Type.KeyPress, 0, Qt.KeyboardModifier.NoModifier, char))


def retype(qtbot, widget, text: str) -> None:
    widget.setFocus()
    widget.selectAll()
    qtbot.keyClick(widget, Qt.Key.Key_Delete)
    type_text(qtbot, widget, text)


# -- showing and editing ---------------------------------------------------------------------------
def test_shows_the_library_and_an_untouched_page_changes_nothing(make_page) -> None:
    odd = Persona("Précis", "Sois bref\u00a0!\u2028Vraiment.", temperature=0.755, max_tokens=3_000_000_000,
                  extra={"icon": "📏"})
    library = PersonaLibrary(BUILTIN_PERSONAS + (odd,), "Sarcastic assistant", extra={"sync": 1})
    page = make_page(library)
    assert listed(page) == [p.name for p in library.personas]
    assert page.list.item(1).font().bold() and not page.list.item(0).font().bold()
    assert page.default_label.text() == "New chats start with “Sarcastic assistant”."
    assert (page.name_edit.text(), page.prompt_edit.toPlainText()) == (HELPFUL.name, HELPFUL.system_prompt)
    for row in (3, 0, 2, 3):  # looking at a persona does not round or rewrite it
        select(page, row)
    result = page.result()
    assert result == library and page.problem() is None
    assert result.personas[3].extra == {"icon": "📏"} and result.extra == {"sync": 1}
    assert result.personas[3].system_prompt == odd.system_prompt and result.personas[3].temperature == 0.755


def test_edits_reach_the_result_and_a_fresh_page_shows_none_of_them(qtbot, make_page) -> None:
    library = PersonaLibrary()
    page = make_page(library, models=["gpt-4o", "o3-mini"])
    select(page, 2)
    retype(qtbot, page.name_edit, "Français 🇫🇷")
    assert listed(page)[2] == "Français 🇫🇷"  # the list follows the typing
    page.prompt_edit.setFocus()
    qtbot.keyClick(page.prompt_edit, Qt.Key.Key_End, Qt.KeyboardModifier.ControlModifier)
    type_text(qtbot, page.prompt_edit, " Tutoie\u00a0!")
    qtbot.keyClick(page.prompt_edit, Qt.Key.Key_Return)
    qtbot.keyClicks(page.prompt_edit, "Ligne 2")
    retype(qtbot, page.model_combo.lineEdit(), "o3-mini")
    click(qtbot, page.temp_check)
    assert page.temp_spin.isEnabled()
    page.temp_spin.setValue(0.4)
    page.max_check.setChecked(True)
    page.max_spin.setValue(900)
    select(page, 0)  # switching away keeps the edits
    edited = page.result().personas[2]
    assert edited == Persona("Français 🇫🇷", FRENCH.system_prompt + " Tutoie\u00a0!\nLigne 2", model="o3-mini",
                             temperature=0.4, max_tokens=900)
    assert page.result().personas[:2] == BUILTIN_PERSONAS[:2]

    select(page, 2)
    click(qtbot, page.temp_check)  # switched off again: the server's default
    page.max_check.setChecked(False)
    retype(qtbot, page.model_combo.lineEdit(), "")
    assert page.result().personas[2] == Persona("Français 🇫🇷", edited.system_prompt)

    fresh = make_page(library)  # what Cancel then reopening shows
    assert fresh.result() == library and listed(fresh) == [p.name for p in BUILTIN_PERSONAS]


def test_a_100_kb_prompt_is_kept_exactly(make_page) -> None:
    big = ("Réponds toujours en vers. 🎭 مرحبا\n" * 4000)[:100_000]
    page = make_page()
    page.prompt_edit.setPlainText(big)
    select(page, 1)
    select(page, 0)
    assert page.prompt_edit.toPlainText() == big
    assert page.result().personas[0].system_prompt == big


# -- names -----------------------------------------------------------------------------------------
def test_duplicate_and_empty_names_are_refused_next_to_the_field(qtbot, make_page) -> None:
    page = make_page()
    assert not page.name_error.isVisible()
    retype(qtbot, page.name_edit, "sarcastic ASSISTANT")
    assert page.name_error.isVisible()
    assert page.name_error.text() == "Another persona is already called “sarcastic ASSISTANT”."
    assert page.problem() == "Two personas are called “Sarcastic assistant”. Rename one of them."
    retype(qtbot, page.name_edit, "   ")
    assert page.name_error.text() == "A persona needs a name." and page.name_error.isVisible()
    assert listed(page)[0] == "(unnamed)"
    select(page, 2)  # the problem travels with the persona, and OK still finds it
    assert not page.name_error.isVisible()
    assert page.problem() == "Persona number 1 has no name."
    assert page.list.currentRow() == 0 and page.name_error.isVisible()  # shown where it must be fixed
    retype(qtbot, page.name_edit, "Kind assistant")
    assert not page.name_error.isVisible() and page.problem() is None
    assert page.result().names == ["Kind assistant", SARCASTIC.name, FRENCH.name]


# -- add, duplicate, delete, reorder, default, restore ---------------------------------------------
def test_add_and_duplicate(qtbot, make_page) -> None:
    page = make_page()
    click(qtbot, page.add_button)
    assert listed(page)[1] == "New persona" and page.list.currentRow() == 1
    assert page.focusWidget() is page.name_edit and page.name_edit.selectedText() == "New persona"
    qtbot.keyClicks(page.name_edit, "Coach")
    page.prompt_edit.setPlainText("You coach.")
    click(qtbot, page.duplicate_button)
    assert listed(page)[:3] == [HELPFUL.name, "Coach", "Coach (2)"] and page.list.currentRow() == 2
    assert page.prompt_edit.toPlainText() == "You coach."
    click(qtbot, page.add_button)
    click(qtbot, page.add_button)
    assert listed(page)[3:5] == ["New persona", "New persona (2)"]
    assert page.result().personas[1] == Persona("Coach", "You coach.")


def test_delete_asks_first_and_never_removes_the_last(qtbot, make_page, answers: Answers) -> None:
    page = make_page(PersonaLibrary(BUILTIN_PERSONAS, FRENCH.name))
    select(page, 2)
    answers.delete = False
    click(qtbot, page.delete_button)
    assert answers.asked == [("delete", FRENCH.name)] and len(listed(page)) == 3
    answers.delete = True
    click(qtbot, page.delete_button)
    assert listed(page) == [HELPFUL.name, SARCASTIC.name] and page.list.currentRow() == 1
    assert page.result().default_name == HELPFUL.name  # the default went: the first one takes over
    click(qtbot, page.delete_button)
    assert listed(page) == [HELPFUL.name]
    assert not page.delete_button.isEnabled()


def test_move_up_and_down(qtbot, make_page) -> None:
    page = make_page()
    assert not page.up_button.isEnabled() and page.down_button.isEnabled()
    page.prompt_edit.setPlainText("edited before moving")
    click(qtbot, page.down_button)
    click(qtbot, page.down_button)
    assert listed(page) == [SARCASTIC.name, FRENCH.name, HELPFUL.name]
    assert page.list.currentRow() == 2 and not page.down_button.isEnabled()
    click(qtbot, page.up_button)
    assert listed(page) == [SARCASTIC.name, HELPFUL.name, FRENCH.name]
    result = page.result()
    assert result.names == listed(page) and result.personas[1].system_prompt == "edited before moving"
    assert result.default_name == HELPFUL.name  # the default is a persona, not a position


def test_choose_the_default_and_it_follows_a_rename(qtbot, make_page) -> None:
    page = make_page()
    select(page, 1)
    assert page.default_button.isEnabled()
    click(qtbot, page.default_button)
    assert not page.default_button.isEnabled() and page.list.item(1).font().bold()
    assert not page.list.item(0).font().bold()
    retype(qtbot, page.name_edit, "Snarky")
    assert page.default_label.text() == "New chats start with “Snarky”."
    assert page.result().default_name == "Snarky" and page.result().default_persona.name == "Snarky"


def test_restore_builtins(qtbot, make_page, answers: Answers) -> None:
    page = make_page(PersonaLibrary((Persona("Mine", "x"),) + BUILTIN_PERSONAS[1:], "Mine"))
    select(page, 2)
    page.prompt_edit.setPlainText("Parle comme un pirate.")
    answers.restore = False
    click(qtbot, page.restore_button)
    assert answers.asked == [("restore", [FRENCH.name])]
    assert page.result().personas[2].system_prompt == "Parle comme un pirate."
    answers.restore = True
    click(qtbot, page.restore_button)
    assert page.result().personas == (Persona("Mine", "x"), SARCASTIC, FRENCH, HELPFUL)
    assert page.prompt_edit.toPlainText() == FRENCH.system_prompt  # the editor shows the reset text
    assert page.result().default_name == "Mine"
    assert page.status.text() == "The built-in personas are back."
    answers.asked.clear()
    click(qtbot, page.restore_button)  # nothing to reset: no question
    assert answers.asked == []


# -- import and export -----------------------------------------------------------------------------
def test_import_merges_with_a_choice_per_conflict(qtbot, make_page, answers: Answers, tmp_path: Path) -> None:
    path = tmp_path / "shared.json"
    export_personas([Persona("Helpful assistant", "Be helpful and brief."), Persona("sarcastic assistant", "Meh."),
                     FRENCH, Persona("Pirate", "Arr.")], path)
    answers.open_path = str(path)
    answers.conflicts = {HELPFUL.name: "replace", SARCASTIC.name: "keep_both"}
    page = make_page()
    click(qtbot, page.import_button)
    assert answers.asked == [("open", None), ("conflict", HELPFUL.name), ("conflict", SARCASTIC.name)]
    assert listed(page) == [HELPFUL.name, SARCASTIC.name, FRENCH.name, "sarcastic assistant (2)", "Pirate"]
    assert page.result().personas[0].system_prompt == "Be helpful and brief."
    assert page.status.text() == "Imported from shared.json: 2 added, 1 replaced, 1 skipped."
    assert page.name_edit.text() == "Pirate"  # the last one added is shown


def test_import_of_a_bad_file_says_why(qtbot, make_page, answers: Answers, tmp_path: Path) -> None:
    path = tmp_path / "notes.json"
    path.write_text('{"version": 1, "personas": [{"name": "X", "temperature": "hot"}]}', encoding="utf-8")
    answers.open_path = str(path)
    page = make_page()
    click(qtbot, page.import_button)
    assert page.status.text() == ("notes.json is not a personas file: persona “X”: 'temperature' must be a "
                                  "number from 0 to 2.")
    assert page.result() == PersonaLibrary()
    answers.open_path = None  # cancelled file dialog: nothing happens
    click(qtbot, page.import_button)
    assert page.result() == PersonaLibrary()


def test_export_writes_every_persona(qtbot, make_page, answers: Answers, tmp_path: Path) -> None:
    page = make_page()
    page.prompt_edit.setPlainText("Exported as edited ✓")
    answers.save_path = str(tmp_path / "out.json")
    click(qtbot, page.export_button)
    doc = json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))
    assert [p["name"] for p in doc["personas"]] == [p.name for p in BUILTIN_PERSONAS]
    assert doc["personas"][0]["system_prompt"] == "Exported as edited ✓"
    assert page.status.text() == "Exported 3 personas to out.json."
    answers.save_path = str(tmp_path / "missing-folder" / "x" / "out.json")
    (tmp_path / "missing-folder").write_text("a file where a folder should be")
    click(qtbot, page.export_button)
    assert page.status.text().startswith("Could not write out.json")


def test_export_and_import_wait_for_valid_names(qtbot, make_page, answers: Answers) -> None:
    page = make_page()
    retype(qtbot, page.name_edit, "")
    click(qtbot, page.export_button)
    click(qtbot, page.import_button)
    assert answers.asked == []
    assert page.status.text() == "Persona number 1 has no name."
