"""The stores of one gateway, put together from its configuration: the main store, the ledger and the
transcript archive that share its database, and the transcript stores of other regions.

Which implementations go together is decided here once, from the configuration (a database URL or
not), so no part of the system asks what kind of store it was given.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from tokenops.charging.postgres import ChargingPostgres
from tokenops.charging.sqlite import ChargingSQLite
from tokenops.charging.store import ChargingStore
from tokenops.sessions import PostgresTranscripts, RegionalTranscripts, SQLiteTranscripts, TranscriptStore
from tokenops.sessions.regional import parse_regions
from tokenops.store import SQLiteStore, Store
from tokenops.store.backing import Backing, Stores, open_stores
from tokenops.store.postgres import PostgresStore


@dataclass(slots=True)
class Assembly:
    stores: Stores
    ledger: ChargingStore
    transcripts: RegionalTranscripts


def store_and_ledger(backing: Backing, home: Path) -> tuple[Store, ChargingStore]:
    """The main store and the ledger on the same database, for a command that reads both (not yet opened)."""
    if backing.database_url is None:
        embedded = SQLiteStore(home / "tokenops.db")
        return embedded, ChargingSQLite(embedded)
    scaled = PostgresStore(backing.database_url, backing.schema, pool_size=2)
    return scaled, ChargingPostgres(scaled)


def assemble(backing: Backing, home: Path) -> Assembly:
    stores = open_stores(backing, home)
    main: TranscriptStore
    ledger: ChargingStore
    if stores.embedded is not None:
        ledger, main = ChargingSQLite(stores.embedded), SQLiteTranscripts(stores.embedded)
    else:
        assert stores.scaled is not None
        ledger, main = ChargingPostgres(stores.scaled), PostgresTranscripts(stores.scaled)
    regions: dict[str, TranscriptStore] = {
        region: PostgresTranscripts(PostgresStore(url, backing.schema, pool_size=2))
        for region, url in parse_regions(os.environ.get("TOKENOPS_TRANSCRIPT_STORES", "")).items()
    }
    region = os.environ.get("TOKENOPS_STORE_REGION") or None
    return Assembly(stores, ledger, RegionalTranscripts(main, region, regions))
