"""GET /metrics: the Prometheus text exposition of this process."""

from __future__ import annotations

from tokenops.gateway.asgi import Request
from tokenops.gateway.state import AppState

CONTENT_TYPE = b"text/plain; version=0.0.4; charset=utf-8"


async def send_bytes(req: Request, status: int, body: bytes, content_type: bytes,
                     extra: list[tuple[bytes, bytes]] | None = None) -> None:  # fmt: skip
    """A non-JSON response (`Request.respond` speaks JSON only)."""
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode()), *req.response_headers]
    await req.send({"type": "http.response.start", "status": status, "headers": headers + (extra or [])})
    await req.send({"type": "http.response.body", "body": body})


async def metrics(req: Request, state: AppState) -> None:
    body = state.telemetry.metrics.render(state if state.ready else None).encode()
    await send_bytes(req, 200, body, CONTENT_TYPE)
