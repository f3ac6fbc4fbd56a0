"""Vouchers through a running gateway: the operator issues, a tenant-admin redeems, `tokenops vouchers`, the audit,
and 10,000 guessed codes refused (per tenant and per address) and every one of them recorded."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import orjson
import pytest

from tests.charging_support import verify
from tests.conftest import Gateway, demo_catalog, start_gateway
from tests.test_admin_charging import ACME_ADMIN, admin
from tokenops.charging.vouchers import ALPHABET
from tokenops.cli.main import main
from tokenops.gateway.state import Settings

GUESSES = 10_000


@pytest.fixture
def behind_proxy(tmp_path: Path) -> Iterator[Gateway]:
    """A gateway that trusts 127.0.0.1 as its load balancer: X-Forwarded-For names the client's address."""
    gw = start_gateway(demo_catalog(), tmp_path / "home", Settings(trusted_proxies="127.0.0.1"))
    yield gw
    gw.server.stop()


def _issue(gw: Gateway, **body: object) -> dict[str, object]:
    made = admin(gw, "POST", "/admin/vouchers", json={"kind": "money", "amount": "50.00", "count": 2,
                                                      "expires": "2099-01-01", **body})  # fmt: skip
    assert made.status_code == 201, made.text
    data: dict[str, object] = made.json()
    return data


def test_an_operator_issues_a_tenant_admin_redeems_once_and_everything_is_audited(behind_proxy: Gateway) -> None:
    gw = behind_proxy
    assert admin(gw, "POST", "/admin/vouchers", token=ACME_ADMIN, json={"kind": "money", "amount": "1.00",
                 "count": 1, "expires": "2099-01-01"}).status_code == 403  # fmt: skip
    bad = admin(gw, "POST", "/admin/vouchers", json={"kind": "money", "amount": "1.00", "count": 0,
                                                     "expires": "2099-01-01"})  # fmt: skip
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "count"
    made = _issue(gw, tenant_kinds=["enterprise"], note="trade fair")
    codes = made["codes"]
    assert isinstance(codes, list) and len(codes) == 2 and codes[0].count("-") == 3
    first = admin(gw, "POST", "/admin/vouchers/redeem", token=ACME_ADMIN, json={"code": codes[0]})
    assert first.status_code == 201 and first.json()["entry"]["kind"] == "voucher"
    assert first.json()["account"]["balance"] == "4851.00"  # 5000.00 less the 199.00 package, plus 50.00
    again = admin(gw, "POST", "/admin/vouchers/redeem", token=ACME_ADMIN, json={"code": codes[0]})
    assert again.status_code == 200 and again.json()["replayed"] is True
    assert again.json()["account"]["balance"] == "4851.00"
    consumer = admin(gw, "POST", "/admin/vouchers/redeem", json={"code": codes[1], "tenant": "ringback-app"})
    assert consumer.status_code == 403 and consumer.json()["error"]["code"] == "voucher_not_eligible"
    assert admin(gw, "POST", "/admin/vouchers/redeem", token=ACME_ADMIN,
                 json={"code": codes[1], "tenant": "ringback-app"}).status_code == 404  # another tenant  # fmt: skip
    batch = made["batch"]
    assert isinstance(batch, dict)
    revoked = admin(gw, "POST", f"/admin/vouchers/{batch['id']}/revoke", json={})
    assert revoked.json()["revoked"] == 1
    late = admin(gw, "POST", "/admin/vouchers/redeem", token=ACME_ADMIN, json={"code": codes[1]})
    assert late.status_code == 409 and late.json()["error"]["code"] == "voucher_revoked"
    listed = admin(gw, "GET", f"/admin/vouchers/{batch['id']}").json()
    assert [v["status"] for v in listed["vouchers"]] == ["redeemed", "revoked"]
    assert not any(c.replace("-", "") in orjson.dumps(listed).decode() for c in codes)
    actions = [e["action"] for e in admin(gw, "GET", "/admin/audit").json()["entries"]]
    assert {"vouchers.create", "vouchers.redeem", "vouchers.revoke"} <= set(actions)
    gw.server.stop()
    assert verify(gw.home) == []


@pytest.mark.usefixtures("behind_proxy")
def test_cli_creates_lists_redeems_and_revokes(
    behind_proxy: Gateway, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    url = ["--url", behind_proxy.url]
    monkeypatch.setenv("TOKENOPS_ADMIN_TOKEN", "adm-demo-operator")
    out = tmp_path / "codes.txt"
    assert main(["vouchers", "create", "--kind", "tokens", "--package", "coding-50m", "--count", "3", "--expires",
                 "2099-01-01", "--out", str(out), *url]) == 0  # fmt: skip
    codes = out.read_text().split()
    assert len(codes) == 3 and out.stat().st_mode & 0o777 == 0o600
    assert main(["vouchers", "redeem", codes[0], "--tenant", "ringback-app", *url]) == 0
    assert "redeemed: voucher vb_" in capsys.readouterr().out
    monkeypatch.setenv("TOKENOPS_ADMIN_TOKEN", "adm-demo-acme")
    assert main(["vouchers", "redeem", codes[0], *url]) == 2
    assert "409" in capsys.readouterr().err
    monkeypatch.setenv("TOKENOPS_ADMIN_TOKEN", "adm-demo-operator")
    assert main(["vouchers", "list", "--json", *url]) == 0
    [batch] = orjson.loads(capsys.readouterr().out)["batches"]
    assert (batch["active"], batch["redeemed"]) == (2, 1)
    assert main(["vouchers", "revoke", batch["id"], "--code", codes[1], *url]) == 0
    assert "1 codes" in capsys.readouterr().out
    assert main(["vouchers", "attempts", "--json", *url]) == 0
    assert orjson.loads(capsys.readouterr().out)["counts"] == {"redeemed": 1, "used": 1}


async def _guess(gw: Gateway, n: int, addresses: list[str]) -> dict[int, int]:
    """`n` random codes redeemed as acme's tenant-admin, from these client addresses in turn; the statuses."""
    statuses: dict[int, int] = {}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=32)) as session:

        async def one(i: int) -> None:
            code = "".join(secrets.choice(ALPHABET) for _ in range(20))
            headers = {**ACME_ADMIN, "X-Forwarded-For": addresses[i % len(addresses)]}
            async with session.post(gw.url + "/admin/vouchers/redeem", json={"code": code}, headers=headers) as r:
                await r.read()
                statuses[r.status] = statuses.get(r.status, 0) + 1

        for start in range(0, n, 500):
            await asyncio.gather(*(one(i) for i in range(start, min(n, start + 500))))
    return statuses


def test_ten_thousand_guesses_are_refused_per_address_and_per_tenant_and_recorded(behind_proxy: Gateway) -> None:
    gw = behind_proxy
    codes = _issue(gw, tenants=["acme-manufacturing", "ringback-app"])["codes"]
    assert isinstance(codes, list)
    # one address: refused after its 10th code that does not exist
    assert asyncio.run(_guess(gw, 2_000, ["198.51.100.7"])) == {404: 10, 429: 1_990}
    # twenty more: the tenant is refused after its 100th, whichever address they came from
    others = [f"203.0.113.{i}" for i in range(1, 21)]
    assert asyncio.run(_guess(gw, GUESSES - 2_000, others)) == {404: 90, 429: GUESSES - 2_000 - 90}
    # the guessing tenant from a fresh address, even with a real code (which is not looked at)
    fresh = {"X-Forwarded-For": "198.51.100.99"}
    held = admin(gw, "POST", "/admin/vouchers/redeem", token=ACME_ADMIN, json={"code": codes[0]}, headers=fresh)
    assert held.status_code == 429 and held.json()["error"]["code"] == "rate_limit_voucher"
    assert held.headers["retry-after"] == "600"
    # another tenant from the guessing address is refused; from a fresh one, served
    from_there = {"X-Forwarded-For": "198.51.100.7"}
    assert admin(gw, "POST", "/admin/vouchers/redeem", json={"code": codes[0], "tenant": "ringback-app"},
                 headers=from_there).status_code == 429  # fmt: skip
    served = admin(gw, "POST", "/admin/vouchers/redeem", json={"code": codes[0], "tenant": "ringback-app"},
                   headers=fresh)  # fmt: skip
    assert served.status_code == 201
    seen = admin(gw, "GET", "/admin/vouchers/attempts").json()
    assert seen["counts"] == {"unknown": 100, "rate_limited": GUESSES - 100 + 2, "redeemed": 1}
    mine = admin(gw, "GET", "/admin/vouchers/attempts?tenant=acme-manufacturing&limit=10000", token=ACME_ADMIN).json()
    assert mine["counts"] == {"unknown": 100, "rate_limited": GUESSES - 100 + 1}
    assert len(mine["attempts"]) == 10_000 and {a["address"] for a in mine["attempts"]} == {
        "198.51.100.7", "198.51.100.99", *others}  # the newest 10,000 of its 10,001  # fmt: skip
    events = admin(gw, "GET", "/admin/security/events").json()["events"]
    guessing = [e for e in events if e["detector"] == "voucher_guessing"]
    assert sorted(by for e in guessing for by in e["evidence"]["by"]) == ["address", "tenant"]
    assert {e["tenant"] for e in guessing} == {"acme-manufacturing"}
