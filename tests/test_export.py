"""Exports as the user reads them (text, Markdown), the lossless JSON round trip, and safe writing."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from chatbot_gui.core.conversation import Status
from chatbot_gui.core.export import (
    close_open_fence,
    export_all,
    export_chat,
    from_json,
    render,
    safe_filename,
    to_json,
    to_markdown,
    to_text,
)
from chatbot_gui.core.store import ChatStore, StoredChat

UTC = timezone.utc
T0 = 1_714_572_000.0  # 2024-05-01 14:00:00 UTC
REPLY = "Here is how:\n\n```python\nprint('hi')\n```\n\n# Not a turn heading\n\n- a **list**"
ROOT_CANNOT_BE_DENIED = hasattr(os, "geteuid") and os.geteuid() == 0


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ChatStore]:
    s, _ = ChatStore.open(tmp_path / "chats.sqlite3", clock=lambda: T0)
    yield s
    s.close()


@pytest.fixture
def chat(store: ChatStore) -> StoredChat:
    chat_id = store.create_chat("Markdown *help* & more", "Helpful assistant",
                                "You are a helpful assistant.\nAnswer briefly.", "gpt-4o-mini",
                                extra={"temperature": 0.2})
    store.add_message(chat_id, "user", "How do I print in Python? 🐍", created_at=T0 + 0.123456789)
    store.add_message(chat_id, "assistant", REPLY, model="gpt-4o-mini", created_at=T0 + 60)
    store.add_message(chat_id, "user", "And in 日本語?", created_at=T0 + 120)
    stopped = store.add_message(chat_id, "assistant", "", Status.STREAMING, model="gpt-4o",
                                created_at=T0 + 180)
    store.update_message(stopped, "Half an ans", Status.STOPPED, kept=True)
    broken = store.add_message(chat_id, "assistant", "", Status.STREAMING, created_at=T0 + 240)
    store.update_message(broken, "```js\nconsole.log(", Status.INTERRUPTED)
    return store.load_chat(chat_id)


# --- what a person reads -------------------------------------------------------------------------


def test_plain_text_export(chat: StoredChat) -> None:
    text = to_text(chat, tz=UTC)
    assert text.startswith(
        "Markdown *help* & more\n"
        "======================\n"
        "\n"
        "Date: 2024-05-01 14:00\n"
        "Model: gpt-4o-mini\n"
        "Persona: Helpful assistant\n"
        "System prompt:\n"
        "    You are a helpful assistant.\n"
        "    Answer briefly.\n"
        "\n"
        "── You · 2024-05-01 14:00 ──\n"
        "How do I print in Python? 🐍\n"
        "\n"
        "── Assistant · 2024-05-01 14:01 ──\n" + REPLY + "\n"
    )
    assert "── You · 2024-05-01 14:02 ──\nAnd in 日本語?\n" in text
    assert "── Assistant · 2024-05-01 14:03 · gpt-4o · stopped, kept in context ──\nHalf an ans\n" in text
    assert text.endswith("── Assistant · 2024-05-01 14:04 · interrupted ──\n```js\nconsole.log(\n")


def test_plain_text_uses_local_time_by_default(chat: StoredChat) -> None:
    local = datetime.fromtimestamp(T0 + 60).strftime("%Y-%m-%d %H:%M")
    assert f"── Assistant · {local} ──" in to_text(chat)


def test_markdown_export(chat: StoredChat) -> None:
    md = to_markdown(chat, tz=UTC)
    assert md.startswith(
        "# Markdown \\*help\\* \\& more\n"
        "\n"
        "- **Date:** 2024-05-01 14:00\n"
        "- **Model:** gpt-4o-mini\n"
        "- **Persona:** Helpful assistant\n"
        "\n"
        "**System prompt:**\n"
        "\n"
        "> You are a helpful assistant.\n"
        "> Answer briefly.\n"
        "\n"
        "---\n"
        "\n"
        "## You · 2024-05-01 14:00\n"
        "\n"
        "How do I print in Python? 🐍\n"
        "\n"
        "---\n"
        "\n"
        "## Assistant · 2024-05-01 14:01\n"
        "\n" + REPLY + "\n"  # the reply exactly as written: its own heading and fence included
    )
    assert "## Assistant · 2024-05-01 14:03 · gpt-4o · *stopped, kept in context*\n\nHalf an ans\n" in md
    # The interrupted reply's unclosed fence is closed, so nothing after it turns into code.
    assert md.endswith("## Assistant · 2024-05-01 14:04 · *interrupted*\n\n```js\nconsole.log(\n```\n")


def _headings_outside_code(md: str) -> list[str]:
    """The level-2 headings a CommonMark renderer would show (a small fence tracker of its own)."""
    out, fence = [], ""
    for line in md.split("\n"):
        m = re.match(r" {0,3}(`{3,}|~{3,})", line)
        if m and not fence:
            fence = m.group(1)
        elif m and fence and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence) \
                and not line.strip().strip(fence[0]):
            fence = ""
        elif not fence and line.startswith("## "):
            out.append(line)
    return out


def test_an_unclosed_fence_in_a_reply_cannot_swallow_later_turns(store: ChatStore) -> None:
    chat_id = store.create_chat("t", "p", "", None)
    store.add_message(chat_id, "assistant", "````md\n```\nnested, still open", created_at=T0)
    store.add_message(chat_id, "user", "~~~\ntilde fence", created_at=T0 + 60)
    store.add_message(chat_id, "user", "last words", created_at=T0 + 120)
    md = to_markdown(store.load_chat(chat_id), tz=UTC)
    assert _headings_outside_code(md) == ["## Assistant · 2024-05-01 14:00", "## You · 2024-05-01 14:01",
                                          "## You · 2024-05-01 14:02"]
    assert "nested, still open\n````\n" in md and "tilde fence\n~~~\n" in md


@pytest.mark.parametrize(
    ("text", "expected"),
    [("no code", "no code"),
     ("```\nclosed\n```", "```\nclosed\n```"),
     ("```py\nopen", "```py\nopen\n```"),
     ("````\n```\nstill open", "````\n```\nstill open\n````"),
     ("~~~\nopen\n", "~~~\nopen\n~~~"),
     ("``` not `a` fence\ntext", "``` not `a` fence\ntext"),
     ("    ```\nindented code, not a fence", "    ```\nindented code, not a fence")],
)
def test_close_open_fence(text: str, expected: str) -> None:
    assert close_open_fence(text) == expected


def test_untitled_chat_and_empty_prompt(store: ChatStore) -> None:
    chat = store.load_chat(store.create_chat("", "", "", None))
    assert to_text(chat, UTC).startswith("Untitled chat\n=============\n\nDate: 2024-05-01 14:00\n"
                                         "Model: (default)\nPersona: (none)\nSystem prompt: (none)\n")
    assert to_markdown(chat, UTC).startswith("# Untitled chat\n")


# --- JSON ----------------------------------------------------------------------------------------


def _without_ids(chat: StoredChat) -> tuple[object, ...]:
    return (chat.title, chat.created_at, chat.updated_at, chat.persona_name, chat.system_prompt,
            chat.model, dict(chat.extra),
            [(m.seq, m.role, m.content, m.status, m.kept, m.model, m.created_at) for m in chat.messages])


def test_json_is_versioned_and_readable(chat: StoredChat) -> None:
    data = json.loads(to_json(chat))
    assert (data["format"], data["version"]) == ("chatbot-gui.chat", 2)
    # Only these fields, so nothing else (a key, a setting) can slip into an export unnoticed.
    assert set(data) == {"format", "version", "title", "created_at", "updated_at", "persona", "model",
                         "extra", "messages"}
    assert data["persona"] == {"name": "Helpful assistant",
                               "system_prompt": "You are a helpful assistant.\nAnswer briefly."}
    assert data["messages"][0] == {"id": 1, "parent": None, "selected": True,
                                   "role": "user", "content": "How do I print in Python? 🐍",
                                   "status": "complete", "kept": False, "pinned": False, "model": None,
                                   "created_at": T0 + 0.123456789}
    assert "🐍" in to_json(chat) and "日本語" in to_json(chat)  # not \\u-escaped


def test_json_round_trip_through_a_second_store_is_exact(chat: StoredChat, tmp_path: Path) -> None:
    parsed = from_json(to_json(chat))
    assert _without_ids(parsed) == _without_ids(chat)
    other, _ = ChatStore.open(tmp_path / "other.sqlite3")
    try:
        imported = other.load_chat(other.import_chat(parsed))
    finally:
        other.close()
    assert _without_ids(imported) == _without_ids(chat)
    assert imported.messages[0].created_at == T0 + 0.123456789  # bit for bit
    assert to_json(imported) == to_json(chat)


def _valid() -> dict[str, object]:
    return {"format": "chatbot-gui.chat", "version": 1, "title": "t", "created_at": 1.0,
            "updated_at": 2.0, "persona": {"name": "p", "system_prompt": ""}, "model": None,
            "messages": [{"role": "user", "content": "hi", "status": "complete", "created_at": 1.5}]}


def test_minimal_valid_json_has_sensible_defaults() -> None:
    chat = from_json(json.dumps(_valid()))
    assert chat.messages[0].kept is False and chat.messages[0].model is None
    assert dict(chat.extra) == {}


def _broken(path: str, value: object) -> str:
    data = _valid()
    keys: list[str | int] = [int(k) if k.isdigit() else k for k in path.split(".")]
    target: Any = data
    for key in keys[:-1]:
        target = target[key]
    if value is KeyError:
        del target[keys[-1]]
    else:
        target[keys[-1]] = value
    return json.dumps(data)


@pytest.mark.parametrize(
    ("text", "message"),
    [("not json at all", "invalid JSON"),
     ("[1, 2]", "expected a JSON object"),
     (_broken("format", "something.else"), "format is 'something.else'"),
     (_broken("format", KeyError), "format is None"),
     (_broken("version", 3), "made by a newer version"),
     (_broken("version", "1"), "Unsupported chat export version '1'"),
     (_broken("version", True), "Unsupported chat export version True"),
     (_broken("persona", KeyError), "persona is missing"),
     (_broken("persona.name", 3), "persona.name must be a string, got int"),
     (_broken("messages", {}), "messages must be a list"),
     (_broken("messages.0", "hi"), "messages[0] must be an object"),
     (_broken("messages.0.role", "system"), "messages[0].role must be 'user', 'assistant' or 'notice'"),
     (_broken("messages.0.status", "done"), "messages[0].status must be one of complete, streaming"),
     (_broken("messages.0.content", KeyError), "messages[0].content is missing"),
     (_broken("messages.0.kept", "yes"), "messages[0].kept must be true or false"),
     (_broken("messages.0.created_at", "yesterday"), "messages[0].created_at must be a time"),
     (_broken("created_at", float("nan")), "created_at must be a time"),
     (_broken("extra", []), "extra must be an object")],
)
def test_bad_json_is_refused_with_a_clear_message(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        from_json(text)


# --- writing files -------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["txt", "md", "json"])
def test_export_chat_writes_utf8(chat: StoredChat, tmp_path: Path, fmt: str) -> None:
    target = tmp_path / "out" / f"chat.{fmt}"
    export_chat(chat, target, fmt, tz=UTC)  # type: ignore[arg-type]
    assert target.read_bytes() == render(chat, fmt, UTC).encode("utf-8")  # type: ignore[arg-type]
    assert "日本語" in target.read_text(encoding="utf-8")
    assert [p.name for p in target.parent.iterdir()] == [f"chat.{fmt}"]  # no temp file left


def test_unknown_format_is_refused_before_writing(chat: StoredChat, store: ChatStore,
                                                  tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="Unknown export format 'pdf'"):
        export_chat(chat, tmp_path / "x.pdf", "pdf")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="Unknown export format"):
        export_all(store, tmp_path / "all", "pdf")  # type: ignore[arg-type]
    assert not (tmp_path / "x.pdf").exists() and not (tmp_path / "all").exists()


_FULL_DISK = """
import resource, signal, sys
from pathlib import Path
from chatbot_gui.core.export import export_chat, from_json
chat = from_json(Path(sys.argv[1]).read_text(encoding="utf-8"))
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # get EFBIG as an error instead of being killed
resource.setrlimit(resource.RLIMIT_FSIZE, (1000, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
try:
    export_chat(chat, Path(sys.argv[2]), "json")
except OSError as exc:
    print(type(exc).__name__, exc.errno)
    sys.exit(0)
sys.exit("the write did not fail")
"""


@pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_FSIZE is POSIX")
def test_a_failing_write_raises_and_leaves_the_old_file(chat: StoredChat, tmp_path: Path) -> None:
    """A disk that fills up mid-write, made real with the kernel's file-size limit.

    Tests run as root, so a read-only folder would not stop the write; ``RLIMIT_FSIZE`` does (the
    kernel fails the write with EFBIG, as a full disk fails it with ENOSPC), and it is applied in a
    child process so pytest's own files are not affected.
    """
    source = tmp_path / "chat.json"
    source.write_text(to_json(chat), encoding="utf-8")
    assert len(to_json(chat).encode()) > 1000
    folder = tmp_path / "exports"
    folder.mkdir()
    target = folder / "chat.json"
    target.write_text("the previous export\n", encoding="utf-8")
    result = subprocess.run([sys.executable, "-c", _FULL_DISK, str(source), str(target)],
                            capture_output=True, text=True, timeout=60,
                            cwd=Path(__file__).resolve().parents[1])
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[0] == "OSError" and result.stdout.split()[1] == "27"  # EFBIG
    assert target.read_text(encoding="utf-8") == "the previous export\n"
    assert [p.name for p in folder.iterdir()] == ["chat.json"]  # the temp file was cleaned up


def test_a_folder_that_is_a_file_raises_oserror(chat: StoredChat, tmp_path: Path) -> None:
    blocker = tmp_path / "exports"
    blocker.write_text("I am a file, not a folder", encoding="utf-8")
    with pytest.raises(OSError):
        export_chat(chat, blocker / "chat.md", "md")
    assert blocker.read_text(encoding="utf-8") == "I am a file, not a folder"


@pytest.mark.skipif(ROOT_CANNOT_BE_DENIED or sys.platform == "win32",
                    reason="root ignores permissions; covered by the file-size-limit test")
def test_a_read_only_folder_raises_and_keeps_the_old_file(chat: StoredChat, tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    target = folder / "chat.txt"
    target.write_text("old", encoding="utf-8")
    folder.chmod(0o555)
    try:
        with pytest.raises(OSError):
            export_chat(chat, target, "txt")
    finally:
        folder.chmod(0o755)
    assert target.read_text(encoding="utf-8") == "old"


@pytest.mark.parametrize(
    ("title", "expected"),
    [("Plan: A/B test?", "Plan_ A_B test_"),
     ('a\\b<c>d|e*f"g', "a_b_c_d_e_f_g"),
     ("CON", "_CON"), ("lpt1.txt", "_lpt1.txt"), ("nul ", "_nul"), ("CONSOLE", "CONSOLE"),
     ("  ..hidden.. ", "hidden"), ("", "Untitled chat"), ("...", "Untitled chat"),
     ("tab\there\nnewline", "tab here newline"), ("rtl\u202eexe.txt", "rtl_exe.txt"),
     ("日本語のチャット 🎉", "日本語のチャット 🎉"), ("e\u0301cole", "école")],
)
def test_safe_filename(title: str, expected: str) -> None:
    assert safe_filename(title) == expected


def test_safe_filename_limits_bytes_not_characters() -> None:
    name = safe_filename("é" * 300)
    assert len(name.encode("utf-8")) <= 120 and name == "é" * 60
    assert len(safe_filename("🎉" * 100).encode("utf-8")) <= 120


def test_export_all_writes_one_safe_unique_file_per_chat(store: ChatStore, tmp_path: Path) -> None:
    titles = ["Plan: A/B test?", "CON", "", "Same", "Same", "x" * 400, "日本語 🎉", "../../etc/passwd"]
    for title in titles:
        store.add_message(store.create_chat(title, "p", "", None), "user", f"about {title[:10]}")
    folder = tmp_path / "all"
    folder.mkdir()
    (folder / "2024-05-01 Same.md").write_text("the user's own notes", encoding="utf-8")

    paths = export_all(store, folder, "md", tz=UTC)

    assert len(paths) == len(titles) == len(set(paths))
    assert all(p.parent == folder and p.exists() for p in paths)
    assert all(len(p.name.encode("utf-8")) <= 255 and p.name.startswith("2024-05-01 ") for p in paths)
    names = {p.name for p in paths}
    assert {"2024-05-01 Plan_ A_B test_.md", "2024-05-01 CON.md", "2024-05-01 Untitled chat.md",
            "2024-05-01 Same (2).md", "2024-05-01 Same (3).md", "2024-05-01 日本語 🎉.md",
            "2024-05-01 .._.._etc_passwd.md"} <= names
    assert (folder / "2024-05-01 Same.md").read_text(encoding="utf-8") == "the user's own notes"
    by_name = {p.name: p for p in paths}
    assert by_name["2024-05-01 日本語 🎉.md"].read_text(encoding="utf-8").startswith("# 日本語 🎉\n")
    for summary, path in zip(store.list_chats(), paths):
        assert path.read_text(encoding="utf-8") == to_markdown(store.load_chat(summary.id), UTC)


def test_export_all_of_an_empty_store(store: ChatStore, tmp_path: Path) -> None:
    assert export_all(store, tmp_path / "none", "json") == []
