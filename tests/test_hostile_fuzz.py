"""Fuzzing against a running gateway: the admin API from its OpenAPI spec (schemathesis) and the
client endpoints from generated JSON (hypothesis). Nothing may answer 5xx; each run is bounded.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx2 as httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import Gateway, demo_catalog, start_gateway
from tokenops.admin.openapi import spec

FAST = settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None)
OPERATOR = {"Authorization": "Bearer adm-demo-operator"}
ACME = {"Authorization": "Bearer sk-demo-acme"}
CLIENT_PATHS = ("/v1/chat/completions", "/v1/embeddings", "/v1/responses", "/v1/messages")


@pytest.fixture(scope="module")
def fuzz_gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    catalog = demo_catalog()
    catalog["admin"]["upstream_allowlist"].append("127.0.0.1/32")
    gw = start_gateway(catalog, tmp_path_factory.mktemp("fuzz") / "home")
    yield gw
    gw.server.stop()


schema = schemathesis.openapi.from_dict(spec())
schema.config.generation.update(max_examples=8)


@schema.parametrize()
@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck), database=None)
def test_admin_api_never_answers_5xx(case: Any, fuzz_gw: Gateway) -> None:
    response = case.call(base_url=fuzz_gw.url, headers=OPERATOR)
    assert response.status_code < 500, (case.method, case.path, response.status_code, response.text[:300])


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
chat_like = st.fixed_dictionaries(
    {"model": st.sampled_from(["tele-lite", "lite", "tele-embed", "nope", ""]) | json_values},
    optional={
        "messages": st.lists(
            st.fixed_dictionaries(
                {"role": st.sampled_from(["user", "system", "assistant", "tool", "x"])},
                optional={"content": json_values},
            )
            | json_values,
            max_size=3,
        )
        | json_values,
        "input": json_values,
        "max_tokens": json_values,
        "max_output_tokens": json_values,
        "n": json_values,
        "stream": st.booleans() | json_values,
        "user": json_values,
        "tools": json_values,
        "system": json_values,
    },
)


@FAST
@given(path=st.sampled_from(CLIENT_PATHS), body=chat_like | json_values)
def test_client_endpoints_never_answer_5xx_to_generated_json(fuzz_gw: Gateway, path: str, body: Any) -> None:
    response = httpx.post(fuzz_gw.url + path, json=body, headers=ACME, timeout=30)
    assert response.status_code < 500, (path, body, response.status_code, response.text[:300])


@FAST
@given(path=st.sampled_from(CLIENT_PATHS), raw=st.binary(max_size=200))
def test_client_endpoints_never_answer_5xx_to_random_bytes(fuzz_gw: Gateway, path: str, raw: bytes) -> None:
    headers = {**ACME, "Content-Type": "application/json"}
    response = httpx.post(fuzz_gw.url + path, content=raw, headers=headers, timeout=30)
    assert 400 <= response.status_code < 500


def test_fuzzed_requests_left_no_partial_records(fuzz_gw: Gateway) -> None:
    records = fuzz_gw.records()
    assert records and all(r["status"] < 500 for r in records)
    assert all(r["input_tokens"] == r["output_tokens"] == 0 for r in records if r["status"] >= 400)
