"""The interface point for a model-written summary of the condensed messages (not implemented).

The digest is extractive and offline by default. A deployment may add a summary from a
configured cheap model: the request path would await `Summarizer.summarize` on the
messages that `compact` condenses and pass the text as `compact(..., summary=...)`,
which places it in the digest beside the verbatim excerpts, never instead of them.
A summary may misquote identifiers, so `compaction evaluate` scores the extractive digest.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from tokenops.compaction.counting import Message


class Summarizer(Protocol):
    async def summarize(self, messages: Sequence[Message], max_tokens: int) -> str: ...
