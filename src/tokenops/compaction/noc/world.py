"""The network a session's engineer works on: routers, SBCs, clusters, their names and addresses."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from tokenops.compaction.noc.ids import Ids
from tokenops.compaction.noc.logs import Clock, Host

VENDORS = ("xr", "junos", "vrp", "nxos")
NAMESPACES = {
    "ims": ["pcscf", "scscf", "icscf", "bgcf", "mrf-ctrl", "sbc-sig", "rtpengine"],
    "5gc": ["amf", "smf", "nrf", "udm", "pcf", "nssf"],
    "charging": ["chf-rating", "cdr-writer", "ocs-gateway", "balance-api"],
    "oss": ["alarm-bridge", "inventory", "netconf-agent", "metrics-relay"],
}


@dataclass
class Router:
    name: str
    vendor: str
    loopback: str
    interfaces: list[str] = field(default_factory=list)


@dataclass
class World:
    r: random.Random
    ids: Ids
    clock: Clock
    routers: list[Router] = field(default_factory=list)
    pods: dict[str, list[str]] = field(default_factory=dict)  # deployment -> pod names
    namespace_of: dict[str, str] = field(default_factory=dict)
    nodes: list[str] = field(default_factory=list)
    sbc: str = ""  # ip:port of the session border controller
    peers: list[str] = field(default_factory=list)  # carrier trunks, ip:port
    pcscf: list[str] = field(default_factory=list)

    @classmethod
    def build(cls, r: random.Random) -> World:
        ids = Ids(r)
        w = cls(r, ids, Clock(r))
        sites = ["bj", "sh", "gz", "cd", "wh"]
        for k in range(r.randint(5, 8)):
            vendor = VENDORS[k % len(VENDORS)]
            role = r.choice(["pe", "p", "agg", "cr"]) if vendor != "nxos" else "leaf"
            router = Router(
                f"{role}{r.randint(1, 9)}-{r.choice(sites)}-{vendor}{r.randint(1, 4)}", vendor, ids.ipv4("10.255.0")
            )
            router.interfaces = sorted({ids.interface(vendor if vendor != "nxos" else "nxos") for _ in range(6)})
            w.routers.append(router)
        for ns, deployments in NAMESPACES.items():
            for d in deployments:
                w.pods[d] = [ids.pod(d) for _ in range(r.randint(1, 3))]
                w.namespace_of[d] = ns
        w.nodes = sorted({ids.node() for _ in range(10)})
        w.sbc = f"{ids.ipv4('10.40.1')}:5060"
        w.peers = [f"{ids.ipv4('172.16.' + str(r.randint(1, 9)))}:5060" for _ in range(4)]
        w.pcscf = [f"{ids.ipv4('10.40.2')}:5060" for _ in range(3)]
        return w

    def router(self, vendor: str = "") -> Router:
        return self.r.choice([x for x in self.routers if not vendor or x.vendor == vendor] or self.routers)

    def pod(self, deployment: str = "") -> tuple[str, str, str]:
        """(namespace, deployment, pod)."""
        deployment = deployment or self.r.choice(sorted(self.pods))
        return self.namespace_of[deployment], deployment, self.r.choice(self.pods[deployment])

    def host(self, program: str, name: str = "", thread: str = "main") -> Host:
        return Host(name or self.r.choice(self.nodes), program, self.r.randint(300, 65000), thread)
