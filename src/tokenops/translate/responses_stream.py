"""Canonical chat chunks → OpenAI Responses SSE events, with the real event sequence.

`response.created`, `response.in_progress`; per output item `response.output_item.added`,
for reasoning `response.reasoning_summary_part.added` and `response.reasoning_summary_text.delta` ... `.done`,
for text `response.content_part.added` and `response.output_text.delta` ... `.done`, for
a function call `response.function_call_arguments.delta` ... `.done`; then
`response.output_item.done` and finally `response.completed` (or `response.incomplete`)
carrying `usage`.
"""

from __future__ import annotations

from typing import Any

import orjson

from tokenops.errors import TokenopsError
from tokenops.translate.reasoning import reasoning_text
from tokenops.translate.responses_chat import call_item, envelope, finish, message_item, new_id, reasoning_item
from tokenops.usage import Usage

_PARTS = {"message": "content", "reasoning": "summary"}  # where each item kind keeps its parts


class ResponsesStreamEncoder:
    def __init__(self, data: dict[str, Any], model: str) -> None:
        self._response = envelope(data, new_id("resp"), model, "in_progress")
        self._seq = 0
        self._started = False
        self._error: TokenopsError | None = None
        self._message: dict[str, Any] | None = None  # the open message item
        self._thought: dict[str, Any] | None = None  # the open reasoning item
        self._calls: dict[int, dict[str, Any]] = {}  # canonical tool-call index → open call item
        self._finish: Any = None

    def _event(self, kind: str, fields: dict[str, Any]) -> bytes:
        data = {"type": kind, "sequence_number": self._seq, **fields}
        self._seq += 1
        return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"

    def _start(self) -> bytes:
        self._started = True
        return self._event("response.created", {"response": self._response}) + self._event(
            "response.in_progress", {"response": self._response}
        )

    def _add(self, item: dict[str, Any]) -> bytes:
        index = len(self._response["output"])
        self._response["output"].append(item)
        parts = _PARTS.get(item["type"])
        added = dict(item, **{parts: []}) if parts else dict(item)  # announced before any part is
        return self._event("response.output_item.added", {"output_index": index, "item": added})

    def _item_done(self, item: dict[str, Any]) -> bytes:
        item["status"] = "completed"
        index = self._response["output"].index(item)
        return self._event("response.output_item.done", {"output_index": index, "item": item})

    def _close_part(self, item: dict[str, Any], index: str, done: tuple[str, str], extra: dict[str, Any]) -> bytes:
        """The text-done and part-done events of an item's one part (its `index` field 0), then the item's done."""
        part = item[_PARTS[item["type"]]][0]
        where = {"item_id": item["id"], "output_index": self._response["output"].index(item), index: 0}
        out = self._event(done[0], {**where, "text": part["text"], **extra})
        out += self._event(done[1], {**where, "part": part})
        return out + self._item_done(item)

    def _close_message(self) -> bytes:
        item, self._message = self._message, None
        if item is None:
            return b""
        done = ("response.output_text.done", "response.content_part.done")
        return self._close_part(item, "content_index", done, {"logprobs": []})

    def _reasoning(self, text: str) -> bytes:
        out = b""
        if self._thought is None:
            out += self._close_message()
            self._thought = reasoning_item(new_id("rs"), "", "in_progress")
            out += self._add(self._thought)
            part = {"type": "summary_text", "text": ""}
            where = {"item_id": self._thought["id"], "output_index": len(self._response["output"]) - 1}
            out += self._event("response.reasoning_summary_part.added", {**where, "summary_index": 0, "part": part})
        self._thought["summary"][0]["text"] += text
        where = {"item_id": self._thought["id"], "output_index": self._response["output"].index(self._thought)}
        return out + self._event("response.reasoning_summary_text.delta", {**where, "summary_index": 0, "delta": text})

    def _close_reasoning(self) -> bytes:
        item, self._thought = self._thought, None
        if item is None:
            return b""
        done = ("response.reasoning_summary_text.done", "response.reasoning_summary_part.done")
        return self._close_part(item, "summary_index", done, {})

    def _text(self, text: str) -> bytes:
        out = self._close_reasoning()
        if self._message is None:
            self._message = message_item(new_id("msg"), "", "in_progress")
            out += self._add(self._message)
            where = {"item_id": self._message["id"], "output_index": len(self._response["output"]) - 1}
            part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
            out += self._event("response.content_part.added", {**where, "content_index": 0, "part": part})
        self._message["content"][0]["text"] += text
        where = {"item_id": self._message["id"], "output_index": self._response["output"].index(self._message)}
        return out + self._event(
            "response.output_text.delta", {**where, "content_index": 0, "delta": text, "logprobs": []}
        )

    def _tool(self, call: dict[str, Any]) -> bytes:
        out = b""
        position = call.get("index", 0)
        item = self._calls.get(position)
        fn = call.get("function") or {}
        if item is None:
            out += self._close_reasoning() + self._close_message()
            item = call_item(new_id("fc"), {"id": call.get("id"), "function": {"name": fn.get("name")}}, "in_progress")
            self._calls[position] = item
            out += self._add(item)
        arguments = fn.get("arguments")
        if isinstance(arguments, str) and arguments:
            item["arguments"] += arguments
            where = {"item_id": item["id"], "output_index": self._response["output"].index(item)}
            out += self._event("response.function_call_arguments.delta", {**where, "delta": arguments})
        return out

    def chunk(self, payload: bytes) -> bytes:
        data = orjson.loads(payload)
        out = b"" if self._started else self._start()
        for choice in data.get("choices") or ():
            delta = choice.get("delta") or {}
            thought = reasoning_text(delta)
            if thought:
                out += self._reasoning(thought)
            text = delta.get("content")
            if isinstance(text, str) and text:
                out += self._text(text)
            for call in delta.get("tool_calls") or ():
                out += self._tool(call)
            if choice.get("finish_reason"):
                self._finish = choice["finish_reason"]
        return out

    def finish(self, usage: Usage) -> bytes:
        out = b"" if self._started else self._start()
        if self._error is not None:
            return out + self._failed(usage, self._error)
        out += self._close_reasoning() + self._close_message()
        for item in self._calls.values():
            where = {"item_id": item["id"], "output_index": self._response["output"].index(item)}
            out += self._event("response.function_call_arguments.done", {**where, "arguments": item["arguments"]})
            out += self._item_done(item)
        self._calls = {}
        finish(self._response, self._finish, usage)
        kind = "response.completed" if self._response["status"] == "completed" else "response.incomplete"
        return out + self._event(kind, {"response": self._response})

    def _failed(self, usage: Usage, err: TokenopsError) -> bytes:
        """A broken stream: the open items stay incomplete, and the usage still says what was billed."""
        for item in self._response["output"]:
            if item["status"] == "in_progress":
                item["status"] = "incomplete"
        finish(self._response, None, usage)
        self._response["status"] = "failed"
        self._response["error"] = {"code": err.code, "message": err.message}
        return self._event("response.failed", {"response": self._response})

    def error(self, err: TokenopsError) -> bytes:
        self._error = err
        out = b"" if self._started else self._start()
        return out + self._event("error", {"code": err.code, "message": err.message, "param": err.param})
