"""Traffic control: rate limits, concurrency and priority-class bulkheads, over pluggable counters."""

from tokenops.limits.config import CLASSES, LimitRule, LimitsConfig, limits_doc, parse_limits
from tokenops.limits.counters import Counters, MemoryCounters
from tokenops.limits.limiter import Caller, Limiter, Ticket
from tokenops.limits.priority import Bulkheads

__all__ = [
    "CLASSES",
    "Bulkheads",
    "Caller",
    "Counters",
    "LimitRule",
    "Limiter",
    "LimitsConfig",
    "MemoryCounters",
    "Ticket",
    "limits_doc",
    "parse_limits",
]
