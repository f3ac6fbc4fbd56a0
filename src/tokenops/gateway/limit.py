"""Limit: admit the request against its rate limits, throttles and priority-class bulkheads.

Runs after routing (it needs the model and the candidate deployments); a refusal raises
the error the pipeline records and renders. It returns the route plan with the deployment
whose bulkhead admitted the request first.
"""

from __future__ import annotations

from tokenops.asgi import Request
from tokenops.gateway.auth import Principal
from tokenops.gateway.parse import ChatRequest
from tokenops.gateway.route import RoutePlan
from tokenops.gateway.state import AppState
from tokenops.security import Admission
from tokenops.security.sketch import sketch
from tokenops.store import UsageRecord
from tokenops.tokenize import content_text

_BYTES_PER_TOKEN = 4  # a cheap upper-side estimate; corrected with the metered usage at settlement


def chat_prompt(chat: ChatRequest) -> tuple[int, str]:
    """Estimated input tokens, and the last user message (what varies between scraping requests)."""
    size = 0
    last = ""
    for message in chat.body.get("messages") or ():
        if isinstance(message, dict):
            text = content_text(message.get("content"))
            size += len(text.encode("utf-8", "replace"))
            if message.get("role") == "user":
                last = text
    return size // _BYTES_PER_TOKEN + 1, last


def inputs_prompt(inputs: list[str]) -> tuple[int, str]:
    """The same for texts to embed: estimated tokens, and the last text (what varies between scraping requests)."""
    size = sum(len(text.encode("utf-8", "replace")) for text in inputs)
    return size // _BYTES_PER_TOKEN + len(inputs), inputs[-1] if inputs else ""


async def admit(
    req: Request, state: AppState, principal: Principal, prompt: tuple[int, str], plan: RoutePlan,
    record: UsageRecord,
) -> RoutePlan:  # fmt: skip
    """`prompt`: the request's estimated input tokens and its varying text (`chat_prompt`, `inputs_prompt`)."""
    estimate, last_user = prompt
    admission = Admission(
        request_id=req.request_id,
        tenant=principal.tenant.id,
        key=principal.key.id,
        model=plan.model.name,
        end_user=record.end_user,
        client=req.client_host,
        estimate=estimate,
        sketch=sketch(last_user) if last_user else None,
        deployments=[d.id for d in plan.candidates],
    )
    chosen = await state.guard.admit(admission)
    if chosen is not None and plan.candidates[0].id != chosen:
        return plan.preferring(chosen)
    return plan
