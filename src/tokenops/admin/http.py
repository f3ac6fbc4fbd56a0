"""The admin API's HTTP plumbing: its route table, JSON in and out, and query parameters."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

import orjson

from tokenops.admin.auth import Actor
from tokenops.asgi import Request
from tokenops.errors import BadRequest
from tokenops.gateway.state import AppState

BODY_LIMIT = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Call:
    req: Request
    state: AppState
    actor: Actor
    params: dict[str, str]  # from the path
    query: dict[str, str]

    async def json(self) -> dict[str, Any]:
        raw = await self.req.body(BODY_LIMIT)
        try:
            data = orjson.loads(raw or b"{}")
        except orjson.JSONDecodeError:
            raise BadRequest("request body is not valid JSON", code="invalid_json") from None
        if not isinstance(data, dict):
            raise BadRequest("request body must be a JSON object", code="invalid_json")
        return data

    def int_query(self, name: str, default: int | None, low: int = 0, high: int = 2**62) -> int | None:
        value = self.query.get(name)
        if value is None or value == "":
            return default
        if not value.isdigit() or not low <= int(value) <= high:
            raise BadRequest(f"query parameter {name!r} must be an integer from {low} to {high}", param=name)
        return int(value)


Endpoint = Callable[[Call], Awaitable[Any]]


def query_of(req: Request) -> dict[str, str]:
    raw = req.scope.get("query_string", b"")
    try:
        parsed = parse_qs(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError:
        raise BadRequest("query string is not valid UTF-8") from None
    return {k: v[-1] for k, v in parsed.items()}


def match(pattern: str, path: str) -> dict[str, str] | None:
    want, got = pattern.strip("/").split("/"), path.strip("/").split("/")
    if len(want) != len(got):
        return None
    params = {}
    for w, g in zip(want, got, strict=True):
        if w.startswith("{"):
            if not g:
                return None
            params[w[1:-1]] = g
        elif w != g:
            return None
    return params


def fields(data: dict[str, Any], allowed: Collection[str], required: Collection[str] = ()) -> None:
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise BadRequest(f"unknown field {unknown[0]!r}", param=unknown[0])
    for name in sorted(required):
        if data.get(name) in (None, ""):
            raise BadRequest(f"{name!r} is required", param=name)


def text(data: dict[str, Any], name: str, default: str | None = None, limit: int = 200) -> str | None:
    value = data.get(name, default)
    if value is None:
        return None
    if not isinstance(value, str) or not value or len(value) > limit or "\x00" in value:
        raise BadRequest(f"{name!r} must be a non-empty string of at most {limit} characters", param=name)
    return value


def strings(data: dict[str, Any], name: str) -> list[str]:
    value = data.get(name) or []
    if not isinstance(value, list) or not all(isinstance(v, str) and 0 < len(v) <= 200 for v in value):
        raise BadRequest(f"{name!r} must be a list of strings", param=name)
    if len(value) > 1000:
        raise BadRequest(f"{name!r} has too many entries", param=name)
    return value
