"""The local spool: usage batches (and their charges) kept on disk while PostgreSQL is unreachable.

A batch the database cannot take is appended to this process's spool file as one line
and fsync'd before its requests' last bytes go out — the promise the store makes. When
the database answers again the batches are replayed in order; usage records are keyed
by request id and charges by idempotency key, so a batch replayed twice (a crash between
replay and truncation) is stored once. Each process locks its own file; a file nobody
holds (left by a process that died) is adopted and replayed by the next one to start.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import orjson

from tokenops.charging.ledger import Entry
from tokenops.charging.store import HoldRow
from tokenops.store.base import USAGE_COLUMNS, UsageRecord

_UNREACHABLE: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,  # the connection went away under a query
    asyncpg.exceptions.OperatorInterventionError,  # shutting down, starting up
    # A pooled connection the server dropped in the middle of an operation: the batch is
    # retried from the spool (idempotently) once a fresh connection works again.
    asyncpg.exceptions.InternalClientError,
)


def unreachable(exc: BaseException) -> bool:
    """Whether a failed write means the database is out of reach (worth spooling), not that the write is wrong."""
    return isinstance(exc, _UNREACHABLE)


@dataclass(slots=True)
class SpoolBatch:
    records: list[UsageRecord]
    charges: list[Entry] = field(default_factory=list)
    holds: list[HoldRow] = field(default_factory=list)
    closed: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.records or self.charges or self.holds or self.closed)

    def encode(self) -> bytes:
        return orjson.dumps(
            {
                "records": [[getattr(r, c) for c in USAGE_COLUMNS] for r in self.records],
                "charges": [
                    [e.account_id, e.kind, e.amount, e.idem_key, e.created_ms, e.request_id, e.meta]
                    for e in self.charges
                ],
                "holds": [
                    [h.request_id, h.account_id, h.amount, h.expires_ms, h.created_ms, "", h.interim]
                    for h in self.holds
                ],
                "closed": self.closed,
            }
        )

    @classmethod
    def decode(cls, line: bytes) -> SpoolBatch:
        doc = orjson.loads(line)
        return cls(
            [UsageRecord(**dict(zip(USAGE_COLUMNS, row, strict=True))) for row in doc["records"]],
            [
                Entry(a, k, amount, idem, created, req, meta)
                for a, k, amount, idem, created, req, meta in doc["charges"]
            ],
            [HoldRow(*row) for row in doc["holds"]],
            list(doc["closed"]),
        )


class Spool:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.path = directory / f"usage-{os.getpid()}-{secrets.token_hex(4)}.spool"
        self._fd: int | None = None
        self._adopted: list[tuple[Path, int]] = []
        self.pending = 0  # batches written here (or adopted) and not replayed yet
        self.spooled = 0  # usage records spooled since start (reported by the tests and logs)

    def open(self) -> None:
        """Lock this process's file and adopt any file left by a process that is gone."""
        self.directory.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        for other in sorted(self.directory.glob("usage-*.spool")):
            if other == self.path:
                continue
            fd = os.open(other, os.O_RDONLY)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:  # its process is alive and replays it itself
                os.close(fd)
                continue
            self._adopted.append((other, fd))
            self.pending += len(_read(other))

    def close(self) -> None:
        for _, fd in self._adopted:
            os.close(fd)
        self._adopted = []
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
            if self.pending == 0:
                self.path.unlink(missing_ok=True)

    async def append(self, batch: SpoolBatch) -> None:
        """Durable once this returns (written and fsync'd)."""
        line = batch.encode() + b"\n"
        await asyncio.to_thread(self._append, line)
        self.pending += 1
        self.spooled += len(batch.records)

    def _append(self, line: bytes) -> None:
        if self._fd is None:
            raise RuntimeError("spool is not open")
        os.write(self._fd, line)
        os.fsync(self._fd)

    async def batches(self) -> list[SpoolBatch]:
        """Every batch to replay, oldest file first, each file in the order written."""
        paths = [p for p, _ in self._adopted] + [self.path]
        return await asyncio.to_thread(lambda: [b for p in paths for b in _read(p)])

    async def clear(self) -> None:
        """Forget the batches just replayed (nothing else is appended meanwhile: one writer, the sink)."""
        await asyncio.to_thread(self._clear)
        self.pending = 0

    def _clear(self) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            os.fsync(self._fd)
        for path, fd in self._adopted:
            path.unlink(missing_ok=True)
            os.close(fd)
        self._adopted = []


def _read(path: Path) -> list[SpoolBatch]:
    out = []
    for line in path.read_bytes().split(b"\n"):
        if not line:
            continue
        try:
            out.append(SpoolBatch.decode(line))
        except orjson.JSONDecodeError:  # a torn write: its fsync never returned, so no reply depended on it
            continue
    return out
