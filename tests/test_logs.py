"""The request log: one JSON line per request, with ids, usage, money and timing, and never any content."""

from __future__ import annotations

from pathlib import Path

import openai
import orjson
import pytest

from tests.conftest import demo_catalog, start_gateway

SECRET_PROMPT = "the turbine password is hunter2"


def test_each_request_writes_one_json_line_without_prompt_or_completion_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "requests.jsonl"
    monkeypatch.setenv("TOKENOPS_REQUEST_LOG", str(log))
    gw = start_gateway(demo_catalog(), tmp_path / "home")
    try:
        with openai.OpenAI(base_url=gw.url + "/v1", api_key="sk-demo-acme", max_retries=0) as client:
            reply = client.chat.completions.create(
                model="tele-lite",
                messages=[{"role": "user", "content": SECRET_PROMPT}],
                extra_headers={"X-Request-Id": "corr-7"},
            )
            with pytest.raises(openai.NotFoundError):
                client.chat.completions.create(model="no-such-model", messages=[{"role": "user", "content": "x"}])
    finally:
        gw.server.stop()
    text = log.read_text()
    lines = [orjson.loads(line) for line in text.splitlines()]
    assert len(lines) == 2
    ok, missing = lines
    assert ok["event"] == "request" and ok["request_id"].startswith("req_") and ok["correlation_id"] == "corr-7"
    assert ok["tenant"] == "acme-manufacturing" and ok["model"] == "tele-lite"
    assert ok["deployment"] in ("lite-east-1", "lite-north-1") and ok["status"] == 200 and ok["outcome"] == "ok"
    assert reply.usage is not None
    assert ok["tokens"] == {"input": reply.usage.prompt_tokens, "output": reply.usage.completion_tokens, "cached": 0}
    assert ok["money"]["currency"] == "CNY" and isinstance(ok["money"]["rated_units"], int)
    assert ok["latency_ms"] > 0
    assert missing["status"] == 404 and missing["error_code"] and "money" not in missing
    assert SECRET_PROMPT not in text and "hunter2" not in text
    assert reply.choices[0].message.content and reply.choices[0].message.content not in text


def test_request_log_is_off_by_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TOKENOPS_REQUEST_LOG", raising=False)
    gw = start_gateway(demo_catalog(), tmp_path / "home")
    try:
        assert gw.state.telemetry.request_log is None
        assert gw.state.telemetry.traces is None  # and no trace export without an endpoint
    finally:
        gw.server.stop()
