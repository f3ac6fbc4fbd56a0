"""`tokenops simulate`: the simulated models as an HTTP server speaking the OpenAI wire format.

Besides the OpenAI endpoints (and, when it imitates a server, that server's tokenize endpoints:
`simulator.tokenize`) it has `/_sim/config` (GET/POST: change pace and faults
at run time) and `/_sim/stats` (requests seen, streams the client cancelled, tokens sent),
so tests can check what the upstream really experienced.
"""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
from typing import Any

import orjson

from tokenops.asgi import Receive, Request, Scope, Send
from tokenops.simulator import anthropic_wire, openai_wire
from tokenops.simulator.engine import SimConfig, SimEngine
from tokenops.simulator.tokenize import tokenize_endpoint


class SimServer:
    def __init__(self, config: SimConfig, dimensions: int = 256) -> None:
        self.engine = SimEngine(config)
        self.dimensions = dimensions
        self.stats = {"requests": 0, "streams": 0, "streams_cancelled": 0, "chunks_sent": 0}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                await send({"type": message["type"] + ".complete"})
                if message["type"] == "lifespan.shutdown":
                    return
        if scope["type"] != "http":
            return
        req = Request(scope, receive, send, "sim")
        path, method = req.path, scope["method"]
        if path == "/v1/chat/completions" and method == "POST":
            await self._chat(req)
        elif path == "/v1/messages" and method == "POST":
            await self._messages(req)
        elif path == "/v1/embeddings" and method == "POST":
            await self._embed(req)
        elif path == "/v1/models":
            await req.respond(200, b'{"object":"list","data":[{"id":"sim","object":"model","owned_by":"sim"}]}')
        elif path == "/_sim/config":
            if method == "POST":
                changes = orjson.loads(await req.body(1 << 20) or b"{}")
                self.engine.config = dataclasses.replace(self.engine.config, **changes)
            await req.respond(200, orjson.dumps(dataclasses.asdict(self.engine.config)))
        elif method == "POST" and (answer := tokenize_endpoint(self.engine.config, path)) is not None:
            self.stats["tokenize"] = self.stats.get("tokenize", 0) + 1
            try:
                data = orjson.loads(await req.body(64 << 20) or b"{}")
                status, out = answer(data)
            except (orjson.JSONDecodeError, AttributeError, TypeError, KeyError):
                status, out = 400, {"error": {"message": "bad tokenize request", "type": "invalid_request_error"}}
            await req.respond(status, orjson.dumps(out))
        elif path == "/_sim/stats":
            await req.respond(200, orjson.dumps(self.stats))
        elif path == "/healthz":
            await req.respond(200, b'{"status":"ok"}')
        else:
            await req.respond(404, b'{"error":{"message":"not found","type":"invalid_request_error","code":null}}')

    async def _chat(self, req: Request) -> None:
        self.stats["requests"] += 1
        try:
            body = orjson.loads(await req.body(64 << 20))
        except orjson.JSONDecodeError:
            await req.respond(400, b'{"error":{"message":"invalid JSON","type":"invalid_request_error"}}')
            return
        reply = self.engine.reply(body)
        config = self.engine.config
        if reply.hang:
            await asyncio.sleep(3600)
        if reply.error is not None:
            await req.respond(reply.error[0], orjson.dumps(openai_wire.error_body(reply)))
            return
        model = str(body.get("model", "sim"))
        rid = "chatcmpl-" + secrets.token_hex(12)
        if not body.get("stream"):
            if config.ttft_ms or config.tokens_per_s:
                pace = config.ttft_ms / 1000
                if config.tokens_per_s:
                    pace += reply.completion_tokens / config.tokens_per_s
                await asyncio.sleep(pace)
            await req.respond(200, orjson.dumps(openai_wire.completion(reply, model, rid, config)))
            return
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        include_usage = include_usage and config.imitate != "llama-cpp-python"  # it never sends stream usage
        await self._stream(req, openai_wire.stream(reply, config, model, rid, include_usage))

    async def _messages(self, req: Request) -> None:
        """Anthropic's Messages API over the same engine."""
        self.stats["requests"] += 1
        try:
            data = orjson.loads(await req.body(64 << 20))
        except orjson.JSONDecodeError:
            invalid = b'{"type":"error","error":{"type":"invalid_request_error","message":"invalid JSON"}}'
            await req.respond(400, invalid)
            return
        reply = self.engine.reply(anthropic_wire.engine_body(data))
        config = self.engine.config
        if reply.hang:
            await asyncio.sleep(3600)
        if reply.error is not None:
            await req.respond(reply.error[0], orjson.dumps(anthropic_wire.error_body(reply, config)))
            return
        model = str(data.get("model", "sim"))
        rid = "msg_" + secrets.token_hex(12)
        if data.get("stream"):
            await self._stream(req, anthropic_wire.stream(reply, config, model, rid), framed=True)
        else:
            await req.respond(200, orjson.dumps(anthropic_wire.message(reply, model, rid, config)))

    async def _stream(self, req: Request, chunks: Any, framed: bool = False) -> None:
        self.stats["streams"] += 1
        task = asyncio.current_task()
        assert task is not None
        gone: list[bool] = []

        async def watch() -> None:
            if (await req.receive())["type"] == "http.disconnect":
                gone.append(True)
                task.cancel()

        watcher = asyncio.create_task(watch())
        try:
            await req.start_stream()
            async for payload in chunks:
                await req.write(payload if framed else b"data: " + payload + b"\n\n")
                self.stats["chunks_sent"] += 1
            watcher.cancel()
            await req.end(b"" if framed else b"data: [DONE]\n\n")
        except openai_wire.StreamCut:
            watcher.cancel()
            await req.end()  # no [DONE]: the client sees the stream break off
        except asyncio.CancelledError:
            if not gone:
                raise
            task.uncancel()
            self.stats["streams_cancelled"] += 1

    async def _embed(self, req: Request) -> None:
        self.stats["requests"] += 1
        body = orjson.loads(await req.body(64 << 20))
        inputs = body.get("input")
        texts = [inputs] if isinstance(inputs, str) else [str(t) for t in inputs or []]
        vectors, tokens = self.engine.embed(texts, body.get("dimensions") or self.dimensions)
        data = openai_wire.embeddings(vectors, tokens, str(body.get("model", "sim")), body.get("encoding_format"))
        await req.respond(200, orjson.dumps(data))
