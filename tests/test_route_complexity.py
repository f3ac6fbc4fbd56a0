"""The `auto` alias: the complexity router picks the cheap or the strong model per request."""

from __future__ import annotations

from pathlib import Path

import openai

from tests.conftest import demo_catalog, start_gateway


def test_auto_alias_routes_by_score_and_records_the_decision(tmp_path: Path) -> None:
    gw = start_gateway(demo_catalog(), tmp_path / "home")
    try:
        api = openai.OpenAI(base_url=gw.url + "/v1", api_key="sk-demo-acme", max_retries=0)
        prompts = [
            "hi",
            "What is 2+2?",
            "Derive the spectral theorem for normal operators, step by step.",
            "Explain the doctrine of promissory estoppel with case law from three jurisdictions.",
        ]
        served = []
        for prompt in prompts:
            raw = api.chat.completions.with_raw_response.create(
                model="auto", messages=[{"role": "user", "content": prompt}]
            )
            score, choice = raw.headers["x-tokenops-routing-score"].split()
            served.append((float(score), choice, raw.headers["x-tokenops-model"]))
        for score, choice, model in served:
            assert model == ("tele-max" if choice == "strong" else "tele-lite")
            assert (score >= 0.41) == (choice == "strong")
        records = gw.records(api="chat.completions")
        assert [(r["routing_choice"], r["model_served"]) for r in records] == [(c, m) for _, c, m in served]
        assert all(r["model_requested"] == "auto" and r["routing_score"] is not None for r in records)
    finally:
        gw.server.stop()


def test_a_tenants_own_threshold_overrides_the_alias(tmp_path: Path) -> None:
    catalog = demo_catalog()
    catalog["tenants"][0]["routing_threshold"] = 1.0  # never the strong model for this tenant
    gw = start_gateway(catalog, tmp_path / "home")
    try:
        api = openai.OpenAI(base_url=gw.url + "/v1", api_key="sk-demo-acme", max_retries=0)
        for prompt in ("Prove Fermat's little theorem.", "Integrate x^2 e^x dx and check by differentiation."):
            reply = api.chat.completions.with_raw_response.create(
                model="auto", messages=[{"role": "user", "content": prompt}]
            )
            assert reply.headers["x-tokenops-model"] == "tele-lite"
        assert {r["routing_choice"] for r in gw.records()} == {"weak"}
    finally:
        gw.server.stop()
