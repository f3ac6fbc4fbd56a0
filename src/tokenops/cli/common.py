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

from rich.console import Console

from tokenops.errors import ConfigError
from tokenops.periods import month_of
from tokenops.store import SQLiteStore

T = TypeVar("T")


def home_of(args: argparse.Namespace) -> Path:
    return Path(getattr(args, "home", None) or os.environ.get("TOKENOPS_HOME") or ".tokenops")


def read_store(home: Path, fn: Callable[[SQLiteStore], Awaitable[T]]) -> T:
    """Open the embedded store read-side, run `fn` on it, close it."""
    path = home / "tokenops.db"
    if not path.exists():
        raise ConfigError(f"no store at {path}: start the gateway first, or pass --home")

    async def run() -> T:
        store = SQLiteStore(path)
        await store.open()
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
