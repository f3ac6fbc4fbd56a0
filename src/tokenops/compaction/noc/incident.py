"""An incident: a ticket and the tool outputs that show its root cause, each root-cause line marked as written."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tokenops.compaction.noc import apps, sip
from tokenops.compaction.noc.logs import Event, Host, write
from tokenops.compaction.noc.record import Out
from tokenops.compaction.noc.steps import Step, calls
from tokenops.compaction.noc.world import World


@dataclass
class Scenario:
    name: str
    ticket: str
    evidence: list[Step]
    symptom: Callable[[], Step]  # a further look at the ongoing impact: more failures, none of them new evidence


def root_calls(w: World, n: int, code: int, share: float, reason: str = "", a: str = "", b: str = "") -> list[sip.Call]:
    """`n` calls of which about `share` fail with `code`; the first failure is root-cause evidence."""
    batch = calls(w, n, share, (code,), a=a, b=b)
    first = next((c for c in batch if c.outcome == code), None)
    if first is None:
        first = sip.call(w.ids, w.clock.tick(5000), a or w.pcscf[0], b or w.sbc, code, reason=reason)
        batch.insert(len(batch) // 2, first)
    first.root = True
    return batch


def among(out: Out, w: World, style: str, host: Host, events: list[Event], filler: str = "", n: int = 0) -> None:
    """The incident's events at random places among `n` routine lines of `filler`'s log."""
    r = w.r
    filler_host = w.host(filler, host.name) if filler else host
    total = max(n, len(events))
    slots = sorted(r.sample(range(total), len(events)))
    k = 0
    for i in range(total):
        if k < len(events) and slots[k] == i:
            write(out, style, [events[k]], w.clock, host, r)
            k += 1
        elif filler:
            apps.app_log(out, w, filler, 1, error_rate=0.0, traces_on=False, host=filler_host)


def mixed(out: Out, w: World, deployment: str, n: int, rate: float, make: Callable[[], Event]) -> None:
    """`n` lines of the deployment's log in which a share `rate` are the incident's symptom events."""
    r = w.r
    style = apps.FORMATS[deployment]
    host = w.host(deployment)
    for _ in range(n):
        if r.random() < rate:
            write(out, style, [make()], w.clock, host, r)
        else:
            apps.app_log(out, w, deployment, 1, error_rate=0.01, traces_on=False, host=host)
