"""`tokenops db upgrade`: bring the gateway's database (SQLite file or PostgreSQL) to the newest schema."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from tokenops import migrations
from tokenops.store.backing import Backing


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    home = Path(args.home or os.environ.get("TOKENOPS_HOME") or ".tokenops")
    backing = Backing.from_env(args.database_url)
    revision = migrations.upgrade(backing, home)
    print(f"{backing.describe(home)}: at revision {revision}", flush=True)
    return 0


def add_parser(sub: Any) -> None:
    db = sub.add_parser("db")
    verbs = db.add_subparsers(dest="db_command", required=True)
    upgrade = verbs.add_parser("upgrade", help="apply the migrations the database lacks (safe to repeat)")
    upgrade.add_argument("--home", help="folder of the embedded store (default: $TOKENOPS_HOME or .tokenops)")
    upgrade.add_argument("--database-url", help="postgresql://… (default: $TOKENOPS_DATABASE_URL)")
    upgrade.set_defaults(func=cmd_db_upgrade)
