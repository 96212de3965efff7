"""Request parameters in the form each model accepts, learnt from what servers refuse.

OpenAI's reasoning models (o1, o3, o4, gpt-5 families) refuse ``max_tokens`` and want
``max_completion_tokens``; several refuse any ``temperature`` but the default. Other servers have
their own gaps. Rather than keep a table that is out of date by next month, the app starts from the
one documented rule (reasoning models take ``max_completion_tokens``) and otherwise learns: when a
request fails with HTTP 400 "unsupported_parameter" / "unsupported_value" naming a parameter it
sent, :class:`ParameterPolicy` remembers that for the model, and the streaming loop sends the request
once more without it. Later requests for that model leave it out from the start.
"""

from __future__ import annotations

import re
import threading
from typing import Any, Iterable, Mapping

from chatbot_gui.core.conversation import ChatRequest
from chatbot_gui.core.errors import describe_status

#: The body fields every request carries; the server refusing one of these is not ours to fix.
FIXED_FIELDS = frozenset({"model", "messages", "stream"})
MAX_TOKENS = "max_tokens"
MAX_COMPLETION_TOKENS = "max_completion_tokens"

# "o1", "o1-mini", "o3-mini-2025-01-31", "o4-mini", "gpt-5", "gpt-5.1", "gpt-5-nano", fine-tunes
# ("ft:o4-mini-2025-04-16:org::id"); not "o10x" or "gpt-50". A provider prefix ("openai/o1" on
# OpenRouter) is left alone: such gateways translate max_tokens themselves.
_REASONING_RE = re.compile(r"^(?:ft:)?(?:o[134]|gpt-5)(?:$|[-.:_@])", re.IGNORECASE)


def is_reasoning_model(model: str) -> bool:
    """Whether ``model`` is an OpenAI reasoning model, which takes ``max_completion_tokens``."""
    return bool(_REASONING_RE.match(model.strip()))


class ParameterPolicy:
    """Which optional parameters each model is known to refuse. Thread-safe; share one per app.

    ``rejected`` seeds it (for example from a saved :meth:`snapshot`), mapping a model name to
    parameter names.
    """

    def __init__(self, rejected: Mapping[str, Iterable[str]] | None = None) -> None:
        self._lock = threading.Lock()
        self._rejected: dict[str, set[str]] = {
            model: {p for p in params if p not in FIXED_FIELDS} for model, params in (rejected or {}).items()
        }

    def rejected(self, model: str) -> frozenset[str]:
        """The parameters ``model`` is known to refuse."""
        with self._lock:
            return frozenset(self._rejected.get(model, ()))

    def reject(self, model: str, param: str) -> None:
        """Remember that ``model`` refuses ``param`` (ignored for model, messages and stream)."""
        if param in FIXED_FIELDS:
            return
        with self._lock:
            self._rejected.setdefault(model, set()).add(param)

    def snapshot(self) -> dict[str, list[str]]:
        """Everything learnt, as plain JSON-ready data (model -> sorted parameter names)."""
        with self._lock:
            return {model: sorted(params) for model, params in self._rejected.items() if params}

    def token_limit_field(self, model: str) -> str | None:
        """The body field that carries the reply length limit for ``model`` (None: send none).

        ``max_completion_tokens`` for reasoning models and for models that refused ``max_tokens``;
        the other one when the preferred one was refused; none when both were.
        """
        rejected = self.rejected(model)
        if is_reasoning_model(model) or MAX_TOKENS in rejected:
            order = (MAX_COMPLETION_TOKENS, MAX_TOKENS)
        else:
            order = (MAX_TOKENS, MAX_COMPLETION_TOKENS)
        return next((name for name in order if name not in rejected), None)

    def learn(self, model: str, sent: Mapping[str, Any], status: int, body: Any) -> str | None:
        """If an error answer refuses a parameter in ``sent``, remember it for ``model`` and return its name."""
        param = rejected_parameter(status, body, sent)
        if param is not None:
            self.reject(model, param)
        return param


def rejected_parameter(status: int, body: Any, sent: Mapping[str, Any]) -> str | None:
    """The optional parameter in ``sent`` that an error answer says the model does not support.

    Only for what :func:`describe_status` calls "unsupported_parameter" (which covers OpenAI's
    ``unsupported_value``). The body's ``error.param`` names it; failing that, the first optional
    parameter we sent that the message mentions ("Unsupported parameter: 'max_tokens' is not
    supported with this model. Use 'max_completion_tokens' instead." names max_tokens first).
    """
    if status not in (400, 422):
        return None
    optional = [name for name in sent if name not in FIXED_FIELDS]
    if describe_status(status, body).kind != "unsupported_parameter":
        return _unknown_field(body, optional)
    inner = body.get("error", body) if isinstance(body, dict) else body
    if isinstance(inner, dict):
        param = inner.get("param")
        if isinstance(param, str) and param in optional:
            return param
        message = inner.get("message")
    else:
        message = inner
    if not isinstance(message, str):
        return None
    return _first_named(message, optional)


#: How servers refuse a body field they do not know (older Azure API versions, pydantic-based servers
#: such as Mistral's: ``{"type": "extra_forbidden", "loc": ["body", "stream_options"], ...}``).
_UNKNOWN_FIELD_PHRASES = ("unrecognized request argument", "extra inputs are not permitted", "extra_forbidden",
                          "unknown field", "unrecognized field")


def _unknown_field(body: Any, optional: list[str]) -> str | None:
    """The optional field the server says it does not know at all, if that is what it says."""
    import json

    try:
        text = body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)
    except (TypeError, ValueError):
        return None
    if not any(phrase in text.lower() for phrase in _UNKNOWN_FIELD_PHRASES):
        return None
    return _first_named(text, optional)


def _first_named(message: str, optional: list[str]) -> str | None:
    found: list[tuple[int, str]] = []
    for name in optional:
        match = re.search(rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_])", message)
        if match:
            found.append((match.start(), name))
    return min(found)[1] if found else None


def build_body(request: ChatRequest, policy: ParameterPolicy | None = None, *,
               include_usage: bool = False) -> dict[str, Any]:
    """The keyword arguments for ``chat.completions.create`` for ``request``, as its model accepts them.

    Without a policy only the model-name rule applies (a fresh policy has learnt nothing).
    ``include_usage``: ask for the usage chunk (``stream_options``), unless the model refused it.
    """
    policy = policy if policy is not None else ParameterPolicy()
    rejected = policy.rejected(request.model)
    body: dict[str, Any] = {"model": request.model, "messages": request.as_openai_messages(), "stream": True}
    if request.temperature is not None and "temperature" not in rejected:
        body["temperature"] = request.temperature
    if request.max_tokens is not None:
        field = policy.token_limit_field(request.model)
        if field is not None:
            body[field] = request.max_tokens
    if include_usage and "stream_options" not in rejected:
        body["stream_options"] = {"include_usage": True}
    return body
