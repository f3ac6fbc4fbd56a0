"""The counters' cache: a text counted once is not tokenized again, and the cache stays within its bound."""

from __future__ import annotations

from tokenops.tokenize import CachedCounter, count_messages, counter_for


class _Tally:
    name = "tally"
    exact = True

    def __init__(self) -> None:
        self.calls = 0

    def count(self, text: str) -> int:
        self.calls += 1
        return len(text.split())

    def count_chat(self, messages: list[object], tools: object = None) -> int | None:
        return None


def test_a_resent_prompt_is_counted_from_the_cache_with_the_same_result() -> None:
    exact = counter_for("cl100k")
    cached = CachedCounter(exact)
    messages = [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "Summarise the last incident report in one paragraph."},
    ]
    first = count_messages(cached, messages)
    assert first == count_messages(exact, messages) == count_messages(cached, messages)
    assert cached.exact and cached.name == exact.name


def test_only_texts_of_a_few_words_and_more_are_remembered() -> None:
    tally = _Tally()
    cached = CachedCounter(tally)
    for _ in range(3):
        cached.count("a system prompt of several words")
        cached.count("delta")
    assert tally.calls == 1 + 3


def test_the_cache_starts_afresh_past_its_bound() -> None:
    tally = _Tally()
    cached = CachedCounter(tally, max_chars=100)
    texts = [f"message number {i} of the conversation" for i in range(10)]
    for text in texts:
        cached.count(text)
    assert cached._chars <= 100
    calls = tally.calls
    cached.count(texts[-1])
    assert tally.calls == calls  # the last one is still remembered
