"""Admin endpoints for recharge vouchers: issue batches, list and revoke them, redeem a code, see the attempts.

The operator issues, lists and revokes; a tenant-admin redeems for its own tenant (an
operator may redeem for any, naming it). The codes of a batch are in the answer that made
it and nowhere else. Guessing is limited: a client address that tried `PER_ADDRESS` codes that
do not exist within `WINDOW_S`, or a tenant that tried `PER_TENANT`, is refused (429
`rate_limit_voucher`) without the code being looked at, until the window has room again
(shared by every replica through the counter store). Each attempt counts against both
before its code is looked at (atomically, so no burst gets past the limit together) and is
given back unless the code did not exist or was no code at all; every attempt, refused or
not, is recorded (`GET /admin/vouchers/attempts`), and a limit reached is a security event
(`voucher_guessing`).
"""

from __future__ import annotations

from typing import Any

from tokenops.admin.charging import account_of, audit, money
from tokenops.admin.http import Call, fields, strings, text
from tokenops.charging.catalog import to_ms
from tokenops.charging.documents import account_doc, entry_doc, iso
from tokenops.charging.money import format_amount
from tokenops.charging.vouchers import MAX_BATCH, Redemption, VoucherBatch, shown
from tokenops.errors import BadRequest, ConfigError, Conflict, NotFound, PermissionDenied, RateLimited, TokenopsError
from tokenops.store.admin import SecurityEvent

PER_ADDRESS = 10  # codes that do not exist, per client address and window
PER_TENANT = 100  # and per tenant (a consumer app's users mistype codes)
WINDOW_S = 600.0
GUESSES = ("unknown", "malformed")  # what guessing looks like: a real code used twice or expired is no guess
_REFUSED: dict[str, tuple[type[TokenopsError], str, str]] = {
    "malformed": (BadRequest, "voucher_malformed", "this is not a voucher code (20 letters and digits)"),
    "unknown": (NotFound, "voucher_not_found", "no such voucher code"),
    "used": (Conflict, "voucher_used", "this voucher was already redeemed"),
    "revoked": (Conflict, "voucher_revoked", "this voucher was revoked"),
    "expired": (Conflict, "voucher_expired", "this voucher has expired"),
    "not_eligible": (PermissionDenied, "voucher_not_eligible", "this voucher is not for this tenant"),
}


def batch_doc(batch: VoucherBatch, counts: dict[str, int] | None = None) -> dict[str, Any]:
    return {
        "id": batch.id, "kind": batch.kind,
        "amount": format_amount(batch.amount, batch.currency) if batch.kind == "money" else None,
        "package": batch.package_id, "currency": batch.currency, "expires": iso(batch.expires_ms),
        "tenants": list(batch.tenants), "tenant_kinds": list(batch.tenant_kinds), "count": batch.count,
        "note": batch.note, "created_by": batch.created_by, "created": iso(batch.created_ms),
        **({"active": counts.get("active", 0), "redeemed": counts.get("redeemed", 0),
            "revoked": counts.get("revoked", 0)} if counts is not None else {}),
    }  # fmt: skip


async def create_batch(call: Call) -> Any:
    call.actor.require_operator()
    data = await call.json()
    fields(data, {"kind", "amount", "package", "count", "expires", "tenants", "tenant_kinds", "note"},
           {"kind", "count", "expires"})  # fmt: skip
    service = call.state.charging
    kind = data["kind"]
    if kind not in ("money", "tokens"):
        raise BadRequest("'kind' must be money or tokens", param="kind")
    count = data["count"]
    if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= MAX_BATCH:
        raise BadRequest(f"'count' must be an integer from 1 to {MAX_BATCH}", param="count")
    amount = money(data, "amount", service.config.currency) if kind == "money" else 0
    tenants, kinds = strings(data, "tenants"), strings(data, "tenant_kinds")
    unknown = [t for t in tenants if t not in call.state.catalog.tenants]
    if unknown:
        raise BadRequest(f"no tenant {unknown[0]!r}", param="tenants")
    try:
        expires = to_ms(text(data, "expires", limit=64), "expires")
        batch, codes = await service.create_vouchers(
            kind, count, expires, call.state.hasher.digest, amount, text(data, "package", limit=64), tenants, kinds,
            text(data, "note", limit=500) or "", call.actor.id,
        )  # fmt: skip
    except ConfigError as exc:
        raise BadRequest(str(exc), param=str(exc).split(":")[0]) from None
    doc = batch_doc(batch)
    await audit(call, "vouchers.create", f"voucher_batch:{batch.id}", None, None, doc)
    return 201, {"batch": doc, "codes": [shown(c) for c in codes]}


async def list_batches(call: Call) -> Any:
    call.actor.require_operator()
    return {"batches": [batch_doc(b, c) for b, c in await call.state.charging.store.voucher_batches()]}


async def get_batch(call: Call) -> Any:
    call.actor.require_operator()
    found = [(b, c) for b, c in await call.state.charging.store.voucher_batches() if b.id == call.params["batch_id"]]
    if not found:
        raise NotFound(f"no voucher batch {call.params['batch_id']!r}", code="voucher_batch_not_found")
    rows = await call.state.charging.store.vouchers_of(found[0][0].id)
    vouchers = [{"id": v, "status": s, "redeemed_by": t, "redeemed": iso(at) if at else None} for v, s, t, at in rows]
    return {**batch_doc(*found[0]), "vouchers": vouchers}


async def revoke(call: Call) -> Any:
    call.actor.require_operator()
    data = await call.json()
    fields(data, {"code", "voucher_id"})
    batch = call.params["batch_id"]
    try:
        revoked = await call.state.charging.revoke_vouchers(batch, call.state.hasher.digest, text(data, "code"),
                                                            text(data, "voucher_id", limit=64))  # fmt: skip
    except ConfigError as exc:
        raise BadRequest(str(exc), param="code") from None
    if revoked:
        await audit(call, "vouchers.revoke", f"voucher_batch:{batch}", None, None,
                    {"revoked": revoked, "voucher_id": data.get("voucher_id")})  # fmt: skip
    return {"batch": batch, "revoked": revoked}


async def _take(call: Call, buckets: list[str]) -> list[str]:
    """Count this attempt as a failure against each bucket, atomically, before the code is looked at (so no burst
    of guesses gets past the limit together); the buckets counted, or [] if one was already full."""
    counters, taken = call.state.guard.counters, list[str]()
    for bucket in buckets:
        if await counters.take(bucket, 1, _limit(bucket), WINDOW_S) > 0:
            for done in taken:
                await counters.adjust(done, -1, WINDOW_S)
            return []
        taken.append(bucket)
    return taken


def _limit(bucket: str) -> int:
    return PER_TENANT if bucket.startswith("voucher|tenant|") else PER_ADDRESS


async def _guessing(call: Call, buckets: list[str], tenant: str, address: str) -> None:
    """A bucket filled by failures is a security event, once per window (the first failure to see it full)."""
    counters, full = call.state.guard.counters, []
    for bucket in buckets:
        full_now = await counters.total(bucket, WINDOW_S) >= _limit(bucket)
        if full_now and await counters.take(bucket + "|event", 1, 1, WINDOW_S) == 0:
            full.append(bucket.split("|")[1])
    store = call.state.guard.store
    if full and store is not None:
        evidence = {"limits": {"address": PER_ADDRESS, "tenant": PER_TENANT}, "window_s": WINDOW_S, "by": full,
                    "address": address}  # fmt: skip
        await store.add_event(SecurityEvent(call.state.clock.now_ms(), tenant, call.actor.id, "voucher_guessing",
                                            1.0, "throttle", evidence))  # fmt: skip


async def redeem(call: Call) -> Any:
    data = await call.json()
    fields(data, {"code", "tenant"}, {"code"})
    tenant = text(data, "tenant", limit=64) or call.actor.tenant
    if tenant is None:
        raise BadRequest("an operator names the tenant to redeem for", param="tenant")
    account = account_of(call, tenant)
    code = data["code"]
    if not isinstance(code, str):
        raise BadRequest("'code' must be a string", param="code")
    address = call.req.client_host or "unknown"
    buckets = [f"voucher|tenant|{tenant}", f"voucher|address|{address}"]
    service, now = call.state.charging, call.state.clock.now_ms()
    taken = await _take(call, buckets)
    if not taken:
        service.note_attempt((now, tenant, address, "rate_limited", None))
        raise RateLimited(f"too many failed voucher redemptions; retry in {int(WINDOW_S // 60)} minutes",
                          code="rate_limit_voucher", headers={"retry-after": str(int(WINDOW_S))})  # fmt: skip
    kind = call.state.catalog.tenants[tenant].kind if tenant in call.state.catalog.tenants else ""
    try:
        found: Redemption = await service.redeem_voucher(code, tenant, kind, call.state.hasher.digest)
    except BaseException:
        for bucket in taken:  # not an attempt that failed: the store did
            await call.state.guard.counters.adjust(bucket, -1, WINDOW_S)
        raise
    service.note_attempt((now, tenant, address, found.outcome, found.voucher_id))
    if found.outcome in GUESSES:
        await _guessing(call, buckets, tenant, address)
    else:  # a real code: not a guess
        for bucket in taken:
            await call.state.guard.counters.adjust(bucket, -1, WINDOW_S)
    if not found.ok:
        error, code_name, message = _REFUSED[found.outcome]
        raise error(message, code=code_name, param="code")
    assert found.entry is not None
    doc = {"voucher": found.voucher_id, "entry": entry_doc(found.entry, account.currency),
           "account": account_doc(account, now), "replayed": found.outcome == "replayed"}  # fmt: skip
    if found.outcome == "redeemed":
        await audit(call, "vouchers.redeem", f"account:{tenant}", tenant, None, doc)
    return (201 if found.outcome == "redeemed" else 200), doc


async def attempts(call: Call) -> Any:
    scope = call.actor.scope(call.query.get("tenant"))
    limit = call.int_query("limit", 100, 1, 10_000) or 100
    await call.state.charging.flush_attempts()  # what was noted so far is in the answer
    store = call.state.charging.store
    rows = await store.voucher_attempts(scope, limit)
    return {
        "counts": await store.count_attempts(scope),
        "attempts": [{"id": i, "at": iso(at), "tenant": t, "address": a, "outcome": o, "voucher": v}
                     for i, at, t, a, o, v in rows],
    }  # fmt: skip
