"""Plans as the ledger shows them: the terms each subscription was sold on, each allowance's total and draws,
and the checks `ledger verify` runs on them.

Everything here reads ledger entries only (the tables are a cache of them), so a report or a
verification from a copy of the ledger needs nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from tokenops.charging.allowance import group_of_grant
from tokenops.charging.ledger import Entry
from tokenops.charging.plans import PlanTerms, fraction_of, plan_of_doc, prorated, share
from tokenops.charging.prices import PriceBook, Rates
from tokenops.periods import month_bounds

PLAN_KINDS = ("plan_fee", "plan_credit", "plan_rollover")


@dataclass(slots=True)
class AllowanceState:
    subscription: str
    plan: str
    period: str
    models: list[str]
    granted: int  # when the month's fee was written
    total: int  # after rollovers and an end
    used: int = 0
    rolled_in: int = 0
    rolled_out: int = 0


def terms_by_subscription(entries: list[Entry], currency: str) -> dict[str, PlanTerms]:
    """The terms each subscription was sold on, from its fee entries."""
    out: dict[str, PlanTerms] = {}
    for e in entries:
        sub = e.meta.get("subscription") if e.kind == "plan_fee" else None
        if sub is not None and sub not in out:
            out[sub] = plan_of_doc(e.meta["plan"], currency, f"subscription {sub}")
    return out


def covered(meta: dict[str, Any]) -> int:
    """The tokens of a charge that a plan's allowance or a package paid for."""
    return int(sum((meta.get("packages") or {}).values()) + sum((meta.get("plan") or {}).values()))


def charge_rates(
    book: PriceBook, terms: dict[str, PlanTerms], sector: str, tenant: str, model: str, at_ms: int,
    meta: dict[str, Any] | None, currency: str,
) -> Rates | None:  # fmt: skip
    """The rates a charge is re-rated at: its plan's overage price where it was rated so, else the price book's."""
    sub = (meta or {}).get("plan_rates")
    plan = terms.get(sub) if sub else None
    if plan is not None:
        group = plan.group_of(model)
        return plan.overage_rates(group, currency) if group is not None else None
    return book.rates(at_ms, tenant, sector, model)


def allowances(entries: list[Entry]) -> dict[str, AllowanceState]:
    """Every allowance grant the ledger made, with what rollovers and ends did to it and what charges drew."""
    out: dict[str, AllowanceState] = {}
    for e in entries:
        m = e.meta
        if e.kind == "plan_fee":
            for g in m["grants"]:
                out.setdefault(g["id"], AllowanceState(m["subscription"], m["plan"]["id"], m["period"], g["models"],
                                                       g["tokens"], g["tokens"]))  # fmt: skip
        elif e.kind == "plan_credit":
            for g in m["grants"]:
                if g["id"] in out:
                    out[g["id"]].total = g["total"]
        elif e.kind == "plan_rollover":
            for move in m["moves"]:
                if move["from"] in out and move["to"] in out:
                    out[move["from"]].total, out[move["to"]].total = move["from_total"], move["to_total"]
                    out[move["from"]].rolled_out += move["tokens"]
                    out[move["to"]].rolled_in += move["tokens"]
        elif e.kind == "charge":
            for gid, n in (m.get("plan") or {}).items():
                if gid in out:
                    out[gid].used += n
    return out


def check_plans(entries: list[Entry], currency: str) -> list[tuple[str, str, str]]:
    """(check, subject, detail) for each plan entry or draw that breaks a rule:

    - a fee is its plan's price times the share of the month it covers, and each allowance
      its tokens times the same share (each rounded half up once);
    - a credit is at most the fee paid times the share of the month left after it;
    - no allowance is drawn past its total, and a charge draws only from an allowance of its
      own account that was usable when its request started.
    """
    problems: list[tuple[str, str, str]] = []
    fees: dict[tuple[str, str], int] = {}
    states = allowances(entries)
    windows: dict[str, tuple[int, int]] = {}
    for e in entries:
        m, subject = e.meta, f"entry {e.seq} ({e.idem_key})"
        if e.kind == "plan_fee":
            terms = plan_of_doc(m["plan"], currency, subject)
            part = share(m["from_ms"], month_bounds(m["period"])[1], m["period"])
            fees[(m["subscription"], m["period"])] = -e.amount
            if fraction_of(m["share"]) != part or -e.amount != prorated(terms.price, part):
                problems.append(("plan_fee", subject, f"fee {-e.amount} is not {terms.id}'s price for {part}"))
            for g in m["grants"]:
                windows[g["id"]] = (m["from_ms"], m["to_ms"])
                if g["tokens"] != prorated(terms.allowances[group_of_grant(g["id"])].tokens, part):
                    problems.append(("plan_fee", subject, f"allowance {g['id']} is not the plan's for {part}"))
        elif e.kind == "plan_credit":
            paid = fees.get((m["subscription"], m["period"]))
            first, last = month_bounds(m["period"])
            start = windows.get(grant_key(m), (first, last))[0]
            most = prorated(paid or 0, Fraction(max(0, last - max(m["at_ms"], start)), last - start))
            if (paid or 0) != m["paid"] or e.amount > most:
                problems.append(("plan_credit", subject, f"credit {e.amount} exceeds the unused share of the fee"))
            for g in m["grants"]:
                if g["id"] in windows:
                    windows[g["id"]] = (windows[g["id"]][0], g["until"])
        elif e.kind == "charge":
            for gid, n in (m.get("plan") or {}).items():
                window = windows.get(gid)
                state = states.get(gid)
                if window is None or state is None or not gid.startswith(f"{state.subscription}/"):
                    problems.append(("plan_draw", subject, f"draws {n} from unknown allowance {gid}"))
                elif not window[0] <= m["started_ms"] < window[1]:
                    problems.append(("plan_draw", subject, f"allowance {gid} was not usable when it started"))
    for gid, state in states.items():
        if state.used > state.total:
            problems.append(("allowance", gid, f"drawn {state.used} of an allowance of {state.total}"))
    return problems


def grant_key(meta: dict[str, Any]) -> str:
    """The first allowance grant of a credit's subscription and month (where its month started for it)."""
    return f"{meta['subscription']}/{meta['period']}/0"
