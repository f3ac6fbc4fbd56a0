"""A scripted scraping run mixed into normal traffic against a running gateway.

The scraper (a stolen key enumerating a catalogue) must be throttled within a bounded number
of requests; normal users must not be. The figures go to the test output and to
the artefacts folder (.artifacts/, or TOKENOPS_TEST_ARTIFACTS; bench/results/ holds the committed copy).
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest

from tests.conftest import ROOT, Gateway, demo_catalog, start_gateway

OPERATOR = {"Authorization": "Bearer adm-demo-operator"}
WORDS = [
    "grid",
    "transformer",
    "outage",
    "invoice",
    "budget",
    "forecast",
    "weld",
    "robot",
    "shift",
    "quality",
    "audit",
    "supplier",
    "pump",
    "valve",
    "sensor",
    "latency",
    "firmware",
    "report",
    "summary",
    "contract",
    "region",
    "tariff",
    "meter",
    "billing",
    "customer",
    "ticket",
    "voltage",
    "breaker",
    "maintenance",
    "schedule",
    "inventory",
    "pallet",
    "forklift",
    "conveyor",
    "safety",
    "incident",
    "root",
    "cause",
    "analysis",
    "compliance",
    "export",
    "import",
    "warehouse",
    "delivery",
    "route",
    "driver",
    "fleet",
    "battery",
    "charge",
    "solar",
    "wind",
    "turbine",
    "demand",
    "peak",
    "load",
    "curve",
    "outage",
    "restore",
    "crew",
    "dispatch",
    "weather",
    "storm",
    "flood",
    "alarm",
    "threshold",
    "trend",
]
ROUNDS = 40
MAX_DELAY = 30  # scraper requests before the first throttle


def normal_prompt(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 16))).capitalize() + "?"


def scraper_prompt(i: int) -> str:
    return f"Give the complete specification sheet for catalogue item PN-{40000 + i * 7}, every field, verbatim."


@pytest.fixture
def gw(tmp_path: Path) -> Iterator[Gateway]:
    catalog = demo_catalog()
    acme = next(t for t in catalog["tenants"] if t["id"] == "acme-manufacturing")
    acme["keys"].append({"id": "acme-laptop", "key": "sk-demo-acme-laptop"})
    gateway = start_gateway(catalog, tmp_path / "home")
    yield gateway
    gateway.server.stop()


def post(client: httpx.Client, key: str, prompt: str, **extra: Any) -> httpx.Response:
    body = {"model": "tele-lite", "messages": [{"role": "user", "content": prompt}], **extra}
    return client.post("/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"})


def test_scraper_is_throttled_quickly_and_normal_users_are_not(gw: Gateway) -> None:
    rng = random.Random(7)
    normal_keys = ["sk-demo-acme", "sk-demo-consumer", "sk-demo-gov"]
    first_throttle: int | None = None
    normal_sent = normal_refused = 0
    scraper_sent: list[float] = []
    started = time.monotonic()
    with httpx.Client(base_url=gw.url, timeout=30) as client:
        for i in range(ROUNDS):
            for key in normal_keys:
                status = post(client, key, normal_prompt(rng), user=f"user-{rng.randint(0, 99)}").status_code
                normal_sent += 1
                normal_refused += status != 200
            scraper_sent.append(time.time())
            reply = post(client, "sk-demo-acme-laptop", scraper_prompt(i), max_tokens=512)
            if reply.status_code == 429 and first_throttle is None:
                first_throttle = i + 1
                assert reply.json()["error"]["code"] == "rate_limit_extraction"
                assert int(reply.headers["retry-after"]) >= 1
        events = client.get("/admin/security/events", headers=OPERATOR).json()["events"]
    elapsed = time.monotonic() - started
    flagged_keys = {e["key"] for e in events}
    false_positive_rate = normal_refused / normal_sent
    first_event = min((e for e in events if e["key"] == "acme-laptop"), key=lambda e: e["id"], default=None)
    detected_after = first_event and sum(1 for t in scraper_sent if t * 1000 <= first_event["at_ms"])
    report = (
        "# Bulk-extraction detection (scripted run, embedded store)\n\n"
        f"- traffic: {ROUNDS} scraper requests (enumerated catalogue items) interleaved with "
        f"{normal_sent} requests from normal users on 3 tenants, {elapsed:.1f} s\n"
        f"- detection delay: first event after {detected_after} scraper requests "
        f"(detector `{first_event and first_event['detector']}`), first refusal (429 rate_limit_extraction) "
        f"at scraper request {first_throttle}\n"
        f"- false positives: {normal_refused} of {normal_sent} normal requests refused "
        f"(rate {false_positive_rate:.3f}); keys flagged: {sorted(flagged_keys)}\n"
    )
    print("\n" + report)
    (ROOT / "bench" / "results").mkdir(parents=True, exist_ok=True)
    artifacts = Path(os.environ.get("TOKENOPS_TEST_ARTIFACTS", ROOT / ".artifacts"))  # bench/results to refresh
    artifacts.mkdir(parents=True, exist_ok=True)
    (artifacts / "extraction-detection.md").write_text(report)
    assert first_throttle is not None and first_throttle <= MAX_DELAY
    assert flagged_keys == {"acme-laptop"}
    assert false_positive_rate == 0.0
    assert first_event is not None and first_event["action"] == "throttle"
    assert first_event["evidence"]["near_duplicate_share"] >= 0.6
    records = gw.records(key_id="acme-laptop")
    assert len(records) == ROUNDS  # every refusal leaves exactly one record
    assert {r["error_code"] for r in records if r["status"] == 429} == {"rate_limit_extraction"}


def test_one_key_from_many_addresses_is_flagged(gw: Gateway) -> None:
    with httpx.Client(base_url=gw.url, timeout=30) as client:
        for i in range(20):
            body = {"model": "tele-lite", "messages": [{"role": "user", "content": normal_prompt(random.Random(i))}]}
            headers = {"Authorization": "Bearer sk-demo-acme-laptop", "X-Forwarded-For": f"203.0.113.{i + 1}"}
            client.post("/v1/chat/completions", json=body, headers=headers)
        deadline = time.monotonic() + 2
        events: list[dict[str, Any]] = []
        while time.monotonic() < deadline and not events:
            events = client.get("/admin/security/events", headers=OPERATOR).json()["events"]
    [event] = events
    assert event["detector"] == "many_addresses" and event["key"] == "acme-laptop"
    assert event["evidence"]["addresses"] == 17


def test_suspend_policy_suspends_the_key_and_audits_it(tmp_path: Path) -> None:
    catalog = demo_catalog()
    catalog["policies"]["extraction"]["tenants"]["acme-manufacturing"] = "suspend"
    gw = start_gateway(catalog, tmp_path / "home")
    try:
        with httpx.Client(base_url=gw.url, timeout=30) as client:
            statuses = []
            for i in range(20):
                headers = {"Authorization": "Bearer sk-demo-acme", "X-Forwarded-For": f"198.51.100.{i + 1}"}
                body = {
                    "model": "tele-lite",
                    "messages": [{"role": "user", "content": normal_prompt(random.Random(i))}],
                }
                statuses.append(client.post("/v1/chat/completions", json=body, headers=headers).status_code)
            time.sleep(0.1)
            after = client.post("/v1/chat/completions", json=body, headers={"Authorization": "Bearer sk-demo-acme"})
            audit = client.get("/admin/audit", headers=OPERATOR).json()
    finally:
        gw.server.stop()
    assert statuses[:17] == [200] * 17
    assert after.status_code == 403 and after.json()["error"]["code"] == "key_suspended"
    [entry] = audit["entries"]
    assert entry["actor"] == "security:many_addresses" and entry["after"] == {"status": "suspended"}
