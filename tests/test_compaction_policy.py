"""The compaction policy: off, clearly under, clearly over, and an exact count only near the threshold."""

from __future__ import annotations

from typing import Any

import pytest

from tokenops.compaction import CompactionPolicy, Compactor, TokenCache
from tokenops.tokenize import count_messages, counter_for

COUNTER = counter_for("cl100k")


def conversation(words: int) -> list[dict[str, Any]]:
    return [
        {"role": "system", "content": "You are helpful."},
        {"role": "user", "content": " ".join("token" for _ in range(words))},
    ]


class CountingCounter:
    """The real counter, recording how many texts it was asked to count."""

    name = "cl100k-counting"
    exact = True

    def __init__(self) -> None:
        self.calls = 0

    def count(self, text: str) -> int:
        self.calls += 1
        return COUNTER.count(text)


def decide(policy: CompactionPolicy, messages: list[dict[str, Any]], window: int) -> tuple[Any, CountingCounter]:
    counter = CountingCounter()
    decision = policy.decide(messages, None, cache=TokenCache(counter), context_window=window)
    return decision, counter


def test_off_never_compacts_nor_counts() -> None:
    decision, counter = decide(CompactionPolicy(mode="off"), conversation(50_000), 1_000)
    assert not decision.compact and decision.reason == "off" and counter.calls == 0


def test_clearly_under_is_decided_by_the_byte_bound_alone() -> None:
    decision, counter = decide(CompactionPolicy(), conversation(100), 32_768)
    assert (decision.compact, decision.reason, counter.calls) == (False, "under_bound", 0)


def test_clearly_over_is_decided_without_counting() -> None:
    decision, counter = decide(CompactionPolicy(), conversation(60_000), 32_768)
    assert (decision.compact, decision.reason, counter.calls) == (True, "over_bound", 0)
    assert decision.target_tokens == int(32_768 * 0.6)


@pytest.mark.parametrize(("words", "over"), [(2_700, False), (2_900, True)])
def test_near_the_threshold_an_exact_count_decides(words: int, over: bool) -> None:
    messages = conversation(words)  # " token" is one token: about `words` tokens, 6 bytes each
    exact = count_messages(COUNTER, messages)
    window = 3_300
    decision, counter = decide(CompactionPolicy(threshold=0.85), messages, window)
    assert counter.calls > 0 and decision.tokens == exact
    assert decision.compact is over
    assert decision.reason == ("over" if over else "under")
    assert decision.limit == int(window * 0.85)


def test_the_reply_reservation_shrinks_the_room() -> None:
    policy = CompactionPolicy(threshold=0.5, target=0.25)
    decision = policy.decide(
        conversation(10), None, cache=TokenCache(COUNTER), context_window=10_000, max_output_tokens=2_000
    )
    assert (decision.limit, decision.target_tokens) == (4_000, 2_000)


def test_ratio_mode_targets_a_share_of_the_exact_count() -> None:
    messages = conversation(4_000)
    decision = CompactionPolicy(mode="ratio", ratio=4).decide(
        messages, None, cache=TokenCache(COUNTER), context_window=1
    )
    assert decision.compact and decision.target_tokens == -(-count_messages(COUNTER, messages) // 4)


def test_compactor_runs_the_policy_and_compacts_when_over() -> None:
    messages = [*conversation(10), *({"role": r, "content": "status ok " * 400} for r in ("assistant", "user") * 20)]
    compactor = Compactor(CompactionPolicy(threshold=0.8, target=0.5, keep_recent=2))
    decision, result = compactor.run(messages, None, counter=COUNTER, context_window=8_000)
    assert decision.compact and result is not None and result.fits
    assert result.tokens_after <= decision.target_tokens
    under, none = compactor.run(conversation(10), None, counter=COUNTER, context_window=8_000)
    assert not under.compact and none is None


def test_a_policy_with_target_above_threshold_is_refused() -> None:
    with pytest.raises(ValueError, match="target"):
        CompactionPolicy(threshold=0.5, target=0.7)
