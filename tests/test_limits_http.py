"""Rate limits against a running gateway: 429 with Retry-After and the limit's name, one record each."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest

from tests.conftest import Gateway, demo_catalog, start_gateway

CONSUMER = {"Authorization": "Bearer sk-demo-consumer"}
ACME = {"Authorization": "Bearer sk-demo-acme"}


def chat(gw: Gateway, headers: dict[str, str], **extra: Any) -> httpx.Response:
    body = {"model": "tele-lite", "messages": [{"role": "user", "content": "hello there"}], **extra}
    return httpx.post(gw.url + "/v1/chat/completions", json=body, headers=headers, timeout=30)


@pytest.fixture
def limited(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Gateway]:
    catalog = demo_catalog()
    catalog["limits"]["rules"] += request.param
    for dep in catalog["deployments"]:
        if dep["id"] == "max-north-1":
            dep["simulate"] = {"reply_tokens": 30, "tokens_per_s": 60}
    gw = start_gateway(catalog, tmp_path / "home")
    yield gw
    gw.server.stop()


def test_consumer_end_user_gets_20_requests_a_minute_then_429_with_retry_after(gateway: Gateway) -> None:
    assert all(chat(gateway, CONSUMER, user="alice").status_code == 200 for _ in range(20))
    refused = chat(gateway, CONSUMER, user="alice")
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limit_rpm"
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert chat(gateway, CONSUMER, user="bob").status_code == 200  # a new user sees one work
    assert chat(gateway, {**CONSUMER, "X-End-User": "carol"}).status_code == 200
    records = gateway.records(tenant_id="ringback-app")
    assert len(records) == 23
    [record] = [r for r in records if r["status"] == 429]
    assert record["error_code"] == "rate_limit_rpm" and record["end_user"] == "alice"
    assert record["input_tokens"] == record["output_tokens"] == 0 and record["outcome"] == "refused"


def test_enterprise_tenant_without_rules_is_not_limited(gateway: Gateway) -> None:
    assert all(chat(gateway, ACME, user="alice").status_code == 200 for _ in range(25))


@pytest.mark.parametrize("limited", [[{"tenant": "acme-manufacturing", "per": "key", "tpm": 600}]], indirect=True)
def test_tokens_per_minute_counts_the_metered_usage_and_refuses_past_it(limited: Gateway) -> None:
    statuses = [chat(limited, ACME).status_code for _ in range(40)]
    assert 200 in statuses and statuses[-1] == 429
    first_refusal = statuses.index(429)
    assert all(s == 429 for s in statuses[first_refusal:])
    served = limited.records(status=200)
    used = sum(r["input_tokens"] + r["output_tokens"] for r in served)
    assert 600 - 100 <= used <= 600 + 100  # estimated before, corrected after: never far past the limit
    refused = limited.records(status=429)
    assert {r["error_code"] for r in refused} == {"rate_limit_tpm"} and len(refused) == 40 - len(served)


@pytest.mark.parametrize(
    "limited", [[{"tenant": "acme-manufacturing", "model": "tele-max", "per": "key", "concurrency": 1}]], indirect=True
)
def test_concurrent_requests_past_the_limit_get_429_and_the_slot_comes_back(limited: Gateway) -> None:
    started = threading.Event()
    statuses: list[int] = []

    def stream() -> None:
        body = {"model": "tele-max", "messages": [{"role": "user", "content": "long"}], "stream": True}
        with httpx.stream("POST", limited.url + "/v1/chat/completions", json=body, headers=ACME, timeout=30) as r:
            statuses.append(r.status_code)
            started.set()
            for _ in r.iter_lines():
                pass

    thread = threading.Thread(target=stream)
    thread.start()
    assert started.wait(10)
    busy = chat(limited, ACME, model="tele-max")
    assert busy.status_code == 429 and busy.json()["error"]["code"] == "concurrency_limit"
    assert "retry-after" in busy.headers
    assert chat(limited, ACME).status_code == 200  # the rule covers tele-max only
    thread.join(30)
    assert statuses == [200]
    assert chat(limited, ACME, model="tele-max").status_code == 200
