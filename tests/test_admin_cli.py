"""`tokenops keys ...` and `tokenops security events` through a running gateway's admin API."""

from __future__ import annotations

import argparse

import orjson
import pytest

from tests.conftest import Gateway
from tokenops.cli.admin import show
from tokenops.cli.main import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().out


def test_keys_lifecycle_from_the_cli(
    gateway: Gateway, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOKENOPS_ADMIN_TOKEN", "adm-demo-acme")
    made = ("keys", "create", "--url", gateway.url, "--id", "acme-manufacturing-cli", "--model", "tele-lite")
    code, out = run(capsys, *made)
    assert code == 0 and "sk-to-" in out
    code, out = run(capsys, "keys", "list", "--url", gateway.url, "--json")
    assert code == 0 and {k["id"] for k in orjson.loads(out)["keys"]} == {"acme-default", "acme-manufacturing-cli"}
    code, out = run(capsys, "keys", "rotate", "acme-manufacturing-cli", "--url", gateway.url)
    assert code == 0 and "sk-to-" in out
    code, out = run(capsys, "keys", "revoke", "acme-manufacturing-cli", "--url", gateway.url)
    assert code == 0 and "revoked" in out
    code, out = run(capsys, "security", "events", "--url", gateway.url, "--json")
    assert code == 0 and orjson.loads(out) == {"events": []}


def test_cli_reports_a_refusal_without_a_traceback(
    gateway: Gateway, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOKENOPS_ADMIN_TOKEN", "adm-demo-acme")
    assert main(["keys", "revoke", "ringback-default", "--url", gateway.url]) == 2
    assert "404" in capsys.readouterr().err
    monkeypatch.delenv("TOKENOPS_ADMIN_TOKEN")
    assert main(["keys", "list", "--url", gateway.url]) == 2


def test_tables_show_epoch_times_as_utc_dates(capsys: pytest.CaptureFixture[str]) -> None:
    args = argparse.Namespace(json=False)
    show(args, {}, [{"id": "e1", "at_ms": 1796389500000}], ["id", "at_ms"], "events")
    out = capsys.readouterr().out
    assert "at (UTC)" in out and "2026-12-04 13:05:00" in out and "1796389500000" not in out
