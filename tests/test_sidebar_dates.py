"""The chat list grouped by date ("Today", "Yesterday", ..., months), with the clock passed in."""

from __future__ import annotations

import sqlite3
import time
from contextlib import closing
from datetime import datetime, timedelta
from pathlib import Path
from typing import Iterator

import pytest
from PySide6.QtCore import QPersistentModelIndex, Qt

from chatbot_gui.core.dates import date_groups, group_index
from chatbot_gui.core.store import ChatStore
from chatbot_gui.ui.sidebar import ChatIdRole, Sidebar
from chatbot_gui.ui.theme import theme

NOW = datetime(2026, 11, 29, 15, 30)  # naive: local time


def ago(**delta: float) -> float:
    return (NOW - timedelta(**delta)).timestamp()


# -- the Qt-free groups -----------------------------------------------------------------------------

def test_groups_are_today_yesterday_seven_and_thirty_days_then_months():
    groups = date_groups(NOW, oldest=datetime(2025, 9, 10).timestamp())
    labels = [g.label for g in groups]
    assert labels[:4] == ["Today", "Yesterday", "Previous 7 days", "Previous 30 days"]
    # The 30-day boundary (Oct 30) lies in October: October holds what is older than that.
    assert labels[4:] == ["October", "September", "August", "July", "June", "May", "April", "March",
                          "February", "January", "December 2025", "November 2025", "October 2025",
                          "September 2025"]

    def label(when: datetime) -> str:
        return groups[group_index(groups, when.timestamp())].label

    assert label(NOW) == "Today"
    assert label(NOW + timedelta(days=3)) == "Today"  # another machine's clock ahead: still the top
    assert label(datetime(2026, 11, 29, 0, 0)) == "Today"
    assert label(datetime(2026, 11, 28, 23, 59)) == "Yesterday"
    assert label(datetime(2026, 11, 22, 0, 0)) == "Previous 7 days"
    assert label(datetime(2026, 11, 21, 23, 0)) == "Previous 30 days"
    assert label(datetime(2026, 10, 30, 0, 0)) == "Previous 30 days"
    assert label(datetime(2026, 10, 29, 23, 0)) == "October"
    assert label(datetime(2026, 1, 1, 0, 0)) == "January"
    assert label(datetime(2025, 12, 31, 23, 0)) == "December 2025"
    assert label(datetime(1999, 1, 1)) == "September 2025"  # older than asked for: the oldest group


def test_without_older_chats_only_the_fixed_groups():
    assert [g.label for g in date_groups(NOW)] == ["Today", "Yesterday", "Previous 7 days", "Previous 30 days"]
    assert len(date_groups(NOW, oldest=ago(days=2))) == 4


# -- the sidebar --------------------------------------------------------------------------------------

class Clock:
    """The store's write clock (Unix time) and the sidebar's clock (a datetime), moved by the test."""

    def __init__(self) -> None:
        self.now = NOW

    def store_time(self) -> float:
        return self.now.timestamp()

    def datetime(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(tmp_path: Path, clock: Clock) -> Iterator[ChatStore]:
    opened, _ = ChatStore.open(tmp_path / "chats.sqlite3", clock=clock.store_time)
    yield opened
    opened.close()


def make_chat(store: ChatStore, clock: Clock, title: str, when: datetime) -> int:
    clock.now = when
    chat_id = store.create_chat(title, "p", "", None)
    clock.now = NOW
    return chat_id


def rows(sidebar: Sidebar) -> list[str]:
    """What the list shows, top to bottom; headers in brackets."""
    model = sidebar.chat_model
    out = []
    for row in range(model.rowCount()):
        index = model.index(row)
        text = index.data()
        out.append(text if index.data(ChatIdRole) is not None else f"[{text}]")
    return out


def shown(qtbot, sidebar: Sidebar) -> Sidebar:
    qtbot.addWidget(sidebar)
    sidebar.resize(300, 500)
    sidebar.show()
    qtbot.waitExposed(sidebar)
    return sidebar


def test_the_list_is_grouped_by_date_under_headers(qtbot, store, clock):
    ids = {}
    for title, when in [("old", datetime(2025, 12, 3, 9)), ("october", datetime(2026, 10, 5, 9)),
                        ("three weeks", NOW - timedelta(days=21)), ("last week", NOW - timedelta(days=4)),
                        ("yesterday", NOW - timedelta(days=1)), ("this morning", NOW - timedelta(hours=6))]:
        ids[title] = make_chat(store, clock, title, when)
    sidebar = shown(qtbot, Sidebar(store, clock=clock.datetime))
    assert rows(sidebar) == ["[Today]", "this morning", "[Yesterday]", "yesterday", "[Previous 7 days]",
                             "last week", "[Previous 30 days]", "three weeks", "[October]", "october",
                             "[December 2025]", "old"]
    model = sidebar.chat_model
    header = model.index(0)
    assert not header.flags() & Qt.ItemFlag.ItemIsSelectable  # a header is not a chat to open
    assert header.data(Qt.ItemDataRole.FontRole).bold()
    # Readable in either appearance (a disabled row's grey is not): the theme's note colour.
    assert header.data(Qt.ItemDataRole.ForegroundRole).name() == theme().colors.note
    assert model.index(1).data(Qt.ItemDataRole.FontRole) is None
    # Opening a chat selects its row (under its header); the keyboard steps over headers.
    sidebar.select_chat(ids["yesterday"])
    assert sidebar.chat_list.currentIndex().data() == "yesterday"
    sidebar.chat_list.setFocus()
    qtbot.keyClick(sidebar.chat_list, Qt.Key.Key_Down)
    assert sidebar.chat_list.currentIndex().data() == "last week"
    qtbot.keyClick(sidebar.chat_list, Qt.Key.Key_Up)
    qtbot.keyClick(sidebar.chat_list, Qt.Key.Key_Up)
    assert sidebar.chat_list.currentIndex().data() == "this morning"


def test_a_changed_chat_moves_under_today_and_empty_groups_go(qtbot, store, clock):
    make_chat(store, clock, "five days", NOW - timedelta(days=5))
    week = make_chat(store, clock, "last week", NOW - timedelta(days=4))
    make_chat(store, clock, "yesterday", NOW - timedelta(days=1))
    today = make_chat(store, clock, "today", NOW - timedelta(hours=1))
    sidebar = shown(qtbot, Sidebar(store, clock=clock.datetime))
    sidebar.select_chat(week)
    # A message in last week's chat: it moves to the top of "Today" as a single row move (no reload).
    store.add_message(week, "user", "hi")
    with qtbot.assertNotEmitted(sidebar.chat_model.modelReset):
        sidebar.upsert_chat(store.summary(week))
    assert rows(sidebar) == ["[Today]", "last week", "today", "[Yesterday]", "yesterday",
                             "[Previous 7 days]", "five days"]
    assert sidebar.chat_list.currentIndex().data() == "last week"  # the selection followed its chat
    store.delete_chat(today)
    with qtbot.assertNotEmitted(sidebar.chat_model.modelReset):
        sidebar.remove_chat(today)
    assert rows(sidebar) == ["[Today]", "last week", "[Yesterday]", "yesterday", "[Previous 7 days]", "five days"]
    # Deleting the last chat of a group takes its header away too.
    yesterday = sidebar.chat_model.index(3).data(ChatIdRole)
    store.delete_chat(yesterday)
    sidebar.remove_chat(yesterday)
    assert rows(sidebar) == ["[Today]", "last week", "[Previous 7 days]", "five days"]
    assert sidebar.chat_list.currentIndex().data() == "last week"


def test_the_first_chat_of_a_new_group_adds_its_header(qtbot, store, clock):
    old = make_chat(store, clock, "old", NOW - timedelta(days=3))
    sidebar = shown(qtbot, Sidebar(store, clock=clock.datetime))
    assert rows(sidebar) == ["[Previous 7 days]", "old"]
    sidebar.select_chat(old)
    new = store.create_chat("new", "p", "", None)
    sidebar.upsert_chat(store.summary(new))
    assert rows(sidebar) == ["[Today]", "new", "[Previous 7 days]", "old"]
    assert sidebar.chat_list.currentIndex().data() == "old"  # still the open chat


def test_at_midnight_today_becomes_yesterday(qtbot, store, clock):
    make_chat(store, clock, "evening", NOW.replace(hour=22))
    sidebar = shown(qtbot, Sidebar(store, clock=clock.datetime))
    assert rows(sidebar) == ["[Today]", "evening"]
    assert not sidebar.chat_model.refresh_dates()  # same day: nothing to do
    clock.now = NOW + timedelta(days=1)
    assert sidebar.chat_model.refresh_dates()
    assert rows(sidebar) == ["[Yesterday]", "evening"]


def test_ten_thousand_chats_over_three_years_group_fast(qtbot, tmp_path):
    path = tmp_path / "chats.sqlite3"
    ChatStore.open(path)[0].close()
    start = datetime(2023, 11, 1).timestamp()
    step = (NOW.timestamp() - start) / 10_000
    with closing(sqlite3.connect(path)) as db, db:
        db.executemany("INSERT INTO chats (title, created_at, updated_at) VALUES (?, ?, ?)",
                       [(f"Chat {i}", start + i * step, start + i * step) for i in range(10_000)])
    store, _ = ChatStore.open(path)
    try:
        began = time.perf_counter()
        sidebar = Sidebar(store, clock=lambda: NOW)
        placed = time.perf_counter() - began
        labels = sidebar.chat_model.header_labels()
        assert labels[:5] == ["Today", "Yesterday", "Previous 7 days", "Previous 30 days", "October"]
        assert labels[-1] == "November 2023" and len(labels) == 4 + 36  # Oct 2026 back to Nov 2023
        assert sidebar.chat_model.rowCount() == 10_000 + len(labels)
        model = sidebar.chat_model
        chats = [model.index(r).data() for r in range(model.rowCount()) if model.index(r).data(ChatIdRole)]
        assert chats[0] == "Chat 9999" and chats[-1] == "Chat 0" and len(chats) == 10_000
        assert placed < 1.0  # generous on a loaded machine; benchmarks/bench_history.py times it
        sidebar.deleteLater()
    finally:
        store.close()


def test_count_chats_since_matches_counting_by_hand(store, clock):
    times = [NOW - timedelta(hours=h) for h in (1, 5, 30, 50, 200, 800, 2000, 9000)]
    for i, when in enumerate(times):
        make_chat(store, clock, f"c{i}", when)
    groups = date_groups(NOW, min(t.timestamp() for t in times))
    counts, oldest = store.count_chats_since([g.start for g in groups])
    assert counts == [sum(t.timestamp() >= g.start for t in times) for g in groups]
    assert oldest == min(t.timestamp() for t in times)
    assert store.count_chats_since([NOW.timestamp()]) == ([0], oldest)


def test_indexes_on_headers_and_chats_stay_put_when_others_moved_unannounced(qtbot, store, clock):
    """A reply's final save or a notice moves a chat in the store without telling the list; the next
    upsert re-reads the rows and puts persistent indexes back on their chats. Indexes on headers (the
    accessibility bridge keeps one per row it has announced) stay on their headers: moving one onto
    a chat's row crashed the app at quit under AT-SPI."""
    make_chat(store, clock, "y0", NOW - timedelta(days=1, hours=3))
    y1 = make_chat(store, clock, "y1", NOW - timedelta(days=1, hours=2))
    y2 = make_chat(store, clock, "y2", NOW - timedelta(days=1, hours=1))
    t1 = make_chat(store, clock, "t1", NOW - timedelta(hours=2))
    make_chat(store, clock, "t2", NOW - timedelta(hours=1))
    sidebar = shown(qtbot, Sidebar(store, clock=clock.datetime))
    model = sidebar.chat_model
    assert rows(sidebar) == ["[Today]", "t2", "t1", "[Yesterday]", "y2", "y1", "y0"]
    sidebar.select_chat(t1)
    held = [QPersistentModelIndex(model.index(0)), QPersistentModelIndex(model.index(3))]
    try:
        store.add_message(y1, "user", "unannounced")  # y1 moves to the top of the store; the list is not told
        clock.now = NOW + timedelta(minutes=1)
        store.add_message(y2, "user", "announced")
        clock.now = NOW
        with qtbot.assertNotEmitted(model.modelReset):  # same groups: rows move, no reset
            sidebar.upsert_chat(store.summary(y2))
        assert rows(sidebar) == ["[Today]", "y2", "y1", "t2", "t1", "[Yesterday]", "y0"]
        assert [(index.row(), index.data()) for index in held] == [(0, "Today"), (5, "Yesterday")]
        assert sidebar.chat_list.currentIndex().data(ChatIdRole) == t1
    finally:
        held.clear()  # a persistent index must not outlive its model (it touches it when destroyed)
