"""Usage figures from real recorded streams, and the estimated cost of OpenAI models."""

from __future__ import annotations

from pathlib import Path

import pytest

from chatbot_gui.core.sse import ReplyReader
from chatbot_gui.core.usage import (
    OPENAI_PRICES,
    ChatUsage,
    Price,
    Usage,
    estimate_cost,
    format_cost,
    parse_usage,
    price_for,
    prices_from_json,
    prices_to_json,
)

CORPUS = Path(__file__).resolve().parent / "corpus" / "openai"


def read_usage(case: str) -> Usage | None:
    reader = ReplyReader()
    for _ in reader.feed((CORPUS / f"{case}.sse").read_bytes()):
        pass
    reader.close()
    return parse_usage(reader.usage)


def test_recorded_include_usage_streams() -> None:
    assert read_usage("stream_gpt4o_mini_text_include_usage") == Usage(87, 26, 0, 0)
    gpt51 = read_usage("stream_gpt51_include_usage")
    assert gpt51 is not None and gpt51.prompt_tokens > 0 and gpt51.completion_tokens > 0


@pytest.mark.parametrize("case", ["stream_gpt51_no_usage_key", "stream_gpt35_turbo_text_2024_03",
                                  "compat_llamacpp_stream_tail_timings"])
def test_recorded_streams_without_usage(case: str) -> None:
    assert read_usage(case) is None


def test_parse_usage_shapes() -> None:
    full = {"prompt_tokens": 1200, "completion_tokens": 300, "total_tokens": 1500,
            "prompt_tokens_details": {"cached_tokens": 1024}, "completion_tokens_details": {"reasoning_tokens": 200}}
    assert parse_usage(full) == Usage(1200, 300, 1024, 200)
    assert parse_usage({"prompt_tokens": 5, "completion_tokens": None}) == Usage(5, 0)
    assert parse_usage({"prompt_tokens": -3, "completion_tokens": True}) == Usage(0, 0)
    assert parse_usage({"total_tokens": 9}) is None and parse_usage(None) is None and parse_usage([]) is None


@pytest.mark.parametrize("model, prefix", [("gpt-4o", "gpt-4o"), ("gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
                                           ("gpt-4o-2024-08-06", "gpt-4o"), ("gpt-5.1", "gpt-5.1"),
                                           ("gpt-5-nano-2025-08-07", "gpt-5-nano"), ("o3-mini", "o3-mini"),
                                           ("o1", "o1"), ("GPT-4.1-mini", "gpt-4.1-mini")])
def test_price_lookup(model: str, prefix: str) -> None:
    assert price_for(model) == OPENAI_PRICES[prefix]


@pytest.mark.parametrize("model", ["llama3.2", "gpt-4omni", "o10", "claude-sonnet-4", ""])
def test_no_price_for_other_models(model: str) -> None:
    assert price_for(model) is None
    assert estimate_cost(model, Usage(1000, 1000)) is None


def test_cost_counts_cached_input_at_its_rate() -> None:
    # gpt-4o: $2.50 input, $1.25 cached input, $10 output per million tokens.
    assert estimate_cost("gpt-4o", Usage(1_000_000, 0)) == pytest.approx(2.50)
    assert estimate_cost("gpt-4o", Usage(1_000_000, 100_000, cached_tokens=400_000)) == pytest.approx(
        0.6 * 2.50 + 0.4 * 1.25 + 0.1 * 10)
    assert estimate_cost("gpt-4", Usage(1000, 1000, cached_tokens=1000)) == pytest.approx((1000 * 30 + 1000 * 60) / 1e6)


def test_chat_usage_adds_up_replies() -> None:
    chat = ChatUsage()
    chat.add("gpt-4o-mini", Usage(87, 26))
    chat.add("gpt-4o-mini", Usage(150, 40))
    assert chat.total == Usage(237, 66) and chat.replies == 2
    assert chat.cost == pytest.approx((237 * 0.15 + 66 * 0.60) / 1e6)
    assert chat.summary() == "303 tokens used (~$0.000075)"
    chat.add("local", Usage(10, 10), priced=False)
    assert chat.summary() == "323 tokens used (~$0.000075+)"
    assert ChatUsage().summary() == "0 tokens used"


@pytest.mark.parametrize("dollars, text", [(0, "$0"), (1.234, "$1.23"), (0.12, "$0.12"), (0.0042, "$0.0042"),
                                           (0.04199, "$0.042")])
def test_format_cost(dollars: float, text: str) -> None:
    assert format_cost(dollars) == text


def test_price_table_in_settings() -> None:
    table = prices_from_json({"gpt-4o": {"input": 2.0, "output": 8}, "my-ft": {"input": 1, "output": 2,
                              "cached_input": 0.5}, "bad": {"input": "x", "output": 1}, "neg": {"input": -1,
                              "output": 1}, "": {"input": 1, "output": 1}, "nan": 3})
    assert table["gpt-4o"] == Price(2.0, 8.0)
    assert table["my-ft"] == Price(1.0, 2.0, 0.5)
    assert "bad" not in table and "neg" not in table and "" not in table and "nan" not in table
    assert table["gpt-4o-mini"] == OPENAI_PRICES["gpt-4o-mini"]
    assert prices_to_json(table) == {"gpt-4o": {"input": 2.0, "output": 8.0},
                                     "my-ft": {"input": 1.0, "output": 2.0, "cached_input": 0.5}}
    assert prices_from_json(None) == OPENAI_PRICES
