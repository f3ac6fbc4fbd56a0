"""Accounts, package grants, ledger entries and invoices as JSON documents and CSV.

The admin API answers with these and the CLI prints them, so what an operator reads is
the same whether it came through a gateway or straight from the store. Money is shown
as a decimal string in major units of the account's currency, never as a float.
"""

from __future__ import annotations

import csv
import io
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from tokenops.charging.accounts import Account
from tokenops.charging.invoice import Invoice
from tokenops.charging.ledger import Entry
from tokenops.charging.money import format_amount, format_exact, format_minor, minor_step
from tokenops.charging.packages import Grant
from tokenops.charging.verify import Problem


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat().replace("+00:00", "Z")


def grant_doc(grant: Grant, at_ms: int) -> dict[str, Any]:
    return {
        "id": grant.id,
        "package": grant.package_id,
        "models": list(grant.models),
        "tokens": grant.total,
        "used": grant.used,
        "remaining": grant.remaining,
        "starts": iso(grant.starts_ms),
        "expires": iso(grant.expires_ms),
        "usable_until": iso(grant.usable_until_ms),
        "active": grant.starts_ms <= at_ms < grant.usable_until_ms,
    }


def account_doc(account: Account, at_ms: int) -> dict[str, Any]:
    money = account.currency
    grants = sorted(account.grants.values(), key=lambda g: (g.usable_until_ms, g.id))
    return {
        "tenant": account.id,
        "type": account.type,
        "currency": money,
        "balance": format_amount(account.balance, money),
        "balance_exact": format_exact(account.balance),
        "limit": format_amount(account.limit, money),
        "reserved": format_amount(account.reserved, money),
        "available": format_amount(account.headroom, money),
        "package_tokens_remaining": sum(g.remaining for g in grants if at_ms < g.usable_until_ms),
        "packages": [grant_doc(g, at_ms) for g in grants],
    }


def entry_doc(entry: Entry, currency: str) -> dict[str, Any]:
    return {
        "seq": entry.seq,
        "kind": entry.kind,
        "amount": format_amount(entry.amount, currency),
        "amount_exact": format_exact(entry.amount),
        "idempotency_key": entry.idem_key,
        "created": iso(entry.created_ms),
        "request_id": entry.request_id,
        "meta": entry.meta,
        "hash": entry.hash,
    }


def invoice_doc(inv: Invoice) -> dict[str, Any]:
    """The invoice as `tokenops invoice --json` prints it: its lines as rows, then the totals."""
    money = inv.currency
    blank = {"requests": 0, "input_tokens": 0, "cached_tokens": 0, "output_tokens": 0, "reasoning_tokens": 0,
             "cache_write_tokens": 0, "package_tokens": 0, "plan_tokens": 0}  # fmt: skip
    rows = [{"model": f"plan {p.plan} {p.kind}", "version": f"{p.subscription} {inv.period} x {p.share}", **blank,
             "exact": format_exact(p.exact), "amount": format_minor(p.amount, money)} for p in inv.plans]  # fmt: skip
    rows += [{**asdict(line), "exact": format_exact(line.exact), "amount": format_minor(line.amount, money)}
             for line in inv.lines]  # fmt: skip
    for p in inv.packages:
        rows.append({"model": f"package {p['package']}", "version": p["grant"], **blank, "package_tokens": p["tokens"],
                     "exact": format_exact(p["amount"] * minor_step(money)),
                     "amount": format_minor(p["amount"], money)})  # fmt: skip
    return {
        "tenant": inv.tenant,
        "period": inv.period,
        "currency": money,
        "subtotal": format_minor(inv.subtotal, money),
        "tax_rate": str(inv.tax_rate),
        "tax": format_minor(inv.tax, money),
        "total": format_minor(inv.total, money),
        "rounding_carried_in": format_exact(inv.carried_in),
        "rounding_carried_out": format_exact(inv.carried_out),
        "allowances": inv.allowances,
        "rows": rows,
    }


def rows_csv(rows: list[dict[str, Any]], total: str | None = None) -> str:
    """Rows as CSV, with a last `total` row when one is given."""
    out = io.StringIO()
    names = list(rows[0]) if rows else ["model", "amount"]
    writer = csv.DictWriter(out, fieldnames=names, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    if total is not None:
        writer.writerow({names[0]: "total", "amount": total})
    return out.getvalue()


def problem_doc(problem: Problem) -> dict[str, str]:
    return {"check": problem.check, "subject": problem.subject, "detail": problem.detail}
