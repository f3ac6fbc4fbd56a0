"""Connection hygiene of the served process: no client keeps a connection it does not use."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest
import yaml

from tests.conftest import demo_catalog
from tests.test_process import serve_process

STALLS = {
    "silent": b"",
    "half a request line": b"POST /v1/chat/comp",
    "headers without the blank line": b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n",
    "a body that stops": b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sk-demo-acme\r\n"
    b'Content-Type: application/json\r\nContent-Length: 400\r\n\r\n{"mo',
}


@pytest.fixture
def served(tmp_path: Path) -> Iterator[int]:
    config = tmp_path / "catalog.yaml"
    catalog = demo_catalog()
    for deployment in catalog["deployments"]:
        deployment["simulate"] = {"ttft_ms": 0, "tokens_per_s": 15}  # streams outlast the read timeouts
    config.write_text(yaml.safe_dump(catalog))
    limits = {"TOKENOPS_HEADER_TIMEOUT_S": "1", "TOKENOPS_BODY_IDLE_S": "1", "TOKENOPS_CONNECTIONS_PER_ADDRESS": "8"}
    env = dict(os.environ, **limits)
    proc, port = serve_process(["--config", str(config), "--home", str(tmp_path / "home")], env)
    yield port
    proc.kill()
    proc.communicate()


def _stall(port: int, opening: bytes) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    if opening:
        sock.sendall(opening)
    return sock


def _closed_within(sock: socket.socket, seconds: float) -> bytes | None:
    """What the server sent before closing, or None if the connection was still open after `seconds`."""
    sock.settimeout(seconds)
    got = b""
    try:
        while chunk := sock.recv(4096):
            got += chunk
    except TimeoutError:
        return None
    except ConnectionResetError:
        return got  # closed before it read what was sent
    finally:
        sock.close()
    return got


def test_connections_that_never_finish_a_request_are_closed(served: int) -> None:
    socks = {name: _stall(served, opening) for name, opening in STALLS.items()}
    for name, sock in socks.items():
        reply = _closed_within(sock, 8)
        assert reply is not None, f"{name}: still open"
        if name != "silent":
            assert reply.startswith(b"HTTP/1.1 408"), (name, reply)


def test_one_address_cannot_hold_every_descriptor(served: int) -> None:
    held = [_stall(served, b"") for _ in range(8)]
    time.sleep(0.2)
    assert _closed_within(_stall(served, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"), 3) == b""  # over the cap
    for sock in held:
        sock.close()
    time.sleep(0.2)
    assert httpx.get(f"http://127.0.0.1:{served}/healthz").status_code == 200


def test_a_long_stream_is_not_cut_by_the_read_timeouts(served: int) -> None:
    body = {"model": "tele-lite", "stream": True, "max_tokens": 400,
            "messages": [{"role": "user", "content": "describe the outage " * 5}]}  # fmt: skip
    started = time.monotonic()
    with httpx.stream("POST", f"http://127.0.0.1:{served}/v1/chat/completions", json=body, timeout=30,
                      headers={"Authorization": "Bearer sk-demo-acme"}) as reply:  # fmt: skip
        text = b"".join(reply.iter_bytes())
    assert reply.status_code == 200 and text.rstrip().endswith(b"data: [DONE]")
    assert time.monotonic() - started > 2, "the stream must outlast the 1 s read timeouts to show anything"


def test_a_request_pipelined_behind_a_post_is_answered_in_order(served: int) -> None:
    body = b'{"model": "tele-lite", "messages": [{"role": "user", "content": "hi"}]}'
    post = (b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sk-demo-acme\r\n"
            b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))  # fmt: skip
    sock = _stall(served, post + b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    replies = _closed_within(sock, 20) or b""
    first, second = replies.index(b"chat.completion"), replies.index(b'{"status":"ok"}')
    assert replies.count(b"HTTP/1.1 200 OK") == 2 and first < second
