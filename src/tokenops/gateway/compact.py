"""Compact: fit a conversation that outgrew the serving model's window, when the tenant's policy says so.

Most requests are settled by a byte bound without tokenizing. A request that needs
compacting is compacted on a worker thread (it can take tens of milliseconds for a
200,000-token session), keeping the diagnostics verbatim; the full conversation is
archived first when the tenant's policy allows storing content, and the response
headers say what happened.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from tokenops.asgi import Request
from tokenops.catalog import Model, Tenant
from tokenops.compaction import CompactionPolicy, CompactionResult, Compactor, Decision
from tokenops.errors import ContextLengthExceeded
from tokenops.gateway.parse import ChatRequest
from tokenops.sessions import TranscriptStore
from tokenops.store import UsageRecord
from tokenops.tokenize import Counter

_INLINE_BYTES = 64 * 1024  # smaller bodies are decided on the event loop: a byte bound settles them


@dataclass(slots=True)
class Compacted:
    """What compaction did for one tenant since the process started (shown on the dashboard)."""

    requests: int = 0
    tokens_before: int = 0
    tokens_after: int = 0
    last_ms: int = 0
    last_transcript: str = ""


class CompactionStep:
    def __init__(self, archive: TranscriptStore | None) -> None:
        self.archive = archive
        self._compactor = Compactor(CompactionPolicy())
        self._policies: dict[tuple[float, float], CompactionPolicy] = {}
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tokenops-compact")
        self.done: dict[str, Compacted] = defaultdict(Compacted)  # per tenant

    def _policy(self, tenant: Tenant) -> CompactionPolicy:
        key = (tenant.compaction_threshold, tenant.compaction_target)
        policy = self._policies.get(key)
        if policy is None:
            policy = self._policies[key] = CompactionPolicy("threshold", key[0], key[1])
        return policy

    async def __call__(
        self, req: Request, tenant: Tenant, chat: ChatRequest, model: Model, counter: Counter, record: UsageRecord,
        body_size: int,
    ) -> list[Any] | None:  # fmt: skip
        """The compacted messages to send instead of the client's, or None to send them as they are."""
        if tenant.compaction == "off":
            return None
        messages = chat.body.get("messages") or []
        tools = chat.body.get("tools")

        def run() -> tuple[Decision, CompactionResult | None]:
            return self._compactor.run(
                messages, tools, counter=counter, context_window=model.context_window,
                max_output_tokens=chat.max_output or 0, policy=self._policy(tenant),
            )  # fmt: skip

        if body_size <= _INLINE_BYTES:
            _, result = run()
        else:
            _, result = await asyncio.get_running_loop().run_in_executor(self._worker, run)
        if result is None or not result.compacted:
            return None
        if not result.fits:
            raise ContextLengthExceeded(
                f"the conversation does not fit '{model.name}' ({model.context_window} tokens) even after "
                f"compaction: the system prompt, tools and latest turn alone need {result.tokens_after} tokens",
                param="messages",
            )
        stored = "not-stored"
        if tenant.content_logging and self.archive is not None:
            stored = await self.archive.put(tenant.id, record.session_id, record.request_id, record.created_ms,
                                            messages)  # fmt: skip
        done = self.done[tenant.id]
        done.requests += 1
        done.tokens_before += result.tokens_before
        done.tokens_after += result.tokens_after
        done.last_ms, done.last_transcript = record.created_ms, stored
        req.response_headers += [
            (b"x-tokenops-compaction", b"applied"),
            (b"x-tokenops-compaction-tokens-before", str(result.tokens_before).encode()),
            (b"x-tokenops-compaction-tokens-after", str(result.tokens_after).encode()),
            (b"x-tokenops-transcript-id", stored.encode()),
        ]
        return list(result.messages)

    def close(self) -> None:
        self._worker.shutdown(wait=False)
