"""The admin API for money against a running gateway: accounts, top-ups, packages, prices, budgets,
invoices and ledger verify; what a tenant-admin may not see or do; the audit of every change.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx2 as httpx
import orjson
import pytest

from tests.conftest import Gateway, demo_catalog, start_gateway
from tokenops.cli.main import main

OPERATOR = {"Authorization": "Bearer adm-demo-operator"}
ACME_ADMIN = {"Authorization": "Bearer adm-demo-acme"}
ACME = "acme-manufacturing"
OTHERS = ("cn-gov-energy", "ringback-app")


def admin(gw: Gateway, method: str, path: str, token: dict[str, str] = OPERATOR, **kw: Any) -> httpx.Response:
    return httpx.request(method, gw.url + path, headers={**token, **kw.pop("headers", {})}, timeout=10, **kw)


def chat(gw: Gateway, key: str, model: str = "tele-lite") -> httpx.Response:
    body = {"model": model, "messages": [{"role": "user", "content": "hello there"}], "max_tokens": 32}
    return httpx.post(gw.url + "/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"})


def this_month() -> str:
    return datetime.now(UTC).strftime("%Y-%m")


@pytest.fixture
def broke(tmp_path: Path) -> Iterator[Gateway]:
    """The demo gateway with the consumer app's prepaid balance at zero."""
    catalog = demo_catalog()
    next(a for a in catalog["accounts"] if a["tenant"] == "ringback-app")["balance"] = "0.00"
    gw = start_gateway(catalog, tmp_path / "home")
    yield gw
    gw.server.stop()


def test_top_up_is_recorded_once_per_idempotency_key_and_a_changed_replay_is_a_conflict(gateway: Gateway) -> None:
    path = "/admin/accounts/ringback-app/topups"
    first = admin(gateway, "POST", path, json={"amount": "25.00", "note": "pay-1"}, headers={"Idempotency-Key": "p1"})
    assert first.status_code == 201, first.text
    assert first.json()["account"]["balance"] == "1025.00" and first.json()["replayed"] is False
    again = admin(gateway, "POST", path, json={"amount": "25.00", "note": "pay-1", "idempotency_key": "p1"})
    assert again.status_code == 200 and again.json()["replayed"] is True
    assert again.json()["entry"] == first.json()["entry"] and again.json()["account"]["balance"] == "1025.00"
    changed = admin(gateway, "POST", path, json={"amount": "26.00", "idempotency_key": "p1"})
    assert changed.status_code == 409
    assert changed.json()["error"]["code"] == "idempotency_conflict"
    assert admin(gateway, "POST", path, json={"amount": "1.00"}).json()["error"]["code"] == "idempotency_key_required"
    for bad in ("1e9", "-5.00", "0", "1.001", 12.5):
        assert admin(gateway, "POST", path, json={"amount": bad, "idempotency_key": "p2"}).status_code == 400
    assert admin(gateway, "GET", "/admin/accounts/ringback-app").json()["balance"] == "1025.00"


def test_a_top_up_lets_an_empty_prepaid_account_be_served_at_once(broke: Gateway) -> None:
    refused = chat(broke, "sk-demo-consumer")
    assert refused.status_code == 402 and refused.json()["error"]["code"] == "insufficient_balance"
    made = admin(broke, "POST", "/admin/accounts/ringback-app/topups", json={"amount": "5.00", "idempotency_key": "k"})
    assert made.status_code == 201
    assert chat(broke, "sk-demo-consumer").status_code == 200
    kinds = [e["kind"] for e in admin(broke, "GET", "/admin/accounts/ringback-app/entries").json()["entries"]]
    assert kinds == ["topup", "charge"]  # a few tokens at 1 CNY per million: the charge rounds to 0.00


def test_package_grant_shows_its_remaining_tokens_and_a_retry_is_the_same_grant(gateway: Gateway) -> None:
    before = admin(gateway, "GET", f"/admin/accounts/{ACME}").json()
    body = {"package": "coding-50m", "idempotency_key": "order-7"}
    made = admin(gateway, "POST", f"/admin/accounts/{ACME}/packages", json=body)
    assert made.status_code == 201, made.text
    retry = admin(gateway, "POST", f"/admin/accounts/{ACME}/packages", json=body)
    assert retry.status_code == 200 and retry.json()["entry"] == made.json()["entry"]
    grants = admin(gateway, "GET", f"/admin/accounts/{ACME}/packages").json()["packages"]
    assert [g["remaining"] for g in grants if g["id"] == f"{ACME}:op:{ACME}:order-7"] == [50_000_000]
    after = admin(gateway, "GET", f"/admin/accounts/{ACME}").json()
    assert after["package_tokens_remaining"] == before["package_tokens_remaining"] + 50_000_000
    assert after["balance"] == f"{float(before['balance']) - 199:.2f}"
    assert admin(gateway, "GET", "/admin/packages").json()["packages"][0]["price"] == "199.00"
    missing = admin(
        gateway, "POST", f"/admin/accounts/{ACME}/packages", json={"package": "nope", "idempotency_key": "x"}
    )
    assert missing.status_code == 404


def test_invoice_through_the_api_equals_the_cli_reading_the_store(
    gateway: Gateway, capsys: pytest.CaptureFixture[str]
) -> None:
    for model in ("tele-lite", "tele-max", "tele-max"):
        assert chat(gateway, "sk-demo-acme", model).status_code == 200
    admin(gateway, "POST", f"/admin/accounts/{ACME}/packages", json={"package": "coding-50m", "idempotency_key": "o"})
    period = this_month()
    via_api = admin(gateway, "GET", f"/admin/accounts/{ACME}/invoices/{period}", ACME_ADMIN).json()
    assert main(["invoice", "--tenant", ACME, "--period", period, "--json", "--home", str(gateway.home)]) == 0
    assert orjson.loads(capsys.readouterr().out) == via_api
    assert sum(r["requests"] for r in via_api["rows"]) == 3 and via_api["total"] != "0.00"
    csv = admin(gateway, "GET", f"/admin/accounts/{ACME}/invoices/{period}", params={"format": "csv"})
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.text.splitlines()[-1].startswith("total,") and csv.text.rstrip().endswith(via_api["total"])
    assert admin(gateway, "GET", f"/admin/accounts/{ACME}/invoices/2026-13").status_code == 400


def test_tenant_admin_reads_its_own_money_only_and_changes_nothing(gateway: Gateway) -> None:
    def as_acme(method: str, path: str, **kw: Any) -> int:
        return admin(gateway, method, path, ACME_ADMIN, **kw).status_code

    assert as_acme("GET", f"/admin/accounts/{ACME}") == 200
    assert [a["tenant"] for a in admin(gateway, "GET", "/admin/accounts", ACME_ADMIN).json()["accounts"]] == [ACME]
    for other in (*OTHERS, "no-such-tenant"):
        for path in ("", "/packages", "/entries", f"/invoices/{this_month()}"):
            assert as_acme("GET", f"/admin/accounts/{other}{path}") == 404, (other, path)
        assert as_acme("GET", "/admin/accounts", params={"tenant": other}) == 404
        assert as_acme("GET", "/admin/budgets", params={"tenant": other}) == 404
    body = {"amount": "1.00", "idempotency_key": "sneaky"}
    for tenant in (ACME, *OTHERS):
        assert as_acme("POST", f"/admin/accounts/{tenant}/topups", json=body) == 403
        assert as_acme("POST", f"/admin/accounts/{tenant}/packages", json={"package": "coding-50m"}) == 403
        assert as_acme("PUT", f"/admin/accounts/{tenant}", json={"limit": "999.00"}) == 403
    assert as_acme("PUT", "/admin/budgets/mine", json={"scope": "tenant", "tenant": ACME, "tokens": 9}) == 403
    assert as_acme("POST", "/admin/prices", json={"id": "cheap", "models": {}}) == 403
    assert as_acme("GET", "/admin/prices") == 403
    assert as_acme("GET", "/admin/ledger/verify") == 403
    others_budget = {"scope": "tenant", "tenant": "ringback-app", "tokens": 10**9, "mode": "soft"}
    assert admin(gateway, "PUT", "/admin/budgets/ring", json=others_budget).status_code == 201
    assert admin(gateway, "GET", "/admin/budgets", ACME_ADMIN).json() == {"budgets": []}
    assert admin(gateway, "GET", "/admin/accounts/ringback-app").json()["balance"] == "1000.00"


def test_every_charging_change_is_audited_with_before_and_after(gateway: Gateway) -> None:
    admin(gateway, "POST", "/admin/accounts/ringback-app/topups", json={"amount": "7.00", "idempotency_key": "a"})
    admin(gateway, "POST", "/admin/accounts/ringback-app/topups", json={"amount": "7.00", "idempotency_key": "a"})
    admin(gateway, "PUT", "/admin/accounts/cn-gov-energy", json={"limit": "250000.00"})
    admin(gateway, "POST", f"/admin/accounts/{ACME}/packages", json={"package": "coding-50m", "idempotency_key": "b"})
    admin(gateway, "PUT", "/admin/budgets/acme-soft", json={"scope": "tenant", "tenant": ACME, "tokens": 10**9})
    admin(gateway, "POST", "/admin/prices", json={"id": "v-next", "effective": "2099-01-01T00:00:00Z", "models": {}})
    log = admin(gateway, "GET", "/admin/audit", params={"limit": 50}).json()
    assert log["chain_ok"] is True
    entries = {e["action"]: e for e in log["entries"] if e["actor"] == "demo-operator"}
    assert [e["action"] for e in log["entries"]].count("accounts.topup") == 1  # the replay changed nothing
    assert set(entries) >= {
        "accounts.topup",
        "accounts.set_limit",
        "accounts.package_grant",
        "budgets.set",
        "prices.add",
    }
    topup = entries["accounts.topup"]
    assert (topup["before"]["balance"], topup["after"]["balance"]) == ("1000.00", "1007.00")
    assert topup["tenant"] == "ringback-app" and topup["after"]["idempotency_key"] == "a"
    limit = entries["accounts.set_limit"]
    assert (limit["before"]["limit"], limit["after"]["limit"]) == ("200000.00", "250000.00")
    assert entries["budgets.set"]["before"] is None and entries["budgets.set"]["after"]["tokens"] == 10**9


def test_a_new_price_version_rates_requests_that_start_after_it(gateway: Gateway) -> None:
    assert chat(gateway, "sk-demo-consumer").status_code == 200
    prices = {"tele-lite": {"input": "3.00", "output": "6.00"}, "tele-embed": {"input": "0.50"}}
    made = admin(gateway, "POST", "/admin/prices", json={"id": "2030-surge", "models": prices})
    assert made.status_code == 201, made.text
    assert made.json()["sectors"]["retail"] == "0.90"  # carried over from the version before
    assert chat(gateway, "sk-demo-consumer").status_code == 200
    entries = admin(gateway, "GET", "/admin/accounts/ringback-app/entries").json()["entries"]
    assert [e["meta"]["version"] for e in entries if e["kind"] == "charge"] == ["2026-01", "2030-surge"]
    book = admin(gateway, "GET", "/admin/prices").json()["versions"]
    assert [v["id"] for v in book if v["in_force"]] == ["2030-surge"]
    again = admin(gateway, "POST", "/admin/prices", json={"id": "2030-surge", "models": prices})
    assert again.status_code == 409
    past = {"id": "rewrite-history", "effective": "2020-01-01T00:00:00Z", "models": prices}
    assert admin(gateway, "POST", "/admin/prices", json=past).status_code == 400
    huge = {"id": "huge", "models": {"tele-lite": {"input": "1e999999"}}}
    assert admin(gateway, "POST", "/admin/prices", json=huge).status_code == 400
    verified = admin(gateway, "GET", "/admin/ledger/verify").json()
    assert (verified["ok"], verified["problems"], verified["usage_records"]) == (True, [], 2)


def test_a_version_that_names_some_models_keeps_the_prices_of_the_others(gateway: Gateway) -> None:
    assert chat(gateway, "sk-demo-consumer").status_code == 200
    only_max = {"id": "2030-max-only", "models": {"tele-max": {"input": "40.00", "output": "80.00"}}}
    assert admin(gateway, "POST", "/admin/prices", json=only_max).status_code == 201
    assert chat(gateway, "sk-demo-consumer").status_code == 200  # tele-lite: not named, still priced
    assert admin(gateway, "POST", "/admin/prices", json={"id": "0", "models": {}}).status_code == 201
    assert chat(gateway, "sk-demo-consumer").status_code == 200
    charges = [e for e in admin(gateway, "GET", "/admin/accounts/ringback-app/entries").json()["entries"]
               if e["kind"] == "charge"]  # fmt: skip
    assert [e["meta"]["version"] for e in charges] == ["2026-01", "2030-max-only", "0"]
    verified = admin(gateway, "GET", "/admin/ledger/verify").json()
    assert verified["ok"], verified["problems"]


def test_a_hard_budget_set_through_the_api_refuses_requests_past_it(gateway: Gateway) -> None:
    body = {"scope": "tenant", "tenant": "ringback-app", "period": "day", "mode": "hard", "tokens": 10}
    made = admin(gateway, "PUT", "/admin/budgets/ring-daily", json=body)
    assert made.status_code == 201 and made.json()["tokens"] == 10
    refused = chat(gateway, "sk-demo-consumer")
    assert refused.status_code == 402 and refused.json()["error"]["code"] == "budget_exceeded"
    assert admin(gateway, "PUT", "/admin/budgets/ring-daily", json={**body, "tokens": 10**9}).status_code == 200
    assert chat(gateway, "sk-demo-consumer").status_code == 200
    listed = admin(gateway, "GET", "/admin/budgets").json()["budgets"]
    assert next(b["spent_this_period"] for b in listed if b["id"] == "ring-daily") > 0
    unknown = admin(gateway, "PUT", "/admin/budgets/x", json={**body, "tenant": "nobody"})
    assert unknown.status_code == 404


def test_a_limit_is_set_but_never_below_what_the_balance_already_used(gateway: Gateway) -> None:
    raised = admin(gateway, "PUT", "/admin/accounts/ringback-app", json={"limit": "100.00"})
    assert raised.status_code == 200 and raised.json()["available"] == "1100.00"
    debit = {"amount": "-1050.00", "kind": "adjustment", "idempotency_key": "fix"}
    assert admin(gateway, "POST", "/admin/accounts/ringback-app/topups", json=debit).status_code == 201
    lowered = admin(gateway, "PUT", "/admin/accounts/ringback-app", json={"limit": "0.00"})
    assert lowered.status_code == 409 and lowered.json()["error"]["code"] == "limit_below_balance"
    too_far = {"amount": "-100.00", "kind": "adjustment", "idempotency_key": "fix-2"}
    refused = admin(gateway, "POST", "/admin/accounts/ringback-app/topups", json=too_far)
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "below_floor"
    assert admin(gateway, "GET", "/admin/ledger/verify").json()["ok"] is True


def test_ledger_verify_over_the_api_checks_what_is_new_in_pages_and_refuses_a_full_run(gateway: Gateway) -> None:
    first = admin(gateway, "GET", "/admin/ledger/verify").json()
    assert first["ok"] and first["mode"] == "incremental" and first["complete"] and first["checkpoint"]
    for _ in range(2):
        assert chat(gateway, "sk-demo-consumer").status_code == 200
    page = admin(gateway, "GET", "/admin/ledger/verify", params={"limit": 1}).json()
    assert (page["ok"], page["complete"], page["checked"]["entries"]) == (True, False, 1)
    rest = admin(gateway, "GET", "/admin/ledger/verify").json()
    assert (rest["ok"], rest["complete"], rest["checked"]["entries"], rest["usage_records"]) == (True, True, 1, 1)
    assert rest["from"] == page["checkpoint"]
    full = admin(gateway, "GET", "/admin/ledger/verify", params={"full": "1"})
    assert full.status_code == 400 and "--full" in full.json()["error"]["message"]


def test_reconcile_over_the_api_pages_through_the_tenants(gateway: Gateway) -> None:
    assert chat(gateway, "sk-demo-consumer").status_code == 200
    pages = [admin(gateway, "GET", "/admin/reconcile", params={"limit": 3}).json()]
    while pages[-1]["next"]:
        pages.append(admin(gateway, "GET", "/admin/reconcile", params={"limit": 3, "after": pages[-1]["next"]}).json())
    assert len(pages) == 2 and all(p["ok"] for p in pages), pages
    whole = admin(gateway, "GET", "/admin/reconcile").json()
    assert whole["next"] is None and whole["tokens_served"] == sum(p["tokens_served"] for p in pages) > 0
