"""Exhaustion projections: package tokens are drawn first, then the balance down to its floor."""

from __future__ import annotations

import pytest

from tokenops.policy.burn import Burn, days_left
from tokenops.policy.side import Wallet


def test_a_balance_without_packages_lasts_balance_plus_overdraft_over_the_daily_burn() -> None:
    wallet = Wallet("t", "prepaid", balance=900, limit=100)
    assert days_left(wallet, Burn(money=100)) == pytest.approx(10.0)


def test_package_covered_spend_is_free_until_the_package_runs_out() -> None:
    wallet = Wallet("t", "prepaid", balance=2000, limit=0, package_tokens=1000, package_models=("m",))
    burn = Burn(money=100, package_money=50, package_tokens=100)
    # ten days on the package (1000 money spent outside it), then 1000 left at 150 a day
    assert days_left(wallet, burn) == pytest.approx(10 + 1000 / 150)


def test_no_burn_never_exhausts() -> None:
    assert days_left(Wallet("t", "prepaid", balance=10, limit=0), Burn()) is None
