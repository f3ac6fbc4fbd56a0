"""The ASGI application: lifespan, request ids, dispatch through the route table, error rendering."""

from __future__ import annotations

import itertools
import logging
import secrets

from tokenops.asgi import Receive, Request, Scope, Send
from tokenops.edge.routes import ANTHROPIC_PATHS, lookup
from tokenops.errors import MethodNotAllowed, NotFound, ServiceUnavailable, TokenopsError
from tokenops.gateway.render import anthropic_error, error_headers, openai_error
from tokenops.gateway.state import AppState
from tokenops.security.inbound import body_deadline, check_headers

log = logging.getLogger("tokenops.gateway")

_ALWAYS_ANSWERED = frozenset({"/healthz", "/readyz", "/metrics"})


_ID_PREFIX = "req_" + secrets.token_hex(8)  # random per process: ids stay unique across replicas
_ID_COUNTER = itertools.count(1)


def new_request_id() -> str:
    """A unique id without a system call per request: the process's random prefix and a counter."""
    return f"{_ID_PREFIX}{next(_ID_COUNTER):010x}"


class Gateway:
    def __init__(self, state: AppState) -> None:
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.state.start()
                except Exception as exc:
                    log.exception("start-up failed")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.state.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        req = Request(scope, body_deadline(receive), send, new_request_id())
        client_id = req.headers.get(b"x-request-id")
        if client_id is not None and 0 < len(client_id) <= 200:
            req.response_headers[0] = (b"x-request-id", client_id)
            req.response_headers.append((b"x-tokenops-request-id", req.request_id.encode()))
        path = req.path
        try:
            check_headers(scope["headers"])
            methods = lookup(path)
            if methods is None:
                raise NotFound(f"no such endpoint: {scope['method']} {path}", code="unknown_endpoint")
            handler = methods.get(scope["method"])
            if handler is None:
                raise MethodNotAllowed(
                    f"{scope['method']} is not allowed on {path}", headers={"allow": ", ".join(methods)}
                )
            state = self.state
            if state.in_flight >= state.settings.max_in_flight and path not in _ALWAYS_ANSWERED:
                # Refused before the key is even looked at, so no usage record is owed.
                raise ServiceUnavailable(
                    "the gateway is at capacity; retry shortly",
                    code="gateway_overloaded",
                    headers={"retry-after": "1"},
                )
            state.in_flight += 1
            try:
                await handler(req, state)
            finally:
                state.in_flight -= 1
        except TokenopsError as err:
            if req.response_started:
                return
            body = anthropic_error(err) if path in ANTHROPIC_PATHS else openai_error(err)
            await req.respond(err.status, body, error_headers(err))
        except Exception:
            log.exception("unhandled error on %s %s", scope["method"], path)
            if not req.response_started:
                internal = TokenopsError("internal error; the request id identifies it in the logs")
                body = anthropic_error(internal) if path in ANTHROPIC_PATHS else openai_error(internal)
                await req.respond(500, body)
