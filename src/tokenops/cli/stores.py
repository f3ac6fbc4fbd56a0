"""Reading a store without a running gateway: the embedded file under --home, or PostgreSQL."""

from __future__ import annotations

import argparse
import asyncio
import os
from collections.abc import Awaitable, Callable
from typing import TypeVar

import asyncpg

from tokenops.cli.common import home_of
from tokenops.errors import ConfigError
from tokenops.store import Store
from tokenops.store.backing import Backing, main_store

T = TypeVar("T")


def backing_of(args: argparse.Namespace) -> Backing:
    """The store a command reads: PostgreSQL with --database-url (or $TOKENOPS_DATABASE_URL unless --home is
    given), else the embedded file under --home (which must exist)."""
    url = getattr(args, "database_url", None) or (
        None if getattr(args, "home", None) else os.environ.get("TOKENOPS_DATABASE_URL")
    )
    if url and not url.startswith(("postgresql://", "postgres://")):
        raise ConfigError("the database URL must be postgresql://…")
    home = home_of(args)
    if not url and not (home / "tokenops.db").exists():
        raise ConfigError(f"no store at {home / 'tokenops.db'}: start the gateway first, or pass --home")
    return Backing(url, None, os.environ.get("TOKENOPS_DATABASE_SCHEMA") or None)


def read_store(args: argparse.Namespace, fn: Callable[[Store], Awaitable[T]]) -> T:
    """Open the store the command names (see `backing_of`), run `fn` on it, close it."""
    store = main_store(backing_of(args), home_of(args))

    async def run() -> T:
        try:
            await store.open()
        except (OSError, asyncpg.PostgresError) as exc:
            raise ConfigError(f"the database is unreachable: {exc}") from None
        try:
            return await fn(store)
        finally:
            await store.close()

    return asyncio.run(run())
