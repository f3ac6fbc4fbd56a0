"""Cached prompt tokens and reasoning tokens, as each style of upstream reports them, counted and priced.

OpenAI reports `prompt_tokens_details.cached_tokens` and `completion_tokens_details.reasoning_tokens`,
DeepSeek `prompt_cache_hit_tokens`, Anthropic cache reads and 5-minute and 1-hour cache writes;
DeepSeek-R1, Qwen3 and vLLM's reasoning parsers stream `reasoning_content`. Each price class has its
own rate here, so a token charged in the wrong class shows in the amount.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx2 as httpx
import openai
import pytest

from tests.charging_support import charges, verify
from tests.conftest import Gateway, ServerThread, start_gateway
from tokenops.simulator.engine import SimConfig
from tokenops.simulator.server import SimServer

KEY = "sk-details"
PRICE = {"input": "1000", "output": "2000", "cached_input": "100", "cache_write": "1250", "cache_write_1h": "2000",
         "reasoning": "3000"}  # fmt: skip


def catalog(upstream: str, provider: str) -> dict[str, Any]:
    return {
        "models": [{"name": "r1", "context_window": 32768, "tokenizer": "cl100k"}],
        "deployments": [{"id": "r1-1", "model": "r1", "provider": provider, "region": "cn-east",
                         "base_url": upstream + "/v1"}],
        "tenants": [{"id": "lab", "kind": "enterprise", "residency": ["cn-east"], "models": ["r1"],
                     "keys": [{"id": "k1", "key": KEY}]}],
        "prices": {"currency": "CNY", "versions": [{"id": "v1", "effective": "2026-01-01T00:00:00Z",
                                                    "models": {"r1": PRICE}}]},
        "accounts": [{"tenant": "lab", "type": "prepaid", "balance": "1000.00"}],
    }  # fmt: skip


@pytest.fixture
def upstream() -> Iterator[ServerThread]:
    server = ServerThread(SimServer(SimConfig())).start()
    yield server
    server.stop()


def configure(upstream: ServerThread, **changes: Any) -> None:
    httpx.post(upstream.url + "/_sim/config", json=changes).raise_for_status()


@pytest.fixture
def gw(upstream: ServerThread, tmp_path: Path) -> Iterator[Gateway]:
    """The gateway, over the OpenAI wire to the upstream."""
    gateway = start_gateway(catalog(upstream.url, "openai"), tmp_path / "home")
    yield gateway
    gateway.server.stop()


@pytest.fixture
def anthropic_gw(upstream: ServerThread, tmp_path: Path) -> Iterator[Gateway]:
    """The gateway, over Anthropic's wire to the upstream."""
    gateway = start_gateway(catalog(upstream.url, "anthropic"), tmp_path / "home")
    yield gateway
    gateway.server.stop()


def expected_units(r: dict[str, Any]) -> int:
    """The charge, in millionths of a yuan, of a record at PRICE (yuan per million tokens): tokens times price."""
    written, long_writes = r["cache_write_tokens"], r["cache_write_1h_tokens"]
    classes = {
        "input": r["input_tokens"] - r["cached_tokens"] - written, "cached_input": r["cached_tokens"],
        "cache_write": written - long_writes, "cache_write_1h": long_writes,
        "output": r["output_tokens"] - r["reasoning_tokens"], "reasoning": r["reasoning_tokens"],
    }  # fmt: skip
    return sum(n * int(PRICE[name]) for name, n in classes.items())


MESSAGES = [{"role": "user", "content": "Why did cell 7 drop its calls at 03:00?"}]


@pytest.mark.parametrize("style", ["openai", "deepseek"])
def test_openai_style_reasoning_and_cache_hits_are_recorded_and_priced_in_their_classes(
    upstream: ServerThread, gw: Gateway, style: str
) -> None:
    configure(upstream, reasoning_tokens=6, cached_tokens=9, usage_style=style)
    with openai.OpenAI(base_url=gw.url + "/v1", api_key=KEY, max_retries=0) as api:
        reply = api.chat.completions.create(model="r1", messages=MESSAGES)  # type: ignore[arg-type]
    assert reply.usage is not None and reply.usage.prompt_tokens_details is not None
    assert reply.usage.prompt_tokens_details.cached_tokens == 9
    assert reply.usage.completion_tokens_details is not None
    assert reply.usage.completion_tokens_details.reasoning_tokens == 6
    [record] = gw.records()
    assert (record["cached_tokens"], record["reasoning_tokens"], record["usage_source"]) == (9, 6, "upstream")
    assert charges(gw.home)[record["request_id"]] == expected_units(record)
    assert verify(gw.home) == []


def test_reasoning_content_of_a_usage_less_stream_is_counted_as_reasoning(upstream: ServerThread, gw: Gateway) -> None:
    configure(upstream, reasoning_tokens=6, omit_usage=True)
    with openai.OpenAI(base_url=gw.url + "/v1", api_key=KEY, max_retries=0) as api:
        chunks = list(api.chat.completions.create(model="r1", messages=MESSAGES, stream=True,  # type: ignore[arg-type]
                                                  stream_options={"include_usage": True}))  # fmt: skip
    thought = "".join((c.choices[0].delta.model_extra or {}).get("reasoning_content") or "" for c in chunks
                      if c.choices)  # fmt: skip
    assert len(thought.split()) == 6  # passed through to the client as it came
    whole = httpx.post(upstream.url + "/v1/chat/completions", json={"model": "r1", "messages": MESSAGES}).json()
    [record] = gw.records()
    assert record["usage_source"] == "tokenizer"
    told = whole["usage"]
    assert (record["output_tokens"], record["reasoning_tokens"]) == (
        told["completion_tokens"], told["completion_tokens_details"]["reasoning_tokens"])  # fmt: skip
    usage = chunks[-1].usage
    assert usage is not None and usage.completion_tokens_details is not None
    assert usage.completion_tokens_details.reasoning_tokens == 6
    assert charges(gw.home)[record["request_id"]] == expected_units(record)
    assert verify(gw.home) == []


def test_anthropic_cache_reads_and_both_kinds_of_cache_writes_are_priced_apart(
    upstream: ServerThread, anthropic_gw: Gateway
) -> None:
    gw = anthropic_gw
    configure(upstream, cached_tokens=5, cache_write_tokens=8, cache_write_1h_tokens=3)
    with anthropic.Anthropic(base_url=gw.url, api_key=KEY, max_retries=0) as claude:
        message = claude.messages.create(model="r1", max_tokens=64, messages=MESSAGES)  # type: ignore[arg-type]
        streamed = list(claude.messages.create(model="r1", max_tokens=64, messages=MESSAGES,  # type: ignore[arg-type]
                                               stream=True))  # fmt: skip
    assert (message.usage.cache_read_input_tokens, message.usage.cache_creation_input_tokens) == (5, 8)
    assert message.usage.cache_creation is not None
    assert (message.usage.cache_creation.ephemeral_5m_input_tokens,
            message.usage.cache_creation.ephemeral_1h_input_tokens) == (5, 3)  # fmt: skip
    ended = next(e for e in streamed if e.type == "message_delta")
    assert ended.usage.cache_creation_input_tokens == 8
    for record in gw.records():
        assert (record["cached_tokens"], record["cache_write_tokens"], record["cache_write_1h_tokens"]) == (5, 8, 3)
        assert charges(gw.home)[record["request_id"]] == expected_units(record)
    assert verify(gw.home) == []
