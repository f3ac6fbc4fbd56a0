"""Money, price books and packages: the pure rules under credit control."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tokenops.charging.accounts import Account
from tokenops.charging.budgets import Budgets
from tokenops.charging.catalog import BudgetSpec, PackageProduct
from tokenops.charging.credit import CreditController
from tokenops.charging.money import format_amount, format_exact, parse_amount, round_half_up, to_minor
from tokenops.charging.packages import DAY_MS, grant_of
from tokenops.charging.prices import ModelPrice, PriceBook, PriceVersion, TenantTerms, Tokens
from tokenops.errors import ConfigError, InsufficientFunds

JAN = 1_767_225_600_000  # 2026-01-01T00:00:00Z
FEB = JAN + 31 * DAY_MS
FEN = 10_000  # accounting units (millionths of a yuan) in a fen


def book() -> PriceBook:
    lite = ModelPrice(Decimal("1000"), Decimal("2000"), Decimal("250"))
    v1 = PriceVersion("v1", JAN, "CNY", {"lite": lite}, {"energy": Decimal("1.2")},
                      {"acme": TenantTerms(Decimal("0.10"))})  # fmt: skip
    v2 = PriceVersion("v2", FEB, "CNY", {"lite": ModelPrice(Decimal("500"), Decimal("1000"))})
    return PriceBook([v2, v1])


def test_amounts_are_exact_accounting_units_shown_half_up_and_floats_are_refused() -> None:
    assert parse_amount("12.34", "CNY", "x") == 12_340_000 and parse_amount("7", "JPY", "x") == 7_000_000
    assert format_amount(-12_340_000, "CNY") == "-12.34" and format_amount(-12_345_000, "CNY") == "-12.35"
    assert (format_amount(4_999, "CNY"), format_amount(5_000, "CNY"), format_amount(500_000, "JPY")) == (
        "0.00",
        "0.01",
        "1",
    )
    assert to_minor(-5_000, "CNY") == -1 and format_exact(300) == "0.000300"
    with pytest.raises(ConfigError, match="x: write money as a string"):
        parse_amount(1.5, "CNY", "x")
    with pytest.raises(ConfigError, match="more decimals"):
        parse_amount("0.001", "CNY", "x")
    assert round_half_up(Decimal("2.5")) == 3 and round_half_up(Decimal("2.4999")) == 2


def test_a_request_is_rated_at_the_version_in_force_when_it_started() -> None:
    prices = book()
    tokens = Tokens.of_usage(1000, 200, 0, 500)
    before, after = prices.rates(FEB - 1, "other", "retail", "lite"), prices.rates(FEB, "other", "retail", "lite")
    assert before is not None and after is not None
    assert (before.version, after.version) == ("v1", "v2")
    # v1: 800 x 0.1 + 200 x 0.025 + 500 x 0.2 = 185 fen; v2: 1000 x 0.05 + 500 x 0.1 = 100
    assert before.charge(tokens) == 185 * FEN and after.charge(tokens) == 100 * FEN
    assert prices.rates(JAN - 1, "other", "retail", "lite") is None


def test_sector_multiplier_and_tenant_discount_apply_to_list_prices() -> None:
    rates = book().rates(JAN, "acme", "energy", "lite")
    assert rates is not None
    assert rates.input == Decimal("1000") * Decimal("1.2") * Decimal("0.9") * 1_000_000
    assert rates.charge(Tokens(input=1000)) == 108 * FEN


def _controller(balance: int, grants: int = 0, at: int = JAN) -> CreditController:
    account = Account("acme", "prepaid", "CNY", 0, balance)
    product = PackageProduct("code", grants, ("lite",), 30, 0, rollover_days=10)
    if grants:
        account.grants = {g.id: g for g in (grant_of(product, "late", "acme", at + DAY_MS),
                                             grant_of(product, "early", "acme", at))}  # fmt: skip
    return CreditController(book(), {"acme": account}, Budgets(()))


def test_packages_are_drawn_before_money_earliest_ending_first() -> None:
    credit = _controller(1000 * FEN, grants=600)
    account = credit.accounts["acme"]
    hold = credit.reserve("r1", "acme", "retail", "k", None, "lite", 500, 1000, JAN + 2 * DAY_MS)
    assert hold is not None and hold.packages == {"early": 600, "late": 600}
    entry = credit.settle(hold, Tokens.of_usage(500, 0, 0, 900), JAN + 2 * DAY_MS)
    assert entry is not None and entry.meta["packages"] == {"early": 600, "late": 600}
    assert account.grants["early"].remaining == 0 and account.grants["late"].remaining == 0
    # 1400 tokens used, 1200 from packages: the last 200 output tokens cost 200 x 0.18 = 36 fen
    assert entry.amount == -36 * FEN and account.balance == (1000 - 36) * FEN


def test_expired_package_is_not_drawn_but_rollover_keeps_the_rest_usable() -> None:
    credit = _controller(10_000, grants=100)
    in_rollover = JAN + 35 * DAY_MS  # past the 30 days of "early", within its 10 rollover days
    hold = credit.reserve("r1", "acme", "retail", "k", None, "lite", 10, 10, in_rollover)
    assert hold is not None and set(hold.packages) == {"early"}
    credit.release(hold)
    hold = credit.reserve("r2", "acme", "retail", "k", None, "lite", 10, 10, JAN + 40 * DAY_MS + 1)
    assert hold is not None and set(hold.packages) == {"late"}
    credit.release(hold)
    hold = credit.reserve("r3", "acme", "retail", "k", None, "lite", 10, 10, JAN + 60 * DAY_MS)
    assert hold is not None and hold.packages == {} and hold.money > 0


def test_output_is_clamped_to_what_the_balance_covers_and_refused_below_one_token() -> None:
    credit = _controller(100 * FEN)
    hold = credit.reserve("r1", "acme", "retail", "k", None, "lite", 100, 10_000, JAN)
    # acme's 10% discount: 0.09 fen an input token, 0.18 an output token; 9 for the prompt
    assert hold is not None and hold.output == int(Decimal(100 - 9) / Decimal("0.18"))
    with pytest.raises(InsufficientFunds) as refused:
        credit.reserve("r2", "acme", "retail", "k", None, "lite", 100, 10_000, JAN)
    assert refused.value.status == 402 and refused.value.code == "insufficient_balance"
    credit.settle(hold, Tokens.of_usage(100, 0, 0, 20), JAN)
    # 9 + 20 x 0.18 = 12.6 fen, charged exactly: nothing is rounded to the fen
    assert credit.accounts["acme"].balance == 100 * FEN - 126_000 and credit.accounts["acme"].reserved == 0


def test_postpaid_account_spends_down_to_its_credit_limit_and_no_further() -> None:
    account = Account("gov", "postpaid", "CNY", 50 * FEN, 0)
    credit = CreditController(book(), {"gov": account}, Budgets(()))
    hold = credit.reserve("r1", "gov", "retail", "k", None, "lite", 100, 10_000, JAN)
    assert hold is not None and hold.output == (50 - 10) * 5  # 0.1 a prompt token, 0.2 an output token
    credit.settle(hold, Tokens.of_usage(100, 0, 0, hold.output), JAN)
    assert account.balance == -50 * FEN and account.floor == -50 * FEN
    with pytest.raises(InsufficientFunds):
        credit.reserve("r2", "gov", "retail", "k", None, "lite", 1, 1, JAN)


def test_a_session_budget_applies_to_each_session_of_the_tenant_on_its_own() -> None:
    spec = BudgetSpec("per-session", "session", "acme", "none", "hard", amount=20 * FEN)
    credit = CreditController(book(), {"acme": Account("acme", "prepaid", "CNY", 0, 10_000 * FEN)}, Budgets((spec,)))
    first = credit.reserve("r1", "acme", "retail", "k", "s1", "lite", 100, 1000, JAN)
    assert first is not None and first.money <= 20 * FEN
    with pytest.raises(InsufficientFunds) as refused:
        credit.reserve("r2", "acme", "retail", "k", "s1", "lite", 100, 1000, JAN)
    assert refused.value.code == "budget_exceeded"
    other = credit.reserve("r3", "acme", "retail", "k", "s2", "lite", 100, 1000, JAN)
    assert other is not None and other.output == first.output
