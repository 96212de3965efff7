"""Atomic file writes (temp file in the same folder, fsync, rename) and setting aside bad files."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, Callable, TypeVar

T = TypeVar("T")


def write_atomic(path: Path, data: bytes | str, *, encoding: str = "utf-8") -> None:
    """Replace ``path`` with ``data`` all at once.

    Either the old file or the new one is there afterwards, never a mix: a full disk or a read-only
    folder raises ``OSError`` and leaves any existing file untouched.
    """
    import tempfile  # shutil, bz2, lzma, random: ~20 ms, so only when a file is written

    path = Path(path)
    payload = data.encode(encoding) if isinstance(data, str) else data
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    try:
        dfd = os.open(folder, os.O_RDONLY)
    except OSError:
        return  # not possible on every platform (Windows); the rename is still atomic
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)


def set_aside(path: Path, clock: float | None = None) -> Path:
    """Move a file that failed to parse out of the way, with a timestamp. Never deletes it."""
    path = Path(path)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(clock if clock is not None else time.time()))
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    n = 1
    while target.exists():
        n += 1
        target = path.with_name(f"{path.name}.corrupt-{stamp}-{n}")
    os.replace(path, target)
    return target


class LeftAlone(OSError):
    """A save refused because the file could not be read at start: writing would replace what is in it."""


def load_json_file(path: Path, parse: Callable[[Any], tuple[T, str | None]], default: Callable[[], T], *,
                   what: str, instead: str, instead_long: str) -> tuple[T, str | None, bool]:
    """Read a versioned JSON file through ``parse``; on trouble, ``default()`` and a notice.

    Returns ``(value, notice, writable)``. No file: the default, no notice. A file that cannot be
    read (permissions, a folder or a broken link in its place, an I/O error) gives the default, why,
    and ``writable`` False: the file may hold the user's data, so it must be left alone, not
    replaced with defaults at quit. A file that is not JSON or not the right shape (``parse`` raises
    ``ValueError``) is set aside with a timestamp, never deleted, and the notice names where it went.
    ``what`` is e.g. "settings file"; ``instead`` / ``instead_long`` say what is used ("using
    defaults" / "the default settings are used")."""
    kept = (f"Chatbot leaves the file as it is and does not save changes to it until it can be read "
            f"({path}).")
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        if path.is_symlink():  # a link to a file that is gone (an unmounted dotfiles folder…)
            return default(), f"The {what} is a link to a file that does not exist; {instead}. {kept}", False
        return default(), None, True
    except OSError as exc:
        return default(), f"Could not read the {what} ({exc.strerror or exc}); {instead}. {kept}", False
    try:
        value, notice = parse(json.loads(raw.decode("utf-8")))
        return value, notice, True
    except (ValueError, UnicodeDecodeError, RecursionError, OverflowError) as exc:
        # RecursionError: "[[[[…" nested deep; OverflowError: a number no float can hold.
        plain = isinstance(exc, (json.JSONDecodeError, UnicodeDecodeError, RecursionError))
        why = "it is not valid JSON" if plain else str(exc)
    try:
        aside = set_aside(path)
    except OSError:
        return default(), f"The {what} could not be read ({why}); {instead}. {kept}", False
    return default(), f"The {what} could not be read ({why}). It was kept as {aside.name} and {instead_long}.", True
