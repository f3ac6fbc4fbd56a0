"""Schema migrations (Alembic) for the embedded SQLite file and for PostgreSQL alike.

`tokenops db upgrade` and `tokenops serve` bring a database to the newest revision. A
database made before migrations existed (its tables created on open) is recognised:
the baseline creates only what it lacks and adds the columns of later releases, then
the database is stamped, so its rows stay where they are.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, pool

from tokenops.store.backing import Backing

HERE = Path(__file__).resolve().parent


def database_url(backing: Backing, home: Path) -> str:
    """The SQLAlchemy URL of the gateway's database (the SQLite file under `home` when not scaled out)."""
    if backing.database_url is None:
        return "sqlite:///" + str((home / "tokenops.db").resolve())
    scheme, rest = backing.database_url.split("://", 1)
    if scheme not in ("postgresql", "postgres"):
        raise ValueError("the database URL must be postgresql://…")
    return "postgresql+asyncpg://" + rest


def alembic_config(backing: Backing, home: Path) -> Config:
    config = Config()
    config.set_main_option("script_location", str(HERE))
    config.attributes["url"] = database_url(backing, home)
    config.attributes["schema"] = backing.schema
    return config


def head() -> str:
    found = ScriptDirectory(str(HERE)).get_current_head()
    assert found is not None
    return found


def upgrade(backing: Backing, home: Path) -> str:
    """Apply every migration the database lacks; returns the revision it is at now."""
    if backing.database_url is None:
        home.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(backing, home), "head")
    return head()


def sqlite_revision(path: Path) -> str | None:
    """The revision an SQLite file is stamped with (None: never migrated)."""
    engine = create_engine("sqlite:///" + str(path.resolve()), poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()
