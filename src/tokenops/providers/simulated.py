"""The simulated provider, in process: the same replies and faults as `tokenops simulate`, without HTTP."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from typing import Any

import orjson

from tokenops.catalog import Deployment, Model
from tokenops.errors import ConfigError, UpstreamError, UpstreamTimeout
from tokenops.providers.base import ChatResult, EmbedResult, Usage, map_upstream_error
from tokenops.providers.tokenize import UpstreamTokenize
from tokenops.simulator import openai_wire
from tokenops.simulator.engine import SimConfig, SimEngine, SimReply


def sim_config(deployment: Deployment, model: Model) -> SimConfig:
    unknown = sorted(set(deployment.simulate) - set(SimConfig.__dataclass_fields__))
    if unknown:
        raise ConfigError(f"deployments[{deployment.id}].simulate.{unknown[0]}: unknown field")
    values: dict[str, Any] = {"tokenizer": model.tokenizer, "context_window": model.context_window}
    values.update(deployment.simulate)
    try:
        return SimConfig.from_dict(values)
    except TypeError as exc:
        raise ConfigError(f"deployments[{deployment.id}].simulate: {exc}") from None


class _SimStream:
    def __init__(self, source: AsyncIterator[bytes], usage: Usage | None) -> None:
        self._source = source
        self._final_usage = usage
        self.usage: Usage | None = None
        self.chunks: list[bytes] = []

    @property
    def buffered(self) -> bool:
        return False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for payload in self._source:
                if payload.startswith(b'{"id"') and b'"choices":[],"usage"' in payload:
                    self.usage = self._final_usage
                    continue
                self.chunks.append(payload)
                yield payload
        except openai_wire.StreamCut:
            raise UpstreamError("upstream stream broke: connection closed mid-stream") from None

    async def aclose(self) -> None:
        await self._source.aclose()  # type: ignore[attr-defined]


class SimulatedProvider:
    counts: UpstreamTokenize | None = None  # it reports usage unless told not to, counting with the model's counter

    def __init__(self, deployment: Deployment, model: Model) -> None:
        self._config = sim_config(deployment, model)
        self._engine = SimEngine(self._config)
        self._model = deployment.upstream_model
        self._dimensions = model.dimensions
        self._timeout = deployment.timeout_s

    async def _reply(self, body: dict[str, Any]) -> SimReply:
        reply = self._engine.reply(body)
        if reply.hang:
            await asyncio.sleep(self._timeout)
            raise UpstreamTimeout("upstream did not answer in time")
        if reply.error is not None:
            raise map_upstream_error(reply.error[0], orjson.dumps(openai_wire.error_body(reply)))
        return reply

    async def chat(self, body: dict[str, Any]) -> ChatResult:
        reply = await self._reply(body)
        if self._config.ttft_ms or self._config.tokens_per_s:
            pace = self._config.ttft_ms / 1000
            if self._config.tokens_per_s:
                pace += reply.completion_tokens / self._config.tokens_per_s
            await asyncio.sleep(pace)
        data = openai_wire.completion(reply, self._model, "chatcmpl-" + secrets.token_hex(12))
        return ChatResult(data, Usage.from_openai(data["usage"]))

    async def chat_stream(self, body: dict[str, Any]) -> _SimStream:
        reply = await self._reply(body)
        rid = "chatcmpl-" + secrets.token_hex(12)
        usage = Usage.from_openai(openai_wire.usage(reply))
        source = openai_wire.stream(reply, self._config, self._model, rid, include_usage=True)
        return _SimStream(source, usage)

    async def embed(self, body: dict[str, Any]) -> EmbedResult:
        inputs = body.get("input")
        texts = [inputs] if isinstance(inputs, str) else [str(t) for t in inputs or []]
        dims = body.get("dimensions") or self._dimensions
        vectors, tokens = self._engine.embed(texts, dims)
        data = openai_wire.embeddings(vectors, tokens, self._model, body.get("encoding_format"))
        return EmbedResult(data, Usage.from_openai(data["usage"]))

    async def close(self) -> None:
        return None
