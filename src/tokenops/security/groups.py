"""A group of linked, alike keys tested as one: its pooled windows, and which of its keys the finding is about.

A scrape spread over many keys shows in the pool where no single key's window is full. Only the
members that carry the evidence are acted on: an honest colleague behind the same office address,
whose own windows hold none of it, is named in the evidence but left alone.
"""

from __future__ import annotations

import statistics

from tokenops.security import content
from tokenops.security.policy import ExtractionPolicy
from tokenops.security.reference import Reference
from tokenops.security.subject import Finding, KeyState
from tokenops.security.window import pooled

CARRIES = 0.5  # a member carries the evidence when its own share is at least this part of what the test needs


def test_group(
    states: dict[str, KeyState], reasons: list[str], reference: Reference, policy: ExtractionPolicy, now: float
) -> tuple[list[str], Finding] | None:
    """(the members to act on, the finding), or None where the group as one looks like nothing."""
    members = list(states)
    shares, n = pooled(s.window for s in states.values())
    distill_n = sum(len(s.distill) for s in states.values())
    enum_n = sum(len(s.enum) for s in states.values())
    rates = {m: s.harvest_rate(now) for m, s in states.items()}
    tests = {
        "distillation": 0.7 * sum(s.distill.sum for s in states.values()) / max(distill_n, 1)
        / policy.distillation_share if distill_n >= 8 else 0.0,
        "template": 0.7 * sum(s.enum.sum for s in states.values()) / max(enum_n, 1) / policy.enumeration_share
        if enum_n >= 12 else 0.0,
        "distribution": min(content.SIGN_ONLY,
                            content.distribution(shares, n, reference, policy.distribution_min, "group")[0]),
        # each member harvesting a quarter of what no person reads: a scrape spread thin (a team behind one
        # address is not summed: many people together read many answers)
        "harvest": 0.7 * statistics.median(rates.values()) * 4 / policy.harvest_tpm
        if len(states) >= 3 and sum(s.harvest.count for s in states.values()) >= 8 else 0.0,
    }  # fmt: skip
    test, score = max(tests.items(), key=lambda t: t[1])
    signs = [test]
    both = content.corroborated(tests)
    if both is not None and both.score > score:
        test, score, signs = "corroborated", both.score, list(both.evidence["signs"])
    if score < policy.threshold:
        return None
    acted = [m for m in members if any(_carries(states[m], rates[m], sign, policy) for sign in signs)]
    if not acted:
        return None
    evidence = {
        "test": test,
        "keys": members[:20],
        "key_count": len(members),
        "acted_on": acted[:20],
        "tenants": sorted({s.tenant for s in states.values()}),
        "linked_by": reasons[:5],
        "requests_in_windows": n,
        "output_tokens_per_min": round(sum(s.rate(now) for s in states.values())),
        "scores": {k: round(v, 2) for k, v in tests.items()},
    }
    return acted, Finding("cluster", min(1.0, score), evidence)


def _carries(s: KeyState, harvest_rate: float, sign: str, policy: ExtractionPolicy) -> bool:
    if sign == "distillation":
        return len(s.distill) >= 2 and s.distill.mean() >= CARRIES * policy.distillation_share
    if sign == "template":
        return len(s.enum) >= 2 and s.enum.mean() >= CARRIES * policy.enumeration_share
    if sign == "harvest":
        return s.harvest.count >= 2 and harvest_rate * 4 >= CARRIES * policy.harvest_tpm
    return False  # the window test alone names nobody
