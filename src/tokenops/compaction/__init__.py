"""Compaction of long sessions to fit a context window, keeping the diagnostics verbatim."""

from tokenops.compaction.counting import TokenCache, byte_bound
from tokenops.compaction.engine import DEFAULT_KEEP_RECENT, CompactionResult, DigestStats, compact
from tokenops.compaction.policy import CompactionPolicy, Compactor, Decision
from tokenops.compaction.summary import Summarizer

__all__ = [
    "DEFAULT_KEEP_RECENT",
    "CompactionPolicy",
    "CompactionResult",
    "Compactor",
    "Decision",
    "DigestStats",
    "Summarizer",
    "TokenCache",
    "byte_bound",
    "compact",
]
