"""What charging asks of its store: accounts, the ledger, package grants, plans, open reservations.

The embedded implementation lives in `charging.sqlite` (the gateway's SQLite file);
a PostgreSQL one follows the same contract (`tests/test_charging_store.py`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from tokenops.charging.accounts import Account
from tokenops.charging.budgets import Alert, Spend
from tokenops.charging.catalog import ChargingConfig
from tokenops.charging.checkpoints import Checkpoint, Head, Slice
from tokenops.charging.ledger import Entry
from tokenops.charging.queries import RecentSpend
from tokenops.charging.vouchers import VoucherStore
from tokenops.store import UsageRecord


@dataclass(frozen=True, slots=True)
class HoldRow:
    """A reservation as stored while open, so a crash cannot leave one unaccounted."""

    request_id: str
    account_id: str
    amount: int
    expires_ms: int
    created_ms: int
    owner: str = ""  # the `writer` of the process holding it ('' before owners were recorded)
    interim: str | None = None  # JSON: a stream's usage so far, as last reported (see `charging.interim`)


class ChargingStore(VoucherStore, Protocol):
    writer: str  # this process's mark on the entries it writes

    async def open(self) -> None: ...

    async def seed(self, config: ChargingConfig, now_ms: int) -> None:
        """Create the accounts, opening balances and package grants the catalog names; never reset them."""

    async def config_docs(self) -> dict[str, dict[str, Any]]: ...

    async def put_config(self, key: str, doc: dict[str, Any]) -> None:
        """Create or replace one configuration document (`price:ID`, `budget:ID`, `package:ID`)."""

    async def set_limit(self, account_id: str, limit: int) -> None:
        """Set an account's overdraft (prepaid) or credit (postpaid) limit, in accounting units."""

    async def accounts(self) -> dict[str, Account]:
        """Every account with its settled balance and its package grants."""

    async def append(self, entries: Sequence[Entry]) -> list[Entry]:
        """Append idempotently (same key, same body: once; different body: LedgerConflict), all or none.

        A debit other than a usage charge that would take an account below its floor
        raises FloorBreached. Returns the entries newly stored, with their hashes.
        """

    async def settle(
        self, records: Sequence[UsageRecord], charges: Sequence[Entry], holds: Sequence[HoldRow], closed: Sequence[str]
    ) -> None:
        """In one transaction: usage records, their charges, reservations opened and closed."""

    async def entries(
        self, account_id: str | None = None, since_ms: int | None = None, until_ms: int | None = None
    ) -> list[Entry]: ...

    async def entry(self, idem_key: str) -> Entry | None:
        """The entry stored under an idempotency key, if any."""

    async def foreign_entries(self, after_seq: int) -> list[Entry]:
        """Entries other writers appended after `after_seq` (top-ups made from the CLI while serving)."""

    async def charged(self, request_ids: Sequence[str]) -> set[str]:
        """Which of these requests already have their charge."""

    async def last_seq(self) -> int: ...

    async def open_holds(self) -> list[HoldRow]: ...

    async def close_holds(self, request_ids: Sequence[str]) -> None: ...

    async def heartbeat(self) -> None:
        """Tell the processes sharing this store that this one (its `writer`) is alive, on the store's clock."""

    async def retire(self) -> None:
        """This process stops: its heartbeat goes, so anything it left open is taken over at once."""

    async def dead_replicas(self, stale_ms: int) -> list[str]:
        """The writers whose heartbeat is older than `stale_ms` (seen within the last day)."""

    async def claim_orphans(self, stale_ms: int) -> list[HoldRow]:
        """Take over the open reservations of processes whose heartbeat is older than `stale_ms` (or absent).

        Atomic per reservation: two live processes claiming at once never both get one. The
        embedded store has one process, so every reservation another one left is an orphan.
        """

    async def spends(self, since_ms: int = 0, accounts: Sequence[str] | None = None) -> list[Spend]:
        """The charges since `since_ms` (of these accounts only, when given), as budgets count them."""

    async def recent_spend(
        self, accounts: Sequence[str], day_ms: int, month_ms: int, burn_ms: int
    ) -> dict[str, RecentSpend]:
        """Per account: charged since `day_ms`, since `month_ms`, and money and package tokens since `burn_ms`."""

    async def billed_before(self, account_id: str, before_ms: int) -> int:
        """What an account's invoiced entries (charges, plan fees and credits) written before `before_ms` add up
        to (one index range)."""

    async def charged_since(self, since_ms: int) -> int:
        """Every account's charges since `since_ms`, summed (one index range, not a row each)."""

    async def alerts(self, limit: int = 100) -> list[Alert]:
        """The newest budget alerts first."""

    async def usage_record(self, request_id: str) -> UsageRecord | None: ...

    async def write_alerts(self, alerts: Sequence[Alert]) -> None: ...

    async def latest_checkpoint(self) -> Checkpoint | None:
        """The last verification run that found nothing wrong."""

    async def verify_slice(self, now_ms: int, grace_ms: int, limit: int) -> Slice:
        """On one snapshot: what is new since the last checkpoint (`checkpoints.read_slice`)."""

    async def save_checkpoint(self, base_id: int, mark: Checkpoint, heads: Sequence[Head]) -> Checkpoint | None:
        """Record a run and its accounts' heads, unless a run other than `base_id` checkpointed meanwhile (None)."""
