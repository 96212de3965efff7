"""What the app learnt about models, kept across restarts (issue 12 [Context]): ``learned.json``.

Two things: the context window a server stated when it refused a request as too long (per server and
model), and the per-model calibration of the token estimate (UTF-8 bytes per token, from the servers'
usage figures). Without them a small-window local server refuses once more after every restart.

The file carries ``"version": 1`` and is written atomically; one that cannot be parsed is set aside
(never deleted) and the app starts without what it held. It never holds message text or keys. Qt-free;
:meth:`LearnedStore.save` blocks on the disk (call it off the GUI thread).
"""

from __future__ import annotations

import json
import threading
from typing import Any, Mapping

from chatbot_gui.core.atomic import LeftAlone, load_json_file, write_atomic
from chatbot_gui.core.context import MAX_BYTES_PER_TOKEN, MIN_BYTES_PER_TOKEN, TokenEstimator
from chatbot_gui.core.paths import AppPaths, ensure_private_dir
from chatbot_gui.core.windows import ContextWindows, overrides_from_json

VERSION = 1
FILE_NAME = "learned.json"
#: At most this many servers and models are kept (a user trying hundreds of models must not grow the
#: file, and every start's read of it, without end).
MAX_ENTRIES = 500


class Learned:
    """The decoded file: ``windows`` (server -> model -> tokens) and ``bytes_per_token`` (model -> figure)."""

    def __init__(self, windows: Mapping[str, Mapping[str, int]] | None = None,
                 bytes_per_token: Mapping[str, float] | None = None) -> None:
        self.windows = {s: dict(m) for s, m in (windows or {}).items()}
        self.bytes_per_token = dict(bytes_per_token or {})


def learned_from_json(data: Any) -> tuple[Learned, str | None]:
    """Parse the document. Raises ``ValueError`` when it is not shaped like ours; bad entries are dropped."""
    if not isinstance(data, dict):
        raise ValueError("the file is not a JSON object")
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ValueError("the file has no valid version")
    windows: dict[str, dict[str, int]] = {}
    raw = data.get("windows")
    if isinstance(raw, dict):
        for server, models in list(raw.items())[:MAX_ENTRIES]:
            if isinstance(server, str) and server.strip():
                valid = overrides_from_json(models)  # model -> positive int, the rest dropped
                if valid:
                    windows[server] = dict(list(valid.items())[:MAX_ENTRIES])
    bpt: dict[str, float] = {}
    raw = data.get("bytes_per_token")
    if isinstance(raw, dict):
        for model, value in list(raw.items())[:MAX_ENTRIES]:
            if (isinstance(model, str) and model and isinstance(value, (int, float)) and not isinstance(value, bool)
                    and MIN_BYTES_PER_TOKEN <= value <= MAX_BYTES_PER_TOKEN):
                bpt[model] = float(value)
    return Learned(windows, bpt), None


def learned_to_json(windows: ContextWindows, estimator: TokenEstimator) -> dict[str, Any]:
    """The document for what ``windows`` learnt from refusals and what ``estimator`` calibrated."""
    learned = windows.snapshot().get("learned", {})
    return {"version": VERSION,
            "windows": dict(list(learned.items())[-MAX_ENTRIES:]),
            "bytes_per_token": dict(list(estimator.snapshot().items())[-MAX_ENTRIES:])}


class LearnedStore:
    """Loads and saves ``learned.json`` in ``paths.config_dir``. :meth:`save` is thread-safe and skips
    a write when nothing changed since the last one."""

    def __init__(self, paths: AppPaths) -> None:
        self.path = paths.config_dir / FILE_NAME
        self.writable = True
        self._lock = threading.Lock()
        self._last: dict[str, Any] | None = None

    def load(self) -> tuple[Learned, str | None]:
        """What was learnt before, and a notice for the user (None when all went well)."""
        learned, notice, self.writable = load_json_file(
            self.path, learned_from_json, Learned, what="file of learnt model limits",
            instead="starting without them", instead_long="the app learns the limits again")
        return learned, notice

    def seed(self, windows: ContextWindows, estimator: TokenEstimator) -> str | None:
        """Load the file into ``windows`` and ``estimator``; the notice for the user, if any."""
        learned, notice = self.load()
        for server, models in learned.windows.items():
            for model, tokens in models.items():
                windows.learn(server, model, tokens)
        estimator.seed(learned.bytes_per_token)
        with self._lock:
            self._last = learned_to_json(windows, estimator)
        return notice

    def changed(self, windows: ContextWindows, estimator: TokenEstimator) -> bool:
        """Whether what is known now differs from what was last read or written."""
        with self._lock:
            return learned_to_json(windows, estimator) != self._last

    def save(self, windows: ContextWindows, estimator: TokenEstimator) -> bool:
        """Write what is known now, atomically, when it differs from what was last written. Returns
        whether it wrote. Raises ``OSError`` (the old file stays) and :class:`LeftAlone` (the file
        could not be read at start: it is not replaced)."""
        with self._lock:  # the newest snapshot is taken and written under the lock: the last write wins
            doc = learned_to_json(windows, estimator)
            if doc == self._last:
                return False
            if not self.writable:
                raise LeftAlone(0, "the file of learnt model limits could not be read at start")
            ensure_private_dir(self.path.parent)
            write_atomic(self.path, json.dumps(doc, indent=1, ensure_ascii=False) + "\n")
            self._last = doc
            return True
