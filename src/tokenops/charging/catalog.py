"""The catalog's charging sections (`prices`, `accounts`, `packages`, `plans`, `budgets`), parsed and validated.

Every error names the offending field. The same parsers read the documents back from
the store, so what was seeded and what is loaded cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from tokenops.catalog import CatalogSpec
from tokenops.catalog.load import _Obj
from tokenops.charging.money import parse_amount, parse_rate
from tokenops.charging.plans import PlanTerms, check_models, parse_plan
from tokenops.charging.price_doc import model_price
from tokenops.charging.prices import ModelPrice, PriceVersion, TenantTerms
from tokenops.errors import ConfigError


@dataclass(frozen=True, slots=True)
class GrantSpec:
    package: str
    starts_ms: int | None = None  # None: when first seeded


@dataclass(frozen=True, slots=True)
class PlanSeed:
    plan: str
    key_id: str | None = None  # a key's own plan; None: the tenant's
    starts_ms: int | None = None  # None: when first seeded


@dataclass(frozen=True, slots=True)
class AccountSpec:
    id: str
    type: str  # prepaid | postpaid
    currency: str
    limit: int  # overdraft limit (prepaid) or credit limit (postpaid), accounting units
    opening_balance: int
    packages: tuple[GrantSpec, ...] = ()
    plans: tuple[PlanSeed, ...] = ()


@dataclass(frozen=True, slots=True)
class PackageProduct:
    id: str
    tokens: int
    models: tuple[str, ...]  # empty: every model
    valid_days: int
    price: int  # accounting units
    rollover_days: int = 0  # unused tokens stay usable this long after expiry


@dataclass(frozen=True, slots=True)
class BudgetSpec:
    id: str
    scope: str  # tenant | key | session
    target: str  # tenant id (tenant, session) or key id
    period: str  # day | month | none
    mode: str  # hard | soft
    amount: int | None = None  # accounting units
    tokens: int | None = None


@dataclass(frozen=True, slots=True)
class ChargingConfig:
    currency: str
    tax_rate: Decimal
    prices: tuple[PriceVersion, ...]
    accounts: dict[str, AccountSpec]
    packages: dict[str, PackageProduct]
    budgets: tuple[BudgetSpec, ...]
    docs: dict[str, dict[str, Any]]  # kind:id -> document, for the store
    plans: dict[str, PlanTerms] = field(default_factory=dict)


def to_ms(value: Any, where: str) -> int:
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day, tzinfo=UTC)
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ConfigError(f"{where}: not an ISO date or time: {value!r}") from None
        moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    elif isinstance(value, int) and not isinstance(value, bool):
        return value
    else:
        raise ConfigError(f"{where}: must be an ISO date or time")
    return int(moment.timestamp() * 1000)


def _prices_of(o: _Obj, name: str) -> dict[str, ModelPrice]:
    return {m: model_price(_Obj(v, f"{o.path}.{name}.{m}")) for m, v in o.mapping(name).items()}


def _rates_of(o: _Obj, name: str) -> dict[str, Decimal]:
    return {k: parse_rate(v, f"{o.path}.{name}.{k}") for k, v in o.mapping(name).items()}


def _terms(o: _Obj) -> TenantTerms:
    discount = parse_rate(o.data.get("discount", 0), f"{o.path}.discount")
    o.seen.add("discount")
    if discount >= 1:
        raise ConfigError(f"{o.path}.discount: must be below 1 (0.10 is ten percent)")
    terms = TenantTerms(discount, _prices_of(o, "models"))
    o.done()
    return terms


def parse_version(o: _Obj, currency: str) -> PriceVersion:
    version = PriceVersion(
        id=o.text("id"),
        effective_ms=to_ms(o.data.get("effective"), f"{o.path}.effective"),
        currency=currency,
        models=_prices_of(o, "models"),
        sectors=_rates_of(o, "sectors"),
        tenants={t: _terms(_Obj(v, f"{o.path}.tenants.{t}")) for t, v in o.mapping("tenants").items()},
    )
    o.seen.update(("effective", "currency"))
    o.done()
    return version


def parse_package(o: _Obj, currency: str) -> PackageProduct:
    product = PackageProduct(
        id=o.text("id"),
        tokens=o.integer("tokens", minimum=1),
        models=o.strs("models"),
        valid_days=o.integer("valid_days", minimum=1),
        price=parse_amount(o.data.get("price", 0), currency, f"{o.path}.price"),
        rollover_days=o.integer("rollover_days", 0),
    )
    o.seen.add("price")
    o.done()
    return product


def parse_budget(o: _Obj, currency: str) -> BudgetSpec:
    scope = o.choice("scope", ("tenant", "key", "session"))
    amount = o.data.get("amount")
    budget = BudgetSpec(
        id=o.text("id"),
        scope=scope,
        target=o.text("key" if scope == "key" else "tenant"),
        period=o.choice("period", ("day", "month", "none"), "month"),
        mode=o.choice("mode", ("hard", "soft"), "hard"),
        amount=parse_amount(amount, currency, f"{o.path}.amount") if amount is not None else None,
        tokens=o.integer("tokens", minimum=1) if o.data.get("tokens") is not None else None,
    )
    o.seen.update(("amount", "tokens"))
    if (budget.amount is None) == (budget.tokens is None):
        raise ConfigError(f"{o.path}: give exactly one of amount or tokens")
    o.done()
    return budget


def _plan_seeds(o: _Obj, plans: dict[str, PlanTerms]) -> tuple[PlanSeed, ...]:
    seeds = []
    for p in o.items("plans"):
        seed = PlanSeed(p.text("plan"), p.text("key", required=False),
                        to_ms(p.data["starts"], f"{p.path}.starts") if "starts" in p.data else None)  # fmt: skip
        p.seen.add("starts")
        if seed.plan not in plans:
            raise ConfigError(f"{p.path}.plan: unknown plan {seed.plan!r}")
        p.done()
        seeds.append(seed)
    return tuple(seeds)


def _account(
    o: _Obj, currency: str, packages: dict[str, PackageProduct], plans: dict[str, PlanTerms] | None = None
) -> AccountSpec:
    kind = o.choice("type", ("prepaid", "postpaid"))
    limit_field = "overdraft_limit" if kind == "prepaid" else "credit_limit"
    grants = []
    for g in o.items("packages"):
        grant = GrantSpec(
            g.text("package"), to_ms(g.data["starts"], f"{g.path}.starts") if "starts" in g.data else None
        )
        g.seen.add("starts")
        if grant.package not in packages:
            raise ConfigError(f"{g.path}.package: unknown package {grant.package!r}")
        g.done()
        grants.append(grant)
    account = AccountSpec(
        id=o.text("tenant"),
        type=kind,
        currency=currency,
        limit=parse_amount(o.data.get(limit_field, 0), currency, f"{o.path}.{limit_field}"),
        opening_balance=parse_amount(o.data.get("balance", 0), currency, f"{o.path}.balance"),
        packages=tuple(grants),
        plans=_plan_seeds(o, plans or {}),
    )
    o.seen.update((limit_field, "balance"))
    if account.limit < 0:
        raise ConfigError(f"{o.path}.{limit_field}: must not be negative")
    if kind == "postpaid" and account.opening_balance:
        raise ConfigError(f"{o.path}.balance: a postpaid account starts at zero")
    o.done()
    return account


def parse_charging(spec: CatalogSpec) -> ChargingConfig:
    raw = spec.raw
    prices = _Obj(raw.get("prices") or {}, "catalog.prices")
    currency = prices.text("currency", "CNY")
    tax_rate = parse_rate(prices.data.get("tax_rate", 0), "catalog.prices.tax_rate")
    prices.seen.add("tax_rate")
    sectors = prices.mapping("sectors")
    tenants = prices.mapping("tenants")
    docs: dict[str, dict[str, Any]] = {"setting:tax_rate": {"value": str(tax_rate), "currency": currency}}
    versions = []
    for v in prices.items("versions"):
        doc = {"sectors": sectors, "tenants": tenants, **v.data}
        version = parse_version(_Obj(doc, v.path), currency)
        docs["price:" + version.id] = {**doc, "effective": version.effective_ms}
        versions.append(version)
    prices.done()
    packages = {}
    for i, p in enumerate(_Obj({"p": raw.get("packages") or []}, "catalog").items("p")):
        p.path = f"catalog.packages[{i}]"
        product = parse_package(p, currency)
        packages[product.id] = product
        docs["package:" + product.id] = dict(p.data)
    plans = {}
    for i, p in enumerate(_Obj({"p": raw.get("plans") or []}, "catalog").items("p")):
        p.path = f"catalog.plans[{i}]"
        plan = parse_plan(p, currency)
        check_models(plan, set(spec.models), p.path)
        plans[plan.id] = plan
        docs["plan:" + plan.id] = dict(p.data)
    accounts = {}
    for i, a in enumerate(_Obj({"a": raw.get("accounts") or []}, "catalog").items("a")):
        a.path = f"catalog.accounts[{i}]"
        account = _account(a, currency, packages, plans)
        if account.id not in spec.tenants:
            raise ConfigError(f"{a.path}.tenant: unknown tenant {account.id!r}")
        accounts[account.id] = account
    budgets = []
    for i, b in enumerate(_Obj({"b": raw.get("budgets") or []}, "catalog").items("b")):
        b.path = f"catalog.budgets[{i}]"
        budget = parse_budget(b, currency)
        budgets.append(budget)
        docs["budget:" + budget.id] = dict(b.data)
    _check_models(spec, versions, packages)
    return ChargingConfig(currency, tax_rate, tuple(versions), accounts, packages, tuple(budgets), docs, plans)


def _check_models(spec: CatalogSpec, versions: list[PriceVersion], packages: dict[str, PackageProduct]) -> None:
    known = set(spec.models)
    for v in versions:
        for name in [*v.models, *(m for t in v.tenants.values() for m in t.models)]:
            if name not in known:
                raise ConfigError(f"catalog.prices.versions[{v.id}].models.{name}: unknown model")
    for p in packages.values():
        for name in p.models:
            if name not in known:
                raise ConfigError(f"catalog.packages[{p.id}].models: unknown model {name!r}")


@dataclass(frozen=True, slots=True)
class StoredConfig:
    """The charging configuration as read back from the store."""

    currency: str
    tax_rate: Decimal
    prices: tuple[PriceVersion, ...]
    packages: dict[str, PackageProduct]
    budgets: tuple[BudgetSpec, ...]
    plans: dict[str, PlanTerms] = field(default_factory=dict)


def config_from_docs(docs: dict[str, dict[str, Any]]) -> StoredConfig:
    setting = docs.get("setting:tax_rate", {})
    currency = str(setting.get("currency", "CNY"))
    versions, packages, budgets, plans = [], {}, [], {}
    for key, doc in sorted(docs.items()):
        kind, _, name = key.partition(":")
        if kind == "price":
            versions.append(parse_version(_Obj(dict(doc), f"store.prices.{name}"), currency))
        elif kind == "package":
            packages[name] = parse_package(_Obj(dict(doc), f"store.packages.{name}"), currency)
        elif kind == "budget":
            budgets.append(parse_budget(_Obj(dict(doc), f"store.budgets.{name}"), currency))
        elif kind == "plan":
            plans[name] = parse_plan(_Obj(dict(doc), f"store.plans.{name}"), currency)
    tax = parse_rate(setting.get("value", 0), "store.tax_rate")
    return StoredConfig(currency, tax, tuple(versions), packages, tuple(budgets), plans)
