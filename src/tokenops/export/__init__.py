"""Usage export to the operator's billing systems: every usage record and ledger entry, exactly once, as
CloudEvents on NATS JetStream, through the store's transactional outbox."""

from collections.abc import Callable

from tokenops.export.events import Event, ledger_event, usage_event
from tokenops.export.nats_sink import NatsSink, read_events
from tokenops.export.outbox import Outbox, SinkStatus, outbox_for
from tokenops.export.relay import ExportRelay, Sink
from tokenops.export.settings import ExportSettings

__all__ = [
    "Event",
    "ExportRelay",
    "ExportSettings",
    "NatsSink",
    "Outbox",
    "Sink",
    "SinkStatus",
    "ledger_event",
    "outbox_for",
    "read_events",
    "usage_event",
]


def relay_for(settings: ExportSettings, store: object, now_ms: Callable[[], int]) -> ExportRelay:
    """The relay publishing `store`'s outbox to the stream `settings` name."""
    sink = NatsSink(settings.nats_url, settings.stream, settings.subject, settings.duplicate_window_s)
    return ExportRelay(outbox_for(store), sink, settings.sink, settings.subject, now_ms, settings.batch,
                       lease_ms=int(settings.lease_s * 1000),
                       retain_ms=int(settings.retain_days * 86_400_000))  # fmt: skip
