"""Tokens used, from the servers' own usage figures, and what they cost with OpenAI's prices.

A streamed reply carries its usage when the request asks for it (``stream_options:
{"include_usage": true}``): one last chunk with ``"choices": []`` and a ``usage`` object.
:func:`parse_usage` reads it (and the non-streamed form); :class:`ChatUsage` adds up a chat's replies;
:func:`estimate_cost` prices them from :data:`OPENAI_PRICES`, which Settings can override per model
(:func:`prices_from_json`). Prices are estimates: the provider's bill is the truth.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, TypeGuard


@dataclass(frozen=True)
class Usage:
    """One request's usage. ``cached_tokens`` are part of ``prompt_tokens``; ``reasoning_tokens`` part of
    ``completion_tokens``."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(self.prompt_tokens + other.prompt_tokens, self.completion_tokens + other.completion_tokens,
                     self.cached_tokens + other.cached_tokens, self.reasoning_tokens + other.reasoning_tokens)


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value or value < 0:
        return 0
    return int(min(value, 1 << 40))


def parse_usage(data: Any) -> Usage | None:
    """A ``usage`` object as servers send it (OpenAI, vLLM, llama.cpp, OpenRouter, Groq's
    ``x_groq.usage``), or None when there is none or it has no token counts."""
    if not isinstance(data, Mapping):
        return None
    if "prompt_tokens" not in data and "completion_tokens" not in data:
        return None
    prompt_details = data.get("prompt_tokens_details")
    completion_details = data.get("completion_tokens_details")
    return Usage(
        prompt_tokens=_count(data.get("prompt_tokens")),
        completion_tokens=_count(data.get("completion_tokens")),
        cached_tokens=_count(prompt_details.get("cached_tokens")) if isinstance(prompt_details, Mapping) else 0,
        reasoning_tokens=(_count(completion_details.get("reasoning_tokens"))
                          if isinstance(completion_details, Mapping) else 0),
    )


@dataclass(frozen=True)
class ReplyUsage:
    """What a reply cost as the server counted it, kept with the reply (schema 5, JSON exports).

    ``priced``: the reply came from OpenAI's own server, so OpenAI's list prices apply to it (other
    servers' replies count their tokens but get no cost). Every figure here is the server's: the app
    never estimates a reply's usage (its estimates are for planning what fits the window)."""

    usage: Usage
    priced: bool = False

    def to_json(self) -> dict[str, Any]:
        """``{"prompt_tokens": 12, "completion_tokens": 30, "cached_tokens": 0, "reasoning_tokens": 0,
        "source": "server", "priced": true}``: the server's own field names."""
        u = self.usage
        return {"prompt_tokens": u.prompt_tokens, "completion_tokens": u.completion_tokens,
                "cached_tokens": u.cached_tokens, "reasoning_tokens": u.reasoning_tokens,
                "source": "server", "priced": self.priced}

    @staticmethod
    def from_json(data: Any) -> ReplyUsage | None:
        """The inverse of :meth:`to_json`, forgiving: counts that are not non-negative numbers are 0;
        None when ``data`` is not an object with a token count (an old row, a hand-edited file)."""
        usage = parse_usage(data)
        if usage is None:
            return None
        assert isinstance(data, Mapping)
        # The flat form written here; parse_usage also reads the server's nested details.
        cached = _count(data.get("cached_tokens")) or usage.cached_tokens
        reasoning = _count(data.get("reasoning_tokens")) or usage.reasoning_tokens
        return ReplyUsage(Usage(usage.prompt_tokens, usage.completion_tokens, cached, reasoning),
                          priced=data.get("priced") is True)


@dataclass(frozen=True)
class Price:
    """US dollars per million tokens. ``cached_input`` None: cached input costs as much as input."""

    input: float
    output: float
    cached_input: float | None = None


#: OpenAI's list prices (USD per 1M tokens, standard tier) as of late 2025, matched by the longest prefix
#: of the model name (so "gpt-4o-mini-2024-07-18" is gpt-4o-mini). Editable in Settings.
OPENAI_PRICES: dict[str, Price] = {
    "gpt-5": Price(1.25, 10.00, 0.125),
    "gpt-5.1": Price(1.25, 10.00, 0.125),
    "gpt-5-mini": Price(0.25, 2.00, 0.025),
    "gpt-5-nano": Price(0.05, 0.40, 0.005),
    "gpt-4.1": Price(2.00, 8.00, 0.50),
    "gpt-4.1-mini": Price(0.40, 1.60, 0.10),
    "gpt-4.1-nano": Price(0.10, 0.40, 0.025),
    "gpt-4o": Price(2.50, 10.00, 1.25),
    "gpt-4o-mini": Price(0.15, 0.60, 0.075),
    "gpt-4-turbo": Price(10.00, 30.00),
    "gpt-4": Price(30.00, 60.00),
    "gpt-3.5-turbo": Price(0.50, 1.50),
    "o1": Price(15.00, 60.00, 7.50),
    "o1-mini": Price(1.10, 4.40, 0.55),
    "o3": Price(2.00, 8.00, 0.50),
    "o3-mini": Price(1.10, 4.40, 0.55),
    "o4-mini": Price(1.10, 4.40, 0.275),
}


def price_for(model: str, table: Mapping[str, Price] = OPENAI_PRICES) -> Price | None:
    """The price of ``model``: an exact entry, else the longest prefix that ends at a name boundary."""
    name = model.strip().lower()
    if name in table:
        return table[name]
    best = None
    for prefix, price in table.items():
        if name.startswith(prefix) and name[len(prefix)] in "-_:@." and (best is None or len(prefix) > len(best[0])):
            best = (prefix, price)
    return best[1] if best else None


def estimate_cost(model: str, usage: Usage, table: Mapping[str, Price] = OPENAI_PRICES) -> float | None:
    """The estimated cost in US dollars (None when the table has no price for the model)."""
    price = price_for(model, table)
    if price is None:
        return None
    cached = min(usage.cached_tokens, usage.prompt_tokens)
    cached_rate = price.input if price.cached_input is None else price.cached_input
    return ((usage.prompt_tokens - cached) * price.input + cached * cached_rate
            + usage.completion_tokens * price.output) / 1_000_000


def format_cost(dollars: float) -> str:
    """"$0.0042", "$1.27": small amounts keep two significant digits."""
    if dollars <= 0:
        return "$0"
    if dollars >= 0.1:
        return f"${dollars:.2f}"
    digits = 2
    while dollars < 10 ** -(digits - 1) and digits < 8:
        digits += 1
    return f"${dollars:.{digits}f}"


class ChatUsage:
    """A chat's running total, reply by reply, with the cost of each reply's model."""

    def __init__(self, table: Mapping[str, Price] = OPENAI_PRICES) -> None:
        self.table = table
        self.total = Usage()
        self.replies = 0
        self.cost: float | None = None  # None until a reply with a known price has been counted
        self.unpriced = 0  # replies whose model has no price
        self._parts: dict[tuple[str, bool], tuple[Usage, int]] = {}  # (model, priced) -> usage, replies

    def add(self, model: str, usage: Usage, *, priced: bool = True) -> None:
        """Count one reply. ``priced`` False: the server is not OpenAI, so no cost is estimated."""
        self.total = self.total + usage
        self.replies += 1
        before, replies = self._parts.get((model, priced), (Usage(), 0))
        self._parts[(model, priced)] = (before + usage, replies + 1)
        cost = estimate_cost(model, usage, self.table) if priced else None
        if cost is None:
            self.unpriced += 1
        else:
            self.cost = (self.cost or 0.0) + cost

    def reprice(self, table: Mapping[str, Price]) -> None:
        """Use ``table`` from now on and for what was counted already (the user edited the prices)."""
        self.table, self.cost, self.unpriced = table, None, 0
        for (model, priced), (usage, replies) in self._parts.items():
            cost = estimate_cost(model, usage, table) if priced else None
            if cost is None:
                self.unpriced += replies
            else:
                self.cost = (self.cost or 0.0) + cost

    def summary(self) -> str:
        """"12,345 tokens used (~$0.0042)" for the footer."""
        text = f"{self.total.total_tokens:,} tokens used"
        if self.cost is not None:
            text += f" (~{format_cost(self.cost)}{'+' if self.unpriced else ''})"
        return text


# -- settings schema ------------------------------------------------------------------------------
def prices_from_json(data: Any) -> dict[str, Price]:
    """The price table in Settings (``{"gpt-4o": {"input": 2.5, "output": 10, "cached_input": 1.25}}``)
    merged over :data:`OPENAI_PRICES`. Entries that are not two non-negative numbers are ignored."""
    return {**OPENAI_PRICES, **user_prices_from_json(data)}


def user_prices_from_json(data: Any) -> dict[str, Price]:
    """The valid entries of the price table in Settings, alone (model names in lower case)."""
    table: dict[str, Price] = {}
    if not isinstance(data, Mapping):
        return table
    for model, entry in data.items():
        if not isinstance(model, str) or not model.strip() or not isinstance(entry, Mapping):
            continue
        given, output, cached = entry.get("input"), entry.get("output"), entry.get("cached_input")
        if _is_price(given) and _is_price(output) and (cached is None or _is_price(cached)):
            table[model.strip().lower()] = Price(float(given), float(output),
                                                 None if cached is None else float(cached))
    return table


def prices_to_json(table: Mapping[str, Price], *, all_entries: bool = False) -> dict[str, dict[str, float]]:
    """The entries of ``table`` that differ from :data:`OPENAI_PRICES` (what Settings stores), or all."""
    out: dict[str, dict[str, float]] = {}
    for model, price in table.items():
        if all_entries or OPENAI_PRICES.get(model) != price:
            entry = {"input": price.input, "output": price.output}
            if price.cached_input is not None:
                entry["cached_input"] = price.cached_input
            out[model] = entry
    return out


def _is_price(value: Any) -> TypeGuard[float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value < 1e6
