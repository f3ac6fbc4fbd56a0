"""What CLI commands share: where the store is, the console, the current period, the gateway's address.

Kept free of the database clients, so a command's help loads none of them (reading a store: `cli.stores`)."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from rich.console import Console

from tokenops.periods import month_of


def home_of(args: argparse.Namespace) -> Path:
    return Path(getattr(args, "home", None) or os.environ.get("TOKENOPS_HOME") or ".tokenops")


def store_options(p: argparse.ArgumentParser) -> None:
    """Where a read-only command reads: the embedded store under --home, or PostgreSQL with --database-url."""
    p.add_argument("--home", help="folder of the embedded store (default: $TOKENOPS_HOME or .tokenops)")
    p.add_argument("--database-url", help="read this PostgreSQL (default: $TOKENOPS_DATABASE_URL unless --home)")


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
