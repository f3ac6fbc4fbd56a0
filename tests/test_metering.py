"""Every authenticated request leaves exactly one correct usage record, whatever happens to it."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx2 as httpx
import openai
import orjson
import pytest

from tests.conftest import Gateway, ServerThread, demo_catalog, http_catalog, start_gateway
from tokenops.tokenize import count_messages, counter_for


def client(gw: Gateway, key: str = "sk-demo-acme") -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.url + "/v1", api_key=key, max_retries=0)


def sim_config(upstream: ServerThread, **changes: Any) -> None:
    httpx.post(upstream.url + "/_sim/config", json=changes).raise_for_status()


def sim_stats(upstream: ServerThread) -> dict[str, int]:
    return httpx.get(upstream.url + "/_sim/stats").json()  # type: ignore[no-any-return]


def wait_for_records(gw: Gateway, n: int, timeout: float = 5.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        records = gw.records()
        if len(records) >= n or time.monotonic() > deadline:
            return records
        time.sleep(0.02)


MESSAGES = [{"role": "system", "content": "You are a grid operator."}, {"role": "user", "content": "Report status."}]


def test_stream_without_upstream_usage_is_counted_exactly_with_the_tokenizer(
    http_gateway: Gateway, sim_upstream: ServerThread
) -> None:
    api = client(http_gateway)
    told = list(api.chat.completions.create(model="tele-lite", messages=MESSAGES, stream=True))  # type: ignore[arg-type]
    sim_config(sim_upstream, omit_usage=True)
    counted = list(
        api.chat.completions.create(
            model="tele-lite",
            messages=MESSAGES,  # type: ignore[arg-type]
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    first, second = http_gateway.records()
    assert first["usage_source"] == "upstream" and second["usage_source"] == "tokenizer"
    assert (second["input_tokens"], second["output_tokens"]) == (first["input_tokens"], first["output_tokens"])
    assert counted[-1].usage is not None and counted[-1].usage.completion_tokens == first["output_tokens"]
    assert len(told) == len(counted) - 1  # the client sees the usage chunk only when it asked


def test_upstream_failure_gives_502_and_a_zero_token_record(http_gateway: Gateway, sim_upstream: ServerThread) -> None:
    sim_config(sim_upstream, error_rate=1.0, error_status=500)
    with pytest.raises(openai.InternalServerError) as caught:
        client(http_gateway).chat.completions.create(model="tele-lite", messages=MESSAGES)  # type: ignore[arg-type]
    assert caught.value.status_code == 502
    [record] = http_gateway.records()
    assert record["status"] == 502 and record["outcome"] == "upstream_error"
    assert record["input_tokens"] == record["output_tokens"] == 0
    assert record["error_code"] == "upstream_error"


def test_upstream_overload_falls_over_to_the_other_permitted_deployment(tmp_path: Path) -> None:
    catalog = demo_catalog()
    for dep in catalog["deployments"]:
        if dep["id"] == "lite-east-1":
            dep["simulate"] = {"error_rate": 1.0, "error_status": 503}
    gw = start_gateway(catalog, tmp_path / "home")
    try:
        for _ in range(8):
            client(gw).chat.completions.create(model="tele-lite", messages=MESSAGES)  # type: ignore[arg-type]
        records = gw.records()
        assert len(records) == 8
        assert {r["deployment_id"] for r in records} == {"lite-north-1"}
        assert all(r["status"] == 200 for r in records)
        assert gw.state.health.state("lite-east-1") == "open"
    finally:
        gw.server.stop()


def test_stream_cut_by_the_upstream_bills_what_was_generated(http_gateway: Gateway, sim_upstream: ServerThread) -> None:
    sim_config(sim_upstream, cut_after=5, reply_tokens=40)
    received = ""
    with pytest.raises(openai.APIError):
        for chunk in client(http_gateway).chat.completions.create(
            model="tele-lite",
            messages=MESSAGES,  # type: ignore[arg-type]
            stream=True,
        ):
            received += "".join(c.delta.content or "" for c in chunk.choices)
    [record] = wait_for_records(http_gateway, 1)
    assert record["outcome"] == "upstream_error" and record["usage_source"] == "tokenizer"
    assert record["output_tokens"] == 5 == counter_for("cl100k").count(received)
    assert record["input_tokens"] == count_messages(counter_for("cl100k"), MESSAGES)


@pytest.mark.parametrize("transport", ["in_process", "http"])
def test_client_abort_cancels_the_upstream_and_bills_what_was_generated(
    transport: str, tmp_path: Path, sim_upstream: ServerThread
) -> None:
    if transport == "http":
        catalog = http_catalog(sim_upstream.url)
        sim_config(sim_upstream, reply_tokens=400, tokens_per_s=100)
    else:
        catalog = demo_catalog()
        for dep in catalog["deployments"]:
            dep["simulate"] = {"reply_tokens": 400, "tokens_per_s": 100}
    gw = start_gateway(catalog, tmp_path / "home")
    try:
        body = {"model": "tele-lite", "messages": MESSAGES, "stream": True}
        headers = {"Authorization": "Bearer sk-demo-acme"}
        with httpx.stream("POST", gw.url + "/v1/chat/completions", json=body, headers=headers) as response:
            data: list[str] = []
            for line in response.iter_lines():
                if line.startswith("data:"):
                    data.append(line)
                if len(data) >= 6:
                    break
        [record] = wait_for_records(gw, 1)
        assert record["outcome"] == "client_aborted"
        assert 5 <= record["output_tokens"] < 100
        assert record["input_tokens"] > 0 and record["usage_source"] == "tokenizer"
        if transport == "http":
            deadline = time.monotonic() + 5
            while sim_stats(sim_upstream)["streams_cancelled"] < 1 and time.monotonic() < deadline:
                time.sleep(0.02)
            assert sim_stats(sim_upstream)["streams_cancelled"] == 1
    finally:
        gw.server.stop()


def test_upstream_context_length_error_reaches_the_client_as_such(
    http_gateway: Gateway, sim_upstream: ServerThread
) -> None:
    sim_config(sim_upstream, context_window=50)
    long = [{"role": "user", "content": "grid " * 200}]
    with pytest.raises(openai.BadRequestError) as caught:
        client(http_gateway).chat.completions.create(model="tele-lite", messages=long)  # type: ignore[arg-type]
    assert caught.value.code == "context_length_exceeded"
    assert "maximum context length" in caught.value.message
    [record] = http_gateway.records()
    assert record["status"] == 400 and record["error_code"] == "context_length_exceeded"


def test_upstream_that_never_answers_times_out_with_504(tmp_path: Path) -> None:
    catalog = demo_catalog()
    for dep in catalog["deployments"]:
        if dep["model"] == "tele-max":
            dep["simulate"] = {"timeout": True}
            dep["timeout_s"] = 0.3
    gw = start_gateway(catalog, tmp_path / "home")
    try:
        with pytest.raises(openai.APIStatusError) as caught:
            client(gw).chat.completions.create(model="tele-max", messages=MESSAGES)  # type: ignore[arg-type]
        assert caught.value.status_code == 504
        [record] = gw.records()
        assert record["outcome"] == "upstream_error" and record["error_code"] == "upstream_timeout"
    finally:
        gw.server.stop()


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"{not json", 400, "invalid_json"),
        (b"[1, 2]", 400, "invalid_json"),
        (b'{"model": "tele-lite"}', 400, "invalid_request"),
        (b'{"model": "tele-lite", "messages": [{"role": "wizard", "content": "x"}]}', 400, "invalid_request"),
        (b'{"model": "tele-lite", "messages": [{"role": "user", "content": "x"}], "max_tokens": -5}', 400, None),
        (b'{"model": "tele-lite", "messages": [{"role": "user", "content": "x"}], "n": 100000}', 400, None),
        (b'{"model": "no-such-model", "messages": [{"role": "user", "content": "x"}]}', 404, "model_not_found"),
        (b'{"model": "grid-fault-expert", "messages": [{"role": "user", "content": "x"}]}', 403, "model_not_allowed"),
        (b'{"model": "tele-embed", "messages": [{"role": "user", "content": "x"}]}', 400, "wrong_model_kind"),
        (b'{"model": "tele-lite", "messages": [{"role": "user", "content": "\xff\xfe"}]}', 400, "invalid_json"),
    ],
)
def test_bad_requests_get_a_clear_4xx_and_one_complete_record(
    gateway: Gateway, body: bytes, status: int, code: str | None
) -> None:
    response = httpx.post(
        gateway.url + "/v1/chat/completions",
        content=body,
        headers={"Authorization": "Bearer sk-demo-acme", "Content-Type": "application/json"},
    )
    assert response.status_code == status
    error = response.json()["error"]
    assert error["message"] and error["type"]
    if code:
        assert error["code"] == code
    [record] = gateway.records()
    assert record["status"] == status and record["outcome"] in ("invalid", "refused")
    assert record["input_tokens"] == record["output_tokens"] == 0


def test_body_over_the_limit_is_413_and_recorded(gateway: Gateway) -> None:
    big = orjson.dumps({"model": "tele-lite", "messages": [{"role": "user", "content": "x" * (17 * 1024 * 1024)}]})
    response = httpx.post(
        gateway.url + "/v1/chat/completions",
        content=big,
        headers={"Authorization": "Bearer sk-demo-acme", "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"
    [record] = gateway.records()
    assert record["status"] == 413


def test_bad_key_is_401_and_leaves_no_record(gateway: Gateway) -> None:
    with pytest.raises(openai.AuthenticationError):
        client(gateway, "sk-wrong").chat.completions.create(model="tele-lite", messages=MESSAGES)  # type: ignore[arg-type]
    response = httpx.post(gateway.url + "/v1/chat/completions", json={"model": "tele-lite"})
    assert response.status_code == 401 and response.json()["error"]["code"] == "missing_api_key"
    assert gateway.records() == []


def test_unknown_path_and_wrong_method_get_openai_errors(gateway: Gateway) -> None:
    assert httpx.get(gateway.url + "/v1/nothing").json()["error"]["code"] == "unknown_endpoint"
    response = httpx.get(gateway.url + "/v1/chat/completions")
    assert response.status_code == 405 and response.headers["allow"] == "POST"
