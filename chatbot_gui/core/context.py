"""What part of a long chat is sent: token-aware trimming, and the token estimate behind it.

Qt-free and fast (it runs on every send). Given the request's messages in order (the system prompt,
the turns, which of them are pinned), the model's context window and a reserve for the reply,
:func:`plan_context` keeps the system prompt, pinned messages, the newest message and as many earlier
turns as fit, and drops the oldest. The plan names the first message of the newest run that is sent
(``first_sent``): the transcript puts its marker there ("Earlier messages are not sent: the model's
limit is 128k tokens"). Nothing is deleted: the plan only says what goes into this one request.

Counting. Already-sent text is counted exactly by the server: ``usage.prompt_tokens`` of the last
request covers everything it carried. :class:`TokenEstimator` turns that into a per-model figure of
UTF-8 bytes per token (:meth:`~TokenEstimator.calibrate`), so that re-estimating the same messages
gives the server's own count back, and only text newer than that request is a true estimate. Before
any usage is seen, 4 bytes per token is assumed (English text with OpenAI's tokenizers; CJK text is
3 bytes a character and about one token each, so UTF-8 bytes are a fairer measure than characters).
No tokenizer library: tiktoken fetches its vocabulary from the internet on first use.

Decisions where the issue is silent:

- The kept run never opens with an assistant turn: when the cut falls between a question and its
  answer, the answer is dropped too (several chat templates require a user turn after the system
  prompt, and an answer without its question misleads the model).
- The newest message is always sent, with the system prompt and the pinned messages, even when they
  alone do not fit (``fits`` is then False): the server's refusal says more than a silent omission.
- The reserve for the reply is the persona's reply length when it has one, otherwise an eighth of
  the window, between 256 and 4,096 tokens (:func:`default_reserve`).
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from enum import Enum
from typing import Any, Iterable, Mapping, NamedTuple, Sequence

#: Tokens each message costs beyond its text (role and separators; OpenAI's cookbook counts 3-4).
MESSAGE_OVERHEAD = 4
#: Tokens every request costs once (the assistant reply is primed with its role).
REPLY_PRIMING = 3
#: The estimate before any usage has been seen for a model.
DEFAULT_BYTES_PER_TOKEN = 4.0
#: Calibrated figures outside this range are measurement noise (or a server that miscounts).
MIN_BYTES_PER_TOKEN = 1.0
MAX_BYTES_PER_TOKEN = 8.0
#: A request with less text than this says little about the tokenizer: it does not calibrate.
MIN_CALIBRATION_BYTES = 200


class ContextMode(str, Enum):
    """Per chat: trim to the model's window (the default) or send everything (the raw API)."""

    FIT = "fit"
    EVERYTHING = "everything"


class Turn(NamedTuple):
    """One message of a request, as the trimmer sees it.

    ``tokens`` is the message's exact size when the server has told it (else None: estimated).
    Any object with these four attributes will do (the chat model's messages, for one).
    """

    role: str
    content: str
    pinned: bool = False
    tokens: int | None = None


_byte_cache: dict[str, int] = {}
_BYTE_CACHE_MAX = 50_000


def utf8_size(text: str) -> int:
    """The size of ``text`` in UTF-8 bytes (a lone surrogate counts 3), cheap on every send.

    ``str.isascii()`` is O(1) in CPython (a flag on the string); other text is encoded once and
    remembered by value, so a 10,000-message chat costs a dictionary look-up per message.
    """
    if text.isascii():
        return len(text)
    size = _byte_cache.get(text)
    if size is None:
        size = len(text.encode("utf-8", "surrogatepass"))
        if len(_byte_cache) >= _BYTE_CACHE_MAX:
            _byte_cache.clear()
        _byte_cache[text] = size
    return size


class TokenEstimator:
    """Estimated token counts, calibrated per model from the usage figures servers report.

    Thread-safe; share one per app. ``bytes_per_token`` seeds it (from a saved :meth:`snapshot`).
    """

    def __init__(self, bytes_per_token: Mapping[str, float] | None = None) -> None:
        self._lock = threading.Lock()
        self._bpt: dict[str, float] = {}
        for model, value in (bytes_per_token or {}).items():
            if isinstance(value, (int, float)) and MIN_BYTES_PER_TOKEN <= value <= MAX_BYTES_PER_TOKEN:
                self._bpt[model] = float(value)

    def seed(self, bytes_per_token: Mapping[str, float]) -> None:
        """Take figures calibrated earlier (a saved :meth:`snapshot`); implausible ones are ignored."""
        with self._lock:
            for model, value in bytes_per_token.items():
                if isinstance(value, (int, float)) and MIN_BYTES_PER_TOKEN <= value <= MAX_BYTES_PER_TOKEN:
                    self._bpt.setdefault(model, float(value))

    def bytes_per_token(self, model: str) -> float:
        with self._lock:
            return self._bpt.get(model, DEFAULT_BYTES_PER_TOKEN)

    def count_text(self, text: str, model: str) -> int:
        """Estimated tokens of ``text`` alone."""
        return math.ceil(utf8_size(text) / self.bytes_per_token(model))

    def count(self, turns: Sequence[Any], model: str) -> int:
        """Estimated prompt tokens of a request carrying ``turns`` (exact where a turn knows its size)."""
        per_byte = 1.0 / self.bytes_per_token(model)
        total = float(REPLY_PRIMING)
        for turn in turns:
            total += _cost(turn, per_byte)
        return _ceil(total)

    def calibrate(self, model: str, turns: Sequence[Any], prompt_tokens: int) -> bool:
        """Learn from a request that carried ``turns`` and cost ``prompt_tokens`` (server's count).

        Afterwards :meth:`count` of the same turns gives ``prompt_tokens`` back (to within one token),
        so whatever was sent is counted exactly and only newer text is estimated. Returns whether the
        figure was used (a tiny request, or one whose count is implausible, is not).
        """
        if not isinstance(prompt_tokens, int) or prompt_tokens <= 0:
            return False
        text_bytes = 0
        fixed = REPLY_PRIMING
        for turn in turns:
            if turn.tokens is not None:
                fixed += turn.tokens
            else:
                fixed += MESSAGE_OVERHEAD
                text_bytes += utf8_size(turn.content)
        text_tokens = prompt_tokens - fixed
        if text_bytes < MIN_CALIBRATION_BYTES or text_tokens <= 0:
            return False
        bpt = text_bytes / text_tokens
        if not MIN_BYTES_PER_TOKEN <= bpt <= MAX_BYTES_PER_TOKEN:
            return False
        with self._lock:
            self._bpt[model] = bpt
        return True

    def snapshot(self) -> dict[str, float]:
        """What was learnt, as JSON-ready data (model -> bytes per token)."""
        with self._lock:
            return {model: round(bpt, 4) for model, bpt in self._bpt.items()}


def _cost(turn: Any, per_byte: float) -> float:
    tokens = turn.tokens
    if tokens is not None:
        return float(tokens)
    text = turn.content
    return MESSAGE_OVERHEAD + (len(text) if text.isascii() else utf8_size(text)) * per_byte


def _ceil(tokens: float) -> int:
    """Round a summed estimate up, forgiving the float error of the sum (so a calibrated count of the
    same messages gives the server's figure back, not one more)."""
    return math.ceil(tokens - 1e-6)


def default_reserve(window: int | None, max_tokens: int | None = None) -> int:
    """Room left for the reply: the requested reply length, else an eighth of the window (256-4,096)."""
    if max_tokens is not None and max_tokens > 0:
        return max_tokens
    if window is None:
        return 0
    return max(256, min(4096, window // 8))


@dataclass(frozen=True)
class ContextPlan:
    """What one request carries.

    ``sent``: indexes of the messages sent, in order. ``first_sent``: the index of the first message
    of the newest run sent, when older messages were left out (the transcript's marker goes there);
    None when nothing was left out. ``dropped``: how many messages are left out. ``tokens``: the
    estimated prompt tokens of what is sent. ``fits``: False when even the minimum (system prompt,
    pinned messages, newest message) is larger than ``window - reserve``.
    """

    sent: tuple[int, ...]
    first_sent: int | None
    dropped: int
    tokens: int
    window: int | None
    reserve: int
    fits: bool
    mode: ContextMode

    @property
    def trimmed(self) -> bool:
        return self.dropped > 0

    def messages(self, turns: Sequence[Any]) -> list[dict[str, str]]:
        """The ``messages`` list of the request (role and content of each message sent)."""
        return [{"role": turns[i].role, "content": turns[i].content} for i in self.sent]

    def marker_text(self) -> str:
        """The transcript's words at ``first_sent`` ("" when nothing was left out)."""
        if not self.trimmed:
            return ""
        if self.window is None:
            return "Earlier messages are not sent"
        return f"Earlier messages are not sent: the model's limit is {format_tokens(self.window)} tokens"

    def footer_text(self) -> str:
        """The chat's size against the model's window: "38k / 128k tokens" (or "38k tokens")."""
        if self.window is None:
            return f"{format_tokens(self.tokens)} tokens"
        return f"{format_tokens(self.tokens)} / {format_tokens(self.window)} tokens"


def join_user_runs(messages: Iterable[tuple[int, str, str]]) -> tuple[tuple[str, str], ...]:
    """``(position in the chat, role, content)`` to a request's messages, where user messages that
    follow each other in the chat (a request failed, and the user wrote on instead of Retry) go out as
    one user message, their texts separated by a blank line: servers whose chat template wants user and
    assistant to alternate (Mistral's, several llama.cpp and vLLM templates) refuse two in a row with
    a 400, and the model reads the same words either way. The transcript and the store keep both.
    Messages brought together only by trimming (a pinned question, then the newest run) stay apart."""
    out: list[tuple[str, str]] = []
    last = -2
    for position, role, content in messages:
        if role == "user" and out and out[-1][0] == "user" and position == last + 1:
            out[-1] = ("user", f"{out[-1][1]}\n\n{content}")
        else:
            out.append((role, content))
        last = position
    return tuple(out)


def plan_context(
    turns: Sequence[Any],
    *,
    window: int | None,
    reserve: int = 0,
    mode: ContextMode = ContextMode.FIT,
    estimator: TokenEstimator | None = None,
    model: str = "",
) -> ContextPlan:
    """Choose the messages to send (see the module docstring). ``turns`` are in chat order; each has
    ``role``, ``content``, ``pinned`` and ``tokens`` (see :class:`Turn`). System messages are always
    sent. ``window`` None (unknown) or ``mode`` EVERYTHING: everything is sent."""
    per_byte = 1.0 / (estimator.bytes_per_token(model) if estimator is not None else DEFAULT_BYTES_PER_TOKEN)
    n = len(turns)
    if mode is ContextMode.EVERYTHING or window is None or n == 0:
        total = REPLY_PRIMING + sum(_cost(t, per_byte) for t in turns)
        tokens = _ceil(total)
        fits = window is None or tokens <= window - reserve
        return ContextPlan(tuple(range(n)), None, 0, tokens, window, reserve, fits, mode)

    budget = window - reserve
    fixed = [i for i, t in enumerate(turns) if t.pinned or t.role == "system"]
    fixed_set = set(fixed)
    last = n - 1
    used = float(REPLY_PRIMING) + sum(_cost(turns[i], per_byte) for i in fixed)
    if last not in fixed_set:
        used += _cost(turns[last], per_byte)
    start = last  # every message from ``start`` on is sent
    j = last - 1
    while j >= 0:
        if j in fixed_set:
            j -= 1
            continue
        cost = _cost(turns[j], per_byte)
        if used + cost > budget:
            break
        used += cost
        start = j
        j -= 1
    if j >= 0:
        # Something older was left out: do not open the run with an answer whose question is gone.
        while start < last and (start in fixed_set or turns[start].role != "user"):
            if start not in fixed_set:
                used -= _cost(turns[start], per_byte)
            start += 1
    older_fixed = tuple(i for i in fixed if i < start)
    dropped = start - len(older_fixed)
    sent = older_fixed + tuple(range(start, n))
    tokens = _ceil(used)
    return ContextPlan(sent, start if dropped else None, dropped, tokens, window, reserve,
                       tokens <= budget, mode)


def format_tokens(n: int) -> str:
    """A token count the way model cards say it: 950, 4k (4,096), 38k, 128k (128,000 or 131,072), 1M.

    Sizes that are a whole number of 1,024s (and not of 1,000s) are named in binary thousands (how 4k, 8k or 128k windows
    are usually meant); other sizes round to the nearest thousand (one decimal below 10k).
    """
    if n < 1000:
        return str(n)
    if n >= 1_000_000:
        value = n / (1_048_576 if n % 1_048_576 == 0 else 1_000_000)
        text = f"{value:.1f}".rstrip("0").rstrip(".")
        return f"{text}M"
    if n % 1000 and n % 1024 == 0:
        return f"{n // 1024}k"
    if n < 10_000:
        text = f"{n / 1000:.1f}".rstrip("0").rstrip(".")
        return f"{text}k"
    thousands = round(n / 1000)
    return "1M" if thousands >= 1000 else f"{thousands}k"


# -- one send: plan, learn from usage, and the one retry after a refusal ----------------------------
class ContextRequest:
    """The context side of one send: its plan, and what the server's answer teaches.

    The UI builds one per send (the chat's turns, model, server, mode and the reply length), sends
    ``plan.messages(turns)``, then tells it how the request ended:

    - :meth:`on_usage` with the reply's ``usage.prompt_tokens``: calibrates the estimator for the model;
    - :meth:`on_refused` with an error's status and body: when the server refused the length, it
      learns the stated limit (for this server and model), trims further and returns the plan for
      one retry; a second refusal, or a refusal where trimming more cannot help, returns None.
    """

    def __init__(self, turns: Sequence[Any], *, model: str, base_url: str, windows: Any,
                 estimator: TokenEstimator, mode: ContextMode = ContextMode.FIT,
                 max_tokens: int | None = None, ids: Sequence[int | None] | None = None) -> None:
        self.turns = turns
        self.ids = ids  # the message id of each turn (None: the system prompt), for the marker
        self.model = model
        self.base_url = base_url
        self.windows = windows
        self.estimator = estimator
        self.mode = mode
        self.max_tokens = max_tokens
        found = windows.lookup(base_url, model)
        self.window: int | None = found.tokens if found is not None else None
        self.plan = plan_context(turns, window=self.window, reserve=default_reserve(self.window, max_tokens),
                                 mode=mode, estimator=estimator, model=model)
        self.retried = False

    def sent_turns(self) -> list[Any]:
        return [self.turns[i] for i in self.plan.sent]

    def messages(self) -> tuple[tuple[str, str], ...]:
        """The plan's messages as :class:`~.conversation.ChatRequest` carries them (user turns in a
        row joined: see :func:`join_user_runs`)."""
        return join_user_runs((i, self.turns[i].role, self.turns[i].content) for i in self.plan.sent)

    @property
    def marker_id(self) -> int | None:
        """The id of the message the transcript's marker goes above (None: nothing left out)."""
        first = self.plan.first_sent
        if first is None or self.ids is None:
            return None
        return self.ids[first]

    def on_usage(self, prompt_tokens: int) -> bool:
        """The server counted ``prompt_tokens`` for what this request sent."""
        return self.estimator.calibrate(self.model, self.sent_turns(), prompt_tokens)

    def on_refused(self, status: int | None, body: Any) -> ContextPlan | None:
        """The plan for the one automatic retry after a refusal of the length, or None."""
        from chatbot_gui.core.windows import parse_overflow

        overflow = parse_overflow(status, body)
        if overflow is None or self.retried:
            return None
        if overflow.prompt_tokens is not None:
            self.on_usage(overflow.prompt_tokens)  # the server's own count of what was sent
        elif overflow.limit is not None:
            # A limit but no count (LM Studio): the server counted at least the limit less the reply
            # length asked for, so the estimate was that low at least.
            at_least = overflow.limit - (self.max_tokens or 0)
            if at_least > self.plan.tokens:
                self.on_usage(at_least)
        if overflow.limit is not None:
            window = overflow.limit
        else:
            # The refusal states no number (OpenAI's newer "Your input exceeds the context window of
            # this model"): the window is smaller than what was just sent; assume a quarter less. It
            # is remembered like a stated limit, so later sends do not hit the wall first; if it is
            # still too large, the next refusal shrinks it again.
            sent = max(self.plan.tokens, overflow.prompt_tokens or 0)
            window = (sent * 3) // 4 + default_reserve(self.window, self.max_tokens)
        self.windows.learn(self.base_url, self.model, window)
        if self.mode is ContextMode.EVERYTHING:
            return None  # the user asked for everything: the refusal is the answer
        reserve = default_reserve(window, self.max_tokens)
        plan = plan_context(self.turns, window=window, reserve=reserve, mode=ContextMode.FIT,
                            estimator=self.estimator, model=self.model)
        if plan.sent == self.plan.sent:
            return None  # nothing more can be left out
        self.retried = True
        self.window = window
        self.plan = plan
        return plan


# -- from a conversation ---------------------------------------------------------------------------------
def conversation_turns(conversation: Any) -> tuple[list[Turn], list[int | None]]:
    """The turns a request for ``conversation`` may carry, and the id of the message each comes from
    (None for the persona's system prompt): what :meth:`Conversation.context` sends, with each
    message's ``pinned`` flag and exact ``tokens`` where the chat model has them."""
    turns: list[Turn] = []
    ids: list[int | None] = []
    prompt = conversation.persona.system_prompt
    if prompt.strip():
        turns.append(Turn("system", prompt))
        ids.append(None)
    for msg in conversation.messages:
        if msg.in_context:
            turns.append(Turn(msg.role, msg.content, bool(getattr(msg, "pinned", False)),
                              getattr(msg, "tokens", None)))
            ids.append(msg.id)
    return turns, ids


def footer_text(plan: ContextPlan | None, usage_summary: str = "") -> str:
    """The chat's footer: "38k / 128k tokens · 12,345 tokens used (~$0.04)"."""
    parts = [plan.footer_text()] if plan is not None else []
    if usage_summary:
        parts.append(usage_summary)
    return " · ".join(parts)


def context_request(conversation: Any, model: str | None, *, base_url: str, windows: Any,
                    estimator: TokenEstimator, mode: ContextMode = ContextMode.FIT) -> tuple[Any, ContextRequest]:
    """The request to send for ``conversation`` as it stands, trimmed to the model's window, and the
    :class:`ContextRequest` that follows it (marker, usage, the one retry).

    The model, temperature and reply length are what :meth:`Conversation.build_request` chooses; only
    the messages differ. For the retry after a refusal, send ``dataclasses.replace(request,
    messages=ctx.messages())`` once :meth:`ContextRequest.on_refused` has returned a plan.
    """
    import dataclasses

    base = conversation.build_request(model)
    turns, ids = conversation_turns(conversation)
    ctx = ContextRequest(turns, model=base.model, base_url=base_url, windows=windows, estimator=estimator,
                         mode=mode, max_tokens=base.max_tokens, ids=ids)
    return dataclasses.replace(base, messages=ctx.messages()), ctx
