"""Alerts reach a real webhook receiver on 127.0.0.1: signed, once per crossing, retried with backoff, and a
receiver that was down gets every alert afterwards, in order; the delivery log and replay through the admin
API; embedded, and scaled out with two replicas raising and delivering each alert once."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx2 as httpx
import orjson
import pytest

from tests.alert_support import Receiver
from tests.conftest import Gateway, demo_catalog, start_gateway
from tests.scaleout_support import REDIS_URL, Backend
from tokenops.alerts import Alert, AlertRules, Alerts, BalanceRule, alert_store_for, verify
from tokenops.catalog import Catalog
from tokenops.charging.accounts import Account
from tokenops.charging.ledger import Entry, charge_key
from tokenops.charging.postgres import ChargingPostgres
from tokenops.charging.queries import RecentSpend
from tokenops.charging.store import ChargingStore
from tokenops.cli.main import main
from tokenops.gateway.alerting import HOUR_MS, AlertWatch
from tokenops.store import SQLiteStore, UsageRecord
from tokenops.store.admin import SecurityEvent
from tokenops.store.backing import Backing
from tokenops.store.postgres import PostgresStore

SECRET = "noc-webhook-secret-0123456789"
OPERATOR = {"Authorization": "Bearer adm-demo-operator"}


def alert_catalog(url: str) -> dict[str, Any]:
    data = demo_catalog()
    data["alerts"] = {
        "allowlist": ["127.0.0.1/32"],
        "webhooks": [{"id": "noc", "url": url, "secret": SECRET}],
        "low_balance": {"tenants": {"ringback-app": {"below": "1000.00"}}},
    }
    data["budgets"] = [{"id": "acme-daily", "scope": "tenant", "tenant": "acme-manufacturing", "period": "day",
                        "tokens": 300, "mode": "soft"}]  # fmt: skip
    data["packages"].append({"id": "tiny", "tokens": 200, "models": ["tele-lite"], "valid_days": 1, "price": "0.01"})
    next(a for a in data["accounts"] if a["tenant"] == "ringback-app")["packages"] = [{"package": "tiny"}]
    return data


def quick(gw: Gateway) -> None:
    """Backoff and checks at test speed: retries after 0.1, 0.2, 0.4, 0.8 s (a minute's worth in a few seconds)."""
    gw.state.alerts.backoff_ms, gw.state.alerts.max_backoff_ms = 100, 800
    gw.state.watch.check_ms = 200


def chat(gw: Gateway, key: str, user: str | None = None) -> None:
    headers = {"Authorization": f"Bearer {key}", **({"X-End-User": user} if user else {})}
    body = {"model": "tele-lite", "max_tokens": 40, "messages": [{"role": "user", "content": "status?"}]}
    answer = httpx.post(gw.url + "/v1/chat/completions", json=body, headers=headers)
    assert answer.status_code == 200, answer.text


def kinds(alerts: list[dict[str, Any]]) -> list[str]:
    return [a["kind"] for a in alerts]


def wait_for(receiver: Receiver, want: set[tuple[str, Any]], timeout_s: float = 20) -> list[dict[str, Any]]:
    """The receiver's alerts once it has each (kind, threshold) wanted (or at the deadline)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if want <= {(a["kind"], a.get("threshold")) for a in receiver.alerts()}:
            break
        time.sleep(0.1)
    return receiver.alerts()


@pytest.fixture
def embedded(tmp_path: Path, receiver: Receiver) -> Iterator[list[Gateway]]:
    gw = start_gateway(alert_catalog(receiver.url), tmp_path / "home")
    quick(gw)
    yield [gw]
    gw.server.stop()


@pytest.fixture
def scaled(
    tmp_path: Path, receiver: Receiver, pg_database: str, pg_schema: str, redis_prefix: str
) -> Iterator[list[Gateway]]:
    backing = Backing(pg_database, REDIS_URL, pg_schema, redis_prefix)
    gateways = [start_gateway(alert_catalog(receiver.url), tmp_path / "home", backing=backing) for _ in range(2)]
    for gw in gateways:
        quick(gw)
    yield gateways
    for gw in gateways:
        gw.server.stop()


def test_alerts_are_signed_fire_once_per_crossing_and_reach_a_receiver_that_was_down_in_order(
    gateways: list[Gateway], receiver: Receiver
) -> None:
    first, last = gateways[0], gateways[-1]
    for i in range(12):  # acme's soft token budget crosses 80% and 100%; ringback's 200-token package too
        chat(first, "sk-demo-acme")  # soft budgets are counted per replica: one replica sees them all
        chat(gateways[i % len(gateways)], "sk-demo-consumer", f"user-{i}")
    record = UsageRecord("req_far_away", int(time.time() * 1000), "cn-gov-energy", "gov-default", "chat.completions",
                         "tele-lite", 200, "ok", deployment_id="lite-east-1", region="cn-east")  # fmt: skip
    first.server.call(_observe(first, record))  # a request served outside the bureau's residency (cn-north)
    want = {("low_balance", None), ("budget", 80), ("budget", 100), ("package_allowance", 80),
            ("package_allowance", 100), ("residency_violation", None)}  # fmt: skip
    before = wait_for(receiver, want)
    assert sorted((a["kind"], a.get("threshold")) for a in before if a["kind"] in ("budget", "package_allowance")) == [
        ("budget", 80), ("budget", 100), ("package_allowance", 80), ("package_allowance", 100)]  # fmt: skip
    for headers, body in receiver.received:
        assert verify(SECRET, headers, body) and not verify("another-secret-0123456789", headers, body)

    receiver.stop()  # down: alerts keep being raised, and wait
    topup = {"amount": "100.00"}
    reply = httpx.post(last.url + "/admin/accounts/ringback-app/topups", json=topup,
                       headers={**OPERATOR, "Idempotency-Key": "rearm-1"})  # fmt: skip
    assert reply.status_code in (200, 201)
    time.sleep(1.5)  # the balance is back over 1000.00: the low-balance alert re-arms
    rules = {"allowlist": ["127.0.0.1/32"], "low_balance": {"tenants": {"ringback-app": {"below": "1200.00"}}}}
    assert httpx.put(first.url + "/admin/alerts/settings", json=rules, headers=OPERATOR).status_code == 200
    store = first.state.guard.store
    assert store is not None
    for n in range(3):
        event = SecurityEvent(int(time.time() * 1000), "acme-manufacturing", "acme-default", "velocity", 0.9 + n / 100,
                              "throttle", {"tpm": 90_000 + n})  # fmt: skip
        first.server.call(store.add_event(event))
    time.sleep(3.0)  # several retries fail meanwhile
    receiver.start()
    stored = httpx.get(first.url + "/admin/alerts?limit=1000", headers=OPERATOR).json()["alerts"]
    after = receiver.wait(len(stored))
    assert [a["id"] for a in after] == sorted(a["id"] for a in stored)  # every alert, once, in order
    assert kinds(after).count("low_balance") == 2  # two crossings, however often the balance was looked at
    assert kinds(after).count("extraction") == 3
    log = httpx.get(first.url + "/admin/alerts/deliveries?webhook=noc&limit=1000", headers=OPERATOR).json()
    retried = [d for d in log["deliveries"] if d["attempts"] > 1]
    assert retried and all(d["status"] == "delivered" for d in log["deliveries"])

    again = httpx.post(first.url + "/admin/alerts/webhooks/noc/replay", headers=OPERATOR,
                       json={"from_alert": after[0]["id"], "to_alert": after[1]["id"]})  # fmt: skip
    assert again.json()["requeued"] == 2
    replayed = receiver.wait(len(stored) + 2)[len(stored):]
    assert [a["id"] for a in replayed] == [after[0]["id"], after[1]["id"]]
    assert int(receiver.received[-1][0]["x-tokenops-delivery-attempt"]) >= 2


async def _observe(gw: Gateway, record: UsageRecord) -> None:
    gw.state.watch.observe(record, None)


def test_webhooks_are_held_to_the_allowlist_and_each_tenant_sees_only_its_own(
    embedded: list[Gateway], receiver: Receiver, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    gw = embedded[0]
    inside = httpx.post(gw.url + "/admin/alerts/webhooks", headers=OPERATOR,
                        json={"url": "http://10.1.2.3/steal", "tenant": "ringback-app"})  # fmt: skip
    assert inside.status_code == 400 and inside.json()["error"]["code"] == "webhook_not_allowed"
    acme = {"Authorization": "Bearer adm-demo-acme"}
    made = httpx.post(gw.url + "/admin/alerts/webhooks", headers=acme,
                      json={"id": "acme-manufacturing-ops", "url": receiver.url, "kinds": ["budget"]})  # fmt: skip
    assert made.status_code == 201 and len(made.json()["secret"]) >= 32
    assert made.json()["webhook"]["tenant"] == "acme-manufacturing"
    foreign = httpx.post(gw.url + "/admin/alerts/webhooks", headers=acme,
                         json={"url": receiver.url, "tenant": "ringback-app"})  # fmt: skip
    assert foreign.status_code == 404
    listed = httpx.get(gw.url + "/admin/alerts/webhooks", headers=acme).json()["webhooks"]
    assert [h["id"] for h in listed] == ["acme-manufacturing-ops"] and "secret" not in listed[0]
    assert httpx.get(gw.url + "/admin/alerts/webhooks/noc/replay", headers=acme).status_code == 405
    assert httpx.post(gw.url + "/admin/alerts/webhooks/noc/replay", headers=acme,
                      json={"from_alert": 0}).status_code == 404  # fmt: skip
    seen = httpx.get(gw.url + "/admin/alerts", headers=acme).json()["alerts"]
    assert all(a["tenant"] == "acme-manufacturing" for a in seen)
    gone = httpx.delete(gw.url + "/admin/alerts/webhooks/acme-manufacturing-ops", headers=acme)
    assert gone.json()["webhook"]["active"] is False
    receiver.wait(1)  # the seeded low balance of ringback-app, on the dashboard too (not on acme's)
    shown = httpx.get(gw.url + "/dashboard/api/overview", headers=OPERATOR).json()["alerts"]
    assert "low_balance" in [a["kind"] for a in shown]
    assert httpx.get(gw.url + "/dashboard/api/overview", headers=acme).json()["alerts"] == []
    monkeypatch.setenv("TOKENOPS_ADMIN_TOKEN", "adm-demo-operator")
    url = ["--url", gw.url]
    assert main(["alerts", "add-webhook", receiver.url, "--id", "billing", "--kind", "low_balance", *url]) == 0
    assert len(capsys.readouterr().out.splitlines()[-1]) >= 32  # the secret, once
    assert main(["alerts", "list", "--tenant", "ringback-app", "--json", *url]) == 0
    [low] = orjson.loads(capsys.readouterr().out)["alerts"]
    assert main(["alerts", "replay", "noc", "--from-alert", str(low["id"]), *url]) == 0
    assert "queued again" in capsys.readouterr().out
    assert receiver.wait(2)[-1]["id"] == low["id"]
    assert main(["alerts", "deliveries", "--webhook", "noc", "--json", *url]) == 0
    [delivery] = orjson.loads(capsys.readouterr().out)["deliveries"]
    assert delivery["status"] == "delivered" and delivery["attempts"] == 2


async def test_an_alert_key_is_stored_once_and_a_mark_moves_only_from_what_it_holds(backend: Backend) -> None:
    store = backend.store()
    await store.open()
    try:
        alerts = alert_store_for(store)
        first = await alerts.emit(Alert(0, "low_balance:t:low:1", "low_balance", "t", 1, {"a": 1}), ["noc", "t-ops"])
        assert first is not None and first.seq > 0
        assert await alerts.emit(Alert(0, "low_balance:t:low:1", "low_balance", "t", 2, {}), ["noc"]) is None
        assert [(a.key, a.payload) for a in await alerts.alerts("t", 10)] == [("low_balance:t:low:1", {"a": 1})]
        assert sorted(d["webhook"] for d in await alerts.deliveries(None, "t", 10)) == ["noc", "t-ops"]
        assert len(await alerts.due("noc", 10)) == 1 and len(await alerts.due("t-ops", 10)) == 1
        assert await alerts.mark("m", None, "low:1", 10**12, 1)
        assert not await alerts.mark("m", None, "low:1", 10**12, 1)  # held: a second replica's claim fails
        assert not await alerts.mark("m", "ok:0", "low:1", 10**12, 1)
        assert await alerts.mark("m", "low:1", "ok:1", 10**12, 1)
        assert await alerts.get_mark("m", 1) == "ok:1"
        assert await alerts.mark("lease", None, "a", 100, 1) and not await alerts.mark("lease", None, "b", 200, 50)
        assert await alerts.mark("lease", None, "b", 300, 150)  # the first lease expired at 100
        await alerts.emit(Alert(0, "old-delivered", "budget", "t", 1, {}), ["noc"])
        [delivered] = [a for a, _, _ in await alerts.due("noc", 10) if a.key == "old-delivered"]
        await alerts.result("noc", delivered.seq, "delivered", 200, None, 5, 5)
        assert await alerts.prune(10) == 1  # the other old one still waits for a webhook: kept
        assert [a.key for a in await alerts.alerts("t", 10)] == ["low_balance:t:low:1"]
    finally:
        await store.close()


def _charge(request_id: str, units: int, at_ms: int) -> Entry:
    meta = {"tenant": "ringback-app", "key_id": "k", "session_id": None, "tokens": [10, 0, 0, 0, 5, 0]}
    return Entry("ringback-app", "charge", -units, charge_key(request_id), at_ms, request_id, meta)


def _runway_watch(alerts: Alerts, ledger: ChargingStore, account: Account) -> AlertWatch:
    """A watch over a real ledger and one prepaid account (the credit state the charging service would hold)."""
    credit = SimpleNamespace(accounts={account.id: account}, budgets=SimpleNamespace(alerts=[], specs=()))
    charging: Any = SimpleNamespace(credit=credit, store=ledger)
    watch = AlertWatch(alerts, charging, None, lambda: Catalog({}, {}, {}, {}, {}))
    watch.check_ms = 0
    return watch


async def test_a_short_runway_at_the_days_burn_fires_once_and_again_only_after_it_recovered(backend: Backend) -> None:
    store = backend.store()
    await store.open()
    try:
        ledger = backend.ledger(store)
        await ledger.open()
        now = [1_800_000_000_000]
        alerts = Alerts(alert_store_for(store), None, lambda: now[0])
        alerts.rules = AlertRules(tenants={"ringback-app": BalanceRule(runway_days=3)})
        account = Account("ringback-app", "prepaid", "CNY", 0, 100_000_000)  # 100.00 left
        watch = _runway_watch(alerts, ledger, account)
        await ledger.append([_charge("old", 500_000_000, now[0] - 25 * HOUR_MS)])  # before the day: not burn
        await ledger.append([_charge("r1", 10_000_000, now[0])])  # 10.00 in the first hour: 240.00 a day, 0.4 days
        await watch.tick()
        now[0] += 60_000
        await watch.tick()  # still short: no second alert
        [alert] = await alerts.store.alerts("ringback-app", 10)
        assert alert.kind == "runway" and alert.payload["runway_days"] == pytest.approx(0.42, abs=0.01)
        account.balance = 10_000_000_000  # topped up: 10,000.00 lasts 41 days
        now[0] += 60_000
        await watch.tick()
        account.balance = 50_000_000
        now[0] += 60_000
        await watch.tick()
        assert [a.kind for a in await alerts.store.alerts("ringback-app", 10)] == ["runway", "runway"]
    finally:
        await store.close()


async def test_the_runway_reads_the_ledger_in_batches_and_judges_nothing_while_it_does_not_answer(
    tmp_path: Path,
) -> None:
    store = SQLiteStore(tmp_path / "tokenops.db")
    await store.open()
    try:
        now = 1_800_000_000_000
        asked: list[int] = []
        down = [False]

        async def recent_spend(ids: list[str], day_ms: int, month_ms: int, burn_ms: int) -> dict[str, RecentSpend]:
            if down[0]:
                raise OSError("ledger away")
            asked.append(len(ids))
            assert day_ms == month_ms == burn_ms == now - 24 * HOUR_MS  # only the last day's range is read
            return {i: RecentSpend(burn_money=10_000_000, burn_since_ms=now) for i in ids}

        alerts = Alerts(alert_store_for(store), None, lambda: now)
        accounts = {f"t{i}": Account(f"t{i}", "prepaid", "CNY", 0, 100_000_000) for i in range(1200)}
        alerts.rules = AlertRules(tenants={a: BalanceRule(runway_days=3) for a in list(accounts)[:1100]})
        credit = SimpleNamespace(accounts=accounts, budgets=SimpleNamespace(alerts=[], specs=()))
        charging: Any = SimpleNamespace(credit=credit, store=SimpleNamespace(recent_spend=recent_spend))
        watch = AlertWatch(alerts, charging, None, lambda: Catalog({}, {}, {}, {}, {}))
        watch.check_ms = 0
        await watch.tick()
        assert asked == [500, 500, 100]  # the accounts with a runway rule only, 500 a query
        assert len(await alerts.store.alerts(None, 2000)) == 1100
        down[0] = True
        await watch.tick()  # not read as recovered: the marks stay low, nothing re-arms
        down[0] = False
        await watch.tick()
        assert len(await alerts.store.alerts(None, 2000)) == 1100
    finally:
        await store.close()


async def test_scaled_out_the_runway_is_the_burn_every_replica_charged_and_fires_once(
    pg_database: str, pg_schema: str
) -> None:
    """Two replicas each charge half the burn: either alone would see 0.83 days, the ledger says 0.42."""
    stores = [PostgresStore(pg_database, pg_schema, pool_size=2) for _ in range(2)]
    for store in stores:
        await store.open()
    try:
        now = 1_800_000_000_000
        watches, ledgers = [], []
        for store in stores:
            alerts = Alerts(alert_store_for(store), None, lambda: now)
            alerts.rules = AlertRules(tenants={"ringback-app": BalanceRule(runway_days=0.5)})
            ledgers.append(ChargingPostgres(store))
            account = Account("ringback-app", "prepaid", "CNY", 0, 100_000_000)  # 100.00 left, as both see it
            watches.append(_runway_watch(alerts, ledgers[-1], account))
        await ledgers[0].append([_charge("a1", 5_000_000, now - 30 * 60_000)])
        await ledgers[1].append([_charge("b1", 5_000_000, now - 10 * 60_000)])  # 10.00 in the hour: 240.00 a day
        for watch in watches:
            await watch.tick()
        [alert] = await watches[1].alerts.store.alerts("ringback-app", 10)  # once, whichever replica raised it
        assert alert.kind == "runway" and alert.payload["runway_days"] == pytest.approx(0.42, abs=0.01)
    finally:
        for store in stores:
            await store.close()
