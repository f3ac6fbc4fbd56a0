"""Scaled out, the pools replicas share through Redis: credit leases of each balance, the tokens of each
package grant and plan allowance, and hard budgets.

Both exist only when the rate-limit counters are on Redis (`TOKENOPS_REDIS_URL`); embedded,
one process holds every balance and budget in memory and needs no pool.
"""

from __future__ import annotations

import os

from tokenops.charging.budget_leases import Recompute as BudgetRecompute
from tokenops.charging.budget_leases import RedisBudgets
from tokenops.charging.budgets import BudgetPool
from tokenops.charging.grant_leases import GrantLeases
from tokenops.charging.leases import CreditLeases, Recompute, RedisLeases
from tokenops.limits import Counters
from tokenops.limits.redis_counters import RedisCounters
from tokenops.limits.resilient import ResilientCounters


def credit_leases(counters: Counters | None, recompute: Recompute, replica: str | None = None) -> CreditLeases | None:
    """Scaled out (counters on Redis), the leases through which replicas share each balance; else None."""
    resilient = counters if isinstance(counters, ResilientCounters) else None
    if resilient is not None:
        counters = resilient.primary
    if not isinstance(counters, RedisCounters):
        return None
    ttl_ms = int(float(os.environ.get("TOKENOPS_CREDIT_LEASE_TTL_S", 30)) * 1000)
    chunk = int(os.environ.get("TOKENOPS_CREDIT_LEASE_CHUNK", 0))  # accounting units kept spare beyond the need
    leases = RedisLeases(counters.client, counters.prefix, recompute, ttl_ms, chunk, replica)  # named as in the DB
    if resilient is not None:
        leases.outage = resilient.rule  # what an account may spend here while Redis is unreachable
    return leases


def budget_pool(counters: Counters | None, recompute: BudgetRecompute) -> BudgetPool | None:
    """Scaled out (counters on Redis), where replicas share hard budgets per period; else None."""
    if isinstance(counters, ResilientCounters):
        counters = counters.primary
    if not isinstance(counters, RedisCounters):
        return None
    ttl_ms = int(float(os.environ.get("TOKENOPS_CREDIT_LEASE_TTL_S", 30)) * 1000)
    chunk = int(os.environ.get("TOKENOPS_BUDGET_LEASE_CHUNK", 0))  # accounting units or tokens kept spare
    return RedisBudgets(counters.client, counters.prefix, recompute, ttl_ms, chunk)


def grant_leases(counters: Counters | None, recompute: Recompute, replica: str | None = None) -> GrantLeases | None:
    """Scaled out (counters on Redis), the leases through which replicas share each grant's tokens; else None."""
    if isinstance(counters, ResilientCounters):
        counters = counters.primary
    if not isinstance(counters, RedisCounters):
        return None
    ttl_ms = int(float(os.environ.get("TOKENOPS_CREDIT_LEASE_TTL_S", 30)) * 1000)
    return GrantLeases(counters.client, counters.prefix, recompute, ttl_ms, 0, replica)
