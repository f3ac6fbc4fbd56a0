"""Admin endpoints for money: accounts and their limits, top-ups, package grants, ledger entries, invoices.

Writes are the operator's; a tenant-admin reads its own tenant only (another's is a 404).
Top-ups and grants are idempotent by key (the `Idempotency-Key` header or the
`idempotency_key` field): the same key again answers 200 with the entry stored first; the
same key with a different body is a 409. Every change is audited with before and after.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable
from typing import Any

from tokenops.admin.http import Call, fields, text
from tokenops.asgi import send_bytes
from tokenops.charging.accounts import Account
from tokenops.charging.catalog import to_ms
from tokenops.charging.documents import account_doc, entry_doc, grant_doc, invoice_doc, rows_csv
from tokenops.charging.invoice import month_bounds
from tokenops.charging.invoicing import invoice_of
from tokenops.charging.ledger import Entry, FloorBreached, LedgerConflict
from tokenops.charging.money import format_amount, parse_amount
from tokenops.charging.service import ChargingService, operator_key
from tokenops.errors import BadRequest, ConfigError, Conflict, NotFound
from tokenops.store.admin import AuditDraft

_AMOUNT = re.compile(r"^-?\d{1,13}(\.\d{1,4})?$")  # bounded, so no amount can overflow a 64-bit column
_PERIOD = re.compile(r"^(19[7-9]\d|2\d{3})-(0[1-9]|1[0-2])$")


def checked_period(period: str) -> str:
    """A calendar month, YYYY-MM, or a 400 naming the period."""
    if not _PERIOD.match(period):
        raise BadRequest("the period must be a calendar month, YYYY-MM", param="period")
    return period


_KINDS = ("topup", "refund", "adjustment")


def money(data: dict[str, Any], name: str, currency: str) -> int:
    value = data.get(name)
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not _AMOUNT.match(value):
        raise BadRequest(f"{name!r} must be an amount in major units as a string, e.g. '100.00'", param=name)
    try:
        return parse_amount(value, currency, name)
    except ConfigError as exc:
        raise BadRequest(str(exc), param=name) from None


def account_of(call: Call, tenant_id: str) -> Account:
    """The tenant's account as this gateway holds it; another tenant's is a 404 for a tenant-admin."""
    call.actor.check_tenant(tenant_id)
    account = call.state.charging.credit.accounts.get(tenant_id)
    if account is None:
        raise NotFound(f"no account for tenant {tenant_id!r}", code="account_not_found")
    return account


async def audit(call: Call, action: str, target: str, tenant: str | None, before: Any, after: dict[str, Any]) -> None:
    """Record a change in the hash-chained audit log (its latest state is kept as the `charging` document)."""
    store = call.state.guard.store
    assert store is not None
    await store.put_doc("charging", target, after, AuditDraft(call.actor.id, action, target, tenant, before, after))


def starts_of(data: dict[str, Any]) -> int | None:
    """The optional `starts` field (an ISO date or time, UTC) in epoch ms, or a 400 naming it."""
    if data.get("starts") is None:
        return None
    try:
        starts = to_ms(text(data, "starts", limit=64), "starts")
    except ConfigError as exc:
        raise BadRequest(str(exc), param="starts") from None
    if not 0 <= starts < 2**47:
        raise BadRequest("'starts' is out of range", param="starts")
    return starts


def _idempotency_key(call: Call, data: dict[str, Any]) -> str:
    header = call.req.header(b"idempotency-key")
    body = data.get("idempotency_key")
    if header is not None and body is not None and header != body:
        raise BadRequest("the Idempotency-Key header and the idempotency_key field differ", param="idempotency_key")
    key = text({"k": header if header is not None else body}, "k", limit=200)
    if key is None:
        raise BadRequest(
            "an idempotency key is required (Idempotency-Key header or idempotency_key field), e.g. the payment id",
            param="idempotency_key",
            code="idempotency_key_required",
        )
    return key


async def _post(
    call: Call, action: str, account: Account, work: Awaitable[tuple[Entry, bool]], describe: dict[str, Any]
) -> tuple[int, dict[str, Any]]:
    before = account_doc(account, call.state.clock.now_ms())
    try:
        entry, new = await work
    except LedgerConflict:
        raise Conflict(
            "this idempotency key was already used for a different request; use a new key",
            code="idempotency_conflict",
            param="idempotency_key",
        ) from None
    except FloorBreached as exc:
        raise Conflict(str(exc), code="below_floor") from None
    after = account_doc(account, call.state.clock.now_ms())
    doc = {"entry": entry_doc(entry, account.currency), "account": after, "replayed": not new}
    if new:
        await audit(call, action, f"account:{account.id}", account.id, before, {**after, **describe})
    return (201 if new else 200), doc


async def list_accounts(call: Call) -> Any:
    scope = call.actor.scope(call.query.get("tenant"))
    at = call.state.clock.now_ms()
    accounts = call.state.charging.credit.accounts
    return {"accounts": [account_doc(accounts[t], at) for t in sorted(accounts) if scope is None or t == scope]}


async def get_account(call: Call) -> Any:
    return account_doc(account_of(call, call.params["tenant_id"]), call.state.clock.now_ms())


async def set_account(call: Call) -> Any:
    call.actor.require_operator()
    account = account_of(call, call.params["tenant_id"])
    data = await call.json()
    fields(data, {"limit"}, {"limit"})
    limit = money(data, "limit", account.currency)
    if limit < 0:
        raise BadRequest("'limit' must not be negative", param="limit")
    lowest = min([0, *_running(await call.state.charging.store.entries(account.id))])
    if lowest < -limit or account.balance - account.reserved < -limit:
        raise Conflict(
            f"the balance has been {format_amount(lowest, account.currency)}; a limit below that would put it "
            "under its floor",
            code="limit_below_balance",
        )
    before = account_doc(account, call.state.clock.now_ms())
    await call.state.charging.set_limit(account.id, limit)
    after = account_doc(account, call.state.clock.now_ms())
    await audit(call, "accounts.set_limit", f"account:{account.id}", account.id, before, after)
    return after


def _running(entries: list[Entry]) -> list[int]:
    balance, out = 0, []
    for e in entries:
        balance += e.amount
        out.append(balance)
    return out


async def topup(call: Call) -> Any:
    call.actor.require_operator()
    account = account_of(call, call.params["tenant_id"])
    data = await call.json()
    fields(data, {"amount", "kind", "note", "idempotency_key"}, {"amount"})
    kind = data.get("kind", "topup")
    if kind not in _KINDS:
        raise BadRequest(f"'kind' must be one of {', '.join(_KINDS)}", param="kind")
    amount = money(data, "amount", account.currency)
    if amount == 0 or (kind != "adjustment" and amount < 0):
        raise BadRequest("'amount' must be positive (only an adjustment may be negative)", param="amount")
    note = text(data, "note", limit=500) or ""
    key = _idempotency_key(call, data)
    service: ChargingService = call.state.charging
    entry = service.topup_entry(account.id, amount, operator_key(account.id, key), kind, note)
    return await _post(call, f"accounts.{kind}", account, service.post(entry), {"idempotency_key": key})


async def grant_package(call: Call) -> Any:
    call.actor.require_operator()
    account = account_of(call, call.params["tenant_id"])
    data = await call.json()
    fields(data, {"package", "starts", "idempotency_key"}, {"package"})
    package = text(data, "package", limit=64) or ""
    if package not in call.state.charging.config.packages:
        raise NotFound(f"no package {package!r}", code="package_not_found")
    starts = starts_of(data)
    key = _idempotency_key(call, data)
    work = call.state.charging.grant(account.id, package, operator_key(account.id, key), starts)
    return await _post(call, "accounts.package_grant", account, work, {"idempotency_key": key, "package": package})


async def list_grants(call: Call) -> Any:
    account = account_of(call, call.params["tenant_id"])
    at = call.state.clock.now_ms()
    grants = sorted(account.grants.values(), key=lambda g: (g.usable_until_ms, g.id))
    return {"tenant": account.id, "packages": [grant_doc(g, at) for g in grants]}


async def list_products(call: Call) -> Any:
    config = call.state.charging.config
    return {
        "packages": [
            {"id": p.id, "tokens": p.tokens, "models": list(p.models), "valid_days": p.valid_days,
             "rollover_days": p.rollover_days, "price": format_amount(p.price, config.currency),
             "currency": config.currency}
            for p in sorted(config.packages.values(), key=lambda p: p.id)
        ]
    }  # fmt: skip


async def list_entries(call: Call) -> Any:
    account = account_of(call, call.params["tenant_id"])
    limit = call.int_query("limit", 100, 1, 10_000) or 100
    since = call.int_query("since_ms", None)
    entries = await call.state.charging.store.entries(account.id, since)
    return {"tenant": account.id, "entries": [entry_doc(e, account.currency) for e in entries[-limit:]]}


async def invoice(call: Call) -> Any:
    tenant, period = call.params["tenant_id"], call.params["period"]
    account = account_of(call, tenant)
    checked_period(period)
    fmt = call.query.get("format", "json")
    if fmt not in ("json", "csv"):
        raise BadRequest("'format' must be json or csv", param="format")
    month_bounds(period)
    service = call.state.charging
    inv = await invoice_of(service.store, account.id, period, service.config.currency, service.config.tax_rate)
    doc = invoice_doc(inv)
    if fmt == "csv":
        await send_bytes(call.req, 200, rows_csv(doc["rows"], doc["total"]).encode(), b"text/csv; charset=utf-8")
        return None
    return doc
