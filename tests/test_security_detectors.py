"""Each extraction detector on synthetic traffic: it fires on the pattern it looks for, not on normal use."""

from __future__ import annotations

import random
from collections.abc import Iterable

from tokenops.security.appeals import load_appeals, pattern_doc
from tokenops.security.cues import cues as find_cues
from tokenops.security.cues import describe
from tokenops.security.detectors import Detectors
from tokenops.security.features import WIDTH, closest, similarity, sketch
from tokenops.security.policy import ExtractionPolicy, parse_policy
from tokenops.security.prompt import HEAD, TAIL, Prompt, chat_prompt
from tokenops.security.reference import Reference
from tokenops.security.subject import Finding, Observation

POLICY = ExtractionPolicy(velocity_floor_tpm=6000, ratio_min_requests=10)
WORDS = ["grid", "pump", "alarm", "invoice", "shift", "weld", "budget", "forecast", "sensor", "route", "tariff",
         "storm", "crew", "valve", "meter"]  # fmt: skip


def obs(at: float, key: str = "k", tenant: str = "t", inp: int = 100, out: int = 50, **kw: object) -> Observation:
    return Observation(at, tenant, key, inp, out, **kw)  # type: ignore[arg-type]


def ask(text: str, cap: int | None = None, system: str | None = None, **body: object) -> Prompt:
    messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": text}]
    return chat_prompt({"messages": messages, **body}, cap)[1]


def feed(d: Detectors, key: str, prompts: Iterable[Prompt], start: float = 0.0, gap: float = 1.0,
         out: int = 300, inp: int = 30, **kw: object) -> list[Finding]:  # fmt: skip
    found: list[Finding] = []
    for i, p in enumerate(prompts):
        found += [f for f in d.observe(obs(start + i * gap, key, inp=inp, out=out, prompt=p, **kw), POLICY)]
    return [f for f in found if f.score >= POLICY.threshold]


def varied(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 14))).capitalize() + "?"


def test_sketches_tell_templated_prompts_from_unrelated_ones() -> None:
    a = sketch("Give the full specification sheet for catalogue item PN-40007, every field.")
    b = sketch("Give the full specification sheet for catalogue item PN-40014, every field.")
    c = sketch("Why does the breaker on feeder 7 trip every morning after the shift change?")
    assert similarity(a, b) > 0.6 and similarity(a, c) < 0.2 and similarity(a, a) == 1.0
    assert a.bit_length() <= 256 and sketch("x " * 100_000) == sketch("x " * 100_000)  # 32 bytes, same everywhere
    assert (
        sketch("Give the full specification sheet")
        == 0xA5B48FDEB9946F603B16F1CCA7825D7FC6EC2A05E0BB96431EF9D45E3914EFCA
    )


def test_the_request_path_keeps_bounded_slices_only() -> None:
    body = {"messages": [{"role": "system", "content": "s" * 50_000}, {"role": "user", "content": "q" * 500_000}]}
    tokens, prompt = chat_prompt(body, 64)
    assert tokens > 100_000 and prompt.size == 500_000 and prompt.cap == 64
    assert len(prompt.text) <= HEAD + TAIL + 1 and len(prompt.system) <= 200


def test_distillation_cues_are_found_and_ordinary_questions_pass() -> None:
    found = {
        "### Instruction:\nExplain photosynthesis.\n\n### Response:": "wrapper",
        "<|im_start|>user\nWhat is entropy?<|im_end|>": "wrapper",
        "You are the teacher model; a student model learns from your answer.": "teacher",
        "We are building a fine-tuning dataset. Answer the question below.": "teacher",
        "Solve it. Think step by step and show your reasoning.": "reasoning",
        'Reply as JSON: {"question": ..., "rationale": ..., "answer": ...}': "harvest",
    }
    for text, cue in found.items():
        assert cue in describe(find_cues(text)), text
    for text in ("Is feeder 7 stable after the storm?", "The distillation column pressure is high; why?",
                 "Summarise the response times of the support desk.", "Which step failed in the deploy?"):  # fmt: skip
        assert find_cues(text) == 0, text


def test_enumeration_of_a_template_is_found_and_varied_prompts_are_not() -> None:
    d = Detectors()
    rng = random.Random(1)
    assert feed(d, "normal", (ask(varied(rng)) for _ in range(60)), gap=30.0) == []
    entries = (ask(f"Translate catalogue entry #{i:05d} fully, every field.") for i in range(40))
    hits = feed(d, "scraper", entries, gap=10)
    assert hits and hits[0].detector == "enumeration" and hits[0].evidence["enumeration_share"] >= 0.6


def test_a_template_serving_many_end_users_is_an_app_not_a_scraper() -> None:
    d = Detectors()
    rng = random.Random(2)
    prompts = [ask(f"ring tone {i}: a short happy jingle", system="You write ring tones.") for i in range(300)]
    users = [f"user-{rng.randrange(100_000)}" for _ in prompts]
    found: list[Finding] = []
    for i, (p, u) in enumerate(zip(prompts, users, strict=True)):
        found += d.observe(obs(i * 0.1, "app", inp=20, out=300, prompt=p, end_user=u), POLICY)
    assert [f for f in found if f.score >= POLICY.threshold] == []
    # the same prompts from one key with no end users are an enumeration
    assert feed(Detectors(), "lone", prompts[:60])[0].detector == "enumeration"


def test_a_scrape_through_a_leaked_app_key_is_judged_apart_from_the_apps_users() -> None:
    d = Detectors()
    rng = random.Random(12)
    found: list[Finding] = []
    for i in range(120):
        if i % 2:  # the app's own users
            p, user = (
                ask(f"ring tone {i}: a short happy jingle", system="You write ring tones."),
                f"user-{rng.randrange(10**6)}",
            )
        else:  # the leak: no end user named
            p, user = ask(f"Write the worked solution to exam question {i} of set B."), None
        found += d.observe(obs(i * 0.5, "app", inp=20, out=300, prompt=p, end_user=user), POLICY)
    hits = [f for f in found if f.score >= POLICY.threshold]
    assert hits and hits[0].detector == "enumeration" and hits[0].evidence["window"] <= 30


def test_templated_batch_jobs_are_not_enumerations() -> None:
    d = Detectors()
    rng = random.Random(3)
    docs = (ask("Label this ticket:\n" + " ".join(rng.choice(WORDS) for _ in range(300)), cap=8) for _ in range(200))
    assert feed(d, "batch", docs, inp=400, out=4) == []


def test_distillation_wrappers_are_found_and_an_agents_reasoning_prompt_is_not() -> None:
    rng = random.Random(4)
    wraps = ["### Instruction:\n{q}\n\n### Response:", "You are the teacher model. {q}", "{q}\nFinal answer:"]
    d = Detectors()
    hits = feed(d, "distiller", (ask(rng.choice(wraps).format(q=varied(rng))) for _ in range(40)), out=500)
    assert hits and hits[0].detector == "distillation" and hits[0].evidence["distillation_share"] >= 0.5
    agent = "You are the site agent. Think step by step before you call a tool." * 4
    tools = [{"type": "function"}]
    turns = (ask(varied(rng), system=agent, tools=tools, messages=[]) for _ in range(120))
    assert feed(Detectors(), "agent", turns, gap=3.0, inp=2000, out=200, session=True) == []


def test_answers_harvested_faster_than_people_read_are_found() -> None:
    d = Detectors()
    rng = random.Random(5)
    questions = [ask(f"{varied(rng)} Explain in detail.", cap=2048) for _ in range(60)]
    hits = feed(d, "harvester", questions, gap=4.0, out=600)
    assert hits and hits[0].detector == "harvest" and hits[0].evidence["harvest_requests"] <= 20
    plain = [ask(varied(rng), cap=2048) for _ in range(60)]
    assert feed(d, "reader", plain, gap=90.0, out=600) == []  # such questions at a reading pace


def test_the_same_prompt_at_machine_speed_harvests_nothing() -> None:
    d = Detectors()  # a load test or a health check: one prompt again and again, answers as long as ever
    assert feed(d, "load", (ask("hi") for _ in range(600)), gap=0.01, inp=8, out=40) == []


def test_the_window_test_is_a_sign_that_acts_with_another() -> None:
    d = Detectors()
    rng = random.Random(5)
    questions = [ask(varied(rng), cap=2048) for _ in range(40)]
    found = [f for i, p in enumerate(questions)
             for f in d.observe(obs(i * 30.0, "odd", inp=30, out=200, prompt=p), POLICY)]  # fmt: skip
    shifted = [f for f in found if f.detector == "distribution"]
    assert shifted and shifted[0].evidence["mmd2"] > shifted[0].evidence["benign_limit"]
    assert all(f.score < POLICY.threshold for f in found)  # unusual, slow, short answers: no action
    hits = feed(d, "odd", questions * 2, start=1200.0, gap=5.0, out=600)  # the same, now harvested faster
    assert hits and hits[0].detector == "corroborated" and set(hits[0].evidence["signs"]) == {"distribution", "harvest"}


def test_velocity_is_compared_with_the_tenants_other_keys_from_a_new_keys_first_requests() -> None:
    d = Detectors()
    for second in range(120):  # five keys at a steady 300 output tokens every 4 seconds
        for k in range(5):
            if (second + k) % 4 == 0:
                d.observe(obs(float(second), f"peer{k}", out=300), POLICY)
    found = []
    for i in range(30):  # a new key: 30 large answers in its first 6 seconds
        found += d.observe(obs(120 + i / 5, "new", out=400), POLICY)
    first = next(f for f in found if f.detector == "velocity")
    assert first.evidence["compared_with"] == "tenant" and first.evidence["key_age_s"] < 6
    assert first.evidence["tenant_output_share"] > 0.5
    assert first.score < POLICY.threshold  # agents outpace their peers too: a sign, never enough alone


def test_output_ratio_alone_is_a_sign_never_an_action() -> None:
    d = Detectors()
    for i in range(20):
        d.observe(obs(float(i), key="a", inp=1000, out=100), POLICY)
        d.observe(obs(float(i), key="b", inp=800, out=90), POLICY)
    found = [f for i in range(20) for f in d.observe(obs(i * 10.0, key="c", inp=20, out=90), POLICY)]
    ratio = [f for f in found if f.detector == "output_ratio"]
    assert ratio and ratio[0].evidence["key_ratio"] > 6 * ratio[0].evidence["tenant_norm"]
    assert all(f.score < POLICY.threshold for f in found)


def test_one_key_from_many_addresses() -> None:
    d = Detectors()
    found = [f for i in range(20) for f in d.observe(obs(float(i), client=f"198.51.100.{i}"), POLICY)]
    assert found and found[0].detector == "many_addresses" and found[0].evidence["addresses"] == 17
    assert [f for f in d.observe(obs(30.0, key="other", client="198.51.100.1"), POLICY)] == []


def test_a_scrape_spread_over_keys_of_one_address_is_judged_as_one() -> None:
    d = Detectors()
    rng = random.Random(6)
    for i in range(60):  # six keys, ten requests each: too few for any key's own window test
        key = f"slow{i % 6}"
        p = ask(f"{varied(rng)} Explain in detail.", cap=2048)
        assert not [f for f in d.observe(obs(i * 3.0, key, inp=30, out=900, prompt=p, client="203.0.113.9"), POLICY)
                    if f.score >= POLICY.threshold]  # fmt: skip
    for i in range(60):  # four honest people behind another office address
        p = ask(varied(rng), system="You help the maintenance team.")
        d.observe(obs(i * 3.0, f"office{i % 4}", inp=60, out=200, prompt=p, client="192.0.2.7"), POLICY)
    for i in range(10):  # and a colleague behind the scrape's own address, asking alike but reading short answers
        p = ask(f"{varied(rng)} Explain in detail.", cap=2048)
        d.observe(obs(i * 15.0, "colleague", inp=30, out=20, prompt=p, client="203.0.113.9"), POLICY)
    [(members, finding)] = d.sweep(200.0, POLICY)
    assert members == [f"slow{i}" for i in range(6)] and finding.detector == "cluster"
    assert "colleague" in finding.evidence["keys"] and "colleague" not in finding.evidence["acted_on"]
    assert finding.evidence["linked_by"] == ["address 203.0.113.9", "network 203.0.113.0/24"]
    assert finding.score >= POLICY.threshold


def test_keys_created_together_are_linked() -> None:
    d = Detectors()
    d.links.created = {f"new{i}": ("t", 1000.0 + i) for i in range(4)} | {"old": ("t", 0.0)}
    rng = random.Random(7)
    for i in range(48):
        p = ask(f"{varied(rng)} Explain in detail.", cap=2048)
        d.observe(obs(i * 3.0, f"new{i % 4}", inp=30, out=900, prompt=p), POLICY)
        d.observe(obs(i * 3.0, "old", inp=30, out=900, prompt=p), POLICY)
    groups = d.links.groups(d.keys, 150.0)
    assert [(m, r) for m, r in groups] == [([f"new{i}" for i in range(4)], ["created together in t"])]


def test_marked_benign_keys_and_patterns_are_learned() -> None:
    rng = random.Random(8)
    questions = [ask(f"{varied(rng)} Explain in detail.", cap=2048) for _ in range(60)]
    d = Detectors()
    assert feed(d, "k1", questions, gap=4.0, out=900)
    d.appeals, d.reference = load_appeals({"m1": {"status": "active", "key": "k1"}})
    assert feed(d, "k1", questions, start=1000.0, gap=4.0, out=900) == []  # the key itself: never acted on

    def signs(key: str, start: float) -> list[str]:  # unusual but slow: the window test's sign only
        found = [f for i, p in enumerate(questions)
                 for f in d.observe(obs(start + i * 30.0, key, inp=30, out=200, prompt=p), POLICY)]  # fmt: skip
        return [f.detector for f in found]

    assert "distribution" in signs("k2", 3000.0)
    profile = d.keys["k2"].window.shares()
    d.appeals, d.reference = load_appeals({"m2": {"status": "active", "key": "k2", "profile": profile}})
    assert "distribution" not in signs("k3", 6000.0)  # a key like the one marked benign passes the window test now
    template = [ask(f"Describe catalogue item {i} in full.") for i in range(40)]
    pattern = pattern_doc("Describe catalogue item 7 in full.")
    d.appeals, d.reference = load_appeals({"m3": {"status": "active", "tenant": "t", **pattern}})
    assert feed(d, "k4", template, gap=10.0) == []
    d.appeals, d.reference = load_appeals({"m3": {"status": "active", "tenant": "other", **pattern}})
    assert feed(d, "k5", template, gap=10.0)


def test_state_per_key_stays_bounded() -> None:
    d = Detectors()
    rng = random.Random(9)
    for i in range(3000):
        p, user, address = ask(varied(rng)), f"u{i}" if i % 2 else None, f"10.0.{i % 200}.1"
        d.observe(obs(i * 0.05, "busy", inp=30, out=600, prompt=p, end_user=user, client=address), POLICY)
    s = d.keys["busy"]
    assert s.window.n == 48 and len(s.sketches) == 30 and len(s.distill) == 24 and len(s.user_counts) <= 48
    assert len(s.recent.buckets) <= 61 and len(s.harvest.buckets) <= 301 and len(s.addresses) <= 200


def test_the_shipped_calibration_matches_the_detectors_bins() -> None:
    reference = Reference.builtin()
    assert set(reference.profiles) >= {"agent", "batch", "app", "person"}
    assert all(len(p) == WIDTH for p in reference.profiles.values())
    assert [n for n, _ in reference.thresholds] == [16, 24, 32, 48] and reference.threshold(10) is None
    assert reference.threshold(30) == dict(reference.thresholds)[24]


def test_policy_names_the_bad_field() -> None:
    for bad, field in (
        ({"default": "nuke"}, "default"),
        ({"tenants": {"x": "ban"}}, "tenants.x"),
        ({"threshold": -1}, "threshold"),
        ({"colour": 1}, "colour"),
        ({"distillation_share": "high"}, "distillation_share"),
    ):
        try:
            parse_policy(bad)
        except Exception as exc:
            assert f"extraction.{field}" in str(exc)
        else:
            raise AssertionError(bad)
    assert parse_policy({"tenants": {"x": "suspend"}}).action_for("x") == "suspend"


def test_sketches_stay_the_same_across_versions_since_replicas_and_stored_appeals_compare_them() -> None:
    # the values the first implementation gave (sorted slot minima, densified slot by slot)
    assert sketch("Summarise the last incident report in one paragraph.") == int(
        "44cf5d0feac5a07b56310ce7c29d78532e5f3a15825d38136c4722fdd8b38e69", 16
    )
    assert sketch("hi") == int("11ecc7a27d58330ee9c49f7a55d0ab86613c17f2cda8835e3914efcaa5805b36", 16)
    long = " ".join(f"w{i}" for i in range(60))
    assert sketch(long) == int("37037cdd204653724d0f97724dfbd69944e550d7aa8559b706f8cb52994f6a45", 16)


def test_the_closest_earlier_sketch_is_the_most_similar_one() -> None:
    a = sketch("list every capital city in europe")
    earlier = [sketch("list every capital city in asia"), sketch("write a poem"), sketch("hi")]
    assert closest(a, earlier) == max(similarity(a, b) for b in earlier)
    assert closest(a, []) is None
