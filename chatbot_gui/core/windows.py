"""How many tokens a model takes: the context window, from wherever it can be known.

Sources, most trusted first (:meth:`ContextWindows.lookup`):

1. the user's override for the model (Settings),
2. what a server's refusal stated ("maximum context length is N tokens", llama.cpp's ``n_ctx``),
   remembered per server and model (:func:`parse_overflow`, :meth:`ContextWindows.learn`),
3. what the server reports: in ``GET /models`` (OpenRouter and Together ``context_length``, Groq
   ``context_window``, vLLM ``max_model_len``, LM Studio ``loaded_context_length``), or Ollama's own API
   (:func:`fetch_model_windows`),
4. a small built-in table of well-known hosted model families (:data:`BUILTIN_WINDOWS`).

Unknown (None) means the app cannot trim in advance; the server's refusal then teaches it.
Qt-free; the fetch functions block (call them on a worker thread).
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable, Mapping

if TYPE_CHECKING:
    from chatbot_gui.core.connection import ConnectionConfig
    from chatbot_gui.core.streaming import AbortHandle

#: Context windows of well-known hosted model families, in tokens, matched by the longest prefix of the
#: model name (a provider prefix such as "openai/" is ignored). Local models are not here on purpose:
#: their window is whatever the server was started with, not the model card's figure.
BUILTIN_WINDOWS: tuple[tuple[str, int], ...] = (
    ("gpt-5-chat", 128_000),
    ("gpt-5", 400_000),  # gpt-5, gpt-5-mini, gpt-5-nano, gpt-5.1
    ("gpt-4.1", 1_047_576),
    ("gpt-4o", 128_000),
    ("chatgpt-4o", 128_000),
    ("gpt-4-turbo", 128_000),
    ("gpt-4-1106", 128_000),
    ("gpt-4-0125", 128_000),
    ("gpt-4-32k", 32_768),
    ("gpt-4", 8_192),
    ("gpt-3.5-turbo-instruct", 4_096),
    ("gpt-3.5-turbo", 16_385),
    ("o1-mini", 128_000),
    ("o1-preview", 128_000),
    ("o1", 200_000),
    ("o3", 200_000),
    ("o4-mini", 200_000),
    ("claude-", 200_000),
    ("gemini-1.5-pro", 2_097_152),
    ("gemini-", 1_048_576),
    ("deepseek-chat", 131_072),
    ("deepseek-reasoner", 131_072),
)

#: Ollama's default window when neither the model nor a loaded instance says otherwise (its docs: 4k
#: below 24 GiB of VRAM; ``OLLAMA_CONTEXT_LENGTH`` on the server changes it, which a client cannot see).
OLLAMA_DEFAULT_WINDOW = 4096

#: Fields of a ``/models`` entry that state the window, in order of preference.
_ENTRY_FIELDS = ("loaded_context_length", "context_length", "context_window", "max_model_len",
                 "max_context_length", "max_input_tokens")


def builtin_window(model: str) -> int | None:
    """The built-in table's window for ``model`` (None when the family is not listed)."""
    name = model.strip().lower().rpartition("/")[2]
    if name.startswith("ft:"):
        name = name[3:]
    best: tuple[int, int] | None = None
    for prefix, tokens in BUILTIN_WINDOWS:
        if name.startswith(prefix) and (best is None or len(prefix) > best[0]):
            # "o1" must not match "o10x": a prefix ending in a letter or digit needs a boundary.
            rest = name[len(prefix):]
            if prefix[-1].isalnum() and rest and rest[0].isalnum():
                continue
            best = (len(prefix), tokens)
    return best[1] if best else None


def _positive_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)) and value == value and 0 < value < 1 << 40:
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip()) or None
    return None


def window_from_entry(entry: Mapping[str, Any]) -> int | None:
    """The window a ``/models`` entry states, if it states one."""
    for name in _ENTRY_FIELDS:
        tokens = _positive_int(entry.get(name))
        if tokens:
            return tokens
    top = entry.get("top_provider")  # OpenRouter also says what the serving provider allows
    if isinstance(top, Mapping):
        return _positive_int(top.get("context_length"))
    return None


def windows_from_models(data: Iterable[Any]) -> dict[str, int]:
    """model id -> window for every entry of a ``/models`` list that states one."""
    out: dict[str, int] = {}
    for entry in data:
        if isinstance(entry, Mapping) and isinstance(entry.get("id"), str):
            tokens = window_from_entry(entry)
            if tokens:
                out[entry["id"]] = tokens
    return out


_NUM_CTX_RE = re.compile(r"^\s*num_ctx\s+(\d+)\s*$", re.MULTILINE)


def ollama_window(show: Mapping[str, Any], running: Mapping[str, Any] | None = None) -> int:
    """The window Ollama runs a model with, from ``POST /api/show`` (and ``GET /api/ps``'s entry when
    the model is loaded): the loaded context, else the Modelfile's ``num_ctx``, else Ollama's default;
    never more than the model's own trained length (``model_info["<arch>.context_length"]``)."""
    tokens = _positive_int((running or {}).get("context_length"))
    if tokens is None:
        params = show.get("parameters")
        match = _NUM_CTX_RE.search(params) if isinstance(params, str) else None
        tokens = int(match.group(1)) if match else OLLAMA_DEFAULT_WINDOW
    info = show.get("model_info")
    if isinstance(info, Mapping):
        trained = [v for k, v in info.items() if isinstance(k, str) and k.endswith(".context_length")]
        most = _positive_int(trained[0]) if trained else None
        if most:
            tokens = min(tokens, most)
    return tokens


def overrides_from_json(data: Any) -> dict[str, int]:
    """The per-model window overrides in Settings (``{"llama3.2": 8192}``); invalid entries are ignored."""
    if not isinstance(data, Mapping):
        return {}
    out: dict[str, int] = {}
    for model, tokens in data.items():
        value = _positive_int(tokens) if not isinstance(tokens, str) else None
        if isinstance(model, str) and model.strip() and value:
            out[model.strip()] = value
    return out


# -- learning from a refusal ----------------------------------------------------------------------
@dataclass(frozen=True)
class Overflow:
    """A server's refusal of a request as too long. ``limit``: the window it stated (None when its
    message does not say); ``prompt_tokens``: what it counted for the messages, when it says."""

    limit: int | None
    prompt_tokens: int | None = None


_LIMIT_PATTERNS = (
    # OpenAI, vLLM, LiteLLM, DeepSeek: "This model's maximum context length is 4097 tokens."
    re.compile(r"maximum context length is (\d+)", re.I),
    # vLLM (some versions): "This model's maximum model length is 4096 tokens"
    re.compile(r"maximum model length is (\d+)", re.I),
    # llama.cpp: "request (4476 tokens) exceeds the available context size (4096 tokens)"
    re.compile(r"available context size \((\d+)", re.I),
    # LM Studio: "the model is loaded with context length of only 4096 tokens"
    re.compile(r"context length of only (\d+)", re.I),
    # Mistral: "too large for model with 32768 maximum context length"
    re.compile(r"model with (\d+) maximum context length", re.I),
    # Anthropic (OpenRouter passes it on): "prompt is too long: 210000 tokens > 200000 maximum"
    re.compile(r"(\d+) tokens > (\d+) maximum", re.I),
    # Gemini: "exceeds the maximum number of tokens allowed (1048576)"
    re.compile(r"maximum number of tokens allowed \((\d+)", re.I),
)
_PROMPT_PATTERNS = (
    re.compile(r"\((\d+) in the messages", re.I),  # OpenAI: "(3120 in the messages, 1000 in the completion)"
    re.compile(r"your messages resulted in (\d+) tokens", re.I),
    re.compile(r"request has (\d+) input tokens", re.I),  # vLLM ≥ 0.6
    re.compile(r"request \((\d+) tokens\) exceeds", re.I),  # llama.cpp
    re.compile(r"prompt contains (\d+) tokens", re.I),  # Mistral
    re.compile(r"prompt is too long: (\d+) tokens", re.I),
    re.compile(r"input token count \((\d+)\)", re.I),
)
_OVERFLOW_WORDS = ("context_length_exceeded", "exceed_context_size", "context length", "context_length",
                   "context size", "context window", "maximum context", "prompt is too long",
                   "maximum number of tokens allowed", "maximum model length", "prompt too long")


def parse_overflow(status: int | None, body: Any) -> Overflow | None:
    """The refusal in an error answer when it is about the request's length, else None.

    ``body`` is the decoded error body (``{"error": {...}}`` or the inner object or a string).
    Numbers come from llama.cpp's ``n_ctx`` / ``n_prompt_tokens`` fields where present, else from
    the message in any of the wordings above.
    """
    if status is not None and status not in (400, 413, 422, 500):
        return None
    inner = body.get("error", body) if isinstance(body, Mapping) else body
    if isinstance(inner, Mapping):
        message = inner.get("message")
        words = " ".join(str(inner.get(k, "")) for k in ("code", "type")) + " " + (
            message if isinstance(message, str) else "")
        limit = _positive_int(inner.get("n_ctx"))
        prompt = _positive_int(inner.get("n_prompt_tokens"))
    elif isinstance(inner, str):
        message = words = inner
        limit = prompt = None
    else:
        return None
    lowered = words.lower()
    if not any(w in lowered for w in _OVERFLOW_WORDS):
        return None
    if "max_tokens" in lowered and "too large" in lowered and "maximum context length" not in lowered:
        return None  # the reply length alone is too large: trimming the chat cannot help
    text = message if isinstance(message, str) else ""
    if limit is None:
        for pattern in _LIMIT_PATTERNS:
            match = pattern.search(text)
            if match:
                limit = _positive_int(match.group(match.lastindex or 1))
                break
    if prompt is None:
        for pattern in _PROMPT_PATTERNS:
            match = pattern.search(text)
            if match:
                prompt = _positive_int(match.group(1))
                break
    return Overflow(limit, prompt)


# -- the resolver ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Window:
    """A window and where it comes from: "override", "learned", "server" or "builtin"."""

    tokens: int
    source: str


def server_key(base_url: str) -> str:
    """The same server however its address was typed (trailing slash, case of the host)."""
    return base_url.strip().rstrip("/").lower()


class ContextWindows:
    """Every known window, per server and model. Thread-safe; share one per app.

    ``overrides``: model -> tokens from Settings (apply on every server). ``learned`` and ``reported``:
    server -> model -> tokens, e.g. from a saved :meth:`snapshot`.
    """

    def __init__(self, overrides: Mapping[str, int] | None = None,
                 learned: Mapping[str, Mapping[str, int]] | None = None,
                 reported: Mapping[str, Mapping[str, int]] | None = None) -> None:
        self._lock = threading.Lock()
        self._overrides = {m: t for m, t in (overrides or {}).items() if _positive_int(t)}
        self._learned = {server_key(s): dict(v) for s, v in (learned or {}).items()}
        self._reported = {server_key(s): dict(v) for s, v in (reported or {}).items()}

    def lookup(self, base_url: str, model: str) -> Window | None:
        """The window requests to ``model`` on that server are trimmed to (None: unknown)."""
        key = server_key(base_url)
        with self._lock:
            if model in self._overrides:
                return Window(self._overrides[model], "override")
            learned = self._learned.get(key, {}).get(model)
            if learned:
                return Window(learned, "learned")
            reported = self._reported.get(key, {}).get(model)
            if reported:
                return Window(reported, "server")
        tokens = builtin_window(model)
        return Window(tokens, "builtin") if tokens else None

    def set_override(self, model: str, tokens: int | None) -> None:
        """The user's figure for ``model`` (None removes it). It also forgets limits learnt for the model
        (a user who raised a local server's window says so here)."""
        with self._lock:
            if tokens:
                self._overrides[model] = tokens
            else:
                self._overrides.pop(model, None)
            for models in self._learned.values():
                models.pop(model, None)

    def set_overrides(self, overrides: Mapping[str, int]) -> None:
        """Replace every override (Settings changed). Models whose figure changed forget what was learnt."""
        with self._lock:
            old, self._overrides = self._overrides, {m: t for m, t in overrides.items() if _positive_int(t)}
            changed = {m for m in old.keys() | self._overrides.keys() if old.get(m) != self._overrides.get(m)}
            for models in self._learned.values():
                for model in changed:
                    models.pop(model, None)

    def learn(self, base_url: str, model: str, tokens: int) -> None:
        """The server said ``model`` takes at most ``tokens``."""
        if _positive_int(tokens):
            with self._lock:
                self._learned.setdefault(server_key(base_url), {})[model] = int(tokens)

    def report(self, base_url: str, windows: Mapping[str, int]) -> None:
        """What the server's model list (or Ollama's API) says, added to what it said before."""
        with self._lock:
            known = self._reported.setdefault(server_key(base_url), {})
            known.update({m: int(t) for m, t in windows.items() if _positive_int(t)})

    def snapshot(self) -> dict[str, Any]:
        """What was learnt and reported, JSON-ready (overrides live in Settings)."""
        with self._lock:
            return {"learned": {s: dict(m) for s, m in self._learned.items() if m},
                    "reported": {s: dict(m) for s, m in self._reported.items() if m}}


# -- asking the server ------------------------------------------------------------------------------
def fetch_model_windows(config: ConnectionConfig, abort: AbortHandle | None = None,
                        model: str | None = None) -> dict[str, int]:
    """The windows the server states: from ``GET /models``, and for an Ollama server from its own API.

    Blocking: call it off the GUI thread. ``model``: the model in use, asked of Ollama (``POST
    /api/show``, plus ``GET /api/ps`` for the context it is loaded with) when the list says nothing
    about it. Ollama's API gets no API key (it needs none). Raises what the SDK or httpx2 raise.
    """
    from chatbot_gui.core.streaming import AbortHandle as _Abort, make_client

    abort = abort or _Abort()
    client = make_client(config, abort)
    try:
        response = client.models.with_raw_response.list()
        try:
            data = json.loads(response.http_response.read())
        except ValueError:
            data = {}
        entries = data.get("data") if isinstance(data, dict) else data
        windows = windows_from_models(entries if isinstance(entries, list) else [])
    finally:
        client.close()
    if model and model not in windows:
        tokens = fetch_ollama_window(config, model, abort)
        if tokens:
            windows[model] = tokens
    return windows


def ollama_root(base_url: str) -> str:
    """Ollama's own API root for an OpenAI-compatible address ("http://host:11434/v1" -> "http://host:11434")."""
    url = base_url.strip().rstrip("/")
    return url[: -len("/v1")] if url.endswith("/v1") else url


def fetch_ollama_window(config: ConnectionConfig, model: str, abort: AbortHandle | None = None) -> int | None:
    """The window an Ollama server runs ``model`` with, or None when the server is not Ollama (its
    ``/api/show`` is missing or answers with no model details)."""
    import httpx2

    from chatbot_gui.core.streaming import shared_ssl_context

    root = ollama_root(config.base_url)
    timeout = httpx2.Timeout(connect=config.connect_timeout, read=config.read_timeout, write=30.0,
                             pool=config.connect_timeout)
    with httpx2.Client(timeout=timeout, proxy=config.proxy or None, verify=shared_ssl_context()) as http:
        if abort is not None and abort.aborted:
            return None
        show = http.post(f"{root}/api/show", json={"model": model})
        if show.status_code != 200:
            return None
        try:
            details = show.json()
        except ValueError:
            return None
        if not isinstance(details, dict) or not ("parameters" in details or "model_info" in details):
            return None
        running = None
        ps = http.get(f"{root}/api/ps")
        if ps.status_code == 200:
            try:
                listed = ps.json().get("models") or []
            except (ValueError, AttributeError):
                listed = []
            running = next((m for m in listed if isinstance(m, dict)
                            and model in (m.get("name"), m.get("model"))), None)
        return ollama_window(details, running)
