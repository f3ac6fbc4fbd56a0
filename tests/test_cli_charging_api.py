"""The charging CLI through a running gateway's admin API: top-ups, packages, accounts, prices,
budgets, tenants, invoices, helpful errors and shell completion.
"""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from tests.conftest import Gateway
from tokenops.cli.main import main

ACME = "acme-manufacturing"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def operator(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOKENOPS_ADMIN_TOKEN", "adm-demo-operator")


@pytest.mark.usefixtures("operator")
def test_cli_top_up_goes_through_the_api_once_per_key(gateway: Gateway, capsys: pytest.CaptureFixture[str]) -> None:
    url = ["--url", gateway.url]
    code, out, _ = run(capsys, "topup", "ringback-app", "50.00", "--key", "pay-9", *url)
    assert code == 0 and out.splitlines() == [
        "recorded",
        "ringback-app: balance 1050.00 CNY, available 1050.00, package tokens 0",
    ]
    code, out, _ = run(capsys, "topup", "ringback-app", "50.00", "--key", "pay-9", *url, "--json")
    assert code == 0 and orjson.loads(out)["replayed"] is True
    code, _, err = run(capsys, "topup", "ringback-app", "60.00", "--key", "pay-9", *url)
    assert code == 2 and "409" in err and "hint:" in err and "idempotency key" in err
    log = gateway.server.call(gateway.state.guard.store.audit_entries(None, 1000))
    assert [e.action for e in log].count("accounts.topup") == 1


@pytest.mark.usefixtures("operator")
def test_cli_package_grant_and_listing(gateway: Gateway, capsys: pytest.CaptureFixture[str]) -> None:
    url = ["--url", gateway.url]
    code, out, _ = run(capsys, "package", "grant", ACME, "coding-50m", "--key", "order-1", *url)
    assert code == 0 and out.startswith("granted\n")
    code, out, _ = run(capsys, "packages", "list", "--tenant", ACME, *url, "--json")
    grants = orjson.loads(out)["packages"]
    assert len(grants) == 2 and all(g["remaining"] == 50_000_000 for g in grants)
    code, out, _ = run(capsys, "packages", "list", *url)
    assert code == 0 and "coding-50m" in out and "199.00" in out
    code, out, _ = run(capsys, "accounts", "show", ACME, *url)
    assert code == 0 and "100,000,000" in out and "Packages" in out


@pytest.mark.usefixtures("operator")
def test_cli_sets_limits_prices_and_budgets(gateway: Gateway, capsys: pytest.CaptureFixture[str]) -> None:
    url = ["--url", gateway.url]
    code, out, _ = run(capsys, "accounts", "set-limit", "ringback-app", "100.00", *url)
    assert code == 0 and "limit 100.00 CNY (available 1100.00)" in out
    code, out, _ = run(capsys, "prices", "add", "--id", "2099-01", "--effective", "2099-01-01",
                       "--model", "tele-lite=1.10/2.20/0.30", *url)  # fmt: skip
    assert code == 0 and "2099-01 added" in out
    code, out, _ = run(capsys, "prices", "list", *url, "--json")
    assert [v["id"] for v in orjson.loads(out)["versions"]] == ["2026-01", "2099-01"]
    code, out, _ = run(capsys, "budgets", "set", "acme-month", "--scope", "tenant", "--tenant", ACME,
                       "--amount", "800.00", "--mode", "soft", *url)  # fmt: skip
    assert code == 0 and "soft 800.00 per month" in out
    code, out, _ = run(capsys, "budgets", "list", *url, "--json")
    assert [b["id"] for b in orjson.loads(out)["budgets"]] == ["acme-month", "gov-batch-session"]
    code, out, _ = run(capsys, "accounts", "list", *url, "--json")
    assert {a["tenant"] for a in orjson.loads(out)["accounts"]} == {ACME, "cn-gov-energy", "ringback-app", "nova-tutor"}


def test_cli_tenant_admin_sees_its_tenant_and_is_told_why_it_cannot_change_money(
    gateway: Gateway, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOKENOPS_ADMIN_TOKEN", "adm-demo-acme")
    url = ["--url", gateway.url]
    code, out, _ = run(capsys, "tenants", "list", *url, "--json")
    assert code == 0 and [t["id"] for t in orjson.loads(out)["tenants"]] == [ACME]
    code, out, _ = run(capsys, "tenants", "show", ACME, *url)
    assert code == 0 and "manufacturing" in out
    code, _, err = run(capsys, "tenants", "show", "cn-gov-energy", *url)
    assert code == 2 and "404" in err and "not one this admin token may see" in err
    code, _, err = run(capsys, "topup", ACME, "10.00", "--key", "self-service", *url)
    assert code == 2 and "403" in err and "operator token" in err
    code, _, err = run(capsys, "accounts", "show", "ringback-app", *url)
    assert code == 2 and "404" in err
    monkeypatch.setenv("TOKENOPS_ADMIN_TOKEN", "adm-wrong")
    code, _, err = run(capsys, "accounts", "list", *url)
    assert code == 2 and "401" in err and "TOKENOPS_ADMIN_TOKEN" in err


@pytest.mark.usefixtures("operator")
def test_cli_invoice_and_ledger_verify_agree_through_the_api_and_the_store(
    gateway: Gateway, capsys: pytest.CaptureFixture[str]
) -> None:
    period = datetime.now(UTC).strftime("%Y-%m")
    run(capsys, "package", "grant", ACME, "coding-50m", "--key", "o-1", "--url", gateway.url)
    invoice = ["invoice", "--tenant", ACME, "--period", period, "--json"]
    _, via_api, _ = run(capsys, *invoice, "--url", gateway.url)
    _, via_store, _ = run(capsys, *invoice, "--home", str(gateway.home))
    assert orjson.loads(via_api) == orjson.loads(via_store)
    assert orjson.loads(via_api)["subtotal"] == "398.00"  # the grant seeded this month and this one
    code, out, _ = run(capsys, "invoice", "--tenant", ACME, "--period", period, "--csv", "--url", gateway.url)
    assert code == 0 and out.splitlines()[-1].startswith("total,")
    # the first run checks everything from the start, as a full one does; the next only what is new since
    checked = [orjson.loads(run(capsys, "ledger", "verify", "--json", *where)[1])["checked"]
               for where in (["--url", gateway.url], ["--home", str(gateway.home), "--full"])]  # fmt: skip
    # an incremental run counts the chains it continued: the account with no entry yet has none
    assert checked[0].pop("accounts") == 3 and checked[1].pop("accounts") == 4
    assert checked[0] == checked[1] and checked[0]["entries"] >= 4
    home = str(gateway.home)
    for where, said in ((["--home", home, "--full"], "ledger entries in 4 hash chains"),
                        (["--home", home], "0 ledger entries in 0 hash chains"),
                        (["--url", gateway.url], "0 ledger entries in 0 hash chains")):  # fmt: skip
        code, out, _ = run(capsys, "ledger", "verify", *where)
        assert code == 0 and out.strip().endswith("ledger verify: ok"), where
        assert said in out, out  # says what it checked
    code, out, _ = run(capsys, "ledger", "entries", ACME, "--url", gateway.url, "--json")
    assert [e["kind"] for e in orjson.loads(out)["entries"]] == ["topup", "package_grant", "package_grant"]


@pytest.mark.usefixtures("operator")
def test_cli_explains_an_unreachable_gateway(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "accounts", "list", "--url", "http://127.0.0.1:9")
    assert code == 2 and "cannot reach the gateway" in err and "tokenops serve" in err


@pytest.mark.parametrize("shell", ["bash", "zsh"])
def test_completion_script_covers_the_commands(shell: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "completion", shell)
    assert code == 0 and "tokenops" in out
    for word in ("topup", "accounts", "set-limit", "budgets", "invoice", "--key", "--url"):
        assert word in out
