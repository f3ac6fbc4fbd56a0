"""Nothing is rounded away: small requests are charged what they cost, and invoices add up to the charges.

The property test draws random request sizes, prices, price versions and times across
month boundaries, rates every request with the price book the gateway uses, and invoices
every month of the account: over all the months the amounts invoiced equal the exact sum
of the charges within one minor unit (half of one, by the rule), whatever the remainders
carried from line to line and month to month. The expected sums are computed here on
their own, from the prices as Decimal, not from the gateway's rating.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from tokenops.charging.accounts import Account
from tokenops.charging.budgets import Budgets
from tokenops.charging.credit import CreditController
from tokenops.charging.invoice import build_invoice
from tokenops.charging.ledger import Entry
from tokenops.charging.money import minor_step
from tokenops.charging.prices import ModelPrice, PriceBook, PriceVersion, Tokens

JAN = int(datetime(2026, 1, 1, tzinfo=UTC).timestamp() * 1000)
DAY = 86_400_000
MONTHS = [f"2026-{m:02d}" for m in range(1, 13)]


def test_a_thousand_requests_of_100_tokens_at_030_per_million_are_charged_exactly_003() -> None:
    price = ModelPrice(Decimal("0.30"), Decimal("0.30"))
    book = PriceBook([PriceVersion("v", JAN, "CNY", {"lite": price})])
    credit = CreditController(book, {"t": Account("t", "prepaid", "CNY", 0, 10_000_000)}, Budgets(()))
    entries = []
    for i in range(1000):
        at = JAN + i * 60_000
        hold = credit.reserve(f"r{i}", "t", "retail", "k", None, "lite", 60, 40, at)
        assert hold is not None
        entry = credit.settle(hold, Tokens.of_usage(60, 0, 0, 40), at)
        assert entry is not None and entry.amount == -30  # 100 x 0.30 / 1M = 0.00003 CNY = 30 units
        entries.append(entry)
    assert -sum(e.amount for e in entries) == 30_000  # 0.03 CNY
    assert credit.accounts["t"].balance == 10_000_000 - 30_000
    invoice = build_invoice(entries, "t", "2026-01", "CNY", Decimal(0))
    assert invoice.subtotal == 3 and [line.amount for line in invoice.lines] == [3]  # 0.03, in fen


prices = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("40"), places=2)
requests = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=365 * DAY - 1),  # when in the year it started
        st.integers(min_value=0, max_value=20_000),  # prompt tokens
        st.integers(min_value=0, max_value=4_000),  # output tokens
        st.sampled_from(["lite", "max"]),
    ),
    min_size=1,
    max_size=150,
)


@settings(max_examples=150, deadline=None)
@given(
    requests=requests,
    first=st.tuples(prices, prices, prices, prices),
    second=st.tuples(prices, prices, prices, prices),
    change_day=st.integers(min_value=1, max_value=364),
    currency=st.sampled_from(["CNY", "JPY"]),
)
def test_invoices_add_up_to_the_exact_charges_across_months_and_price_versions(
    requests: list[tuple[int, int, int, str]],
    first: tuple[Decimal, ...],
    second: tuple[Decimal, ...],
    change_day: int,
    currency: str,
) -> None:
    def version(vid: str, at: int, p: tuple[Decimal, ...]) -> PriceVersion:
        return PriceVersion(vid, at, currency, {"lite": ModelPrice(p[0], p[1]), "max": ModelPrice(p[2], p[3])})

    change = JAN + change_day * DAY
    book = PriceBook([version("v1", JAN, first), version("v2", change, second)])
    entries = []
    exact = Decimal(0)  # major units, computed apart from the gateway's rating
    for i, (offset, prompt, output, model) in enumerate(sorted(requests)):
        at = JAN + offset
        p = first if at < change else second
        per_in, per_out = (p[0], p[1]) if model == "lite" else (p[2], p[3])
        exact += (prompt * per_in + output * per_out) / Decimal(1_000_000)
        rates = book.rates(at, "t", "retail", model)
        assert rates is not None
        charge = rates.charge(Tokens.of_usage(prompt, 0, 0, output))
        meta = {"model": model, "version": rates.version, "tokens": [prompt, 0, 0, output], "started_ms": at}
        entries.append(Entry("t", "charge", -charge, f"charge:r{i}", at, f"r{i}", meta))
    invoices = [build_invoice(entries, "t", month, currency, Decimal(0)) for month in MONTHS]
    step = minor_step(currency)
    invoiced = sum(inv.subtotal for inv in invoices) * step  # in accounting units
    charged = -sum(e.amount for e in entries)
    # each charge is within half a unit of its exact amount, and the invoices within half a minor unit of them
    assert abs(Decimal(charged) - exact * 1_000_000) <= Decimal(len(entries)) / 2
    assert abs(invoiced - charged) * 2 <= step
    assert all(line.amount >= 0 for inv in invoices for line in inv.lines)
    assert invoices[-1].carried_out == charged - invoiced
    for before, after in itertools.pairwise(invoices):
        assert after.carried_in == before.carried_out  # what one month leaves over, the next one starts with
