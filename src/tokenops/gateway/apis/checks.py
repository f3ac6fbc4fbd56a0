"""Field checks shared by the client APIs' parsers; each failure names the offending field."""

from __future__ import annotations

from typing import Any

from tokenops.errors import BadRequest

MAX_OUTPUT_CAP = 1_000_000


def model(data: dict[str, Any]) -> str:
    value = data.get("model")
    if not isinstance(value, str) or not value:
        raise BadRequest("'model' is required and must be a non-empty string", param="model")
    return value


def optional_int(data: dict[str, Any], name: str, low: int = 1, high: int = MAX_OUTPUT_CAP) -> int | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise BadRequest(f"'{name}' must be an integer between {low} and {high}", param=name)
    return value


def flag(data: dict[str, Any], name: str) -> bool:
    value = data.get(name, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise BadRequest(f"'{name}' must be a boolean", param=name)
    return value


def optional_list(data: dict[str, Any], name: str) -> list[Any]:
    value = data.get(name)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise BadRequest(f"'{name}' must be an array of objects", param=name)
    return value


def optional_str(data: dict[str, Any], name: str) -> str | None:
    value = data.get(name)
    if value is not None and not isinstance(value, str):
        raise BadRequest(f"'{name}' must be a string", param=name)
    return value or None
