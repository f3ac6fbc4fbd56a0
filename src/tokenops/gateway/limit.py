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
from tokenops.security.prompt import Prompt, inputs_prompt
from tokenops.security.prompt import chat_prompt as prompt_of_chat
from tokenops.store import UsageRecord

__all__ = ["admit", "chat_prompt", "inputs_prompt"]

def chat_prompt(chat: ChatRequest) -> tuple[int, Prompt]:
    """Estimated input tokens, and what the extraction defence sees of the request (bounded slices)."""
    return prompt_of_chat(chat.body, chat.max_output)


async def admit(
    req: Request, state: AppState, principal: Principal, prompt: tuple[int, Prompt], plan: RoutePlan,
    record: UsageRecord,
) -> RoutePlan:  # fmt: skip
    """`prompt`: the request's estimated input tokens and what the defence sees of it (`chat_prompt`,
    `inputs_prompt`)."""
    estimate, seen = prompt
    admission = Admission(
        request_id=req.request_id,
        tenant=principal.tenant.id,
        key=principal.key.id,
        model=plan.model.name,
        end_user=record.end_user,
        client=req.client_host,
        estimate=estimate,
        prompt=seen,
        deployments=[d.id for d in plan.candidates],
        session=record.session_id is not None,
    )
    chosen = await state.guard.admit(admission)
    if chosen is not None and plan.candidates[0].id != chosen:
        return plan.preferring(chosen)
    return plan
