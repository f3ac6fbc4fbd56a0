"""The tokenize endpoints of the servers the simulator can imitate, counting with its model's tokenizer.

Each answers in its server's own shape (vLLM and SGLang, llama.cpp's server, llama-cpp-python,
TGI), so the gateway's probing and counting run against the same requests and answers a real
server gives; a prompt counts through the tokenizer file's chat template when it has one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tokenops.counting.files import FileCounter
from tokenops.simulator.engine import SimConfig
from tokenops.tokenize import Counter, count_messages, counter_for

Answer = Callable[[dict[str, Any]], tuple[int, Any]]
_BAD = {"error": {"message": "field required", "type": "invalid_request_error"}}


def _ids(counter: Counter, text: str) -> list[int]:
    if isinstance(counter, FileCounter):
        return counter.encode(text)
    return list(range(counter.count(text)))


def _rendered(counter: Counter, messages: list[Any]) -> str | None:
    template = counter.template if isinstance(counter, FileCounter) else None
    return template.render(messages) if template is not None else None


def tokenize_endpoint(config: SimConfig, path: str) -> Answer | None:
    """The handler of `path` for the imitated server, or None where that server has no such endpoint."""
    counter = counter_for(config.tokenizer)
    window = config.context_window or 131072

    def vllm(data: dict[str, Any]) -> tuple[int, Any]:
        if "messages" in data:
            n = count_messages(counter, data["messages"], data.get("tools"))
        elif isinstance(data.get("prompt"), str):
            n = counter.count(data["prompt"])
        else:
            return 400, _BAD
        return 200, {"count": n, "max_model_len": window, "tokens": list(range(n))}

    def llama_tokenize(data: dict[str, Any]) -> tuple[int, Any]:
        content = data.get("content")
        return 200, {"tokens": _ids(counter, content) if isinstance(content, str) else []}

    def llama_template(data: dict[str, Any]) -> tuple[int, Any]:
        rendered = _rendered(counter, data["messages"])
        return (200, {"prompt": rendered}) if rendered is not None else (400, _BAD)

    def lcp_tokens(data: dict[str, Any]) -> tuple[int, Any]:
        return 200, {"tokens": _ids(counter, str(data["input"]))}

    def lcp_count(data: dict[str, Any]) -> tuple[int, Any]:
        return 200, {"count": counter.count(str(data["input"]))}

    def tgi_tokenize(data: dict[str, Any]) -> tuple[int, Any]:
        if not isinstance(data.get("inputs"), str):
            return 422, {"error": "missing field `inputs`", "error_type": "validation"}
        return 200, [{"id": i, "text": "", "start": 0, "stop": 0} for i in _ids(counter, data["inputs"])]

    def tgi_chat(data: dict[str, Any]) -> tuple[int, Any]:
        n = count_messages(counter, data["messages"], data.get("tools"))
        return 200, {"tokenize_response": [{"id": i} for i in range(n)], "templated_text": ""}

    routes: dict[str, dict[str, Answer]] = {
        "vllm": {"/tokenize": vllm},
        "llama.cpp": {"/tokenize": llama_tokenize, "/apply-template": llama_template},
        "llama-cpp-python": {"/extras/tokenize": lcp_tokens, "/extras/tokenize/count": lcp_count},
        "tgi": {"/tokenize": tgi_tokenize, "/chat_tokenize": tgi_chat},
    }
    return routes.get(config.imitate, {}).get(path)
