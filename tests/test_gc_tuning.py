"""The serving process keeps the cyclic garbage collector off the request path; tests and tools keep Python's
defaults."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from tokenops.gateway.state import GC_YOUNG, Settings, tune_collector


@pytest.fixture
def restored_gc() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


def test_the_served_process_tunes_the_collector_unless_told_not_to(monkeypatch: pytest.MonkeyPatch) -> None:
    assert not Settings().tune_gc
    monkeypatch.delenv("TOKENOPS_TUNE_GC", raising=False)
    assert Settings.from_env().tune_gc
    monkeypatch.setenv("TOKENOPS_TUNE_GC", "0")
    assert not Settings.from_env().tune_gc


@pytest.mark.usefixtures("restored_gc")
def test_tuning_freezes_what_start_up_left_and_collects_the_young_generation_less_often() -> None:
    kept = [[] for _ in range(100)]  # objects alive at the end of start-up
    tune_collector()
    assert gc.get_freeze_count() >= len(kept)
    assert gc.get_threshold()[0] == GC_YOUNG
