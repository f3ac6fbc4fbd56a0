"""The month-end invoice run as an operator runs it (`tokenops invoice --all`), timed, and a check that the
invoices it wrote add up to the period's charges in the ledger.

Used by `bench/scale/run.py` (accounts with no charges) and `bench/scale/verify.py` (a month of usage).
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
from bench.scale.startup import TOKENOPS

from tokenops.charging.invoice import month_bounds

# the period's charges, independently of the invoice code: by when their usage record says the request started
PERIOD_CHARGES = (
    "SELECT count(*), coalesce(sum(-l.amount_units), 0) FROM ledger_entries l "
    "JOIN usage_records u ON u.request_id = l.request_id "
    "WHERE l.kind = 'charge' AND u.created_ms >= ? AND u.created_ms < ?"
)


def invoice_run_s(home: Path, env: dict[str, str], period: str, out: Path) -> float:
    """`tokenops invoice --all --period P --out FILE` on the store `env` names (PostgreSQL) or `home`; seconds,
    the CLI's start included."""
    started = time.perf_counter()
    subprocess.run([TOKENOPS, "invoice", "--all", "--period", period,
                    *(["--home", str(home)] if "TOKENOPS_DATABASE_URL" not in env else []),
                    "--out", str(out)], env=env, check=True, capture_output=True)  # fmt: skip
    return time.perf_counter() - started


@dataclass
class InvoiceSums:
    """What the invoices of a run add up to: money in accounting units (millionths of the major unit)."""

    invoices: int = 0
    requests: int = 0  # of the usage lines
    usage_exact: int = 0  # the usage lines' exact amounts
    usage_billed: int = 0  # the same as billed (each account's running total rounded to the minor unit)
    plan_exact: int = 0  # plan fees and credits
    plan_billed: int = 0
    packages: int = 0  # package purchases (whole minor units already)
    carried: int = 0  # rounding carried in less carried out
    tax: int = 0
    total: int = 0


def _units(amount: str) -> int:
    return int(Decimal(amount).scaleb(6))


def invoice_sums(out: Path) -> InvoiceSums:
    sums = InvoiceSums()
    with out.open("rb") as lines:
        for line in lines:
            doc: dict[str, Any] = orjson.loads(line)
            sums.invoices += 1
            for row in doc["rows"]:
                if row["model"].startswith("plan "):
                    sums.plan_exact += _units(row["exact"])
                    sums.plan_billed += _units(row["amount"])
                elif row["model"].startswith("package "):
                    sums.packages += _units(row["amount"])
                else:
                    sums.requests += row["requests"]
                    sums.usage_exact += _units(row["exact"])
                    sums.usage_billed += _units(row["amount"])
            sums.carried += _units(doc["rounding_carried_in"]) - _units(doc["rounding_carried_out"])
            sums.tax += _units(doc["tax"])
            sums.total += _units(doc["total"])
            if _units(doc["subtotal"]) + _units(doc["tax"]) != _units(doc["total"]):
                raise AssertionError(f"{doc['tenant']}: subtotal and tax do not make the total")
    return sums


async def period_charges(store: Any, kind: str, period: str) -> tuple[int, int]:
    """How many charges the ledger holds for requests started in the period, and their sum (accounting units)."""
    since, until = month_bounds(period)
    if kind == "sqlite":
        rows: list[tuple[int, int]] = await store.run(lambda db: db.execute(PERIOD_CHARGES, (since, until)).fetchall())
        return int(rows[0][0]), int(rows[0][1])
    row = await store.pool.fetchrow(PERIOD_CHARGES.replace("?", "$1", 1).replace("?", "$2", 1), since, until)
    return int(row[0]), int(row[1])


def check(sums: InvoiceSums, accounts: int, charges: tuple[int, int], step: int) -> None:
    """Every account invoiced once; the usage lines hold exactly the period's charges (count and exact sum); what
    the usage and plan lines bill is exactly their exact sum plus the rounding carried in less the rounding carried
    out (each account's running total is rounded once, half up, so each carry is under half a minor unit); and the
    totals are those lines, the package purchases and the tax."""
    count, charged = charges
    assert sums.invoices == accounts, (sums.invoices, accounts)
    assert (sums.requests, sums.usage_exact) == (count, charged), (sums.requests, sums.usage_exact, count, charged)
    assert sums.usage_billed + sums.plan_billed == charged + sums.plan_exact + sums.carried, sums
    assert abs(sums.carried) <= sums.invoices * step, sums  # each invoice carries in and out under half a unit
    assert sums.total == sums.usage_billed + sums.plan_billed + sums.packages + sums.tax, sums
