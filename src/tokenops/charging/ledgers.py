"""Which charging store goes with which main store: the ledger shares its store's database."""

from __future__ import annotations

from tokenops.charging.postgres import ChargingPostgres
from tokenops.charging.sqlite import ChargingSQLite
from tokenops.charging.store import ChargingStore
from tokenops.errors import ConfigError
from tokenops.store import SQLiteStore, Store
from tokenops.store.postgres import PostgresStore


def ledger_for(store: Store) -> ChargingStore:
    if isinstance(store, SQLiteStore):
        return ChargingSQLite(store)
    if isinstance(store, PostgresStore):
        return ChargingPostgres(store)
    raise ConfigError(f"charging has no ledger store for {type(store).__name__}")
