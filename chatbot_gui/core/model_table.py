"""The Settings > Models table as plain data: per model a context-window override and prices (issue 12).

Rows are what the user sees (strings, as typed); :func:`check_rows` says what is wrong with them in
words for the user, cell by cell, and turns valid rows into the two settings they edit:
``context_windows`` (model -> tokens) and ``model_prices`` (model -> :class:`~.usage.Price`, only the
entries that differ from OpenAI's list prices). Qt-free, so the rules are tested with plain pytest.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Mapping

from chatbot_gui.core.usage import OPENAI_PRICES, Price

#: The windows a user may type, in tokens. Below 256 nothing useful fits beside the reply; above
#: 20 million no model known today goes (the largest announced is 10M).
MIN_WINDOW, MAX_WINDOW = 256, 20_000_000
#: The highest price a user may type, in US dollars per million tokens (the dearest list price
#: today is a few hundred).
MAX_PRICE = 10_000.0

COLUMNS = ("model", "window", "input", "cached_input", "output")
COLUMN_LABELS = {"model": "Model", "window": "Context window (tokens)", "input": "Input $/1M",
                 "cached_input": "Cached input $/1M", "output": "Output $/1M"}


@dataclass(frozen=True)
class Row:
    """One line of the table, as shown and typed (strings; "" is an empty cell)."""

    model: str
    window: str = ""
    input: str = ""
    cached_input: str = ""
    output: str = ""

    @property
    def builtin(self) -> bool:
        """Whether OpenAI's list has a price for this model (such a row is reset, not removed)."""
        return self.model.strip().lower() in OPENAI_PRICES


@dataclass(frozen=True)
class Problem:
    """What is wrong with one cell: ``row`` and ``column`` (one of :data:`COLUMNS`) and why, in words."""

    row: int
    column: str
    text: str


def _price_text(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def _window_text(value: int | None) -> str:
    return "" if value is None else str(value)


def builtin_row(model: str) -> Row:
    """The row of a model in OpenAI's list, as it is with nothing changed."""
    price = OPENAI_PRICES[model]
    return Row(model, "", _price_text(price.input), _price_text(price.cached_input), _price_text(price.output))


def rows_from_settings(windows: Mapping[str, int], prices: Mapping[str, Price]) -> list[Row]:
    """The table for the settings: OpenAI's models (with the user's prices over them) in the list's
    order, then the user's own models in name order. Window overrides go on the row of the same name."""
    table = {**OPENAI_PRICES, **{k.lower(): v for k, v in prices.items()}}
    lower_windows = {k.lower(): v for k, v in windows.items()}
    names, known = list(OPENAI_PRICES), set(OPENAI_PRICES)
    for name in sorted([*prices, *windows], key=str.lower):
        if name.lower() not in known:
            names.append(name)
            known.add(name.lower())
    rows = []
    for name in names:
        price = table.get(name.lower())
        rows.append(Row(name, _window_text(lower_windows.get(name.lower())),
                        _price_text(price.input if price else None),
                        _price_text(price.cached_input if price else None),
                        _price_text(price.output if price else None)))
    return rows


_DIGIT_GROUPS = re.compile(r"^\d{1,3}([,_ ]\d{3})+$")


def parse_window(text: str) -> tuple[int | None, str]:
    """The tokens typed (None: empty, automatic) and why it is not valid ("" when it is)."""
    text = text.strip()
    if not text:
        return None, ""
    digits = text.replace(",", "").replace("_", "").replace(" ", "") if _DIGIT_GROUPS.match(text) else text
    if not digits.isdigit() or not digits.isascii():
        return None, (f"type a whole number of tokens from {MIN_WINDOW:,} to {MAX_WINDOW:,}, "
                      "or leave it empty to use what the server says")
    tokens = int(digits)
    if not MIN_WINDOW <= tokens <= MAX_WINDOW:
        return None, f"must be from {MIN_WINDOW:,} to {MAX_WINDOW:,} tokens (or empty)"
    return tokens, ""


def parse_price(text: str) -> tuple[float | None, str]:
    """US dollars per million tokens typed (None: empty) and why it is not valid ("" when it is)."""
    text = text.strip().removeprefix("$").strip()
    if not text:
        return None, ""
    try:
        value = float(text)
    except ValueError:
        return None, "type a price in US dollars per million tokens, such as 2.5"
    if math.isnan(value) or math.isinf(value):
        return None, "type a number (not NaN or Infinity)"
    if value < 0:
        return None, "a price cannot be negative"
    if value > MAX_PRICE:
        return None, f"at most ${MAX_PRICE:,.0f} per million tokens"
    return value, ""


def check_rows(rows: list[Row]) -> tuple[list[Problem], dict[str, int], dict[str, Price]]:
    """Every problem in the table (first ones first), and the settings it stands for."""
    problems: list[Problem] = []
    windows: dict[str, int] = {}
    prices: dict[str, Price] = {}
    seen: dict[str, int] = {}
    for i, row in enumerate(rows):
        name = row.model.strip()
        if not name:
            if any(getattr(row, c).strip() for c in COLUMNS[1:]):
                problems.append(Problem(i, "model", "type the model's name (as the server calls it)"))
            continue  # an empty row is ignored
        if name.lower() in seen:
            problems.append(Problem(i, "model", f"“{name}” is already in row {seen[name.lower()] + 1}"))
            continue
        seen[name.lower()] = i
        window, why = parse_window(row.window)
        if why:
            problems.append(Problem(i, "window", why))
        elif window is not None:
            windows[name] = window
        values: dict[str, float | None] = {}
        for column in ("input", "cached_input", "output"):
            values[column], why = parse_price(getattr(row, column))
            if why:
                problems.append(Problem(i, column, why))
        if any(p.row == i and p.column != "window" for p in problems):
            continue
        given, cached, output = values["input"], values["cached_input"], values["output"]
        if given is None and output is None and cached is None:
            if name.lower() in OPENAI_PRICES:
                problems.append(Problem(i, "input", "a model in OpenAI's list needs its input and output "
                                                    "prices (Remove puts the list prices back)"))
            continue
        if given is None or output is None:
            missing = "input" if given is None else "output"
            problems.append(Problem(i, missing, f"type the {missing} price too (or clear all three prices)"))
            continue
        price = Price(given, output, cached)
        if OPENAI_PRICES.get(name.lower()) != price:
            prices[name.lower()] = price
    return problems, windows, prices


def describe(problem: Problem, rows: list[Row]) -> str:
    """The problem in one sentence that says where it is: "Row 3 (llama3.2), context window: …"."""
    name = rows[problem.row].model.strip() if problem.row < len(rows) else ""
    where = f"Row {problem.row + 1}" + (f" ({name})" if name else "")
    label = COLUMN_LABELS[problem.column].replace(" $/1M", " price").replace(" (tokens)", "").lower()
    return f"{where}, {label}: {problem.text}."
