"""What CLI commands share: where the store is and how to read it without a running gateway."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import asyncpg
from rich.console import Console

from tokenops.errors import ConfigError
from tokenops.periods import month_of
from tokenops.store import Store
from tokenops.store.backing import Backing, main_store

T = TypeVar("T")


def home_of(args: argparse.Namespace) -> Path:
    return Path(getattr(args, "home", None) or os.environ.get("TOKENOPS_HOME") or ".tokenops")


def store_options(p: argparse.ArgumentParser) -> None:
    """Where a read-only command reads: the embedded store under --home, or PostgreSQL with --database-url."""
    p.add_argument("--home", help="folder of the embedded store (default: $TOKENOPS_HOME or .tokenops)")
    p.add_argument("--database-url", help="read this PostgreSQL (default: $TOKENOPS_DATABASE_URL unless --home)")


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


def console() -> Console:
    """A console that does not cut tables when the output is a file or a pipe."""
    return Console(width=None if sys.stdout.isatty() else 160)


def this_month() -> str:
    """The current UTC month, YYYY-MM: the period a report shows unless told otherwise."""
    return month_of(int(time.time() * 1000))


def default_url() -> str:
    """The gateway a command talks to: $TOKENOPS_URL, else 127.0.0.1 on $TOKENOPS_PORT (as `make run` serves)."""
    url = os.environ.get("TOKENOPS_URL")
    if url:
        return url.rstrip("/")
    return f"http://127.0.0.1:{os.environ.get('TOKENOPS_PORT') or 8080}"
