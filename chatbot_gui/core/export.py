"""Export saved chats as plain text, Markdown or JSON, and read a JSON export back.

Text and Markdown are for people: title, date, model, persona and its system prompt, then each turn
with its role and local time and the text exactly as written (replies are Markdown source). JSON is
for programs and re-import: lossless, versioned (``{"format": "chatbot-gui.chat", "version": 2}``;
version 2 adds each message's ``id``, ``parent`` and ``selected``, so every version and branch of a
chat survives the round trip; version 1 files, a single line of messages, are still read). A reply
the server counted carries ``usage`` (``ReplyUsage.to_json``: prompt, completion, cached and reasoning
tokens, and whether OpenAI's prices apply), and a reply that reasoned ``reasoning_seconds`` (how
long its reasoning took: "Thought for 3 s"); files without them, and older apps reading them, are fine.
Text and Markdown show a reply's token count in its heading, beside its model and time.

Text and Markdown show the chat as it is shown (the selected versions); after a message that has
other versions, each other version follows, marked "other version i of n", with the rest of its
branch, each turn of it marked "branch of other version i of n". Notices ("Persona: …") appear at
their place.

Markdown decision: message text is not escaped (a reply's Markdown stays Markdown), but a message
must not swallow the rest of the document, so an unclosed code fence at its end is closed, and every
message is followed by a blank line before the next heading or rule. Metadata (title, persona, model)
is escaped, and the system prompt is quoted (``>``), which contains whatever it holds.

Exports hold only what the store holds: no keys or other secrets are stored, so none can leak here.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable
from datetime import datetime, tzinfo
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from chatbot_gui.core.atomic import write_atomic
from chatbot_gui.core.conversation import NOTICE, PERSONA_NOTICE, Status
from chatbot_gui.core.store import FOLLOWS_PREVIOUS, ChatStore, StoredChat, StoredMessage, parent_map, seconds_or_none
from chatbot_gui.core.usage import ReplyUsage

FORMAT = "chatbot-gui.chat"
VERSION = 2
Fmt = Literal["txt", "md", "json"]
ROLE_LABELS = {"user": "You", "assistant": "Assistant", "notice": "Notice"}
STATUS_NOTES = {
    Status.STOPPED: "stopped",
    Status.INTERRUPTED: "interrupted",
    Status.STREAMING: "unfinished",
}
UNTITLED = "Untitled chat"


#: The largest chat export :func:`read_export` reads (a real chat of 2,000 long messages is ~5 MB).
MAX_IMPORT_BYTES = 200 * 1024 * 1024
#: Times an export may carry: the years 1 to 9999 that dates can show, a day inside either end so
#: that every time zone can still show them.
MIN_TIME, MAX_TIME = -62135596800.0 + 86400, 253402300799.0 - 86400
_SURROGATE = re.compile("[\ud800-\udfff]")


def _when(ts: float, tz: tzinfo | None) -> str:
    """``tz`` None means the computer's local time zone. A stored time no date can show (another
    tool wrote it, or an old import let it in) is written as the number, not an error."""
    try:
        return datetime.fromtimestamp(ts, tz).strftime("%Y-%m-%d %H:%M")
    except (OverflowError, OSError, ValueError, TypeError):
        return f"(time {ts!r})"


def _turn_label(chat: StoredChat, msg: StoredMessage, tz: tzinfo | None,
                version: str = "") -> tuple[list[str], str]:
    """The parts of a turn's heading (role, local time, model if not the chat's) and a status note."""
    parts = [ROLE_LABELS.get(msg.role, msg.role.capitalize()), _when(msg.created_at, tz)]
    if msg.model and msg.model != chat.model:
        parts.append(msg.model)
    if msg.usage is not None and msg.usage.usage.total_tokens:
        parts.append(f"{msg.usage.usage.total_tokens:,} tokens")
    if version:
        parts.append(version)
    note = STATUS_NOTES.get(msg.status, "")
    return parts, (f"{note}, kept in context" if note and msg.kept else note)


def _in_order(chat: StoredChat) -> list[tuple[StoredMessage, str]]:
    """Every message, each with its version note: the path shown, each other version (with the
    rest of its branch) right after the version shown."""
    parents = parent_map(chat.messages)
    children: dict[int | None, list[StoredMessage]] = {}
    for m in chat.messages:
        children.setdefault(parents[m.id], []).append(m)
    out: list[tuple[StoredMessage, str]] = []
    done: set[int] = set()

    def branch(first: StoredMessage, note: str) -> None:
        # What follows another version is its branch: each turn says so ("branch of other version
        # 1 of 2"), so a reader tells it from the conversation shown, whose turns carry no such note.
        within = f"branch of {note}" if note else ""
        node: StoredMessage | None = first
        while node is not None and node.id not in done:
            done.add(node.id)
            siblings = [m for m in children.get(parents[node.id], []) if m.role == node.role]
            n = len(siblings)
            if note:
                label = note
            else:
                own = f"version {siblings.index(node) + 1} of {n}" if n > 1 else ""
                label = " · ".join(part for part in (own, within) if part)
            out.append((node, label))
            note = ""
            for i, other in enumerate(siblings, start=1):
                if other.id not in done and other is not node:
                    branch(other, f"other version {i} of {n}")
            kids = children.get(node.id, [])
            node = next((k for k in kids if k.selected), kids[-1] if kids else None)

    roots = children.get(None, [])
    if roots:
        branch(next((r for r in roots if r.selected), roots[-1]), "")
    return out


def _latest(chat: StoredChat) -> str:
    """Said after the header's persona when it changed in the chat: the header has the latest one
    (and its system prompt); the turns before the change were answered by another."""
    changed = any(m.role == NOTICE and m.content.startswith(PERSONA_NOTICE) for m in chat.messages)
    return " (the chat's latest; where it changed is noted below)" if changed else ""


def to_text(chat: StoredChat, tz: tzinfo | None = None) -> str:
    """Plain UTF-8 text, readable in any editor."""
    title = " ".join(chat.title.split()) or UNTITLED
    lines = [title, "=" * min(len(title), 72), "", f"Date: {_when(chat.created_at, tz)}"]
    lines.append(f"Model: {chat.model or '(default)'}")
    lines.append(f"Persona: {chat.persona_name or '(none)'}{_latest(chat)}")
    if chat.system_prompt.strip():
        lines.append("System prompt:")
        lines.extend("    " + line if line else "" for line in chat.system_prompt.split("\n"))
    else:
        lines.append("System prompt: (none)")
    for msg, version in _in_order(chat):
        parts, note = _turn_label(chat, msg, tz, version)
        lines += ["", f"── {' · '.join(parts + ([note] if note else []))} ──", msg.content]
    return "\n".join(lines).rstrip("\n") + "\n"


def to_markdown(chat: StoredChat, tz: tzinfo | None = None) -> str:
    """The same as Markdown: a heading per turn, the text as written (see the module docstring)."""
    out = [f"# {_escape(' '.join(chat.title.split()) or UNTITLED)}", ""]
    out.append(f"- **Date:** {_when(chat.created_at, tz)}")
    out.append(f"- **Model:** {_escape(chat.model or '(default)')}")
    out.append(f"- **Persona:** {_escape(chat.persona_name or '(none)')}{_latest(chat)}")
    if chat.system_prompt.strip():
        out += ["", "**System prompt:**", ""]
        out += [f"> {line}" if line else ">" for line in chat.system_prompt.split("\n")]
    for msg, version in _in_order(chat):
        parts, note = _turn_label(chat, msg, tz, version)
        label = " · ".join([_escape(part) for part in parts] + ([f"*{note}*"] if note else []))
        out += ["", "---", "", f"## {label}", "", close_open_fence(msg.content)]
    return "\n".join(out).rstrip("\n") + "\n"


_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")


def close_open_fence(text: str) -> str:
    """``text`` with a closing fence added if it ends inside a fenced code block (CommonMark rules)."""
    opener: str | None = None
    for line in text.split("\n"):
        found = _FENCE.match(line)
        if not found:
            continue
        run, rest = found.groups()
        if opener is None:
            if not (run[0] == "`" and "`" in rest):  # a backtick fence's info string has no backtick
                opener = run
        elif run[0] == opener[0] and len(run) >= len(opener) and not rest.strip():
            opener = None
    return text if opener is None else text.rstrip("\n") + "\n" + opener


def _escape(text: str) -> str:
    return re.sub(r"([\\`*_\[\]<>|~&#])", r"\\\1", " ".join(text.split()))


def to_json(chat: StoredChat) -> str:
    """Lossless JSON (floats as written by ``repr``, so times round-trip exactly). Text holding a lone
    surrogate (from a broken server) is written with ``\\u`` escapes, so it still round-trips.

    Messages are numbered 1, 2, … in the order written; ``parent`` is the number of the message
    each follows (null: the chat's first)."""
    parents = parent_map(chat.messages)
    numbers = {m.id: seq for seq, m in enumerate(chat.messages, start=1)}
    data = {
        "format": FORMAT,
        "version": VERSION,
        "title": chat.title,
        "created_at": chat.created_at,
        "updated_at": chat.updated_at,
        "persona": {"name": chat.persona_name, "system_prompt": chat.system_prompt},
        "model": chat.model,
        "extra": dict(chat.extra),
        "messages": [
            {"id": seq, "parent": None if parents[m.id] is None else numbers[parents[m.id]],
             "selected": m.selected, "role": m.role, "content": m.content, "status": m.status.value,
             "kept": m.kept, "pinned": m.pinned, "model": m.model, "created_at": m.created_at,
             **({"usage": m.usage.to_json()} if m.usage is not None else {}),
             **({"reasoning_seconds": m.reasoning_seconds} if m.reasoning_seconds is not None else {})}
            for seq, m in enumerate(chat.messages, start=1)
        ],
    }
    text = json.dumps(data, ensure_ascii=False, indent=2) + "\n"
    if _SURROGATE.search(text):
        text = json.dumps(data, ensure_ascii=True, indent=2) + "\n"
    return text


def read_export(path: Path) -> StoredChat:
    """Read and check a JSON export file: :func:`from_json` after size and encoding checks.

    Raises ``ValueError`` with a message for the user for anything wrong with the file (``OSError``
    when it cannot be read at all)."""
    size = Path(path).stat().st_size
    if size > MAX_IMPORT_BYTES:
        raise ValueError(f"The file is too large to be a chat export ({size / 2**20:.0f} MB; "
                         f"at most {MAX_IMPORT_BYTES // 2**20} MB are read).")
    raw = Path(path).read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"Not a chat export: the file is not UTF-8 text (byte {exc.start}).") from None
    return from_json(text)


def from_json(text: str) -> StoredChat:
    """Read a JSON export into what :meth:`ChatStore.import_chat` takes (ids: the file's numbers).

    Raises ``ValueError`` naming what is wrong: not JSON, another format, a newer version, or a field
    with the wrong type or value.
    """
    try:
        data = json.loads(text)
        return _chat_from(data)
    except json.JSONDecodeError as exc:
        raise ValueError(f"Not a chat export: invalid JSON ({exc.msg}, line {exc.lineno}).") from None
    except RecursionError:
        raise ValueError("Not a chat export: its JSON is nested too deeply.") from None
    except ValueError as exc:
        if "exceeds the limit" in str(exc).lower():  # int("9" * 5000): Python's digit limit for integers
            raise ValueError("Invalid chat export: it holds a number too long to read.") from None
        raise


def _chat_from(data: Any) -> StoredChat:
    if not isinstance(data, dict):
        raise ValueError("Not a chat export: expected a JSON object.")
    if data.get("format") != FORMAT:
        raise ValueError(f"Not a chat export: format is {data.get('format')!r}, expected {FORMAT!r}.")
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        shown = repr(version[:20]) if isinstance(version, str) else version
        raise ValueError(f"Unsupported chat export version {shown}.")
    if version > VERSION:
        raise ValueError(f"This chat export is version {version}, made by a newer version of the "
                         f"app; this one reads version {VERSION}.")
    persona = _get(data, "persona", dict, "persona")
    raw_messages = _get(data, "messages", list, "messages")
    messages = []
    seen: set[int] = set()
    for i, raw in enumerate(raw_messages):
        where = f"messages[{i}]"
        if not isinstance(raw, dict):
            raise ValueError(f"Invalid chat export: {where} must be an object.")
        role = _get(raw, "role", str, where)
        if role not in ROLE_LABELS:
            raise ValueError(f"Invalid chat export: {where}.role must be 'user', 'assistant' or "
                             f"'notice', got {role!r}.")
        number = i + 1
        parent: int | None = FOLLOWS_PREVIOUS
        if version >= 2:
            number = _get(raw, "id", int, where)
            parent = _get(raw, "parent", int, where, None)
            if number in seen or (parent is not None and parent not in seen):
                raise ValueError(f"Invalid chat export: {where} must have a new id and a parent "
                                 "that comes before it.")
            seen.add(number)
        status = _get(raw, "status", str, where)
        if status not in {s.value for s in Status}:
            raise ValueError(f"Invalid chat export: {where}.status must be one of "
                             f"{', '.join(s.value for s in Status)}; got {status!r}.")
        messages.append(StoredMessage(
            id=number, seq=i + 1, role=role, content=_get(raw, "content", str, where), status=Status(status),
            kept=_get(raw, "kept", bool, where, False), model=_get(raw, "model", str, where, None),
            created_at=_time(raw, "created_at", where), parent_id=parent,
            selected=_get(raw, "selected", bool, where, True), pinned=_get(raw, "pinned", bool, where, False),
            usage=ReplyUsage.from_json(_get(raw, "usage", dict, where, None)),
            # (only shown: a file with something else there is still read, without it)
            reasoning_seconds=seconds_or_none(raw.get("reasoning_seconds"))))
    return StoredChat(
        id=0,
        title=_get(data, "title", str, "", ""),
        created_at=_time(data, "created_at", ""),
        updated_at=_time(data, "updated_at", ""),
        persona_name=_get(persona, "name", str, "persona"),
        system_prompt=_get(persona, "system_prompt", str, "persona"),
        model=_get(data, "model", str, "", None),
        messages=tuple(messages),
        extra=MappingProxyType(_get(data, "extra", dict, "", {})),
    )


_MISSING: Any = object()


def _get(obj: dict[str, Any], key: str, kind: type, where: str, default: Any = _MISSING) -> Any:
    """``obj[key]`` checked to be a ``kind``; ``default`` (which may be None) when absent or null.

    Text keeps everything but lone surrogates (a broken server's ``\\ud800``), which become U+FFFD:
    the database stores UTF-8, which cannot hold them."""
    name = f"{where}.{key}" if where else key
    value = obj.get(key)
    if value is None:
        if default is _MISSING:
            raise ValueError(f"Invalid chat export: {name} is missing.")
        return default
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise ValueError(f"Invalid chat export: {name} must be {_KIND_NAMES[kind]}, "
                         f"got {type(value).__name__}.")
    if kind is str:
        return _SURROGATE.sub("\ufffd", value)
    if kind is dict:
        try:
            json.dumps(value, allow_nan=False).encode("utf-8")
        except (ValueError, UnicodeEncodeError):
            raise ValueError(f"Invalid chat export: {name} holds numbers or text that cannot be "
                             "stored (NaN, Infinity or a lone surrogate).") from None
    return value


_KIND_NAMES: dict[type, str] = {str: "a string", bool: "true or false", dict: "an object", list: "a list"}


def _time(obj: dict[str, Any], key: str, where: str) -> float:
    value = obj.get(key)
    name = f"{where}.{key}" if where else key
    # The range test first: math.isfinite(10**400) raises OverflowError; NaN fails any comparison.
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not MIN_TIME <= value <= MAX_TIME:
        shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:40] + "…"
        raise ValueError(f"Invalid chat export: {name} must be a time in seconds (years 1 to 9999), "
                         f"got {shown}.")
    return float(value)


_RENDERERS: dict[str, Callable[[StoredChat, tzinfo | None], str]] = {
    "txt": to_text,
    "md": to_markdown,
    "json": lambda chat, _tz: to_json(chat),
}


def render(chat: StoredChat, fmt: Fmt, tz: tzinfo | None = None) -> str:
    """The export of ``chat`` in ``fmt`` ("txt", "md" or "json") as a string."""
    if fmt not in _RENDERERS:
        raise ValueError(f"Unknown export format {fmt!r}; use txt, md or json.")
    return _RENDERERS[fmt](chat, tz)


def export_chat(chat: StoredChat, path: Path, fmt: Fmt, tz: tzinfo | None = None) -> None:
    """Write one chat to ``path`` atomically (mode 0600: chats are private); on failure (``OSError``)
    an existing file is untouched. A lone surrogate in text or Markdown is written as U+FFFD."""
    write_atomic(Path(path), _SURROGATE.sub("\ufffd", render(chat, fmt, tz)))


_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"{p}{n}" for p in ("COM", "LPT") for n in range(1, 10))}
_BAD_CHARS = re.compile(r'[<>:"/\\|?*\x00-\x1f\x7f\u200e\u200f\u202a-\u202e\u2066-\u2069]')


def safe_filename(title: str, max_bytes: int = 120) -> str:
    """A file name stem from a chat title, valid on Windows, macOS and Linux.

    No path separators or characters Windows refuses, no control or bidi-override characters, no
    reserved device names (``CON``, ``LPT1``…), no leading or trailing dots and spaces, at most
    ``max_bytes`` bytes of UTF-8 (file systems count bytes); other Unicode is kept.
    """
    name = " ".join(unicodedata.normalize("NFC", title[: max_bytes * 2]).split())
    name = _BAD_CHARS.sub("_", name).strip(" .")
    while len(name.encode("utf-8")) > max_bytes:
        name = name[:-1]
    name = name.rstrip(" .\u200d") or UNTITLED
    if name.split(".")[0].strip().upper() in _RESERVED:
        name = "_" + name
    return name


def export_all(store: ChatStore, folder: Path, fmt: Fmt, tz: tzinfo | None = None,
               failures: list[tuple[str, str]] | None = None,
               progress: Callable[[int, int], object] | None = None) -> list[Path]:
    """Write every chat to its own file in ``folder``; return the paths written.

    Names are ``<date> <title>.<fmt>``, made unique with `` (2)``, `` (3)``… and never the name of a
    file already in the folder: exporting never overwrites the user's files.

    A chat that cannot be read or written (fields not what this version expects, a name the file
    system refuses…) does not stop the rest: ``(title, why)`` is added to ``failures``. Without a
    ``failures`` list the first such error is raised. ``progress(done, total)`` is called per chat.
    """
    folder = Path(folder)
    if fmt not in _RENDERERS:  # fail before writing anything
        raise ValueError(f"Unknown export format {fmt!r}; use txt, md or json.")
    used: set[str] = set()
    written = []
    summaries = store.list_chats()
    for done, summary in enumerate(summaries):
        if progress is not None:
            progress(done, len(summaries))
        try:
            written.append(_export_one(store, summary.id, folder, fmt, tz, used))
        except Exception as exc:  # noqa: BLE001 - one bad chat must not stop the others; each is reported
            if failures is None:
                raise
            failures.append((" ".join(str(summary.title).split()) or UNTITLED, _why(exc)))
    return written


def _export_one(store: ChatStore, chat_id: int, folder: Path, fmt: Fmt, tz: tzinfo | None,
                used: set[str]) -> Path:
    chat = store.load_chat(chat_id)
    title = " ".join(chat.title.split()) or UNTITLED
    day = _when(chat.created_at, tz)[:10] if _when(chat.created_at, tz)[:1] != "(" else "undated"
    stem = safe_filename(f"{day} {title}")
    n, name = 1, f"{stem}.{fmt}"
    while name.casefold() in used or (folder / name).exists():
        n += 1
        name = f"{stem} ({n}).{fmt}"
    used.add(name.casefold())
    export_chat(chat, folder / name, fmt, tz)
    return folder / name


def _why(exc: BaseException) -> str:
    """A short reason for the user: the OS's words for file errors, else the error's own text."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    if isinstance(exc, RecursionError):
        return "its stored data is nested too deeply"
    text = str(exc) or type(exc).__name__
    return f"its stored data is not what this version expects ({text[:200]})"
