"""The one way providers talk HTTP to an upstream: post, map transport and status errors, read JSON."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aiohttp
import orjson

from tokenops.errors import TokenopsError, UpstreamError, UpstreamTimeout

ErrorMapper = Callable[[int, bytes], TokenopsError]


async def post(
    session: aiohttp.ClientSession,
    url: str,
    payload: bytes,
    headers: dict[str, str],
    timeout: aiohttp.ClientTimeout,
    map_error: ErrorMapper,
) -> aiohttp.ClientResponse:
    """The upstream's response once its status is known; an error status is raised as ours."""
    try:
        response = await session.post(url, data=payload, headers=headers, timeout=timeout)
    except TimeoutError:
        raise UpstreamTimeout("upstream did not answer in time") from None
    except aiohttp.ClientError as exc:
        raise UpstreamError(f"cannot reach upstream: {exc.__class__.__name__}") from None
    if response.status >= 400:
        try:
            body = await response.read()
        except (aiohttp.ClientError, TimeoutError):
            body = b""
        finally:
            response.release()
        raise map_error(response.status, body)
    return response


async def read_json(response: aiohttp.ClientResponse) -> dict[str, Any]:
    """The whole body of a successful response as a JSON object."""
    try:
        raw = await response.read()
    except TimeoutError:
        raise UpstreamTimeout("upstream did not answer in time") from None
    except aiohttp.ClientError as exc:
        raise UpstreamError(f"upstream answer broke: {exc.__class__.__name__}") from None
    finally:
        response.release()
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise UpstreamError("upstream answered with invalid JSON") from None
    if not isinstance(data, dict):
        raise UpstreamError("upstream answered with an unexpected JSON shape")
    return data
