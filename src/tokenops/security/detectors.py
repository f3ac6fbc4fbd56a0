"""Bulk-extraction detectors: each settled request updates its key's bounded state, and each detector scores it.

Per key: a template filled with systematic variations (`enumeration`), distillation cues
(`distillation`), the window test of its recent prompts against benign profiles (`distribution`),
output velocity and output/input ratio against the tenant's other keys (`velocity`,
`output_ratio`), many client addresses (`many_addresses`); two weaker signs together
(`corroborated`). Keys that are linked and alike are also tested as one (`cluster`), so spreading
a scrape over keys or tenants does not hide it. Only sketches and counts are kept, never text.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tokenops.security import content
from tokenops.security.clusters import ACTIVE_S, SWEEP_S, Links
from tokenops.security.content import corroborated
from tokenops.security.features import NOVELTY, Features, closest, features, novelty_bin, similarity, sketch
from tokenops.security.groups import test_group
from tokenops.security.policy import ExtractionPolicy
from tokenops.security.prompt import Prompt, clip
from tokenops.security.reference import Reference
from tokenops.security.subject import Finding, KeyState, Observation, Rolling, Timed
from tokenops.security.velocity import Norms, addresses, harvest, output_ratio, update_ratio, velocity
from tokenops.security.window import CAPACITY

PERSIST = 2  # consecutive window tests past the benign limit before the window test reports
REPEAT_BIN = NOVELTY + 1
TEST_EVERY = 8  # requests between two window tests of a key
IDLE_S = 3600.0  # a key silent this long is forgotten


@dataclass(slots=True)
class Appeals:
    """What operators marked benign: keys (never acted on) and prompt patterns (not counted as evidence)."""

    keys: set[str] = field(default_factory=set)
    patterns: list[tuple[str | None, int]] = field(default_factory=list)  # (tenant or every tenant, sketch)

    def covers(self, tenant: str, signature: int) -> bool:
        return any((t is None or t == tenant) and similarity(signature, p) >= 0.5 for t, p in self.patterns)


class Detectors:
    def __init__(self, reference: Reference | None = None) -> None:
        self.keys: dict[str, KeyState] = {}
        self.tenants: dict[str, dict[str, KeyState]] = {}
        self.norms = Norms()
        self.reference = reference if reference is not None else Reference.builtin()
        self.appeals = Appeals()
        self.links = Links()
        self._next_sweep = self._next_forget = 0.0

    def observe(self, obs: Observation, policy: ExtractionPolicy) -> list[Finding]:
        s = self.keys.get(obs.key)
        if s is None:
            s = self.keys[obs.key] = KeyState(obs.tenant, obs.at)
            self.tenants.setdefault(obs.tenant, {})[obs.key] = s
        s.requests += 1
        s.last_at = obs.at
        span = policy.velocity_window_s
        s.recent.span_s, s.harvest.span_s = span, policy.harvest_window_s  # the policy may change at run time
        s.recent.add(obs.at, obs.output_tokens)
        update_ratio(s, obs)
        self.links.note(obs.key, obs.client, obs.at)
        found: list[Finding | None] = []
        if obs.prompt is not None:
            found += self._content(s, obs, obs.prompt, policy)
        peers = self.tenants[obs.tenant]
        rates = self.norms.tenant_rates(obs.tenant, peers.items(), obs.at, span)
        spread = content.end_users(s)
        fast = velocity(s, obs, policy, rates, self.norms.platform(self.keys.values(), obs.at, span))
        if spread is not None:  # an app's many users explain its velocity; their own limits apply to each
            s.scores["velocity"], fast = 0.0, None
        found += [fast, output_ratio(s, obs, policy, self.norms.ratio(obs.tenant, peers.values(), obs.at))]
        found.append(addresses(s, obs, policy))
        results = [f for f in found if f is not None]
        if not any(f.score >= policy.threshold for f in results):
            both = corroborated(s.scores)
            if both is not None:
                results.append(both)
        if obs.at >= self._next_forget:
            self._next_forget = obs.at + 60.0
            self._forget(obs.at)
        return [] if obs.key in self.appeals.keys else results

    def _content(self, s: KeyState, obs: Observation, prompt: Prompt, policy: ExtractionPolicy) -> list[Finding | None]:
        f = self._features(s, obs, prompt)
        if self.appeals.covers(obs.tenant, f.sketch):
            return []  # a pattern an operator marked benign is no evidence
        nearest = closest(f.sketch, s.sketches)
        s.sketches.append(f.sketch)
        while len(s.sketches) > policy.enumeration_window:
            s.sketches.popleft()
        novelty = novelty_bin(nearest)
        s.window.add((*f.bins, novelty))
        shape = content.harvest_shape(obs.input_tokens, obs.output_tokens)
        s.add_user(obs.end_user, CAPACITY)
        # the distillation and enumeration windows hold a key's one-shot requests that ask for answers (or carry
        # cues): its conversations, tool turns and documents to work on neither count nor dilute a scrape
        # hidden among them
        # ... and a request that names one of an app's many end users is that user's, not a scrape's: the key's
        # requests that name nobody are still judged (a leaked app key, a scrape hidden in an app's traffic)
        users = obs.end_user is not None and content.end_users(s) is not None
        if users and not s.app:  # the key just showed an app's spread: what its users sent before is theirs too
            s.app = True
            s.distill, s.enum = Rolling(s.distill.capacity), Rolling(s.enum.capacity)
            s.harvest = Timed(s.harvest.span_s)
        asks = content.one_shot(prompt) and (shape >= 0.5 or f.cues != 0) and not users
        if asks:
            s.distill.add(content.distill_weight(f.cues, prompt, shape))
        if asks or (prompt.embedding and not users):
            s.enum.add(content.template_weight(novelty == content.TEMPLATE_BIN, prompt, shape))
        if asks and shape >= 0.5 and novelty != REPEAT_BIN:  # the same prompt again yields no new answer to keep
            s.harvest.add(obs.at, obs.output_tokens)
        shifted = None
        if s.requests % TEST_EVERY == 0:  # a window moves slowly: testing every few requests sees the same
            _, shifted = content.distribution(s.window.shares(), s.window.n, self.reference, policy.distribution_min,
                                              blend=s.blend, requests=s.requests)  # fmt: skip
            s.past_limit = s.past_limit + 1 if shifted is not None else 0
            if s.past_limit < PERSIST:  # one odd window is chance; a scrape stays away
                shifted = None
            s.scores["distribution"] = content.SIGN_ONLY if shifted is not None else 0.0
        read = harvest(s, obs, policy)
        return [content.template(s, policy), content.distillation(s, policy, f.cues), shifted, read]

    def _features(self, s: KeyState, obs: Observation, prompt: Prompt) -> Features:
        if prompt.system and prompt.system != s.system[0]:
            s.system = (prompt.system, -1)  # worked out below, once per distinct system prompt
        f = features(prompt, obs.end_user is not None, obs.session, s.system[1] if prompt.system else 0)
        if prompt.system and s.system[1] < 0:
            s.system = (prompt.system, f.system_cues)
        return f

    def sweep(self, now: float, policy: ExtractionPolicy) -> list[tuple[list[str], Finding]]:
        """Test every group of linked, alike keys as one; at most once every SWEEP_S."""
        if now < self._next_sweep:
            return []
        self._next_sweep = now + SWEEP_S
        out = []
        for members, reasons in self.links.groups(self.keys, now):
            found = test_group({m: self.keys[m] for m in members}, reasons, self.reference, policy, now)
            if found is not None:
                acted, finding = found
                out.append(([m for m in acted if m not in self.appeals.keys], finding))
        return out

    def _forget(self, now: float) -> None:
        for key, s in list(self.keys.items()):
            if s.last_at < now - IDLE_S:
                del self.keys[key]
                self.tenants[s.tenant].pop(key, None)
        self.links.forget_before(now - ACTIVE_S)


def prompt_sketch(text: str) -> int:
    """The sketch of an example prompt an operator marks benign (the same as the detectors take)."""
    return sketch(clip(text))
