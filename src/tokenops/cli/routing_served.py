"""Which model served each request a complexity alias routed, read from the usage records (for
`tokenops routing train --traffic` with --home or --database-url)."""

from __future__ import annotations

import argparse

from tokenops.cli.stores import read_store
from tokenops.store import Store


def served(args: argparse.Namespace) -> dict[str, str]:
    """request id -> "weak"/"strong" for the requests a complexity alias routed."""

    async def load(store: Store) -> dict[str, str]:
        out: dict[str, str] = {}
        for r in await store.usage_records():
            if r.routing_choice in ("weak", "strong"):
                out[r.request_id] = r.routing_choice
                if r.correlation_id:  # the client's own X-Request-Id, as its recorder knew the request
                    out.setdefault(r.correlation_id, r.routing_choice)
        return out

    return read_store(args, load)
