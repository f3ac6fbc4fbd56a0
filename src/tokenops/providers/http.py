"""The one way providers talk HTTP to an upstream: post, map an error status, read JSON."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from tokenops.errors import TokenopsError, UpstreamError, UpstreamTimeout
from tokenops.providers.client import Endpoint, Response

ErrorMapper = Callable[[int, bytes], TokenopsError]


async def post(endpoint: Endpoint, payload: bytes, read_timeout: float | None, map_error: ErrorMapper) -> Response:
    """The upstream's response once its status is known; an error status is raised as ours."""
    response = await endpoint.post(payload, read_timeout)
    if response.status >= 400:
        try:
            body = await response.read()
        except (UpstreamError, UpstreamTimeout):
            body = b""
        raise map_error(response.status, body)
    return response


async def read_json(response: Response) -> dict[str, Any]:
    """The whole body of a successful response as a JSON object."""
    raw = await response.read()
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise UpstreamError("upstream answered with invalid JSON") from None
    if not isinstance(data, dict):
        raise UpstreamError("upstream answered with an unexpected JSON shape")
    return data
