"""One side of a comparison: a routing policy with its prices, accounts and budgets, read-only.

Built from a YAML catalog (the candidate, or the policy in force as a file) or from the
store (the policy in force, with today's balances and package tokens).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from tokenops.catalog import Catalog, CatalogSpec
from tokenops.charging.accounts import Account
from tokenops.charging.catalog import BudgetSpec, StoredConfig, parse_charging
from tokenops.charging.prices import PriceBook


@dataclass(frozen=True, slots=True)
class Wallet:
    """What a tenant's account holds: money down to its floor, and package tokens."""

    tenant: str
    type: str  # prepaid | postpaid
    balance: int  # accounting units
    limit: int  # overdraft (prepaid) or credit limit (postpaid), accounting units
    package_tokens: int = 0
    package_models: tuple[str, ...] = ()  # empty: every model


@dataclass(frozen=True, slots=True)
class Policy:
    name: str
    catalog: Catalog
    book: PriceBook
    currency: str
    wallets: dict[str, Wallet]
    budgets: tuple[BudgetSpec, ...]

    def with_wallets(self, wallets: dict[str, Wallet]) -> Policy:
        """The same policy over other balances (the store's, which are facts whatever the policy)."""
        return dataclasses.replace(self, wallets=wallets)


def catalog_of(spec: CatalogSpec) -> Catalog:
    return Catalog(dict(spec.tenants), {}, dict(spec.models), dict(spec.deployments), dict(spec.aliases))


def policy_of_spec(name: str, spec: CatalogSpec) -> Policy:
    config = parse_charging(spec)
    wallets = {}
    for account in config.accounts.values():
        products = [config.packages[g.package] for g in account.packages]
        models = tuple(sorted({m for p in products for m in p.models})) if all(p.models for p in products) else ()
        wallets[account.id] = Wallet(
            account.id,
            account.type,
            account.opening_balance,
            account.limit,
            sum(p.tokens for p in products),
            models,
        )
    return Policy(name, catalog_of(spec), PriceBook(list(config.prices)), config.currency, wallets, config.budgets)


def wallets_of_accounts(accounts: dict[str, Account]) -> dict[str, Wallet]:
    wallets = {}
    for account in accounts.values():
        grants = list(account.grants.values())
        models = tuple(sorted({m for g in grants for m in g.models})) if all(g.models for g in grants) else ()
        wallets[account.id] = Wallet(
            account.id, account.type, account.balance, account.limit, account.package_tokens(), models
        )
    return wallets


def policy_of_store(name: str, catalog: Catalog, config: StoredConfig, accounts: dict[str, Account]) -> Policy:
    book = PriceBook(list(config.prices))
    return Policy(name, catalog, book, config.currency, wallets_of_accounts(accounts), config.budgets)
