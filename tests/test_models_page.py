"""Settings > Models (issue 12): per-model context windows and prices, typed in the real dialog.

The rules (core/model_table.py) with plain pytest; the page and the dialog with key and mouse events;
and a loopback story: a window set here trims the very next request, with no refusal from the server.
"""

from __future__ import annotations

import math

import pytest
import shiboken6
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractItemView, QDialogButtonBox

from chatbot_gui.app import create_window
from chatbot_gui.core.model_table import MAX_WINDOW, Row, check_rows, describe, rows_from_settings
from chatbot_gui.core.paths import AppPaths
from chatbot_gui.core.secrets import KeyStore, MemoryKeyring
from chatbot_gui.core.settings import Settings, SettingsStore
from chatbot_gui.core.usage import OPENAI_PRICES, ChatUsage, Price, Usage
from chatbot_gui.ui.settings_dialog import DialogResult, SettingsDialog
from fakeserver import FakeServer, TokenRule, stream
from test_context_window import ANSWER, chat_requests, long_chat

KEY = "sk-models-page-0123456789"
OK = QDialogButtonBox.StandardButton.Ok
CANCEL = QDialogButtonBox.StandardButton.Cancel


# -- the rules -------------------------------------------------------------------------------------
@pytest.mark.parametrize("window, why", [
    ("-4096", "whole number"), ("nan", "whole number"), ("Infinity", "whole number"), ("4.5", "whole number"),
    ("100", "from 256"), (str(MAX_WINDOW + 1), "from 256"), ("8k", "whole number"), ("٤٠٩٦", "whole number"),
])
def test_a_bad_window_is_refused_with_a_reason(window, why):
    problems, windows, _ = check_rows([Row("llama3.2", window)])
    assert [(p.row, p.column) for p in problems] == [(0, "window")] and why in problems[0].text
    assert windows == {}


@pytest.mark.parametrize("price, why", [
    ("-1", "negative"), ("nan", "NaN or Infinity"), ("inf", "NaN or Infinity"), ("-Infinity", "NaN or Infinity"),
    ("1e9", "at most"), ("two", "such as 2.5"),
])
def test_a_bad_price_is_refused_with_a_reason(price, why):
    problems, _, prices = check_rows([Row("my-model", "", price, "", "1")])
    assert [(p.row, p.column) for p in problems] == [(0, "input")] and why in problems[0].text
    assert prices == {}


def test_valid_rows_become_the_two_settings():
    rows = [Row("gpt-4o", "", "2.5", "1.25", "10"),  # unchanged list price: not stored
            Row("gpt-4o-mini", "", "0.2", "", "0.8"),  # changed: stored
            Row("llama3.2", "8,192"), Row(""),  # an empty row is ignored
            Row("Local-Pro", "32768", "$1", "", "2")]
    problems, windows, prices = check_rows(rows)
    assert problems == []
    assert windows == {"llama3.2": 8192, "Local-Pro": 32768}
    assert prices == {"gpt-4o-mini": Price(0.2, 0.8, None), "local-pro": Price(1.0, 2.0, None)}


def test_missing_and_duplicate_entries_are_named():
    rows = [Row("m", "", "1", "", ""), Row("M", "4096"), Row("", "4096"), Row("gpt-4o")]
    problems, _, _ = check_rows(rows)
    assert [(p.row, p.column) for p in problems] == [(0, "output"), (1, "model"), (2, "model"), (3, "input")]
    assert describe(problems[1], rows) == "Row 2 (M), model: “M” is already in row 1."
    assert describe(problems[0], rows) == "Row 1 (m), output price: type the output price too (or clear all three prices)."


def test_the_table_shows_the_list_prices_and_the_users_entries():
    rows = rows_from_settings({"llama3.2": 8192, "gpt-4o": 64000}, {"gpt-4o": Price(3, 12), "zeta": Price(1, 1)})
    by_name = {r.model: r for r in rows}
    assert [r.model for r in rows[:len(OPENAI_PRICES)]] == list(OPENAI_PRICES)
    assert [r.model for r in rows[len(OPENAI_PRICES):]] == ["llama3.2", "zeta"]
    assert by_name["gpt-4o"] == Row("gpt-4o", "64000", "3", "", "12")
    assert by_name["gpt-4o-mini"] == Row("gpt-4o-mini", "", "0.15", "0.075", "0.6")
    assert by_name["llama3.2"] == Row("llama3.2", "8192")
    assert check_rows(rows)[1:] == ({"llama3.2": 8192, "gpt-4o": 64000}, {"gpt-4o": Price(3, 12), "zeta": Price(1, 1)})


def test_costs_counted_before_a_price_change_follow_it():
    usage = ChatUsage(OPENAI_PRICES)
    usage.add("gpt-4o", Usage(prompt_tokens=1_000_000, completion_tokens=0))
    usage.add("local", Usage(prompt_tokens=10, completion_tokens=10))
    assert usage.summary() == "1,000,020 tokens used (~$2.50+)"
    usage.reprice({**OPENAI_PRICES, "gpt-4o": Price(4, 10), "local": Price(0, 0)})
    assert usage.summary() == "1,000,020 tokens used (~$4.00)"
    assert math.isclose(usage.cost or 0, 4.0)


# -- the page in the real dialog ---------------------------------------------------------------------
@pytest.fixture
def dialog(qtbot):
    opened: list[SettingsDialog] = []

    def make(settings: Settings | None = None) -> SettingsDialog:
        dlg = SettingsDialog(settings or Settings(), KeyStore(MemoryKeyring()), {})
        qtbot.addWidget(dlg)
        dlg.show()
        qtbot.waitExposed(dlg)
        dlg.tabs.setCurrentWidget(dlg.models_page)
        opened.append(dlg)
        return dlg

    yield make
    for dlg in opened:
        if shiboken6.isValid(dlg):
            dlg.close()


def editor_of(table):
    """The editor open on the table's current cell."""
    editor = table.indexWidget(table.currentIndex())
    assert editor is not None, "the cell's editor is open"
    return editor


def type_into_cell(qtbot, table, text: str) -> None:
    """Type ``text`` into the current cell as a user would (the first key opens the editor) and Enter."""
    qtbot.keyClicks(table, text[0])
    editor = editor_of(table)
    qtbot.keyClicks(editor, text[1:])
    finish_edit(qtbot, table, editor)


def finish_edit(qtbot, table, editor) -> None:
    """Enter in the editor: Qt commits the cell a moment later (queued), and the dialog stays open."""
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: table.state() != QAbstractItemView.State.EditingState)


def add_row(qtbot, dlg: SettingsDialog, model: str, window: str = "", prices: tuple[str, str, str] = ("", "", "")) -> int:
    page = dlg.models_page
    qtbot.mouseClick(page.add_button, Qt.MouseButton.LeftButton)
    row = page.table.rowCount() - 1
    assert page.table.currentRow() == row
    editor = editor_of(page.table)
    qtbot.keyClicks(editor, model)
    finish_edit(qtbot, page.table, editor)
    assert dlg.isVisible() and dlg.result_settings() is None, "Enter in a cell does not press OK"
    for column, text in zip(range(1, 5), (window, *prices)):
        if text:
            page.table.setCurrentCell(row, column)
            type_into_cell(qtbot, page.table, text)
    return row


def click(qtbot, dlg: SettingsDialog, which) -> None:
    qtbot.mouseClick(dlg.buttons.button(which), Qt.MouseButton.LeftButton)


def test_a_window_and_prices_typed_in_are_what_ok_hands_back(qtbot, dialog):
    dlg = dialog(Settings(context_windows={"old-model": 2048}))
    page = dlg.models_page
    assert page.table.horizontalHeaderItem(1).text() == "Context window\n(tokens)"
    assert [r for r in page.rows() if r.model == "old-model"] == [Row("old-model", "2048")]
    add_row(qtbot, dlg, "llama3.2", "8192", ("0.1", "", "0.2"))
    # gpt-4o's output price changed in place.
    r = next(i for i, row in enumerate(page.rows()) if row.model == "gpt-4o")
    page.table.setCurrentCell(r, 4)
    type_into_cell(qtbot, page.table, "12")
    assert page.error_label.text() == ""
    click(qtbot, dlg, OK)
    qtbot.waitUntil(lambda: dlg.result_settings() is not None)
    result = dlg.result_settings()
    assert dict(result.context_windows) == {"old-model": 2048, "llama3.2": 8192}
    assert dict(result.model_prices) == {"llama3.2": Price(0.1, 0.2), "gpt-4o": Price(2.5, 12, 1.25)}


def test_a_bad_entry_is_explained_beside_the_table_and_ok_waits(qtbot, dialog):
    dlg = dialog()
    page = dlg.models_page
    row = add_row(qtbot, dlg, "tiny", "-5")
    assert page.error_label.text().startswith(f"Row {row + 1} (tiny), context window: type a whole number")
    assert page.table.item(row, 1).toolTip() != ""
    page.table.setCurrentCell(0, 0)
    click(qtbot, dlg, OK)
    assert dlg.result_settings() is None and dlg.isVisible()
    assert dlg.tabs.currentWidget() is page
    assert (page.table.currentRow(), page.table.currentColumn()) == (row, 1), "the bad cell is made current"
    assert "Models page" in dlg.error_label.text()
    type_into_cell(qtbot, page.table, "Infinity")
    assert "whole number" in page.error_label.text()
    type_into_cell(qtbot, page.table, "4096")
    assert page.error_label.text() == ""
    click(qtbot, dlg, OK)
    qtbot.waitUntil(lambda: dlg.result_settings() is not None)
    assert dict(dlg.result_settings().context_windows) == {"tiny": 4096}


def test_remove_restore_and_cancel(qtbot, dialog):
    dlg = dialog(Settings(context_windows={"mine": 4096}, model_prices={"gpt-4o": Price(9, 9)}))
    page = dlg.models_page
    names = [r.model for r in page.rows()]
    page.table.setCurrentCell(names.index("mine"), 0)
    qtbot.mouseClick(page.remove_button, Qt.MouseButton.LeftButton)
    assert "mine" not in [r.model for r in page.rows()]
    page.table.setCurrentCell(names.index("gpt-4o"), 0)
    qtbot.mouseClick(page.remove_button, Qt.MouseButton.LeftButton)  # one of OpenAI's: list prices come back
    assert page.rows()[names.index("gpt-4o")] == Row("gpt-4o", "", "2.5", "1.25", "10")
    add_row(qtbot, dlg, "extra", "9000")
    qtbot.mouseClick(page.restore_button, Qt.MouseButton.LeftButton)
    assert page.rows() == rows_from_settings({}, {})
    click(qtbot, dlg, CANCEL)
    assert dlg.result_settings() is None, "Cancel discards the edits"


# -- the story: the next request is trimmed to the window set in Settings -----------------------------
def test_a_window_set_in_settings_trims_the_next_request_and_is_saved(qtbot, fake_server: FakeServer, tmp_path):
    fake_server.token_limit = 4096
    fake_server.token_rule = rule = TokenRule(bytes_per_token=4.0)  # counts as the app first guesses
    fake_server.default_reply = stream(ANSWER)
    paths = AppPaths(config_dir=tmp_path / "config", data_dir=tmp_path / "data")
    answered = []

    def ask(parent, settings, keys, env, first_run=False, personas=None):
        dlg = SettingsDialog(settings, keys, env, first_run, parent, personas=personas)
        qtbot.addWidget(dlg)
        dlg.show()
        qtbot.waitExposed(dlg)
        dlg.tabs.setCurrentWidget(dlg.models_page)
        add_row(qtbot, dlg, "local-model", "2,048")
        click(qtbot, dlg, OK)
        qtbot.waitUntil(lambda: dlg.result_settings() is not None)
        answered.append(True)
        result = DialogResult(dlg.result_settings(), dlg.result_personas())
        dlg.close()
        return result

    window, chat = create_window({"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": fake_server.base_url},
                                 paths=paths, keys=KeyStore(MemoryKeyring()), ask_settings=ask)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: chat.config.api_key == KEY)
    try:
        window.model_combo.setEditText("local-model")
        chat.show_conversation(long_chat())
        assert "/ 2k tokens" not in window.context_label.text()
        assert window.settings_controller.open_settings()
        assert answered == [True]
        # Applied at once: the footer and the marker already use the new window.
        assert window.context_label.text().endswith("/ 2k tokens")
        assert "the model's limit is 2k tokens" in window.transcript.context_marker()[1]
        window.input.setPlainText("Fits in two thousand?")
        chat.send_from_input()
        qtbot.waitUntil(lambda: not chat.busy, timeout=10000)
        assert len(chat_requests(fake_server)) == 1, "trimmed in advance: the server never refused"
        msgs = chat_requests(fake_server)[0].json["messages"]
        assert msgs[-1] == {"role": "user", "content": "Fits in two thousand?"}
        assert 2048 - 256 - 300 < rule.prompt(msgs) <= 2048 - 256  # the window less the room for the reply
        saved, _ = SettingsStore(paths).load()
        assert dict(saved.context_windows) == {"local-model": 2048}
    finally:
        assert chat.shutdown(3000)
        window.close()
