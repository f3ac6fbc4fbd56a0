"""The route table: paths to handlers, and which API's error shape each one speaks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from tokenops.admin.metrics import metrics
from tokenops.admin.router import admin
from tokenops.asgi import Request
from tokenops.dashboard.http import dashboard
from tokenops.gateway.handlers.chat import chat_completions
from tokenops.gateway.handlers.embeddings import embeddings
from tokenops.gateway.handlers.health import healthz, readyz
from tokenops.gateway.handlers.messages import count_tokens, messages
from tokenops.gateway.handlers.models import get_model, list_models
from tokenops.gateway.handlers.responses import responses
from tokenops.gateway.state import AppState

Handler = Callable[[Request, AppState], Awaitable[None]]

ROUTES: dict[str, dict[str, Handler]] = {
    "/v1/chat/completions": {"POST": chat_completions},
    "/v1/embeddings": {"POST": embeddings},
    "/v1/responses": {"POST": responses},
    "/v1/messages": {"POST": messages},
    "/v1/messages/count_tokens": {"POST": count_tokens},
    "/anthropic/v1/messages": {"POST": messages},
    "/anthropic/v1/messages/count_tokens": {"POST": count_tokens},
    "/v1/models": {"GET": list_models},
    "/healthz": {"GET": healthz},
    "/readyz": {"GET": readyz},
    "/metrics": {"GET": metrics},
    "/dashboard": {"GET": dashboard},
}

PREFIX_ROUTES: list[tuple[str, dict[str, Handler]]] = [
    ("/v1/models/", {"GET": get_model}),
    ("/admin/", {m: admin for m in ("GET", "POST", "PUT", "PATCH", "DELETE")}),
    ("/dashboard/", {"GET": dashboard}),
]

ANTHROPIC_PATHS: frozenset[str] = frozenset(
    {"/v1/messages", "/v1/messages/count_tokens", "/anthropic/v1/messages", "/anthropic/v1/messages/count_tokens"}
)


def lookup(path: str) -> dict[str, Handler] | None:
    found = ROUTES.get(path)
    if found is None:
        trimmed = path.rstrip("/")
        found = ROUTES.get(trimmed) if trimmed != path else None
    if found is None:
        for prefix, methods in PREFIX_ROUTES:
            if path.startswith(prefix) and len(path) > len(prefix):
                return methods
    return found
