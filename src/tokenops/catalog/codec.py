"""Catalog objects to and from plain JSON documents, as the stores keep them."""

from __future__ import annotations

import dataclasses
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


def to_doc(obj: Any) -> dict[str, Any]:
    doc = dataclasses.asdict(obj)
    for name, value in doc.items():
        if isinstance(value, Decimal):
            doc[name] = str(value)
        elif isinstance(value, tuple):
            doc[name] = list(value)
    return doc


def from_doc(kind: str, doc: dict[str, Any]) -> Any:
    cls = KINDS[kind]
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name not in doc:
            continue
        value = doc[f.name]
        if f.type == "Decimal":
            value = Decimal(value)
        elif isinstance(value, list):
            value = tuple(value)
        values[f.name] = value
    return cls(**values)
