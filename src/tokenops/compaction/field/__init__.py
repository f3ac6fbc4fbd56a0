"""A third session generator, small and written after the compactor was tuned: a held-out check only.

A platform engineer's incidents (failing disks, load-balancer backends, a Rust GTP-U relay,
a C PFCP daemon under AddressSanitizer, Ceph and Nokia SR OS transport, an Ansible
certificate rotation) in formats the other generators do not write: httpd, HAProxy, MySQL,
MongoDB, Elasticsearch, hclog, Rust tracing, SR OS, snmptrapd, Windows events, smartctl,
Ceph, Ansible, Diameter decodes; .NET, Rust, AddressSanitizer and Ruby traces.
"""

from tokenops.compaction.field.record import Labels
from tokenops.compaction.field.session import FIELD_SET, generate

__all__ = ["FIELD_SET", "Labels", "generate"]
