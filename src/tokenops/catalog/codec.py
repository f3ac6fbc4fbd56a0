"""Catalog objects to and from plain JSON documents, as the stores keep them.

Reading back tens of thousands of tenants and keys at every start, a `Decoder` takes each
class's fields once, and shares equal strings and tuples (sectors, regions, model lists)
between the objects of one snapshot, so a tenant costs a few hundred bytes, not kilobytes.
"""

from __future__ import annotations

import dataclasses
import sys
from decimal import Decimal
from typing import Any

from tokenops.catalog.model import Alias, ApiKey, Deployment, Model, Tenant

KINDS: dict[str, type] = {
    "tenant": Tenant,
    "model": Model,
    "deployment": Deployment,
    "alias": Alias,
    "key": ApiKey,
}
_FIELDS: dict[str, tuple[tuple[str, bool], ...]] = {
    kind: tuple((f.name, f.type == "Decimal") for f in dataclasses.fields(cls)) for kind, cls in KINDS.items()
}


def to_doc(obj: Any) -> dict[str, Any]:
    doc = dataclasses.asdict(obj)
    for name, value in doc.items():
        if isinstance(value, Decimal):
            doc[name] = str(value)
        elif isinstance(value, tuple):
            doc[name] = list(value)
    return doc


class Decoder:
    """Builds catalog objects from documents, sharing equal values across the objects it builds."""

    def __init__(self) -> None:
        self._tuples: dict[tuple[Any, ...], tuple[Any, ...]] = {}

    def value(self, value: Any) -> Any:
        if isinstance(value, str):
            return sys.intern(value) if len(value) <= 40 else value
        if isinstance(value, list):
            items = tuple(self.value(v) for v in value)
            return self._tuples.setdefault(items, items)
        return value

    def __call__(self, kind: str, doc: dict[str, Any]) -> Any:
        values: dict[str, Any] = {}
        for name, decimal in _FIELDS[kind]:
            if name in doc:
                value = doc[name]
                values[name] = Decimal(value) if decimal else self.value(value)
        return KINDS[kind](**values)


def from_doc(kind: str, doc: dict[str, Any]) -> Any:
    return Decoder()(kind, doc)
