"""Content detectors over a key's window: a template filled with systematic variations, distillation cues,
and the window test against benign profiles; and the end-user spread that explains a template away.

Each returns a finding when its score reaches 0.7 (the policy's threshold decides whether to act)
and leaves its score in the key's state either way, for the corroboration and cluster tests.
"""

from __future__ import annotations

from tokenops.security.cues import REASONING, describe
from tokenops.security.features import NOVELTY, OFFSETS
from tokenops.security.policy import ExtractionPolicy
from tokenops.security.prompt import Prompt
from tokenops.security.reference import Reference
from tokenops.security.subject import BLEND_EVERY, Blend, Finding, KeyState
from tokenops.security.window import departures

TEMPLATE_BIN = NOVELTY + 2
STRONG_CUES = OFFSETS[5] + 2
REASONING_CUES = OFFSETS[5] + 1
WEAK = 0.55  # a score this high counts towards corroboration
EXTRACTION_SHAPED = {"template", "distillation", "harvest"}  # signs of what a request asks, not of how unusual it is
SIGN_ONLY = 0.6  # the most a finding that is only a sign may score
USERS_MIN = 8  # distinct end users in a window before a template may be an app's
USERS_TOP = 0.25  # ... none of them sending more than this share of it


def harvest_shape(input_tokens: int, output_tokens: int) -> float:
    """How much a request's answer outweighs its question (0 at output <= input, 1 from four times over):
    what an extraction wants; batch jobs, agents and classifiers send far more than they get back."""
    ratio = output_tokens / max(input_tokens, 1)
    return min(1.0, max(0.0, (ratio - 1.0) / 3.0))


def one_shot(prompt: Prompt) -> bool:
    return not (prompt.replies or prompt.tools or prompt.embedding)


def distill_weight(mask: int, prompt: Prompt, shape: float) -> float:
    """How much one request looks like distillation: a wrapper, teacher or harvest cue counts fully where the
    answer is long (0.4 where it is short: a fine-tuned model's own prompt format); asking for reasoning alone
    counts a third, and not at all inside a conversation or a tool-using agent."""
    if mask & ~REASONING:
        return max(0.4, shape)
    if mask and one_shot(prompt):
        return 0.35 * max(0.4, shape)
    return 0.0


def template_weight(similar: bool, prompt: Prompt, shape: float) -> float:
    """How much one request looks like the next item of an enumeration: a variation of the key's earlier
    prompts, one-shot, not a document to work on, and answered at length. Texts to embed have no answer to
    weigh: a short templated text counts fully (a catalogue walked item by item; indexing a corpus sends
    documents, and documents differ)."""
    if not similar or prompt.size >= 1200:
        return 0.0
    if prompt.embedding:
        return 1.0 if prompt.size < 300 else 0.0
    return shape if one_shot(prompt) else 0.0


def end_users(s: KeyState) -> dict[str, float | int] | None:
    """The key's end-user spread when it is that of an app serving many people (else None).

    An app with millions of users rarely sees one user twice in a window, so a key that forges a new
    `user` on every request looks the same: the template and velocity tests give way to the spread; the
    distillation, window and cluster tests do not."""
    distinct = len(s.user_counts)
    if distinct < USERS_MIN or not s.users:
        return None
    top = max(s.user_counts.values()) / len(s.users)
    if top > USERS_TOP:
        return None
    return {"end_users_in_window": distinct, "top_user_share": round(top, 3)}


def template(s: KeyState, policy: ExtractionPolicy) -> Finding | None:
    n = len(s.enum)
    if n < max(12, policy.enumeration_window // 2):
        return None
    share = s.enum.mean()  # (requests naming one of an app's many users never enter: one template, many people)
    s.scores["template"] = 0.7 * share / policy.enumeration_share
    if share < policy.enumeration_share:
        return None
    evidence = {
        "window": n,
        "near_duplicate_share": round(s.window.share(TEMPLATE_BIN), 3),
        "enumeration_share": round(share, 3),
        "exact_repeats": s.window.counts[NOVELTY + 1],
    }
    return Finding("enumeration", min(1.0, 0.5 + 0.5 * share), evidence)


def distillation(s: KeyState, policy: ExtractionPolicy, recent_mask: int) -> Finding | None:
    n = len(s.distill)
    if n < 8:
        return None
    share = s.distill.mean()
    s.scores["distillation"] = 0.7 * share / policy.distillation_share
    if share < policy.distillation_share:
        return None
    evidence = {
        "window": n,
        "distillation_share": round(share, 3),
        "wrapper_or_teacher_share": round(s.window.share(STRONG_CUES), 3),
        "reasoning_share": round(s.window.share(REASONING_CUES), 3),
        "cues_last_seen": describe(recent_mask),
    }
    return Finding("distillation", min(1.0, s.scores["distillation"]), evidence)


def distribution(
    shares: list[float], n: int, reference: Reference, min_n: int, subject: str = "key", blend: Blend | None = None,
    requests: int = 0,
) -> tuple[float, Finding | None]:  # fmt: skip
    """The window test on `n` requests' bin shares: (score, a finding when they depart from every benign
    profile, and from every mixture of them, by more than benign windows of that size do).

    Traffic unlike every calibrated kind is unusual, not proof: the finding is a sign (its score stays
    under the action threshold) that acts together with another sign (`corroborated`)."""
    if n < min_n:
        return 0.0, None
    limit = reference.threshold(n)
    if limit is None or not reference.profiles:
        return 0.0, None
    nearest, d = reference.nearest(shares)
    mix = {nearest: 1.0}
    if d >= limit and len(reference.profiles) > 1:  # rare for benign traffic: only then the costlier test
        if blend is None or requests >= blend.next_at:
            mix, d = reference.blend(shares)
            if blend is not None:
                blend.next_at, blend.inside = requests + BLEND_EVERY, d < limit
        elif blend.inside:
            return 0.7, None
    score = 0.7 * d / limit
    if d < limit:
        return score, None
    evidence = {
        "subject": subject,
        "window": n,
        "mmd2": round(d, 3),
        "benign_limit": round(limit, 3),
        "nearest_benign": nearest,
        "nearest_mix": mix,
        "departures": departures(shares, reference.profiles[nearest]),
    }
    return score, Finding("distribution", min(SIGN_ONLY, score), evidence)


def corroborated(scores: dict[str, float]) -> Finding | None:
    """Two or more weaker signs at once, none enough alone, one of them shaped like extraction (unusual and fast
    is not enough: a new kind of agent is both): their combined score (1 - the product of misses)."""
    weak = {k: v for k, v in scores.items() if v >= WEAK}
    if len(weak) < 2 or not weak.keys() & EXTRACTION_SHAPED:
        return None
    miss = 1.0
    for v in weak.values():
        miss *= 1.0 - min(v, 0.99)
    return Finding("corroborated", round(1.0 - miss, 3), {"signs": {k: round(v, 2) for k, v in weak.items()}})
