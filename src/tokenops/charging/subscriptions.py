"""The ledger entries of a subscription's life: its monthly fee, a credit when it changes or ends, a rollover.

Each entry carries what it did to the allowance (the grants it made, the totals it set),
so applying it (`apply_plan`) is the same in memory, in either store, and when another
replica reads it: the ledger is the record, the tables and memory follow it.

- `plan_fee` (a debit): the month's fee for the part of the month the subscription covers,
  and its allowance grants for that part, each model group's tokens prorated alike.
- `plan_credit` (a credit): a change or cancellation at a moment `at`. The unused share of the
  month's fee comes back: by time, but never a larger share than is left of the allowance
  (a month's allowance used up in its first week earns no refund of the rest). From `at`
  the grants serve no new request, and what nobody holds of them is gone, so requests still
  in flight pay past it and no token is drawn from two subscriptions.
- `plan_rollover`: at the month's end, what is left of an allowance (up to its rollover
  percent of a whole month's) moves to the next month's grant of the same group.
"""

from __future__ import annotations

import hashlib
from fractions import Fraction
from typing import Any

import orjson

from tokenops.charging.allowance import Subscription, grant_id
from tokenops.charging.ledger import Entry
from tokenops.charging.packages import Grant
from tokenops.charging.plans import (
    PlanTerms,
    fraction_doc,
    next_month,
    plan_of_doc,
    prorated,
    share,
)
from tokenops.periods import month_bounds


def subscription_id(tenant: str, key: str) -> str:
    """Stable per operator key, so a retried subscription is the same subscription."""
    return "sub_" + hashlib.sha256(f"{tenant}\x00{key}".encode()).hexdigest()[:16]


def fee_key(sub_id: str, period: str) -> str:
    return f"plan:{sub_id}:{period}"


def fee_entry(sub: Subscription, period: str, now_ms: int) -> Entry:
    """The fee and allowance of `period` for the part of it from the subscription's start (or the month's)."""
    first, last = month_bounds(period)
    start = max(sub.starts_ms, first)
    part = share(start, last, period)
    terms = sub.terms
    grants = [{"id": grant_id(sub.id, period, i), "models": list(a.models), "tokens": prorated(a.tokens, part)}
              for i, a in enumerate(terms.allowances)]  # fmt: skip
    meta = {
        "subscription": sub.id, "tenant": sub.account_id, "key_id": sub.key_id, "plan": terms.as_doc(),
        "starts_ms": sub.starts_ms, "period": period, "from_ms": start, "to_ms": last, "price": terms.price,
        "share": fraction_doc(part), "grants": grants,
    }  # fmt: skip
    return Entry(sub.account_id, "plan_fee", -prorated(terms.price, part), fee_key(sub.id, period), now_ms, None, meta)


def credit_entry(
    sub: Subscription, period: str, paid: int, at_ms: int, reason: str, allowances: dict[str, Grant], now_ms: int,
    pending: dict[str, int] | None = None,
) -> Entry:  # fmt: skip
    """Ending `sub` at `at_ms` within (or before) `period`, whose fee was `paid`: the credit, and the freeze.

    `pending` is what requests in flight may still draw of each grant beyond what they hold
    (their worst case): it stays in the grant for them, and counts as used for the credit."""
    first, last = month_bounds(period)
    start = max(sub.starts_ms, first)
    end = max(at_ms, start)
    by_time = Fraction(max(0, last - end), last - start)
    left = Fraction(1)
    frozen = []
    for i in range(len(sub.terms.allowances)):
        grant = allowances.get(grant_id(sub.id, period, i))
        if grant is None:
            continue
        keep = min(grant.total, grant.used + grant.held + (pending or {}).get(grant.id, 0))
        if grant.total:
            left = min(left, Fraction(grant.total - keep, grant.total))
        if end < last:
            frozen.append({"id": grant.id, "total": keep, "until": end})
    part = min(by_time, left)
    meta = {
        "subscription": sub.id, "tenant": sub.account_id, "period": period, "at_ms": at_ms, "reason": reason,
        "paid": paid, "by_time": fraction_doc(by_time), "by_allowance": fraction_doc(left), "grants": frozen,
    }  # fmt: skip
    key = f"plan:{sub.id}:{period}:end"
    return Entry(sub.account_id, "plan_credit", prorated(paid, part), key, now_ms, None, meta)


def rollover_entry(sub: Subscription, period: str, allowances: dict[str, Grant], now_ms: int) -> Entry:
    """Carry what is left of `period`'s allowance into the next month's grants (whatever no request holds)."""
    following = next_month(period)
    moves = []
    for i, allowance in enumerate(sub.terms.allowances):
        source = allowances.get(grant_id(sub.id, period, i))
        target = allowances.get(grant_id(sub.id, following, i))
        if source is None or target is None:
            continue
        carry = min(max(0, source.available), allowance.tokens * sub.terms.rollover_percent // 100)
        if carry > 0:
            moves.append({"from": source.id, "from_total": source.total - carry, "to": target.id,
                          "to_total": target.total + carry, "tokens": carry})  # fmt: skip
    meta = {"subscription": sub.id, "tenant": sub.account_id, "from": period, "to": following, "moves": moves}
    return Entry(sub.account_id, "plan_rollover", 0, f"plan:{sub.id}:{period}:rollover", now_ms, None, meta)


def subscription_of(meta: dict[str, Any], currency: str) -> Subscription:
    """The subscription a fee entry belongs to, from the terms it keeps."""
    terms: PlanTerms = plan_of_doc(meta["plan"], currency, f"subscription {meta['subscription']}")
    return Subscription(meta["subscription"], meta["tenant"], meta.get("key_id"), terms, meta["starts_ms"])


def apply_plan(e: Entry, subscriptions: dict[str, Subscription], allowances: dict[str, Grant], currency: str) -> None:
    """Take a plan entry (or a charge's allowance draws) into an account's subscriptions and allowances."""
    m = e.meta
    if e.kind == "plan_fee":
        sub = subscriptions.setdefault(m["subscription"], subscription_of(m, currency))
        for g in m["grants"]:
            if g["id"] not in allowances:
                allowances[g["id"]] = Grant(g["id"], e.account_id, sub.id, tuple(g["models"]), g["tokens"], 0,
                                            m["from_ms"], m["to_ms"], m["to_ms"])  # fmt: skip
    elif e.kind == "plan_credit":
        sub_ = subscriptions.get(m["subscription"])
        if sub_ is not None:
            sub_.ends_ms = m["at_ms"] if sub_.ends_ms is None else min(sub_.ends_ms, m["at_ms"])
        for g in m["grants"]:
            if g["id"] in allowances:
                allowances[g["id"]].total = g["total"]
                allowances[g["id"]].usable_until_ms = g["until"]
    elif e.kind == "plan_rollover":
        for move in m["moves"]:
            for name in ("from", "to"):
                if move[name] in allowances:
                    allowances[move[name]].total = move[name + "_total"]
    elif e.kind == "charge":
        for gid, n in (m.get("plan") or {}).items():
            if gid in allowances:
                allowances[gid].used += n


def plan_sql(e: Entry) -> list[tuple[str, list[Any]]]:
    """The same, as statements on the `plan_subscriptions` and `plan_allowances` tables (`?` placeholders)."""
    m = e.meta
    if e.kind == "plan_fee":
        terms = orjson_dumps(m["plan"])
        sub: list[Any] = [(m["subscription"], e.account_id, m.get("key_id"), m["plan"]["id"], terms, m["starts_ms"])]
        rows: list[Any] = [
            (g["id"], e.account_id, m["subscription"], orjson_dumps(g["models"]), g["tokens"], m["from_ms"],
             m["to_ms"], m["to_ms"])
            for g in m["grants"]
        ]  # fmt: skip
        return [
            ("INSERT INTO plan_subscriptions (id, account_id, key_id, plan_id, terms, starts_ms) "
             "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING", sub),
            ("INSERT INTO plan_allowances VALUES (?, ?, ?, ?, ?, 0, ?, ?, ?) ON CONFLICT (id) DO NOTHING", rows),
        ]  # fmt: skip
    if e.kind == "plan_credit":
        return [
            ("UPDATE plan_subscriptions SET ends_ms = CASE WHEN ends_ms IS NULL OR ends_ms > ? THEN ? ELSE ends_ms END "
             "WHERE id = ?", [(m["at_ms"], m["at_ms"], m["subscription"])]),
            ("UPDATE plan_allowances SET total = ?, usable_until_ms = ? WHERE id = ?",
             [(g["total"], g["until"], g["id"]) for g in m["grants"]]),
        ]  # fmt: skip
    if e.kind == "plan_rollover":
        rows = [(mv[n + "_total"], mv[n]) for mv in m["moves"] for n in ("from", "to")]
        return [("UPDATE plan_allowances SET total = ? WHERE id = ?", rows)]
    if e.kind == "charge" and m.get("plan"):
        return [("UPDATE plan_allowances SET used = used + ? WHERE id = ?", [(n, g) for g, n in m["plan"].items()])]
    return []


def orjson_dumps(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


SUBSCRIPTION_COLUMNS = "id, account_id, key_id, terms, starts_ms, ends_ms"
KEPT_MS = 70 * 86_400_000  # allowances loaded: those usable within this long (this month and the one before)


def attach_plans(accounts: dict[str, Any], subscriptions: list[Any], allowances: list[Any]) -> None:
    """Rows of `plan_subscriptions` (SUBSCRIPTION_COLUMNS) and `plan_allowances` into their accounts."""
    for sub_id, account_id, key_id, terms, starts_ms, ends_ms in subscriptions:
        account = accounts.get(account_id)
        if account is not None:
            plan = plan_of_doc(orjson.loads(terms), account.currency, f"subscription {sub_id}")
            account.subscriptions[sub_id] = Subscription(sub_id, account_id, key_id, plan, starts_ms, ends_ms)
    for row in allowances:
        grant = Grant(row[0], row[1], row[2], tuple(orjson.loads(row[3])), *row[4:])
        if grant.account_id in accounts:
            accounts[grant.account_id].allowances[grant.id] = grant
