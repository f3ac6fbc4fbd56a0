"""Admin endpoints for plans: the plans on sale, and each tenant's subscriptions (start, change, cancel).

Writes are the operator's; a tenant-admin reads its own tenant's subscriptions and the plans
on sale. A subscription is started once per idempotency key (the same key again answers
200 with the subscription made first). Every change is audited with before and after.
"""

from __future__ import annotations

from typing import Any

from tokenops.admin.charging import _idempotency_key, account_of, audit, starts_of
from tokenops.admin.http import Call, fields, text
from tokenops.catalog.load import _Obj
from tokenops.charging.ledger import FloorBreached, LedgerConflict
from tokenops.charging.plan_docs import plan_doc, subscription_doc
from tokenops.charging.plans import check_models, parse_plan
from tokenops.charging.service import operator_key
from tokenops.errors import BadRequest, ConfigError, Conflict

_PLAN_FIELDS = {"name", "price", "overage", "rollover", "allowances"}


async def list_plans(call: Call) -> Any:
    config = call.state.charging.config
    return {"plans": [plan_doc(p, config.currency) for _, p in sorted(config.plans.items())]}


async def put_plan(call: Call) -> Any:
    """Create or replace a plan on sale. Subscriptions keep the terms they were sold on; a replaced plan's new
    terms apply to subscriptions started (or changed to it) from now on."""
    call.actor.require_operator()
    plan_id = call.params["plan_id"]
    data = await call.json()
    fields(data, _PLAN_FIELDS, {"price", "allowances"})
    service = call.state.charging
    doc = {"id": plan_id, **data}
    try:
        terms = parse_plan(_Obj(dict(doc), "plan"), service.config.currency)
        check_models(terms, set(call.state.catalog.models), "plan")
    except ConfigError as exc:
        raise BadRequest(str(exc), param=str(exc).split(":")[0].split(".")[-1]) from None
    before = service.config.plans.get(plan_id)
    await service.put_config("plan:" + plan_id, doc)
    after = plan_doc(terms, service.config.currency)
    await audit(call, "plans.put", f"plan:{plan_id}", None,
                plan_doc(before, service.config.currency) if before else None, after)  # fmt: skip
    return (200 if before else 201), after


async def list_subscriptions(call: Call) -> Any:
    account = account_of(call, call.params["tenant_id"])
    at = call.state.clock.now_ms()
    subs = sorted(account.subscriptions.values(), key=lambda s: (s.starts_ms, s.id))
    return {"tenant": account.id, "subscriptions": [subscription_doc(account, s, at) for s in subs]}


def _key_of(call: Call, tenant: str, data: dict[str, Any]) -> str | None:
    key_id = text(data, "key_id", limit=64)
    if key_id is not None and not any(k.id == key_id and k.tenant_id == tenant
                                      for k in call.state.catalog.keys.values()):  # fmt: skip
        raise BadRequest(f"tenant {tenant!r} has no key {key_id!r}", param="key_id")
    return key_id


async def _changed(call: Call, action: str, tenant: str, work: Any, before: Any) -> tuple[int, dict[str, Any]]:
    try:
        sub, new = await work
    except FloorBreached as exc:
        raise Conflict(f"the balance cannot pay the plan's fee: {exc}; top up first", code="below_floor") from None
    except LedgerConflict:
        raise Conflict("this idempotency key was already used for a different request; use a new key",
                       code="idempotency_conflict", param="idempotency_key") from None  # fmt: skip
    except ConfigError as exc:
        raise BadRequest(str(exc)) from None
    account = account_of(call, tenant)
    doc = subscription_doc(account, sub, call.state.clock.now_ms())
    if new:
        await audit(call, action, f"subscription:{sub.id}", tenant, before, doc)
    return (201 if new else 200), {**doc, "replayed": not new}


async def subscribe(call: Call) -> Any:
    call.actor.require_operator()
    account = account_of(call, call.params["tenant_id"])
    data = await call.json()
    fields(data, {"plan", "key_id", "starts", "idempotency_key"}, {"plan"})
    plan = text(data, "plan", limit=64) or ""
    key_id = _key_of(call, account.id, data)
    starts = starts_of(data)
    key = operator_key(account.id, _idempotency_key(call, data))
    work = call.state.charging.subscribe(account.id, plan, key, key_id, starts)
    return await _changed(call, "plans.subscribe", account.id, work, None)


async def change(call: Call) -> Any:
    call.actor.require_operator()
    account = account_of(call, call.params["tenant_id"])
    data = await call.json()
    fields(data, {"plan", "idempotency_key"}, {"plan"})
    service = call.state.charging
    old = service.subscription(account.id, call.params["subscription_id"])
    before = subscription_doc(account, old, call.state.clock.now_ms())
    key = operator_key(account.id, _idempotency_key(call, data))
    work = service.change_plan(account.id, old.id, text(data, "plan", limit=64) or "", key)
    return await _changed(call, "plans.change", account.id, work, before)


async def cancel(call: Call) -> Any:
    call.actor.require_operator()
    account = account_of(call, call.params["tenant_id"])
    data = await call.json()
    fields(data, {"at_period_end"})
    at_end = data.get("at_period_end", False)
    if not isinstance(at_end, bool):
        raise BadRequest("'at_period_end' must be true or false", param="at_period_end")
    service = call.state.charging
    sub = service.subscription(account.id, call.params["subscription_id"])
    before = subscription_doc(account, sub, call.state.clock.now_ms())

    async def work() -> Any:
        return await service.cancel_plan(account.id, sub.id, at_end), True

    return await _changed(call, "plans.cancel", account.id, work(), before)
