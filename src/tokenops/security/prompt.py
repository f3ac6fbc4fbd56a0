"""What the extraction defence takes from a request on the request path: its shape and two bounded text slices.

Nothing here reads more than a fixed number of characters, so a 200,000-token agent session
costs the same as a one-line question; the features are worked out after the response, in the
background (`features.py`). The slices live only until the request is settled, never on record.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tokenops.tokenize import content_text

HEAD = 320  # characters of the varying text kept from its start,
TAIL = 96  # and from its end (an instruction wrapper sits at either)
SYSTEM = 200  # characters of the system prompt: a teacher persona or a dataset brief shows in its first lines
_BYTES_PER_TOKEN = 4  # a cheap upper-side estimate; corrected with the metered usage at settlement


@dataclass(frozen=True, slots=True)
class Prompt:
    """One request as the detectors see it."""

    text: str = ""  # head and tail of the last user message (or of the last text to embed)
    system: str = ""  # head of the system prompt
    size: int = 0  # characters of the whole varying text
    turns: int = 0  # messages in the request
    replies: int = 0  # earlier assistant turns among them (a conversation, not a one-shot question)
    tools: bool = False
    cap: int | None = None  # the output cap the client asked for
    embedding: bool = False


def clip(text: str) -> str:
    return text if len(text) <= HEAD + TAIL else text[:HEAD] + "\n" + text[-TAIL:]


def chat_prompt(body: dict[str, Any], cap: int | None) -> tuple[int, Prompt]:
    """Estimated input tokens of a chat request, and what the detectors see of it."""
    size = 0
    last = system = ""
    turns = replies = 0
    for message in body.get("messages") or ():
        if not isinstance(message, dict):
            continue
        text = content_text(message.get("content"))
        size += len(text.encode("utf-8", "replace"))
        turns += 1
        role = message.get("role")
        if role == "user":
            last = text
        elif role == "assistant":
            replies += 1
        elif role in ("system", "developer") and not system:
            system = text[:SYSTEM]
    prompt = Prompt(clip(last), system, len(last), turns, replies, bool(body.get("tools")), cap)
    return size // _BYTES_PER_TOKEN + 1, prompt


def inputs_prompt(inputs: list[str]) -> tuple[int, Prompt]:
    """The same for texts to embed: estimated tokens, and the last text (what varies between scraping requests)."""
    size = sum(len(text.encode("utf-8", "replace")) for text in inputs)
    last = inputs[-1] if inputs else ""
    return size // _BYTES_PER_TOKEN + len(inputs), Prompt(clip(last), "", len(last), len(inputs), embedding=True)
