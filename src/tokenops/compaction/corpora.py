"""The session generators that measure compaction, by name, each with its seeded evaluation set."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tokenops.compaction import field, noc, sessions


@dataclass(frozen=True)
class Generator:
    name: str
    sessions: list[tuple[str, int, int, str]]  # (name, seed, tokens, kind or scenario)
    generate: Callable[[str, int, int, str], tuple[list[dict[str, Any]], Any]]
    about: str


GENERATORS = {
    "agent": Generator(
        "agent",
        sessions.STANDARD_SET,
        sessions.generate,
        "operations and coding agents: kubectl, journalctl, syslog, alarms, pytest, Maven, grep",
    ),
    "noc": Generator(
        "noc",
        noc.NOC_SET,
        noc.generate,
        "NOC fault isolation: router CLI, SIP captures, 29 log formats, stack traces of 4 runtimes",
    ),
    "field": Generator(
        "field",
        field.FIELD_SET,
        field.generate,
        "held out, written after tuning: platform incidents in formats the others do not write",
    ),
}
