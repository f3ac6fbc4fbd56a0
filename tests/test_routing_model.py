"""The shipped complexity router: loads, scores chat requests in [0, 1] within a few milliseconds."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tokenops.errors import ConfigError
from tokenops.routing import ComplexityRouter
from tokenops.routing.features import HEAD_CHARS, TAIL_CHARS, prompt_of_chat


@pytest.fixture(scope="module")
def router() -> ComplexityRouter:
    return ComplexityRouter.load_default()


def _long_body() -> dict[str, object]:
    turn = "the build failed again with a stack trace in the parser module " * 40
    messages: list[dict[str, object]] = [{"role": "system", "content": "You are a careful assistant."}]
    for i in range(600):
        messages.append({"role": "user" if i % 2 == 0 else "assistant", "content": turn})
    messages.append({"role": "user", "content": [{"type": "text", "text": turn * 50}]})
    return {"messages": messages, "tools": [{"type": "function", "function": {"name": f"t{i}"}} for i in range(8)]}


def test_shipped_router_scores_requests_in_bounds(router: ComplexityRouter) -> None:
    easy = router.score({"messages": [{"role": "user", "content": "Hi!"}]})
    hard = router.score(_long_body())
    assert 0.0 <= easy <= 1.0 and 0.0 <= hard <= 1.0
    assert router.score({}) == pytest.approx(router.score({"messages": []}))


def test_shipped_router_is_fast_on_a_long_session(router: ComplexityRouter) -> None:
    body = _long_body()
    timings = []
    for _ in range(30):
        start = time.perf_counter()
        router.score(body)
        timings.append(time.perf_counter() - start)
    assert sorted(timings)[len(timings) // 2] < 0.005


def test_only_a_bounded_window_of_the_last_turn_is_read() -> None:
    prompt = prompt_of_chat(_long_body())
    assert len(prompt.text) <= HEAD_CHARS + TAIL_CHARS + 1
    assert prompt.turns == 602 and prompt.tools == 8 and prompt.has_system


def test_choose_compares_with_the_threshold(router: ComplexityRouter) -> None:
    assert router.choose(0.4, 0.3) == "strong"
    assert router.choose(0.2, 0.3) == "weak"
    assert router.choose(0.3, 0.3) == "strong"


def test_threshold_table_maps_shares_to_thresholds(router: ComplexityRouter) -> None:
    assert router.threshold_for_share(0.0) > 1.0  # nothing scores above it
    assert router.threshold_for_share(0.2) >= router.threshold_for_share(0.5) >= router.threshold_for_share(1.0)


def test_model_round_trips_through_bytes(router: ComplexityRouter) -> None:
    again = ComplexityRouter.from_bytes(router.to_bytes())
    body = {"messages": [{"role": "user", "content": "Integrate x^2 dx from 0 to 3."}]}
    assert again.score(body) == pytest.approx(router.score(body), abs=1e-4)
    assert again.trained_on == router.trained_on


def test_a_file_that_is_not_a_model_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"format": "something else"}')
    with pytest.raises(ConfigError):
        ComplexityRouter.load(path)
    with pytest.raises(ConfigError):
        ComplexityRouter.load(tmp_path / "missing.json")


def test_a_follow_up_turn_keeps_the_task_the_conversation_opened_with(router: ComplexityRouter) -> None:
    opening = "Solve the equation 3x^2 - 12x + 9 = 0 and prove that the roots are real, step by step."
    follow_up = [
        {"role": "user", "content": opening},
        {"role": "assistant", "content": "x = 1 or x = 3."},
        {"role": "user", "content": "Now explain it more simply"},
    ]
    prompt = prompt_of_chat({"messages": follow_up})
    assert prompt.opening == opening and prompt.text == "Now explain it more simply"
    assert prompt_of_chat({"messages": follow_up[:1]}).opening == ""  # the opening turn is the one scored
    alone = router.score({"messages": [{"role": "user", "content": "Now explain it more simply"}]})
    assert router.score({"messages": follow_up}) != alone
