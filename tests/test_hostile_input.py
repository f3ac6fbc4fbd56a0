"""Hostile input against a running gateway: each a clear 4xx, never a 500, never a partial record."""

from __future__ import annotations

import asyncio
import gzip
import socket
import time
from typing import Any

import httpx2 as httpx
import pytest

from tests.conftest import Gateway
from tokenops.security.inbound import body_deadline

ACME = {"Authorization": "Bearer sk-demo-acme", "Content-Type": "application/json"}
URL = "/v1/chat/completions"


def post(gw: Gateway, content: bytes, headers: dict[str, str] = ACME, path: str = URL) -> httpx.Response:
    return httpx.post(gw.url + path, content=content, headers=headers, timeout=30)


def chat_body(**fields: Any) -> dict[str, Any]:
    return {"model": "tele-lite", "messages": [{"role": "user", "content": "hi"}], **fields}


CASES: list[tuple[str, bytes, dict[str, str], int]] = [
    ("invalid UTF-8", b'{"model": "tele-lite", "messages": [{"role": "user", "content": "\xff\xfe"}]}', ACME, 400),
    ("not JSON", b"model=tele-lite", ACME, 400),
    ("JSON array", b"[1, 2, 3]", ACME, 400),
    ("deep JSON", b'{"model": "tele-lite", "messages": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", ACME, 400),
    ("wrong content type", b"{}", {**ACME, "Content-Type": "text/plain"}, 415),
    ("form content type", b"a=1", {**ACME, "Content-Type": "application/x-www-form-urlencoded"}, 415),
    ("bad gzip", b"not gzip", {**ACME, "Content-Encoding": "gzip"}, 400),
    ("unknown encoding", b"{}", {**ACME, "Content-Encoding": "br"}, 415),
    ("gzip bomb", gzip.compress(b" " * (17 * 1024 * 1024)), {**ACME, "Content-Encoding": "gzip"}, 413),
]
FIELD_CASES: list[tuple[str, dict[str, Any]]] = [
    ("huge n", chat_body(n=1_000_000)),
    ("huge max_tokens", chat_body(max_tokens=10**12)),
    ("negative max_tokens", chat_body(max_tokens=-5)),
    ("negative n", chat_body(n=-1)),
    ("float n", chat_body(n=1.5)),
    ("string stream", chat_body(stream="yes")),
    ("bad role", chat_body(messages=[{"role": "root", "content": "x"}])),
    ("messages not a list", chat_body(messages="hi")),
    ("no model", {"messages": [{"role": "user", "content": "hi"}]}),
    ("numeric user", chat_body(user=12)),
]


def test_a_number_past_the_integer_range_is_told_the_range_not_its_type(gateway: Gateway) -> None:
    huge = b"1" + b"0" * 30
    content = b'{"model": "tele-lite", "max_tokens": ' + huge + b', "messages": [{"role": "user", "content": "hi"}]}'
    reply = post(gateway, content)
    assert reply.status_code == 400
    assert reply.json()["error"]["message"].startswith("'max_tokens' must be an integer between 1 and ")
    assert reply.json()["error"]["message"].endswith(", got 1e+30")


@pytest.mark.parametrize(("name", "content", "headers", "status"), CASES, ids=[c[0] for c in CASES])
def test_malformed_body_gets_a_clear_4xx_and_one_empty_record(
    gateway: Gateway, name: str, content: bytes, headers: dict[str, str], status: int
) -> None:
    reply = post(gateway, content, headers)
    assert reply.status_code == status, reply.text
    assert reply.json()["error"]["message"]
    [record] = gateway.records()
    assert record["status"] == status and record["input_tokens"] == record["output_tokens"] == 0


@pytest.mark.parametrize(("name", "body"), FIELD_CASES, ids=[c[0] for c in FIELD_CASES])
def test_out_of_range_fields_get_400(gateway: Gateway, name: str, body: dict[str, Any]) -> None:
    reply = httpx.post(gateway.url + URL, json=body, headers=ACME, timeout=30)
    assert reply.status_code == 400, reply.text
    [record] = gateway.records()
    assert record["status"] == 400 and record["output_tokens"] == 0


def test_unknown_fields_pass_through_on_the_client_api_but_not_on_the_admin_api(gateway: Gateway) -> None:
    assert httpx.post(gateway.url + URL, json=chat_body(vendor_extension={"x": 1}), headers=ACME).status_code == 200
    admin = {"Authorization": "Bearer adm-demo-operator"}
    reply = httpx.post(gateway.url + "/admin/keys", json={"tenant": "acme-manufacturing", "evil": 1}, headers=admin)
    assert reply.status_code == 400 and reply.json()["error"]["param"] == "evil"


def test_body_over_the_limit_is_refused_with_413(gateway: Gateway) -> None:
    reply = post(gateway, b'{"model": "' + b"x" * (17 * 1024 * 1024) + b'"}')
    assert reply.status_code == 413


def test_oversized_headers_get_431(gateway: Gateway) -> None:
    headers = {**ACME, **{f"x-junk-{i}": "y" * 1000 for i in range(80)}}
    reply = httpx.post(gateway.url + URL, json=chat_body(), headers=headers)
    assert reply.status_code == 431
    assert gateway.records() == []  # refused before the key was looked at


def test_a_client_that_stalls_mid_body_is_cut_off() -> None:
    async def scenario() -> None:
        messages = [{"type": "http.request", "body": b"{", "more_body": True}]

        async def receive() -> dict[str, Any]:
            if messages:
                return messages.pop()
            await asyncio.sleep(10)
            return {"type": "http.disconnect"}

        guarded = body_deadline(receive, chunk_s=0.05)
        assert (await guarded())["body"] == b"{"
        started = time.monotonic()
        with pytest.raises(Exception, match="too slowly") as caught:
            await guarded()
        assert getattr(caught.value, "status", None) == 408 and time.monotonic() - started < 1

    asyncio.run(scenario())


def test_a_request_cancelled_while_its_body_arrives_is_cancelled_not_timed_out() -> None:
    async def scenario() -> None:
        async def receive() -> dict[str, Any]:
            await asyncio.sleep(10)
            return {"type": "http.disconnect"}

        reading = asyncio.create_task(body_deadline(receive, chunk_s=5)())
        await asyncio.sleep(0.01)
        reading.cancel()
        with pytest.raises(asyncio.CancelledError):
            await reading

    asyncio.run(scenario())


def test_slow_body_over_a_real_socket_gets_408(gateway: Gateway, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("tokenops.security.inbound.CHUNK_TIMEOUT_S", 0.3)
    monkeypatch.setattr(body_deadline, "__defaults__", (0.3, 120.0))
    host, port = gateway.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sk-demo-acme\r\n"
            b'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"model"'
        )
        reply = sock.recv(4096)
    assert reply.startswith(b"HTTP/1.1 408")
    [record] = gateway.records()
    assert record["status"] == 408 and record["output_tokens"] == 0


WRONG_TYPES: list[tuple[str, str, dict[str, Any]]] = [
    ("chat role array", URL, chat_body(messages=[{"role": [], "content": "hi"}])),
    ("chat role object", URL, chat_body(messages=[{"role": {"x": 1}, "content": "hi"}])),
    ("chat tool_calls true", URL, chat_body(messages=[{"role": "assistant", "content": None, "tool_calls": True}])),
    (
        "chat tool call function true",
        URL,
        chat_body(messages=[{"role": "assistant", "tool_calls": [{"id": "c1", "type": "function", "function": True}]}]),
    ),
    ("chat tool call not an object", URL, chat_body(messages=[{"role": "assistant", "tool_calls": [7]}])),
    (
        "chat content part type array",
        URL,
        chat_body(messages=[{"role": "user", "content": [{"type": [], "text": "x"}]}]),
    ),
    ("chat content part not an object", URL, chat_body(messages=[{"role": "user", "content": [3]}])),
    ("chat tools entry not an object", URL, chat_body(tools=[1])),
    ("chat tool function not an object", URL, chat_body(tools=[{"type": "function", "function": True}])),
    ("chat max_tokens 10**30", URL, chat_body(max_tokens=10**30)),
    ("responses role array", "/v1/responses", {"model": "tele-lite", "input": [{"role": [], "content": "hi"}]}),
    (
        "responses content part type array",
        "/v1/responses",
        {"model": "tele-lite", "input": [{"role": "user", "content": [{"type": [], "text": "hi"}]}]},
    ),
    ("responses input item not an object", "/v1/responses", {"model": "tele-lite", "input": [5]}),
    ("responses item type array", "/v1/responses", {"model": "tele-lite", "input": [{"type": [], "content": "hi"}]}),
    (
        "messages role array",
        "/v1/messages",
        {"model": "tele-lite", "max_tokens": 10, "messages": [{"role": [], "content": "hi"}]},
    ),
    (
        "messages block type array",
        "/v1/messages",
        {"model": "tele-lite", "max_tokens": 10, "messages": [{"role": "user", "content": [{"type": []}]}]},
    ),
    (
        "messages block not an object",
        "/v1/messages",
        {"model": "tele-lite", "max_tokens": 10, "messages": [{"role": "user", "content": ["x"]}]},
    ),
]


@pytest.mark.parametrize(("name", "path", "body"), WRONG_TYPES, ids=[c[0] for c in WRONG_TYPES])
def test_wrong_types_in_nested_fields_get_400_and_one_record(
    gateway: Gateway, name: str, path: str, body: dict[str, Any]
) -> None:
    reply = httpx.post(gateway.url + path, json=body, headers=ACME, timeout=30)
    assert reply.status_code == 400, reply.text
    error = reply.json()["error"]
    assert error["message"]
    [record] = gateway.records()
    assert record["status"] == 400 and record["output_tokens"] == 0


@pytest.mark.parametrize("header", ["Authorization", "X-Api-Key"])
def test_a_credential_header_sent_twice_is_refused(gateway: Gateway, header: str) -> None:
    value = "Bearer sk-demo-acme" if header == "Authorization" else "sk-demo-acme"
    with socket.create_connection(("127.0.0.1", gateway.server.port), timeout=10) as sock:
        body = b'{"model": "tele-lite", "messages": [{"role": "user", "content": "hi"}]}'
        head = (
            f"POST {URL} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"{header}: {value}\r\n{header}: Bearer sk-demo-gov\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n"
        )
        sock.sendall(head.encode() + body)
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 400"), reply[:200]
    assert b"duplicate_header" in reply
    assert gateway.records() == []


def test_an_unexpected_failure_after_authentication_still_leaves_its_record(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*_: Any) -> None:
        raise RuntimeError("a bug in a step")

    monkeypatch.setattr(gateway.state, "compaction", broken)
    reply = httpx.post(gateway.url + URL, json=chat_body(), headers=ACME, timeout=30)
    assert reply.status_code == 500 and reply.json()["error"]["code"] == "internal_error"
    [record] = gateway.records()
    assert record["status"] == 500 and record["error_code"] == "internal_error" and record["output_tokens"] == 0
