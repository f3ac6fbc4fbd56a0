"""Where a gateway keeps its state: the embedded SQLite file, or PostgreSQL and Redis when scaled out.

`TOKENOPS_DATABASE_URL` (postgresql://…) moves the catalog, usage and ledger to PostgreSQL;
`TOKENOPS_REDIS_URL` (redis://…) moves rate limits and concurrency to Redis and announces
catalog changes to every replica. A schema and a key prefix keep deployments apart.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import redis.asyncio as aioredis
import redis.exceptions
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from tokenops.errors import ConfigError
from tokenops.limits import Counters
from tokenops.limits.redis_counters import RedisCounters
from tokenops.limits.resilient import ResilientCounters
from tokenops.store import SQLiteStore, Store
from tokenops.store.admin import AdminStore
from tokenops.store.postgres import PostgresStore
from tokenops.store.postgres_admin import PostgresAdminStore
from tokenops.store.redis_feed import ChangeFeed
from tokenops.store.sqlite_admin import SQLiteAdminStore


@dataclass(frozen=True, slots=True)
class Backing:
    database_url: str | None = None
    redis_url: str | None = None
    schema: str | None = None  # PostgreSQL schema of this deployment (default: the connection's search path)
    redis_prefix: str = "tokenops:"

    @classmethod
    def from_env(cls, database_url: str | None = None, redis_url: str | None = None) -> Backing:
        return cls(
            database_url or os.environ.get("TOKENOPS_DATABASE_URL") or None,
            redis_url or os.environ.get("TOKENOPS_REDIS_URL") or None,
            os.environ.get("TOKENOPS_DATABASE_SCHEMA") or None,
            os.environ.get("TOKENOPS_REDIS_PREFIX", "tokenops:"),
        )

    def describe(self, home: Path) -> str:
        if self.database_url is None:
            return f"store {home}"
        where = self.database_url.split("@")[-1]  # never print a password
        return f"store postgresql://…@{where}" + (", counters on Redis" if self.redis_url else "")


@dataclass(slots=True)
class Stores:
    store: Store
    admin: AdminStore
    embedded: SQLiteStore | None = None  # the main store as what it is, for the stores that share its database
    scaled: PostgresStore | None = None
    counters: Counters | None = None
    feed: ChangeFeed | None = None
    spool_dir: Path | None = None  # usage kept on local disk while PostgreSQL is unreachable


def main_store(backing: Backing, home: Path) -> Store:
    """The catalog and usage store alone (for a command that reads it), not yet opened."""
    if backing.database_url is None:
        return SQLiteStore(home / "tokenops.db")
    return PostgresStore(backing.database_url, backing.schema, pool_size=2)


def open_stores(backing: Backing, home: Path) -> Stores:
    """The stores a gateway uses (not yet opened: the gateway opens them on its own event loop)."""
    if backing.database_url is None:
        if backing.redis_url is not None:
            raise ConfigError("a Redis URL needs a database URL too: replicas share PostgreSQL")
        embedded = SQLiteStore(home / "tokenops.db")
        return Stores(embedded, SQLiteAdminStore(home / "tokenops.db"), embedded=embedded)
    if not backing.database_url.startswith(("postgresql://", "postgres://")):
        raise ConfigError("the database URL must be postgresql://…")
    admin = PostgresAdminStore(backing.database_url, backing.schema)
    scaled = PostgresStore(backing.database_url, backing.schema)
    stores = Stores(scaled, admin, scaled=scaled, spool_dir=home / "spool")
    if backing.redis_url is not None:
        client = redis_client(backing.redis_url, socket_timeout=2.0)
        # while Redis is unreachable each tenant is refused or served locally, as its outage policy says
        stores.counters = ResilientCounters(RedisCounters(client, backing.redis_prefix))
        # the feed listens without a read timeout (it waits for news); it closes both clients on stop
        listener = redis_client(backing.redis_url)
        stores.feed = ChangeFeed(listener, backing.redis_prefix + "catalog-changes", also_close=client)
        admin.on_change = stores.feed.publish
    return stores


def redis_client(url: str, socket_timeout: float | None = None) -> aioredis.Redis:
    """A Redis client whose command, when its pooled connection turns out closed, is sent once more on a new one.

    After Redis restarts every pooled connection is dead, and each would otherwise fail one
    command before the pool notices. Only a broken connection is retried, at once; a timeout
    is not (a hung server would double the wait), and a refused connection fails at once.
    """
    retry = Retry(NoBackoff(), 1, supported_errors=(redis.exceptions.ConnectionError,))
    return aioredis.Redis.from_url(url, socket_timeout=socket_timeout, socket_connect_timeout=2.0, retry=retry)
