"""The one place errors become response bodies, in the shape of the API that was called."""

from __future__ import annotations

from typing import Any

import orjson

from tokenops.errors import TokenopsError


def openai_error(err: TokenopsError) -> bytes:
    body: dict[str, Any] = {"message": err.message, "type": err.type, "param": err.param, "code": err.code}
    return orjson.dumps({"error": body})


def anthropic_error(err: TokenopsError) -> bytes:
    message = err.message
    if err.code == "context_length_exceeded" and not message.startswith("prompt is too long"):
        message = "prompt is too long: " + message  # the words Anthropic's clients look for to compact
    return orjson.dumps({"type": "error", "error": {"type": err.anthropic_type, "message": message}})


def error_headers(err: TokenopsError) -> list[tuple[bytes, bytes]]:
    return [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in err.headers.items()]
