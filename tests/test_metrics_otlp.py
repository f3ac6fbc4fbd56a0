"""Traces go to an OTLP/HTTP collector when one is configured, named and tagged per the GenAI conventions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import openai
import orjson
import pytest

from tests.conftest import ServerThread, demo_catalog, start_gateway


class Collector:
    """A stand-in OTLP/HTTP collector: keeps every JSON body posted to /v1/traces."""

    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        if scope["path"] == "/v1/traces":
            self.posts.append(orjson.loads(body))
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": b"{}"})


def attributes(span: dict[str, Any]) -> dict[str, Any]:
    return {a["key"]: next(iter(a["value"].values())) for a in span["attributes"]}


def test_requests_are_exported_as_genai_spans_when_an_otlp_endpoint_is_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    collector = Collector()
    server = ServerThread(collector)
    server.server.config.lifespan = "off"
    server.start()
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", server.url)
    gw = start_gateway(demo_catalog(), tmp_path / "home")
    try:
        with openai.OpenAI(base_url=gw.url + "/v1", api_key="sk-demo-gov", max_retries=0) as client:
            reply = client.chat.completions.create(
                model="grid-fault-expert", messages=[{"role": "user", "content": "relay 51N tripped"}], stream=True,
                stream_options={"include_usage": True},
            )  # fmt: skip
            chunks = list(reply)
    finally:
        gw.server.stop()  # flushes what is queued
        server.stop()
    spans = [
        s for post in collector.posts for rs in post["resourceSpans"] for ss in rs["scopeSpans"] for s in ss["spans"]
    ]
    service = collector.posts[0]["resourceSpans"][0]["resource"]["attributes"][0]
    assert service == {"key": "service.name", "value": {"stringValue": "tokenops"}}
    [root] = [s for s in spans if "parentSpanId" not in s]
    [upstream] = [s for s in spans if s.get("parentSpanId") == root["spanId"]]
    assert root["name"] == "chat grid-fault-expert" and root["kind"] == 2
    attrs = attributes(root)
    usage = chunks[-1].usage
    assert usage is not None
    assert attrs["gen_ai.operation.name"] == "chat" and attrs["gen_ai.request.model"] == "grid-fault-expert"
    assert attrs["gen_ai.usage.output_tokens"] == str(usage.completion_tokens)
    assert attrs["tokenops.tenant"] == "cn-gov-energy"
    assert root["events"][0]["name"] == "gen_ai.first_token"
    assert int(root["endTimeUnixNano"]) >= int(root["events"][0]["timeUnixNano"]) >= int(root["startTimeUnixNano"])
    assert attributes(upstream)["server.address"] == "gov-grid-north-1" and upstream["traceId"] == root["traceId"]
    assert "relay 51N" not in orjson.dumps(collector.posts).decode()  # no content in traces
