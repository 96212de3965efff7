"""Import and export never fail silently: odd files get a clear message each, one bad chat does not
stop an "export all", and imports run off the GUI thread with progress. Real files, a real store,
the real window (pytest-qt) for the user-visible part."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from chatbot_gui.app import create_window
from chatbot_gui.core.export import MAX_IMPORT_BYTES, FORMAT, export_all, from_json, read_export, to_json
from chatbot_gui.core.paths import AppPaths
from chatbot_gui.core.secrets import KeyStore, MemoryKeyring
from chatbot_gui.core.store import ChatStore


def export_doc(**changes) -> dict:
    doc = {"format": FORMAT, "version": 1, "title": "Imported", "created_at": 1_700_000_000.0,
           "updated_at": 1_700_000_100.0, "persona": {"name": "P", "system_prompt": ""}, "model": None,
           "extra": {}, "messages": [{"role": "user", "content": "hi", "status": "complete", "kept": False,
                                      "model": None, "created_at": 1_700_000_000.0}]}
    doc.update(changes)
    return doc


def message(**changes) -> dict:
    msg = {"role": "user", "content": "hi", "status": "complete", "kept": False, "model": None,
           "created_at": 1_700_000_000.0}
    msg.update(changes)
    return msg


# -- reading a file ------------------------------------------------------------------------------
def test_deeply_nested_json_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="nested too deeply"):
        from_json('{"format": "chatbot-gui.chat", "extra": ' + "[" * 200_000 + "]" * 200_000 + "}")


def test_an_oversized_file_is_refused_before_it_is_read(tmp_path: Path) -> None:
    big = tmp_path / "big.json"
    with big.open("wb") as fh:  # sparse: no disk space used
        fh.truncate(MAX_IMPORT_BYTES + 1)
    with pytest.raises(ValueError, match="too large"):
        read_export(big)


def test_a_file_that_is_not_utf8_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "latin1.json"
    bad.write_bytes(json.dumps(export_doc(title="caf\u00e9"), ensure_ascii=False).encode("latin-1"))
    with pytest.raises(ValueError, match="not UTF-8"):
        read_export(bad)


@pytest.mark.parametrize("raw", ["1e300", "-1e300", "1" + "0" * 400, "NaN", "Infinity", "-Infinity",
                                 "253402300799", "\"2024-01-01\"", "true"])
def test_timestamps_out_of_range_are_clear_errors(raw: str) -> None:
    text = json.dumps(export_doc(messages=[message(created_at=0)])).replace('"created_at": 0', f'"created_at": {raw}')
    with pytest.raises(ValueError, match=r"messages\[0\]\.created_at must be a time in seconds"):
        from_json(text)


def test_a_number_too_long_to_read_is_a_clear_error() -> None:
    text = json.dumps(export_doc()).replace('"version": 1', '"version": ' + "9" * 5000)
    with pytest.raises(ValueError, match="number too long"):
        from_json(text)


def test_nan_in_extra_is_refused_not_stored() -> None:
    with pytest.raises(ValueError, match="extra holds numbers or text that cannot be stored"):
        from_json(json.dumps(export_doc(extra={"x": float("nan")})))


def test_a_lone_surrogate_is_replaced_so_the_chat_can_be_stored(tmp_path: Path) -> None:
    text = json.dumps(export_doc(title="t\ud800", messages=[message(content="broken \udc00 reply")]))
    chat = from_json(text)
    assert chat.messages[0].content == "broken \ufffd reply" and chat.title == "t\ufffd"
    store, _ = ChatStore.open(tmp_path / "c.sqlite3")
    try:
        assert store.load_chat(store.import_chat(chat)).messages[0].content == "broken \ufffd reply"
    finally:
        store.close()


def test_json_export_of_a_lone_surrogate_round_trips(tmp_path: Path) -> None:
    store, _ = ChatStore.open(tmp_path / "c.sqlite3")
    try:
        chat = store.load_chat(store.import_chat(from_json(json.dumps(export_doc()))))
    finally:
        store.close()
    import dataclasses

    odd = dataclasses.replace(chat, title="x\ud800y")
    text = to_json(odd)
    text.encode("utf-8")  # writable
    assert from_json(text).title == "x\ufffdy"


# -- export all with damaged chats ---------------------------------------------------------------
def _damaged_store(path: Path) -> None:
    store, _ = ChatStore.open(path)
    for title in ("good one", "bad status", "far future", "bad extra", "good two"):
        store.add_message(store.create_chat(title, "p", "", None), "user", f"text of {title}")
    store.close()
    with sqlite3.connect(path) as db:  # as another version or tool might have left them
        db.execute("UPDATE messages SET status = 'pondering' WHERE content = 'text of bad status'")
        db.execute("UPDATE chats SET created_at = 1e300 WHERE title = 'far future'")
        db.execute("UPDATE messages SET created_at = -1e300 WHERE content = 'text of far future'")
        db.execute("UPDATE chats SET extra = '[1, 2' WHERE title = 'bad extra'")


def test_export_all_goes_on_past_chats_it_cannot_read(tmp_path: Path) -> None:
    _damaged_store(tmp_path / "c.sqlite3")
    out = tmp_path / "out"
    out.mkdir()
    failures: list[tuple[str, str]] = []
    store, _ = ChatStore.open(tmp_path / "c.sqlite3")
    try:
        written = export_all(store, out, "md", failures=failures)
        with pytest.raises(ValueError):  # without a list, the first problem is raised, as before
            export_all(store, tmp_path / "strict", "md")
    finally:
        store.close()
    names = sorted(p.name for p in written)
    assert len(names) == 3 and any("good one" in n for n in names) and any("good two" in n for n in names)
    far = next(p for p in written if "far future" in p.name)
    assert far.name.startswith("undated ") and "(time 1e+300)" in far.read_text()
    assert sorted(title for title, _ in failures) == ["bad extra", "bad status"]
    assert all("not what this version expects" in why for _, why in failures)


# -- in the window -------------------------------------------------------------------------------
class Answers:
    def __init__(self) -> None:
        self.open_path: Path | None = None
        self.folder: tuple[Path, str] | None = None
        self.warnings: list[tuple[str, str]] = []

    def ask_save_path(self, suggested):
        return None

    def ask_folder_and_format(self):
        return self.folder

    def ask_open_path(self):
        return self.open_path

    def warn(self, title, text):
        self.warnings.append((title, text))


@pytest.fixture
def window_with(qtbot, tmp_path):
    made = []

    def start(answers: Answers):
        paths = AppPaths(config_dir=tmp_path / "config", data_dir=tmp_path / "data")
        window, chat = create_window({"OPENAI_API_KEY": "sk-test-0000000000"}, paths=paths,
                                     keys=KeyStore(MemoryKeyring()), ask_settings=lambda *a, **k: None,
                                     history_interaction=answers)
        qtbot.addWidget(window)
        window.show()
        qtbot.waitUntil(lambda: window.history_controller.store is not None)
        made.append((window, chat))
        return window, chat

    yield start
    for window, chat in made:
        assert chat.shutdown(3000)
        window.close()


def test_a_large_import_runs_off_the_gui_thread_with_progress(qtbot, window_with, tmp_path):
    answers = Answers()
    window, chat = window_with(answers)
    big = tmp_path / "big.json"
    msgs = [message(role="user" if i % 2 == 0 else "assistant", content=f"message number {i} " * 20)
            for i in range(20_000)]
    big.write_text(json.dumps(export_doc(title="Big one", messages=msgs)))
    answers.open_path = big
    shown: list[str] = []
    window.statusBar().messageChanged.connect(shown.append)
    window.import_action.trigger()
    # trigger() returned while the import is still being read or saved: the GUI thread did not do it.
    assert chat.conversation.chat_id is None
    qtbot.waitUntil(lambda: chat.conversation.chat_id is not None, timeout=30_000)
    assert any(text.startswith("Reading big.json") for text in shown)
    assert "Saving 20000 messages from big.json…" in shown
    assert any(text.startswith("Imported “Big one” (20000 messages)") for text in shown)
    assert len(window.transcript.blocks_of_kind("user")) > 0
    assert not answers.warnings


@pytest.mark.parametrize(("content", "expected"), [
    (json.dumps(export_doc(created_at=1e300)), "created_at must be a time in seconds"),
    ("[" * 100_000, "nested too deeply"),
    (json.dumps(export_doc(messages=[message(status="pondering")])), "status must be one of"),
])
def test_a_bad_import_says_what_is_wrong(qtbot, window_with, tmp_path, content, expected):
    answers = Answers()
    window, chat = window_with(answers)
    bad = tmp_path / "odd.json"
    bad.write_text(content)
    answers.open_path = bad
    window.import_action.trigger()
    qtbot.waitUntil(lambda: bool(answers.warnings))
    title, text = answers.warnings[0]
    assert title == "Import failed" and "odd.json" in text and expected in text
    assert window.history_controller.store.count_chats() == 0


def test_export_all_in_the_window_names_the_chats_it_could_not_write(qtbot, window_with, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    _damaged_store(data / "chats.sqlite3")
    answers = Answers()
    window, chat = window_with(answers)
    out = tmp_path / "out"
    out.mkdir()
    answers.folder = (out, "txt")
    window.export_all_action.trigger()
    qtbot.waitUntil(lambda: bool(answers.warnings))
    title, text = answers.warnings[0]
    assert title == "Some chats were not exported"
    assert "3 chats were exported" in text and "• bad status:" in text and "• bad extra:" in text
    assert len(list(out.iterdir())) == 3


def test_opening_a_chat_with_odd_stored_fields_says_so(qtbot, window_with, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    _damaged_store(data / "chats.sqlite3")
    window, chat = window_with(Answers())
    with sqlite3.connect(data / "chats.sqlite3") as db:
        (bad,) = db.execute("SELECT id FROM chats WHERE title = 'bad status'").fetchone()
    assert window.history_controller.open_chat(bad) is False
    assert "could not be opened" in window.statusBar().currentMessage()
    assert chat.conversation.chat_id != bad
