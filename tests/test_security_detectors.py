"""Each extraction detector on synthetic traffic: it fires on the pattern it looks for, not on normal use."""

from __future__ import annotations

import random

from tokenops.security.detectors import Detectors, Observation
from tokenops.security.policy import ExtractionPolicy, parse_policy
from tokenops.security.sketch import similarity, sketch

POLICY = ExtractionPolicy(velocity_window_s=10, velocity_floor_tpm=6000, ratio_min_requests=10)


def obs(at: float, key: str = "k", tenant: str = "t", inp: int = 100, out: int = 50, **kw: object) -> Observation:
    return Observation(at, tenant, key, inp, out, **kw)  # type: ignore[arg-type]


def test_sketches_tell_templated_prompts_from_unrelated_ones() -> None:
    a = sketch("Give the full specification sheet for catalogue item PN-40007, every field.")
    b = sketch("Give the full specification sheet for catalogue item PN-40014, every field.")
    c = sketch("Why does the breaker on feeder 7 trip every morning after the shift change?")
    assert similarity(a, b) > 0.6 and similarity(a, c) < 0.2 and similarity(a, a) == 1.0


def test_velocity_spike_against_the_keys_own_baseline() -> None:
    d = Detectors()
    for second in range(60):  # a steady 50 output tokens every second: the baseline
        assert d.observe(obs(float(second)), POLICY) == []
    found = []
    for i in range(40):  # then 40 large answers within two seconds
        found += d.observe(obs(60 + i / 20, out=400), POLICY)
    [first, *_] = [f for f in found if f.detector == "velocity"]
    assert first.score >= 0.7 and first.evidence["baseline"] > 0


def test_enumeration_of_a_template_is_found_and_varied_prompts_are_not() -> None:
    d = Detectors()
    rng = random.Random(1)
    words = [
        "grid",
        "pump",
        "alarm",
        "invoice",
        "shift",
        "weld",
        "budget",
        "forecast",
        "sensor",
        "route",
        "tariff",
        "storm",
        "crew",
    ]
    for i in range(40):
        text = " ".join(rng.choice(words) for _ in range(12))
        assert d.observe(obs(float(i), key="normal", sketch=sketch(text)), POLICY) == []
    hits = []
    for i in range(40):
        hits += d.observe(
            obs(float(i), key="scraper", sketch=sketch(f"Translate catalogue entry #{i:05d} fully")), POLICY
        )
    assert hits and hits[0].detector == "enumeration" and hits[0].evidence["near_duplicate_share"] >= 0.6


def test_output_ratio_far_from_the_tenant_norm() -> None:
    d = Detectors()
    for i in range(20):
        d.observe(obs(float(i), key="a", inp=1000, out=100), POLICY)
        d.observe(obs(float(i), key="b", inp=800, out=90), POLICY)
    found = [f for i in range(20) for f in d.observe(obs(i * 10.0, key="c", inp=20, out=90), POLICY)]
    [first, *_] = [f for f in found if f.detector == "output_ratio"]
    assert first.evidence["key_ratio"] > 6 * first.evidence["tenant_norm"]
    assert {f.detector for f in found} == {"output_ratio"}


def test_one_key_from_many_addresses() -> None:
    d = Detectors()
    found = [f for i in range(20) for f in d.observe(obs(float(i), client=f"198.51.100.{i}"), POLICY)]
    assert found and found[0].detector == "many_addresses" and found[0].evidence["addresses"] == 17
    assert [f for f in d.observe(obs(30.0, key="other", client="198.51.100.1"), POLICY)] == []


def test_policy_names_the_bad_field() -> None:
    for bad, field in (
        ({"default": "nuke"}, "default"),
        ({"tenants": {"x": "ban"}}, "tenants.x"),
        ({"threshold": -1}, "threshold"),
        ({"colour": 1}, "colour"),
    ):
        try:
            parse_policy(bad)
        except Exception as exc:
            assert f"extraction.{field}" in str(exc)
        else:
            raise AssertionError(bad)
    assert parse_policy({"tenants": {"x": "suspend"}}).action_for("x") == "suspend"
