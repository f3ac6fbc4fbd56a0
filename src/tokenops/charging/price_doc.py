"""A model's price as a catalog, a plan or the admin API writes it: `{input, output, cached_input?, ...}`."""

from __future__ import annotations

from decimal import Decimal

from tokenops.catalog.load import _Obj
from tokenops.charging.money import parse_rate
from tokenops.charging.prices import ModelPrice


def model_price(o: _Obj) -> ModelPrice:
    """Prices per million tokens in major units; the optional classes default as `ModelPrice` says."""

    def opt(name: str) -> Decimal | None:
        o.seen.add(name)
        return parse_rate(o.data[name], f"{o.path}.{name}") if o.data.get(name) is not None else None

    price = ModelPrice(
        input=parse_rate(o.data.get("input", 0), f"{o.path}.input"),
        output=parse_rate(o.data.get("output", 0), f"{o.path}.output"),
        cached_input=opt("cached_input"),
        cache_write=opt("cache_write"),
        cache_write_1h=opt("cache_write_1h"),
        reasoning=opt("reasoning"),
    )
    o.seen.update(("input", "output"))
    o.done()
    return price
