"""A scripted month of plans on each store: a start, a change and a cancellation mid-month reproduce an invoice
computed by hand, to the fen; `ledger verify` and `reconcile` pass; renewal and rollover at the boundary."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.plan_support import PLANS, Moment, at, plan_service, serve
from tests.scaleout_support import Backend
from tokenops.charging.allowance import Subscription
from tokenops.charging.credit import Shortfall
from tokenops.charging.invoice import build_invoice
from tokenops.charging.ledger import Entry
from tokenops.charging.plan_ledger import check_plans
from tokenops.charging.plans import plan_of_doc
from tokenops.charging.reconcile import reconcile
from tokenops.charging.service import ChargingService
from tokenops.charging.subscriptions import fee_entry
from tokenops.charging.verify import verify_ledger
from tokenops.errors import Conflict
from tokenops.store import UsageRecord


@pytest.fixture
async def month(backend: Backend) -> AsyncIterator[tuple[ChargingService, Moment]]:
    moment = Moment(at("2027-04-01T00:00:00"))
    service = await plan_service(backend, moment)
    yield service, moment
    await service.store._store.close()  # type: ignore[attr-defined]


async def _checked(service: ChargingService, records: list[UsageRecord], now: int) -> None:
    found = await verify_ledger(service.store, records, service.sectors, now)
    assert found.problems == []
    rec = await reconcile(service.store, records, service.sectors, "2027-04", "ringback-app")
    assert rec.differences == []


async def test_a_month_with_a_change_and_a_cancellation_bills_what_was_computed_by_hand(
    month: tuple[ChargingService, Moment],
) -> None:
    service, moment = month
    records = []
    # April 2027 has 30 days. On the 11th (20 days left) ringback takes Starter: 300.00 a month, 3M tele-lite tokens
    moment.ms = at("2027-04-11T00:00:00")
    starter, new = await service.subscribe("ringback-app", "lite-starter", "order-1")
    assert new and (await service.subscribe("ringback-app", "lite-starter", "order-1"))[1] is False
    # the 12th: 1.2M in + 1,000,001 out; the 2,000,000 of the allowance pay the input and 800,000 of the output,
    # the other 200,001 output tokens at Starter's overage price of 0.80/M: 0.1600008 -> 0.160001
    record, charge = await serve(service, "r1", "tele-lite", 1_200_000, 1_000_001, at("2027-04-12T09:00:00"))
    records.append(record)
    assert charge is not None and charge.amount == -160_001 and charge.meta["version"] == "plan:lite-starter"
    # the allowance passed 80% and 100%: alerted once each, where budget alerts go
    alerts = [(a.budget_id, a.threshold, a.spent, a.limit) for a in service.credit.budgets.alerts]
    assert alerts == [(f"plan:{starter.id}/0", t, 2_000_000, 2_000_000) for t in (80, 100)]
    await service.flush_alerts()
    # the 16th (15 days of 20 left, none of the allowance): change to Pro; Starter credits 200.00 x min(3/4, 0)
    moment.ms = at("2027-04-16T00:00:00")
    pro, _ = await service.change_plan("ringback-app", starter.id, "lite-pro", "order-2")
    # Pro for half the month: 450.00, 6M tele-lite and 1M tele-embed tokens
    assert {g.id.rsplit("/", 1)[1]: g.total for g in service.credit.accounts["ringback-app"].allowances.values()
            if g.package_id == pro.id} == {"0": 6_000_000, "1": 1_000_000}  # fmt: skip
    for rid, model, prompt, output, when in (("r2", "tele-lite", 4_000_000, 500_000, "2027-04-17T10:00:00"),
                                              ("r3", "tele-embed", 100_000, 0, "2027-04-18T10:00:00")):  # fmt: skip
        record, charge = await serve(service, rid, model, prompt, output, at(when))
        records.append(record)
        assert charge is not None and charge.amount == 0  # all in the allowance
    # the 21st (10 days of 15 left, 1/4 of tele-lite's allowance and 9/10 of tele-embed's): cancel;
    # Pro credits 450.00 x min(2/3, 1/4, 9/10) = 112.50
    moment.ms = at("2027-04-21T00:00:00")
    await service.cancel_plan("ringback-app", pro.id)
    # after it, list prices (retail 0.9): 0.1M x 0.54 + 0.05M x 1.08 = 0.108
    record, charge = await serve(service, "r4", "tele-lite", 100_000, 50_000, at("2027-04-22T10:00:00"))
    records.append(record)
    assert charge is not None and charge.amount == -108_000
    await service.renew_plans()  # nothing to renew: both have ended

    entries = await service.store.entries("ringback-app")
    invoice = build_invoice(entries, "ringback-app", "2027-04", "CNY", service.config.tax_rate)
    plans = [(p.plan, p.kind, p.share, p.exact, p.amount) for p in invoice.plans]
    assert plans == [
        ("lite-starter", "fee", "2/3", 200_000_000, 20_000),
        ("lite-starter", "credit", "0", 0, 0),
        ("lite-pro", "fee", "1/2", 450_000_000, 45_000),
        ("lite-pro", "credit", "1/4", -112_500_000, -11_250),
    ]
    lines = [(x.model, x.version, x.requests, x.plan_tokens, x.exact, x.amount) for x in invoice.lines]
    assert lines == [
        ("tele-embed", "2026-01", 1, 100_000, 0, 0),
        ("tele-lite", "2026-01", 2, 4_500_000, 108_000, 11),  # 537.608 rounds to 537.61: 0.11 on this line
        ("tele-lite", "plan:lite-starter", 1, 2_000_000, 160_001, 16),  # 537.768001 -> 537.77
    ]
    assert (invoice.subtotal, invoice.tax, invoice.total) == (53_777, 3_227, 57_004)  # 537.77 + 6% = 570.04
    assert invoice.carried_out == 537_768_001 - 537_770_000
    used = {(a["plan"], a["models"][0]): (a["total"], a["used"]) for a in invoice.allowances}
    assert used == {("lite-starter", "tele-lite"): (2_000_000, 2_000_000),
                    ("lite-pro", "tele-lite"): (4_500_000, 4_500_000),  # frozen at what was used when it ended
                    ("lite-pro", "tele-embed"): (100_000, 100_000)}  # fmt: skip
    await service.load()  # what the store kept agrees with memory
    assert service.credit.accounts["ringback-app"].balance == 1_000_000_000 - 537_768_001
    await _checked(service, records, moment.ms)


async def test_renewal_writes_the_next_month_before_it_starts_and_carries_over_what_was_left(
    month: tuple[ChargingService, Moment],
) -> None:
    service, moment = month
    moment.ms = at("2027-04-16T00:00:00")
    pro, _ = await service.subscribe("ringback-app", "lite-pro", "order-9")
    record, _ = await serve(service, "r1", "tele-lite", 1_000_000, 0, at("2027-04-20T00:00:00"))
    moment.ms = at("2027-04-30T23:52:00")  # within the renewal window: May is due, but 550.00 cannot pay 900.00
    assert await service.renew_plans() == 0
    assert f"{pro.id}/2027-05/0" not in service.credit.accounts["ringback-app"].allowances
    await service.topup("ringback-app", 500_000_000, "pay-1")
    moment.ms = at("2027-04-30T23:53:01")  # tried again a minute later: written ahead of the month
    assert await service.renew_plans() == 1
    allowances = service.credit.accounts["ringback-app"].allowances
    may = allowances[f"{pro.id}/2027-05/0"]
    assert may.total == 12_000_000 and may.starts_ms == at("2027-05-01T00:00:00")
    moment.ms = at("2027-05-01T00:00:01")
    assert await service.renew_plans() == 1  # the rollover: 50% of a whole month's 12M caps what carries
    # April's 6M less 1M used: 5M left, all of it carried (under the 6M cap); tele-embed: 1M left, capped at 1M
    assert (may.total, allowances[f"{pro.id}/2027-04/0"].total) == (17_000_000, 1_000_000)
    assert allowances[f"{pro.id}/2027-05/1"].total == 2_000_000 + 1_000_000
    assert await service.renew_plans() == 0
    await service.load()
    again = service.credit.accounts["ringback-app"].allowances
    assert again[f"{pro.id}/2027-05/0"].total == 17_000_000
    found = await verify_ledger(service.store, [record], service.sectors, moment.ms)
    assert found.problems == []
    fees = [e.amount for e in await service.store.entries("ringback-app") if e.kind == "plan_fee"]
    assert fees == [-450_000_000, -900_000_000]


async def test_a_hard_stop_refuses_past_the_allowance_and_a_key_plan_comes_before_the_tenants(
    month: tuple[ChargingService, Moment],
) -> None:
    service, moment = month
    moment.ms = at("2027-04-01T00:00:00")
    await service.topup("ringback-app", 1_000_000_000, "pay-1")
    await service.subscribe("ringback-app", "lite-pro", "order-1")
    await serve(service, "r1", "tele-embed", 2_000_000, 0, at("2027-04-02T00:00:00"))
    credit = service.credit
    with pytest.raises(Shortfall, match="hard stop") as refused:
        credit.reserve("r2", "ringback-app", "retail", "ringback-default", None, "tele-embed", 1, 0,
                       at("2027-04-03T00:00:00"), min_output=0)  # fmt: skip
    assert refused.value.code == "plan_allowance_exhausted"
    # a key of its own plan: Starter for the key, drawn before (instead of) the tenant's
    await service.subscribe("ringback-app", "lite-starter", "order-k", key_id="ringback-default")
    _, charge = await serve(service, "r3", "tele-lite", 10, 0, at("2027-04-03T00:00:00"))
    assert charge is not None and charge.amount == 0
    [drawn] = charge.meta["plan"]
    assert service.credit.accounts["ringback-app"].subscriptions[drawn.split("/")[0]].terms.id == "lite-starter"
    with pytest.raises(Conflict, match="already has plan"):
        await service.subscribe("ringback-app", "lite-starter", "order-k2", key_id="ringback-default")


def test_ledger_verify_names_a_wrong_fee_an_overdrawn_allowance_and_a_draw_outside_its_month() -> None:
    terms = plan_of_doc(PLANS[0], "CNY")
    sub = Subscription("sub_x", "ringback-app", None, terms, at("2027-04-11T00:00:00"))
    fee = fee_entry(sub, "2027-04", at("2027-04-11T00:00:00"))
    assert check_plans([fee], "CNY") == []
    grant = "sub_x/2027-04/0"

    def charge(started: str, drawn: int) -> Entry:
        meta = {"started_ms": at(started), "plan": {grant: drawn}, "tokens": [drawn, 0, 0, 0]}
        return Entry("ringback-app", "charge", 0, f"charge:{started}", at(started), started, meta)

    wrong = Entry(fee.account_id, fee.kind, fee.amount - 1, fee.idem_key, fee.created_ms, None, fee.meta)
    found = check_plans([wrong, charge("2027-04-12T00:00:00", 1_500_000), charge("2027-04-13T00:00:00", 600_000),
                         charge("2027-04-10T00:00:00", 1)], "CNY")  # fmt: skip
    assert sorted(p[0] for p in found) == ["allowance", "plan_draw", "plan_fee"]
