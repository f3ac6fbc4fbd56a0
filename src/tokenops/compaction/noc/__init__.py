"""A second, independent generator of long fault-isolation sessions, as a NOC engineer's agent works them.

It shares nothing with `tokenops.compaction.sessions` nor with the compactor: its own tools
(router CLI, ssh, kubectl, log search, PromQL, NMS alarms, SIP captures), log formats,
identifiers, incidents and noise. Each line it labels is labelled as it is written, by
what the generator meant it to say (a failure, a warning, a stack frame, root-cause
evidence), never by reading the text back.
"""

from tokenops.compaction.noc.record import Labels
from tokenops.compaction.noc.session import NOC_SET, SCENARIOS, generate

__all__ = ["NOC_SET", "SCENARIOS", "Labels", "generate"]
