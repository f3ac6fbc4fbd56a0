"""Storage behind small interfaces: the embedded SQLite default and the scaled-out stores."""

from tokenops.store.base import Store, UsageRecord
from tokenops.store.sqlite import SQLiteStore, default_path

__all__ = ["SQLiteStore", "Store", "UsageRecord", "default_path"]
