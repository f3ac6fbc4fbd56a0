"""Quota: hold the request against its end user's quotas (after credit control, which prices its worst case).

A hard token quota may lower the output cap forwarded to what the end user has left; a refusal
raises the error the pipeline records and renders (the reservation is released with it).
"""

from __future__ import annotations

import hashlib

from tokenops.gateway.admit import Admission
from tokenops.gateway.state import AppState
from tokenops.store import UsageRecord

_LONGEST_ID = 64  # longer end-user ids are counted by a digest: a counter's size stays bounded


def counted_user(user: str | None) -> str | None:
    if user is None or len(user) <= _LONGEST_ID:
        return user
    return "sha256:" + hashlib.sha256(user.encode("utf-8", "replace")).hexdigest()[:32]


async def hold(
    state: AppState, record: UsageRecord, estimate: int, output: tuple[str, int] | None, admission: Admission
) -> None:
    """`estimate`: the prompt's estimated tokens; `output`: the cap field and the output tokens the request asks
    for (None: it generates none)."""
    wanted = output[1] if output is not None else 0
    money = admission.hold.money if admission.hold is not None else 0
    if admission.hold is not None:  # credit control's prompt bound (counted exactly where it is small) beats a guess
        estimate = max(estimate, admission.hold.prompt)
    user = counted_user(record.end_user)
    ticket = await state.quotas.admit(
        record.request_id, record.tenant_id, user, estimate, wanted, money, record.created_ms
    )
    if ticket is None or ticket.output_cap is None or output is None:
        return
    current = admission.output_cap[1] if admission.output_cap is not None else wanted
    if ticket.output_cap < current:
        admission.output_cap = (output[0], ticket.output_cap)
