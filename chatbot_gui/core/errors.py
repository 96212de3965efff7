"""Turn whatever went wrong with a request into a short message a person can act on.

The result, :class:`ErrorInfo`, is what the transcript shows. It is never stored or sent as an
assistant turn. Server-provided text is kept as ``detail`` after redacting anything that looks like
the API key.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass
from typing import Any

from chatbot_gui.core.unicode import clean_text

#: Longest wait the app honours from a ``retry-after`` header before giving up on automatic retry.
MAX_RETRY_AFTER = 60.0
DEFAULT_RETRY_AFTER = 5.0

_KEY_RE = re.compile(r"\b(sk-[A-Za-z0-9_\-*]{6,}|Bearer\s+\S+)")


#: Longest server text kept as ``detail`` (a broken server may send megabytes as its "message").
MAX_DETAIL = 4000
#: Longest server text shown on the error's one line; the rest is behind "Details".
SUMMARY_CHARS = 100

#: ``ErrorInfo.action`` values: what the error line offers besides Retry.
OPEN_SETTINGS = "settings"


@dataclass(frozen=True)
class ErrorInfo:
    """What the user is told. ``kind`` is a stable name tests and the UI can switch on.

    ``message`` is the app's own explanation (one sentence or two); ``detail`` is what the server
    said, in full (it may have several lines: LiteLLM appends "\n\nLiteLLM: model group …").
    The UI shows ``message`` and :attr:`summary` on one line and ``detail`` on demand
    (:attr:`has_more`). ``action`` names a remedy to offer next to the message
    (:data:`OPEN_SETTINGS` for a key the server refused), or is None.
    """

    kind: str
    message: str
    retryable: bool = True
    retry_after: float | None = None  # seconds; set when the app should retry by itself
    detail: str = ""
    status: int | None = None
    action: str | None = None

    @property
    def summary(self) -> str:
        """The server's text as one short line: whitespace folded, cut at :data:`SUMMARY_CHARS`."""
        line = " ".join(self.detail.split())
        if len(line) > SUMMARY_CHARS:
            line = line[: SUMMARY_CHARS - 1].rstrip() + "…"
        return line

    @property
    def has_more(self) -> bool:
        """Whether :attr:`detail` says more than :attr:`summary` shows (so "Details" is worth offering)."""
        return bool(self.detail) and self.summary != " ".join(self.detail.split())

    @property
    def signature(self) -> tuple[str, int | None, str, str]:
        """Two errors with the same signature are "the same error again" (a retry that failed alike)."""
        return (self.kind, self.status, self.message, self.detail)


def redact(text: str, secret: str | None = None) -> str:
    """Remove the API key (and anything key-shaped) from text that may reach the screen."""
    if secret:
        text = text.replace(secret, "[API key]")
    return _KEY_RE.sub("[redacted]", text)


def _body_fields(body: Any) -> tuple[str | None, str | None, str | None]:
    """(code, type, message) from an error body of any of the shapes servers send."""
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict):
            code = inner.get("code")
            typ = inner.get("type")
            msg = inner.get("message")
            return (
                None if code is None else str(code),
                None if typ is None else str(typ),
                msg if isinstance(msg, str) else None,
            )
        if isinstance(inner, str):
            return None, None, inner
    return None, None, None


def parse_retry_after(headers: Any) -> float | None:
    """Seconds to wait from ``retry-after-ms`` / ``retry-after`` headers, if present and sane."""
    if headers is None:
        return None
    try:
        ms = headers.get("retry-after-ms")
        if ms is not None:
            return max(0.0, float(ms) / 1000.0)
        value = headers.get("retry-after")
        if value is not None:
            return max(0.0, float(value))
    except (TypeError, ValueError):
        return None
    return None


def _in_chain(exc: BaseException, kinds: tuple[type, ...], phrases: tuple[str, ...]) -> bool:
    """Whether ``exc`` or anything it was raised from is one of ``kinds`` or says one of ``phrases``.

    The SDK wraps the network error (openai → httpx2 → httpcore2 → OSError); the cause tells which."""
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        text = str(cur).lower()
        if isinstance(cur, kinds) or any(phrase in text for phrase in phrases):
            return True
        cur = cur.__cause__ or cur.__context__
    return False


_DNS_PHRASES = ("name or service not known", "nodename nor servname", "temporary failure in name resolution",
                "getaddrinfo failed", "no address associated")


def _is_dns_failure(exc: BaseException) -> bool:
    import socket

    return _in_chain(exc, (socket.gaierror,), _DNS_PHRASES)


def _is_tls_failure(exc: BaseException) -> bool:
    import ssl

    return _in_chain(exc, (ssl.SSLCertVerificationError,), ("certificate_verify_failed",))


def _is_refused(exc: BaseException) -> bool:
    return _in_chain(exc, (ConnectionRefusedError,), ("connection refused",))


CONTEXT_LENGTH_TEXT = ("The conversation is too long for this model. Start a new chat (Ctrl+N) or choose a "
                       "model with a larger context.")
UNKNOWN_MODEL_TEXT = "The server does not know this model. Choose another model."

_CONTEXT_CODES = {"context_length_exceeded", "exceed_context_size_error"}
_CONTEXT_PHRASES = ("context_length", "context length", "maximum context", "context window", "context size",
                    "exceed_context_size", "maximum model length", "max context", "too long")
_UNKNOWN_MODEL_PHRASES = ("invalid model", "model_not_found", "unknown model", "no such model")


def _is_context_length(lowered: str) -> bool:
    return any(phrase in lowered for phrase in _CONTEXT_PHRASES)


def _is_unknown_model(lowered: str) -> bool:
    if any(phrase in lowered for phrase in _UNKNOWN_MODEL_PHRASES):
        return True
    return "model" in lowered and ("does not exist" in lowered or "not found" in lowered)


def describe_status(status: int, body: Any, headers: Any = None, fallback: str = "") -> ErrorInfo:
    """Map an HTTP error status and body to an :class:`ErrorInfo`."""
    code, typ, server_msg = _body_fields(body)
    detail = clean_text(redact(server_msg or fallback or "")[:MAX_DETAIL])
    lowered = f"{code} {typ} {server_msg}".lower()
    if status >= 400 and _is_context_length(lowered) and (status in (400, 413, 422) or _CONTEXT_CODES & {
            str(code).lower(), str(typ).lower()}):
        # OpenAI says 400 context_length_exceeded; llama.cpp 400 exceed_context_size_error ("the request
        # exceeds the available context size"); vLLM 400 "maximum context length" / "maximum model
        # length"; Ollama "prompt too long; exceeded max context length"; some proxies 413.
        return ErrorInfo("context_length", CONTEXT_LENGTH_TEXT, retryable=False, detail=detail, status=status)
    if status == 401:
        return ErrorInfo("auth", "The server did not accept the API key. Check the key in Settings.",
                         retryable=False, detail=detail, status=status, action=OPEN_SETTINGS)
    if status == 403:
        return ErrorInfo("forbidden", "The server refused access (403). Your key or account may not "
                         "be allowed to use this model or region.", retryable=False, detail=detail,
                         status=status)
    if status == 404:
        if "deployment" in lowered:
            msg = "The server has no deployment by that name. Check the model or deployment name."
        elif "deprecated" in lowered or "retired" in lowered or "decommissioned" in lowered:
            msg = "This model has been retired by the provider. Choose another model."
        elif "model" in lowered:
            msg = UNKNOWN_MODEL_TEXT
        else:
            msg = "The server answered 404 (not found). Check the server address and the model name."
        return ErrorInfo("not_found", msg, retryable=False, detail=detail, status=status)
    if status == 429:
        if "insufficient_quota" in lowered or "quota" in lowered:
            return ErrorInfo("quota", "Your account has run out of credit or quota. This is about "
                             "billing: check your plan and billing details with the provider.",
                             retryable=False, detail=detail, status=status)
        wait = parse_retry_after(headers)
        wait = DEFAULT_RETRY_AFTER if wait is None else wait
        return ErrorInfo("rate_limit", "Too many requests: the server asked to slow down.",
                         retryable=True, retry_after=min(wait, MAX_RETRY_AFTER), detail=detail,
                         status=status)
    if status == 400 or status == 422:
        if "unsupported_parameter" in lowered or "unsupported_value" in lowered \
                or "unsupported parameter" in lowered:
            return ErrorInfo("unsupported_parameter", "This model does not accept one of the request's "
                             "parameters.", retryable=False, detail=detail, status=status)
        if _is_unknown_model(lowered):
            # LiteLLM: 400 "Invalid model name passed in model=…"; vLLM and others: 400 "The model `x`
            # does not exist"; Ollama-style "model 'x' not found". The same situation as OpenAI's 404.
            return ErrorInfo("not_found", UNKNOWN_MODEL_TEXT, retryable=False, detail=detail, status=status)
        return ErrorInfo("bad_request", "The server rejected the request (400).", retryable=False,
                         detail=detail, status=status)
    if status >= 500:
        return ErrorInfo("server", f"The server had a problem ({status}). Try again in a moment.",
                         retryable=True, detail=detail, status=status)
    return ErrorInfo("http", f"The server answered with an error ({status}).", retryable=True,
                     detail=detail, status=status)


def describe_exception(exc: BaseException, secret: str | None = None) -> ErrorInfo:
    """Map an exception raised by the openai SDK (or the network under it) to an :class:`ErrorInfo`."""
    from chatbot_gui.core.limits import LimitExceeded

    if isinstance(exc, LimitExceeded):
        if exc.kind != "too_large":
            return ErrorInfo(exc.kind, str(exc), retryable=False)
        return ErrorInfo("too_large", f"{exc} The app stopped reading it; what arrived is kept.", retryable=False)
    import openai  # the caller already runs off the GUI thread; keep the import off start-up

    if isinstance(exc, openai.APIStatusError):
        body = exc.body
        if body is None:
            try:
                body = exc.response.json()
            except (ValueError, json.JSONDecodeError):
                body = None
        info = describe_status(exc.status_code, body, exc.response.headers)
        if not info.detail:
            text = _plain_body(exc.response)
            info = _replace_detail(info, redact(text, secret))
        return _replace_detail(info, redact(info.detail, secret))
    if isinstance(exc, openai.APITimeoutError):
        return ErrorInfo("timeout", "The server stopped sending for too long, so the reply was "
                         "abandoned. Try again.", retryable=True)
    if isinstance(exc, openai.APIConnectionError):
        if _is_dns_failure(exc):
            return ErrorInfo("dns", "The server's name could not be resolved. Check the server "
                             "address and your network connection.", retryable=True)
        if _is_tls_failure(exc):
            # The app refused the server's certificate; the server said nothing. Not retryable as is.
            return ErrorInfo("tls", "The server's certificate could not be verified, so the app did not "
                             "connect. Check the server address (https://…) or your system's certificates.",
                             retryable=False)
        if _is_refused(exc):
            return ErrorInfo("refused", "Could not connect: the server refused the connection. Is "
                             "it running, and is the address right?", retryable=True)
        return ErrorInfo("connection", "The connection to the server failed or was dropped.",
                         retryable=True, detail=redact(_chain_text(exc), secret))
    if isinstance(exc, openai.APIError):
        # An error event inside an HTTP 200 stream (OpenRouter `data: {"error": …}`, Groq `event: error`).
        code, typ, msg = _body_fields({"error": exc.body} if isinstance(exc.body, dict) else exc.body)
        detail = clean_text(redact(msg or exc.message or "", secret)[:MAX_DETAIL])
        lowered = f"{code} {typ} {msg}".lower()
        if _CONTEXT_CODES & {str(code).lower(), str(typ).lower()} or "context length" in lowered \
                or "context size" in lowered:
            return ErrorInfo("context_length", CONTEXT_LENGTH_TEXT, retryable=False, detail=detail)
        if _is_unknown_model(lowered):
            return ErrorInfo("not_found", UNKNOWN_MODEL_TEXT, retryable=False, detail=detail)
        return ErrorInfo("stream_error", "The server reported an error in the middle of the reply.",
                         retryable=True, detail=detail)
    if isinstance(exc, (json.JSONDecodeError, ValueError)):
        return ErrorInfo("garbage", "The server sent data the app could not read. It may not be an "
                         "OpenAI-compatible server.", retryable=True, detail=redact(str(exc), secret)[:200])
    if isinstance(exc, openai.OpenAIError):
        return ErrorInfo("client", "The request could not be made.", retryable=False,
                         detail=redact(str(exc), secret))
    return ErrorInfo("unexpected", "Something unexpected went wrong with the request.", retryable=True,
                     detail=redact(f"{type(exc).__name__}: {exc}", secret)[:300])


def _plain_body(response: Any) -> str:
    try:
        text = response.text
    except Exception:  # noqa: BLE001 - the body may be unreadable; the status alone still helps
        return ""
    return plain_text(text)


def plain_text(text: str, limit: int = 200) -> str:
    """A server's body as one short line a person can read: HTML markup dropped, whitespace folded."""
    # An HTML error page: keep its words, not its markup (nor the <head>, which repeats the title).
    text = re.sub(r"(?is)<(head|script|style)\b.*?</\1\s*>", " ", text)
    text = re.sub(r"<[A-Za-z/!][^>]*(?:>|$)", " ", text)  # also a tag cut off at the end of a partial page
    import html  # only when an error page is shown: html.entities costs ~10 ms at import

    text = html.unescape(text)
    return " ".join(text.split())[:limit]


def _chain_text(exc: BaseException) -> str:
    cause = exc.__cause__ or exc.__context__
    return str(cause) if cause is not None else str(exc)


def _replace_detail(info: ErrorInfo, detail: str) -> ErrorInfo:
    return dataclasses.replace(info, detail=clean_text(detail[:MAX_DETAIL]))
