"""Price books: effective-dated versions of per-model prices, sector multipliers and tenant terms.

A request is rated with the version in force when it started. Prices are major units
per million tokens; rates are the same in accounting units (millionths of the major
unit) after the sector multiplier and the tenant's discount, kept exact as Decimal until
the one rounding of the charge, to the accounting unit.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Protocol

from tokenops.charging.money import MTOK, UNIT, UNIT_DIGITS, round_half_up, round_up


@dataclass(frozen=True, slots=True)
class ModelPrice:
    input: Decimal
    output: Decimal
    cached_input: Decimal | None = None  # default: the input price
    cache_write: Decimal | None = None  # default: the input price
    cache_write_1h: Decimal | None = None  # writes kept an hour (Anthropic's long TTL); default: cache_write
    reasoning: Decimal | None = None  # reasoning tokens; default: the output price


@dataclass(frozen=True, slots=True)
class TenantTerms:
    discount: Decimal = Decimal(0)  # 0.10 = ten percent off
    models: dict[str, ModelPrice] = field(default_factory=dict)  # contract prices, final


@dataclass(frozen=True, slots=True)
class PriceVersion:
    id: str
    effective_ms: int
    currency: str
    models: dict[str, ModelPrice]
    sectors: dict[str, Decimal] = field(default_factory=dict)
    tenants: dict[str, TenantTerms] = field(default_factory=dict)


class Counted(Protocol):
    """A usage or a usage record: prompt tokens count the cached and written ones among them, output tokens the
    reasoning ones, cache writes the hour-long ones."""

    input_tokens: int
    output_tokens: int
    cached_tokens: int
    cache_write_tokens: int
    cache_write_1h_tokens: int
    reasoning_tokens: int


@dataclass(frozen=True, slots=True)
class Tokens:
    """Token counts by price class, each apart from the others: `input` excludes the cached and written tokens,
    `cache_write` the hour-long writes, `output` the reasoning tokens."""

    input: int = 0
    cached: int = 0
    cache_write: int = 0
    output: int = 0
    reasoning: int = 0
    cache_write_1h: int = 0

    @classmethod
    def of_usage(cls, prompt: int, cached: int, cache_write: int, output: int, reasoning: int = 0,
                 cache_write_1h: int = 0) -> Tokens:  # fmt: skip
        reasoning = min(max(reasoning, 0), output)
        cache_write_1h = min(max(cache_write_1h, 0), cache_write)
        return cls(max(0, prompt - cached - cache_write), cached, cache_write - cache_write_1h, output - reasoning,
                   reasoning, cache_write_1h)  # fmt: skip

    @classmethod
    def of(cls, u: Counted) -> Tokens:
        return cls.of_usage(u.input_tokens, u.cached_tokens, u.cache_write_tokens, u.output_tokens,
                            u.reasoning_tokens, u.cache_write_1h_tokens)  # fmt: skip

    @property
    def total(self) -> int:
        return self.input + self.cached + self.cache_write + self.output + self.reasoning + self.cache_write_1h

    def as_list(self) -> list[int]:
        """As a ledger entry keeps them: four classes, six where reasoning or hour-long writes were used."""
        four = [self.input, self.cached, self.cache_write, self.output]
        return [*four, self.reasoning, self.cache_write_1h] if self.reasoning or self.cache_write_1h else four

    def after_package(self, covered: int) -> Tokens:
        """What money pays for once a package covered `covered` tokens: input classes first, then output."""
        if covered <= 0:
            return self
        left: dict[str, int] = {}
        for name in ("input", "cached", "cache_write", "cache_write_1h", "output", "reasoning"):
            n = getattr(self, name)
            take = min(n, covered)
            covered -= take
            left[name] = n - take
        return Tokens(**left)


@dataclass(frozen=True, slots=True)
class Rates:
    """Accounting units per million tokens for one tenant and model under one price version."""

    version: str
    currency: str
    input: Decimal
    output: Decimal
    cached: Decimal
    cache_write: Decimal
    worst_input: Decimal  # the dearest input class: what a prompt bound is reserved at
    reasoning: Decimal = Decimal(0)
    cache_write_1h: Decimal = Decimal(0)
    worst_output: Decimal = Decimal(0)  # the dearer of output and reasoning: what an output bound is reserved at

    def exact(self, t: Tokens) -> Decimal:
        return (
            t.input * self.input + t.cached * self.cached + t.cache_write * self.cache_write + t.output * self.output
            + t.reasoning * self.reasoning + t.cache_write_1h * self.cache_write_1h
        ) / MTOK  # fmt: skip

    def charge(self, t: Tokens, digits: int = UNIT_DIGITS) -> int:
        """The cost rounded once, half up, to the accounting unit; or, for an entry rated before it (migrated,
        hashed in `digits` decimals), to that entry's unit, as a count of it."""
        exact = self.exact(t)
        return round_half_up(exact if digits == UNIT_DIGITS else exact / 10 ** (UNIT_DIGITS - digits))

    def bound(self, prompt: int, output: int) -> int:
        """An upper bound of any charge for up to `prompt` input and `output` output tokens."""
        return round_up((prompt * self.worst_input + output * self.worst_output) / MTOK)


class PriceBook:
    """Every price version, ordered by when it takes effect."""

    def __init__(self, versions: list[PriceVersion]) -> None:
        self.versions = _inherited(sorted(versions, key=lambda v: v.effective_ms))
        self._starts = [v.effective_ms for v in self.versions]
        self._cache: dict[tuple[str, str, str, str], Rates | None] = {}

    def version_at(self, at_ms: int) -> PriceVersion | None:
        i = bisect.bisect_right(self._starts, at_ms)
        return self.versions[i - 1] if i else None

    def by_id(self, version_id: str) -> PriceVersion | None:
        return next((v for v in self.versions if v.id == version_id), None)

    def rates(self, at_ms: int, tenant: str, sector: str, model: str) -> Rates | None:
        version = self.version_at(at_ms)
        if version is None:
            return None
        return self.rates_in(version, tenant, sector, model)

    def rates_in(self, version: PriceVersion, tenant: str, sector: str, model: str) -> Rates | None:
        key = (version.id, tenant, sector, model)
        if key not in self._cache:
            self._cache[key] = _resolve(version, tenant, sector, model)
        return self._cache[key]


def _inherited(versions: list[PriceVersion]) -> list[PriceVersion]:
    """Each version keeps the model prices, sector multipliers and tenant terms it does not name from
    the version before it, so a version that reprices one model never leaves the others unpriced."""
    out: list[PriceVersion] = []
    for v in versions:
        if out and out[-1].currency == v.currency:
            before = out[-1]
            v = replace(
                v,
                models={**before.models, **v.models},
                sectors={**before.sectors, **v.sectors},
                tenants={**before.tenants, **v.tenants},
            )
        out.append(v)
    return out


def _resolve(version: PriceVersion, tenant: str, sector: str, model: str) -> Rates | None:
    terms = version.tenants.get(tenant, TenantTerms())
    scale = UNIT
    price = terms.models.get(model)
    if price is not None:  # a contract price is final: no sector multiplier, no further discount
        factor = scale
    else:
        price = version.models.get(model)
        if price is None:
            return None
        factor = version.sectors.get(sector, Decimal(1)) * (1 - terms.discount) * scale
    return rates_of(price, version.id, version.currency, factor)


def rates_of(price: ModelPrice, version: str, currency: str, factor: Decimal = UNIT) -> Rates:
    """A model price (major units per million tokens) as rates in accounting units, scaled by `factor`."""
    cached = price.cached_input if price.cached_input is not None else price.input
    write = price.cache_write if price.cache_write is not None else price.input
    write_1h = price.cache_write_1h if price.cache_write_1h is not None else write
    reasoning = price.reasoning if price.reasoning is not None else price.output
    i, o, c, w, r, w1 = (x * factor for x in (price.input, price.output, cached, write, reasoning, write_1h))
    return Rates(version, currency, i, o, c, w, max(i, c, w, w1), r, w1, max(o, r))
