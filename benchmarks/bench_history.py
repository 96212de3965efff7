"""Benchmark 5: chat history at scale: a 10,000-chat, ~22 M-character history in the real window.

* **open chat**: ``window.history_controller.open_chat(id)`` of a 2,000-message (~2 M characters) chat,
  until the transcript is laid out and painted, in the real main window; the same for a 500-message
  chat, whose time is the baseline of the growth row (linear growth: 2,000 / 500 <= 4.5).
* **memory**: RSS (``/proc/self/statm``) of a fresh process: the shown window with its store open and
  the sidebar listing, then the same after opening the 2,000-message chat; the difference.
* **sidebar**: ``history_controller.open_store()`` (closed first) until the chat list has painted its
  first rows; then scrolling: ``PageDown`` x 50, then ``End`` until every page is fetched (one
  row per ``End``), each key followed by ``processEvents()`` (layout and paint).
* **search**: ``ChatStore.search(query)`` (FTS5 trigram; ``LIKE`` for terms under 3 characters) for a
  rare word, a common word, two words, a CJK word and two 2-character terms.

The history is built once per run in a temporary folder (deleted afterwards): ``ChatStore.open``
creates the file, so the schema and the FTS triggers are the app's own, then every chat and message
goes in with two ``executemany`` calls inside one transaction on the store's own connection (the
triggers index each message as it is inserted). Text: sentences of English words (a fixed vocabulary,
Zipf-weighted) with invented words mixed in, some Chinese/Japanese sentences, paragraphs; ~1 KB per
message on average (user turns shorter, assistant turns longer).

Run alone as ``python -m benchmarks.bench_history --memory-child DATA_DIR CHAT_ID``: the memory child.
"""

from __future__ import annotations

import gc
import json
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Iterator

from benchmarks.common import KEY, ROOT, Result, log, median, spread

N_CHATS = 10_000
BIG_MESSAGES = 2_000  # the chat opened for the time and memory rows (~2 M characters)
SMALL_MESSAGES = 500  # its growth baseline
PAGE_DOWNS = 50
NO_SERVER = "http://127.0.0.1:9/v1"  # nothing listens there: nothing is ever sent
#: After the last layout step or paint of the transcript, how long nothing more must happen before
#: the open is taken as finished (Qt's lazy layout runs a step every 10 ms). Not part of the figure.
QUIET_S = 0.08
BUSY_S = 0.003  # a processEvents() pass longer than this did work (a layout step)
LAST_CHAT = "last_chat_id"  # chatbot_gui.ui.history_controller.LAST_CHAT (not imported: loads Qt)

SEARCHES = (
    ("rare word", "zephyrine"),
    ("common word", "model"),
    ("two words", "database index"),
    ("CJK word", "数据库"),
    ("2-char ASCII", "C#"),
    ("2-char CJK", "你好"),
)

# --------------------------------------------------------------------------- the data set

_EN = tuple("""
the of and to a in is that it for you with this on as be are can by or from an if not at use your will which
we have but all one more when there data model code file time so then what new value should each like only
also just how way run need first make other any two test function list text message chat reply stream window
thread query index database search result error request server client key setting user question answer example
change version line number string type class method return call event loop update table column row query page
size memory layout paint widget view document cursor block font python qt sqlite json path folder export
import history sidebar title persona prompt system token because before after while where here some many most
very well still again about into over under between through during without within against around example
problem solution simple quick fast slow large small long short better best good bad right wrong true false
null empty full open close save load read write start stop send receive wait retry timeout network proxy
certificate password
""".split())
_CJK = ("数据库", "搜索", "模型", "你好", "聊天记录", "流式传输", "界面", "窗口", "设置", "问题", "回答",
        "文件", "导出", "性能", "测试", "检索", "データベース", "ありがとう", "例えば", "検索", "設定", "画面")
_LETTERS = "abcdefghijklmnopqrstuvwxyz"


class _Text:
    """Deterministic, realistic-looking chat text, built from pools of sentences (fast)."""

    def __init__(self, seed: int = 20240501) -> None:
        rng = self.rng = random.Random(seed)
        weights = [1.0 / (rank + 1) for rank in range(len(_EN))]  # Zipf: a few words are everywhere
        self.sentences = []
        for _ in range(4_000):
            words = rng.choices(_EN, weights, k=rng.randint(6, 22))
            for i in range(len(words)):
                if rng.random() < 0.04:  # an invented word: the long tail a real vocabulary has
                    words[i] = "".join(rng.choices(_LETTERS, k=rng.randint(4, 10)))
            text = " ".join(words)
            self.sentences.append(text[0].upper() + text[1:] + rng.choice((".", ".", ".", "?", ":", "!")))
        self.cjk = []
        for _ in range(300):
            words = rng.choices(_CJK, k=rng.randint(3, 8))
            self.cjk.append("，".join(("".join(words[:3]), "".join(words[3:]))).strip("，") + "。")

    def message(self, n: int, size: int) -> str:
        """About ``size`` characters; message number ``n`` decides the planted search terms."""
        rng, parts, length, in_paragraph = self.rng, [], 0, 0
        if n % 3_701 == 17:
            parts.append("Zephyrine is the codename.")
        if n % 397 == 5:
            parts.append("In C# this is a property.")
        while length < size:
            piece = rng.choice(self.cjk) if rng.random() < 0.05 else rng.choice(self.sentences)
            in_paragraph += 1
            if in_paragraph > rng.randint(3, 6):
                parts.append("\n\n")
                in_paragraph = 0
            parts.append(piece)
            length += len(piece) + 1
        return " ".join(parts).replace(" \n\n ", "\n\n")

    def title(self) -> str:
        return " ".join(self.rng.choice(self.sentences).split()[:self.rng.randint(3, 7)]).rstrip(".?:!")


def build_history(path: Path) -> dict[str, Any]:
    """Create the history at ``path``; return the ids of the chats the benchmarks open and its size."""
    from chatbot_gui.core.personas import BUILTIN_PERSONAS
    from chatbot_gui.core.store import ChatStore

    text = _Text()
    persona = BUILTIN_PERSONAS[0]
    t0 = 1_700_000_000.0
    # Chat ids 1..N-3: two turns each; N-2: 500 messages; N-1: 2,000 messages; N: two turns (opened
    # between measurements). Newest last, so the three measured chats are at the top of the list.
    sizes = {N_CHATS - 2: SMALL_MESSAGES, N_CHATS - 1: BIG_MESSAGES}
    chars = [0]

    def chats() -> Iterator[tuple[Any, ...]]:
        for chat_id in range(1, N_CHATS + 1):
            created = t0 + chat_id * 10_000
            yield (chat_id, text.title(), created, created, persona.name, persona.system_prompt, "gpt-4o-mini")

    def messages() -> Iterator[tuple[Any, ...]]:
        n = 0
        for chat_id in range(1, N_CHATS + 1):
            created = t0 + chat_id * 10_000
            for seq in range(1, sizes.get(chat_id, 2) + 1):
                user = seq % 2 == 1
                content = text.message(n, text.rng.randint(300, 900) if user else text.rng.randint(900, 1_900))
                chars[0] += len(content)
                n += 1
                # Each reply keeps the usage the server reported (schema 5), as a real chat's do.
                usage = (None, None, None, None, None) if user else (seq * 300, len(content) // 4, 0, 0, 1)
                yield (chat_id, seq, "user" if user else "assistant", content, "complete",
                       None if user else "gpt-4o-mini", created + seq, created + seq, *usage)

    store, _ = ChatStore.open(path)
    db = store._db  # the store's own connection: its schema, pragmas and triggers (FTS indexing)
    db.execute("BEGIN")
    db.executemany("INSERT INTO chats (id, title, created_at, updated_at, persona_name, system_prompt, model)"
                   " VALUES (?, ?, ?, ?, ?, ?, ?)", chats())
    db.executemany("INSERT INTO messages (chat_id, seq, role, content, status, model, created_at, updated_at,"
                   " prompt_tokens, completion_tokens, cached_tokens, reasoning_tokens, usage_priced)"
                   " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", messages())
    db.execute("COMMIT")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    count = db.execute("SELECT count(*) FROM messages").fetchone()[0]
    store.close()
    return {"big": N_CHATS - 1, "small": N_CHATS - 2, "tiny": N_CHATS, "chars": chars[0],
            "messages": count, "bytes": path.stat().st_size}


def _forget_last_chat(db_path: Path) -> None:
    """So a new window does not reopen the chat the previous one had open."""
    with sqlite3.connect(db_path, timeout=10) as db:
        db.execute("DELETE FROM meta WHERE key = ?", (LAST_CHAT,))


# --------------------------------------------------------------------------- the window


def _history_window(data_dir: Path, config_dir: Path) -> Any:
    """The real main window over the history in ``data_dir``, shown, its store open."""
    from chatbot_gui.app import create_window
    from chatbot_gui.core.paths import AppPaths
    from chatbot_gui.core.secrets import KeyStore, MemoryKeyring

    from benchmarks.common import show_window, wait_until

    def never_ask(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("the Settings dialog opened during a benchmark")

    _forget_last_chat(data_dir / "chats.sqlite3")
    window, _controller = create_window({"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": NO_SERVER},
                                        paths=AppPaths(config_dir=config_dir, data_dir=data_dir),
                                        keys=KeyStore(MemoryKeyring()), ask_settings=never_ask)
    show_window(window)
    if not wait_until(lambda: window.history_controller.store is not None, 60):
        raise RuntimeError("the window never opened its chat history")
    wait_until(lambda: False, 0.2)  # whatever else start-up deferred
    return window


class _PaintCounter:
    """Counts Paint events of one widget (an event filter; it never consumes events)."""

    def __init__(self, widget: Any) -> None:
        from PySide6.QtCore import QEvent, QObject

        counter = self

        class Filter(QObject):
            def eventFilter(self, obj: Any, event: Any) -> bool:  # noqa: N802 - Qt override
                if event.type() == QEvent.Type.Paint:
                    counter.count += 1
                return False

        self.count = 0
        self._filter = Filter()
        self._widget = widget
        widget.installEventFilter(self._filter)

    def close(self) -> None:
        self._widget.removeEventFilter(self._filter)


def _timed(owner: Any, name: str, spent: dict[str, float]) -> Callable[[], None]:
    """Wrap ``owner.name`` (an instance attribute) to add its time to ``spent[name]``; return undo."""
    original = getattr(owner, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            spent[name] = spent.get(name, 0.0) + time.perf_counter() - start

    setattr(owner, name, wrapper)
    return lambda: delattr(owner, name)


def open_and_paint(window: Any, chat_id: int) -> dict[str, Any]:
    """``open_chat(chat_id)``, then events until the transcript has laid out and painted everything.

    Done = the end of the last event-loop pass that did transcript work (a ``documentSizeChanged``, a
    viewport paint, a scroll bar change, or a pass longer than BUSY_S: a lazy-layout step), once nothing
    more has happened for QUIET_S (that wait is not counted). Returns the seconds and their parts.
    """
    from PySide6.QtWidgets import QApplication

    view, hc = window.transcript, window.history_controller
    changes = [0]
    relayout = view._relayout_from

    def counted(*args: Any, **kwargs: Any) -> None:  # a relayout of the message list's rows
        changes[0] += 1
        relayout(*args, **kwargs)

    view._relayout_from = counted
    paints = _PaintCounter(view.viewport())
    spent: dict[str, float] = {}
    undo = [_timed(hc.store, "load_chat", spent), _timed(view, "show_messages", spent)]
    try:
        start = time.perf_counter()
        if not hc.open_chat(chat_id):
            raise RuntimeError(f"open_chat({chat_id}) failed")
        returned = last = time.perf_counter()
        bar = view.verticalScrollBar()
        seen = (changes[0], paints.count, bar.maximum(), bar.value())
        while True:
            before = time.perf_counter()
            QApplication.processEvents()
            now = time.perf_counter()
            state = (changes[0], paints.count, bar.maximum(), bar.value())
            # Lazy layout steps after a relayout emit nothing until the last one: a busy pass counts.
            if state != seen or now - before > BUSY_S:
                seen, last = state, now
            elif now - last > QUIET_S:
                break
        # Nothing must be left: what is on screen is rendered and measured.
        check = time.perf_counter()
        view._prepare_visible()
        leftover = time.perf_counter() - check
    finally:
        for fn in undo:
            fn()
        paints.close()
        del view._relayout_from
    return {
        "s": last - start, "load": spent.get("load_chat", 0.0), "show": spent.get("show_messages", 0.0),
        "call": returned - start, "after": last - returned, "paints": paints.count, "steps": changes[0],
        "leftover": leftover, "at_end": bar.value() >= bar.maximum() - 4, "bar": (bar.value(), bar.maximum()),
    }


def _run_open(window: Any, ids: dict[str, Any], runs: int) -> list[Result]:
    big, small, tiny = ids["big"], ids["small"], ids["tiny"]
    log("history: warming up the transcript (untimed)")
    for chat_id in (big, tiny, small, tiny):
        open_and_paint(window, chat_id)
    big_runs: list[dict[str, Any]] = []
    small_runs: list[dict[str, Any]] = []
    for i in range(runs):
        for case in ((big, small) if i % 2 == 0 else (small, big)):
            open_and_paint(window, tiny)  # from a short chat on screen, as after a click in the list
            (big_runs if case == big else small_runs).append(open_and_paint(window, case))
        log(f"history: open run {i + 1}/{runs}: {big_runs[-1]['s']:.3f} s for {BIG_MESSAGES:,} messages, "
            f"{small_runs[-1]['s']:.3f} s for {SMALL_MESSAGES}")
    view = window.transcript
    open_and_paint(window, big)
    chars = sum(len(view.text_of(i)) for i in view.message_ids())
    blocks = len(view.message_ids())
    open_and_paint(window, tiny)
    # A chat opens with its recent messages; scrolling to the top shows all of them, once.
    from PySide6.QtWidgets import QApplication

    earlier: list[float] = []
    hidden = 0
    for _ in range(runs):
        open_and_paint(window, big)
        hidden = window.transcript.hidden_earlier
        t0 = time.perf_counter()
        window.transcript.show_earlier()
        QApplication.processEvents()
        earlier.append(time.perf_counter() - t0)
        open_and_paint(window, tiny)
    full_doc = 0
    open_and_paint(window, big)
    window.transcript.show_earlier()
    full_doc = chars
    open_and_paint(window, tiny)

    big_s = [r["s"] for r in big_runs]
    small_s = [r["s"] for r in small_runs]

    def parts(rows: list[dict[str, Any]]) -> str:
        keys = ("load", "show", "call", "after")
        med = {k: median([r[k] for r in rows]) for k in keys}
        return (f"store.load_chat {med['load'] * 1e3:.0f} ms, transcript.show_messages {med['show'] * 1e3:.0f} ms, "
                f"open_chat() returned after {med['call'] * 1e3:.0f} ms, then layout + paint "
                f"{med['after'] * 1e3:.0f} ms ({median([r['steps'] for r in rows]):.0f} document-size signals, "
                f"{median([r['paints'] for r in rows]):.0f} paints)")

    opened = Result(f"open {BIG_MESSAGES:,}-msg chat", median(big_s), float("nan"), "s", 0.5, kind="abs",
                    runs=big_s)
    opened.notes += [
        f"runs: {spread(big_s)} s; {chars / 1e6:.2f} M characters, {blocks:,} messages in the message list",
        f"median parts: {parts(big_runs)}",
    ]
    growth = Result(f"open {BIG_MESSAGES:,} vs {SMALL_MESSAGES} msgs (growth)", median(big_s), median(small_s),
                    "s", 4.5, runs=big_s, baseline_runs=small_s)
    all_shown = Result(f"  open: then show all {BIG_MESSAGES:,} (scroll up)", median(earlier), float("nan"), "s", 0,
                       kind="info", runs=earlier)
    all_shown.notes += [f"opening shows the last messages ({hidden:,} earlier ones hidden, "
                        f"{chars / 1e6:.2f} M characters on screen); scrolling to the top lays out all "
                        f"{full_doc / 1e6:.2f} M characters: runs {spread(earlier)} s"]
    growth.notes += [f"{SMALL_MESSAGES}-message runs: {spread(small_s)} s; median parts: {parts(small_runs)}"]
    stuck = [(n, [r for r in rows if not r["at_end"]]) for n, rows in ((BIG_MESSAGES, big_runs),
                                                                         (SMALL_MESSAGES, small_runs))]
    if any(rows for _, rows in stuck):
        opened.failed_check = "not scrolled to the last message once laid out: " + "; ".join(
            f"{n:,}-message chat {len(rows)} of {runs} times (scroll bar at {rows[0]['bar'][0]:,} of "
            f"{rows[0]['bar'][1]:,})" for n, rows in stuck if rows)
    left = max(r["leftover"] for r in big_runs + small_runs)
    if left > 0.005:
        opened.notes.append(f"layout still pending when measured (up to {left * 1e3:.0f} ms more): figure too low")
    return [opened, growth, all_shown]


# --------------------------------------------------------------------------- the sidebar


def _key(widget: Any, key: Any) -> None:
    from PySide6.QtTest import QTest

    QTest.keyClick(widget, key)


def _sidebar_once(window: Any) -> dict[str, Any]:
    from PySide6.QtCore import QPoint, Qt
    from PySide6.QtWidgets import QApplication

    hc, sidebar = window.history_controller, window.sidebar
    view, model = sidebar.chat_list, sidebar.chat_model
    hc.close()
    QApplication.processEvents()
    paints = _PaintCounter(view.viewport())
    try:
        start = time.perf_counter()
        hc.open_store()
        returned = time.perf_counter()
        before = paints.count
        while paints.count == before or not view.indexAt(QPoint(4, 4)).isValid():
            QApplication.processEvents()
            if time.perf_counter() - start > 30:
                raise RuntimeError("the chat list never showed a row")
        shown = time.perf_counter()
    finally:
        paints.close()
    first_rows = model.rowCount()
    view.setFocus()
    view.setCurrentIndex(model.index(0))
    QApplication.processEvents()

    def step(key: Any) -> float:
        t = time.perf_counter()
        _key(view, key)
        QApplication.processEvents()
        return time.perf_counter() - t

    page_down = [step(Qt.Key.Key_PageDown) for _ in range(PAGE_DOWNS)]
    rows_after_page_down = model.rowCount()
    to_end: list[float] = []
    bar = view.verticalScrollBar()
    while bar.value() < bar.maximum() or view.currentIndex().row() != model.rowCount() - 1:
        to_end.append(step(Qt.Key.Key_End))
        if len(to_end) > 500:
            raise RuntimeError("End never reached the last chat")
    headers = len(model.header_labels()) if hasattr(model, "header_labels") else 0  # date groups' rows
    return {"shown": shown - start, "call": returned - start, "first_rows": first_rows,
            "page_down": page_down, "rows_after_page_down": rows_after_page_down, "to_end": to_end,
            "rows": model.rowCount() - headers, "headers": headers}


def _run_sidebar(window: Any, runs: int) -> list[Result]:
    from chatbot_gui.core.store import ChatStore

    _sidebar_once(window)  # warm-up
    rows = []
    for i in range(runs):
        rows.append(_sidebar_once(window))
        r = rows[-1]
        log(f"history: sidebar run {i + 1}/{runs}: first rows in {r['shown'] * 1e3:.0f} ms, "
            f"bottom in {sum(r['to_end']):.2f} s ({len(r['to_end'])} x End), largest step "
            f"{max(r['page_down'] + r['to_end']) * 1e3:.1f} ms")
    # ChatStore.open alone (the file check and pragmas), for the notes.
    path = window.history_controller.store.path
    opens = []
    for _ in range(3):
        t = time.perf_counter()
        store, _ = ChatStore.open(path)
        opens.append(time.perf_counter() - t)
        store.close()

    shown = [r["shown"] for r in rows]
    total = [sum(r["to_end"]) for r in rows]
    largest = [max(r["page_down"] + r["to_end"]) * 1e3 for r in rows]
    last = rows[-1]
    first = Result(f"sidebar {N_CHATS:,} chats: first rows", median(shown), float("nan"), "s", 0.3, kind="abs",
                   runs=shown)
    first.notes += [
        f"runs: {spread(shown)} s; open_store() itself {median([r['call'] for r in rows]) * 1e3:.0f} ms of it, "
        f"of which ChatStore.open {median(opens) * 1e3:.0f} ms; {last['first_rows']} rows loaded up front",
    ]
    bottom = Result(f"sidebar {N_CHATS:,}: scroll to bottom", median(total), float("nan"), "s", 0, kind="info",
                    runs=total)
    bottom.notes += [
        f"runs: {spread(total)} s; {len(last['to_end'])} x End after {PAGE_DOWNS} x PageDown "
        f"({last['rows_after_page_down']} rows loaded by then), each key + processEvents(); "
        f"{last['rows']:,} chats at the end, under {last['headers']} date headers",
    ]
    if last["rows"] != N_CHATS:
        bottom.failed_check = f"the list ended with {last['rows']:,} chats, not {N_CHATS:,}"
    step = Result(f"sidebar {N_CHATS:,}: largest scroll step", median(largest), float("nan"), "ms", 16.0,
                  kind="abs", runs=largest)
    step.notes += [
        f"max per run: {spread(largest, '{:.1f}')} ms; median step: PageDown "
        f"{median([s for r in rows for s in r['page_down']]) * 1e3:.1f} ms, End "
        f"{median([s for r in rows for s in r['to_end']]) * 1e3:.1f} ms",
    ]
    return [first, bottom, step]


# --------------------------------------------------------------------------- search


def _run_search(path: Path, runs: int) -> list[Result]:
    from chatbot_gui.core.store import ChatStore

    store, _ = ChatStore.open(path)
    try:
        hits = {q: len(store.search(q)) for _, q in SEARCHES}  # warm-up (and the hit counts)
        times: dict[str, list[float]] = {q: [] for _, q in SEARCHES}
        for _ in range(max(runs, 3)):
            for _, query in SEARCHES:
                t = time.perf_counter()
                store.search(query)
                times[query].append((time.perf_counter() - t) * 1e3)
    finally:
        store.close()
    per_query = {q: median(ts) for q, ts in times.items()}
    worst_q = max(per_query, key=per_query.__getitem__)
    detail = "; ".join(f"{label} {q!r}: {per_query[q]:.1f} ms ({hits[q]} hits)" for label, q in SEARCHES)
    med = Result("search 10k chats: median query", median(list(per_query.values())), float("nan"), "ms", 100,
                 kind="abs", runs=list(per_query.values()))
    med.notes += [f"per query (median of {len(times[worst_q])} runs): {detail}"]
    worst = Result("search 10k chats: worst query", per_query[worst_q], float("nan"), "ms", 100, kind="abs",
                   runs=times[worst_q])
    worst.notes += [f"worst: {worst_q!r}; its runs: {spread(times[worst_q], '{:.1f}')} ms"]
    return [med, worst]


# --------------------------------------------------------------------------- memory (child process)


def _rss() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _hwm() -> int:
    with open("/proc/self/status") as fh:
        line = next(ln for ln in fh if ln.startswith("VmHWM:"))
    return int(line.split()[1]) * 1024


def memory_child(data_dir: str, chat_id: int) -> None:
    """Print RSS of the shown window (store open), then with the chat open, as one JSON line."""
    from benchmarks.common import qt_app, wait_until

    qt_app()
    with tempfile.TemporaryDirectory(prefix="chatbot-bench-mem-") as config:
        window = _history_window(Path(data_dir), Path(config))

        def measure() -> int:
            wait_until(lambda: False, 0.3)
            gc.collect()
            return _rss()

        empty = measure()
        result = open_and_paint(window, chat_id)
        opened = measure()
        print(json.dumps({"empty": empty, "open": opened, "hwm": _hwm(), "open_s": result["s"]}), flush=True)
        window.close()


def _run_memory(data_dir: Path, chat_id: int, runs: int) -> list[Result]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    samples = []
    for i in range(runs):
        proc = subprocess.run([sys.executable, "-m", "benchmarks.bench_history", "--memory-child",
                               str(data_dir), str(chat_id)], cwd=str(ROOT), env=env, capture_output=True,
                              text=True, timeout=180)
        line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("{")), None)
        if line is None:
            raise RuntimeError(f"the memory child exited {proc.returncode} without reporting:\n{proc.stderr[-2000:]}")
        samples.append(json.loads(line))
        s = samples[-1]
        log(f"history: memory run {i + 1}/{runs}: {s['empty'] / 2**20:.0f} MB empty, "
            f"{s['open'] / 2**20:.0f} MB with the chat open")
    deltas = [(s["open"] - s["empty"]) / 2**20 for s in samples]
    result = Result(f"memory, {BIG_MESSAGES:,}-msg chat open", median(deltas), float("nan"), "MB", 150,
                    kind="abs", runs=deltas)
    result.notes += [
        f"RSS above the shown empty window (store open, sidebar listing): {spread(deltas, '{:.0f}')} MB; "
        f"empty window {median([s['empty'] for s in samples]) / 2**20:.0f} MB, with the chat "
        f"{median([s['open'] for s in samples]) / 2**20:.0f} MB, peak (VmHWM) "
        f"{median([s['hwm'] for s in samples]) / 2**20:.0f} MB; a fresh process per run",
    ]
    return [result]


# --------------------------------------------------------------------------- entry point


def run(runs: int = 5) -> list[Result]:
    from benchmarks.common import dispose, qt_app

    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="chatbot-bench-history-") as folder:
        data_dir = Path(folder) / "data"
        data_dir.mkdir()
        db_path = data_dir / "chats.sqlite3"
        log(f"history: building {N_CHATS:,} chats (cached for this run in {folder})")
        started = time.perf_counter()
        ids = build_history(db_path)
        built = (f"history: {N_CHATS:,} chats, {ids['messages']:,} messages, {ids['chars'] / 1e6:.1f} M characters, "
                 f"{ids['bytes'] / 1e6:.0f} MB file, built in {time.perf_counter() - started:.1f} s")
        log(built)

        log("history: search")
        results += _run_search(db_path, runs)
        log("history: memory (fresh processes)")
        results += _run_memory(data_dir, ids["big"], max(1, min(runs, 3)))

        qt_app()
        window = _history_window(data_dir, Path(folder) / "config")
        try:
            results += _run_sidebar(window, runs)
            # Back to one loaded page of the chat list, as in a window that was just opened.
            window.history_controller.close()
            window.history_controller.open_store()  # opens on a worker (the integrity check)
            from benchmarks.common import wait_until

            if not wait_until(lambda: window.history_controller.store is not None, 60):
                raise RuntimeError("the chat history did not open again")
            results += _run_open(window, ids, runs)
        finally:
            dispose(window)
    order = ("open", "memory", "sidebar", "search")
    results.sort(key=lambda r: next(i for i, p in enumerate(order) if r.name.strip().startswith(p) or p in r.name))
    results[0].notes.insert(0, built.removeprefix("history: "))
    return results


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--memory-child":
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        memory_child(sys.argv[2], int(sys.argv[3]))
    else:
        print("usage: python -m benchmarks.bench_history --memory-child DATA_DIR CHAT_ID", file=sys.stderr)
        raise SystemExit(2)
