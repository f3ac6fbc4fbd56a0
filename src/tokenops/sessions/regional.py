"""Transcripts kept inside each tenant's residency: one transcript store per region, where tenants need it.

`TOKENOPS_STORE_REGION` names the region the main store lives in, and
`TOKENOPS_TRANSCRIPT_STORES` (`cn-east=postgresql://…,cn-south=postgresql://…`) the stores of other
regions. A tenant's transcripts go to the main store when its region is in the tenant's residency
(or when no region is named: the embedded default and a single-region operator), else to the store
of the first region of its residency that has one; with none inside its residency they are not
stored at all, and the response says `not-stored`, never another region.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from tokenops.errors import ConfigError
from tokenops.sessions.archive import Transcript, TranscriptStore

log = logging.getLogger("tokenops.sessions")
NOT_STORED = "not-stored"


def parse_regions(value: str) -> dict[str, str]:
    """`region=url,region=url` (TOKENOPS_TRANSCRIPT_STORES), checked."""
    out = {}
    for item in (v.strip() for v in value.split(",") if v.strip()):
        region, sep, url = item.partition("=")
        if not sep or not region or not url.startswith(("postgresql://", "postgres://")):
            raise ConfigError(f"TOKENOPS_TRANSCRIPT_STORES: {item!r} is not region=postgresql://…")
        out[region.strip()] = url.strip()
    return out


class RegionalTranscripts:
    def __init__(self, main: TranscriptStore, main_region: str | None, regions: dict[str, TranscriptStore]) -> None:
        self.main = main
        self.main_region = main_region
        self.regions = regions
        self.residency: Callable[[str], tuple[str, ...]] = lambda tenant: ()  # set from the catalog

    def store_for(self, tenant_id: str) -> TranscriptStore | None:
        allowed = self.residency(tenant_id)
        if self.main_region is None or self.main_region in allowed:
            return self.main
        return next((self.regions[r] for r in allowed if r in self.regions), None)

    def _all(self) -> list[TranscriptStore]:
        return [self.main, *self.regions.values()]

    async def open(self) -> None:
        for store in self._all():
            await store.open()

    async def put(
        self, tenant_id: str, session_id: str | None, request_id: str, created_ms: int, messages: list[Any]
    ) -> str:
        store = self.store_for(tenant_id)
        if store is None:
            log.warning("no transcript store inside the residency of %s: transcript not stored", tenant_id)
            return NOT_STORED
        return await store.put(tenant_id, session_id, request_id, created_ms, messages)

    async def get(self, transcript_id: str) -> Transcript | None:
        for store in self._all():
            found = await store.get(transcript_id)
            if found is not None:
                return found
        return None

    async def of_session(self, tenant_id: str, session_id: str) -> list[str]:
        store = self.store_for(tenant_id)
        return await store.of_session(tenant_id, session_id) if store is not None else []

    async def purge(self, tenant_id: str, before_ms: int) -> int:
        return sum([await s.purge(tenant_id, before_ms) for s in self._all()])
