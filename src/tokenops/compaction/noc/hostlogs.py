"""Logs of shared infrastructure: the ingress, the databases, cluster DNS, the syslog collector, journald
and the Diameter routing agent, each in its own format with its everyday failures."""

from __future__ import annotations

from tokenops.compaction.noc.logs import Event, Host, write
from tokenops.compaction.noc.record import Out
from tokenops.compaction.noc.world import World

_PATHS = [
    "/nchf-convergedcharging/v3/chargingdata",
    "/npcf-smpolicycontrol/v1/sm-policies",
    "/nudm-sdm/v2/{supi}/am-data",
    "/api/v1/balances/{msisdn}",
    "/nnrf-disc/v1/nf-instances?target-nf-type=SMF",
]


def ingress(out: Out, w: World, n: int, error_rate: float = 0.02) -> None:
    """The ingress controller: access lines, 5xx among them, and its error log's lines."""
    r, ids = w.r, w.ids
    host = w.host("nginx")
    for _ in range(n):
        t = w.clock.tick(700)
        imsi, _, msisdn = ids.subscriber()
        path = r.choice(_PATHS).format(supi=f"imsi-{imsi}", msisdn=msisdn.lstrip("+"))
        rid = ids.request_id()
        bad = r.random() < error_rate
        status = r.choice([500, 502, 503, 504]) if bad else r.choice([200, 200, 201, 204, 404])
        line = (
            f'{ids.ipv4()} - - [{t:%d/%b/%Y:%H:%M:%S} +0800] "{r.choice(["GET", "POST", "PATCH"])} {path} HTTP/2.0" '
            f"{status} "
            f'{r.randint(0, 4000)} "-" "{r.choice(["smf/2.3.1", "pcf/1.9.0", "Go-http-client/2.0"])}" '
            f"{r.uniform(0.001, 5):.3f} "
            f"[{r.choice(['charging-chf-8080', '5gc-pcf-80', 'oss-balance-api-3000'])}] {rid}"
        )
        if bad:
            out.error(line, "nginx-access", [rid])
            if r.random() < 0.5:
                write(
                    out,
                    "nginx-error",
                    [
                        Event(
                            "error",
                            "ingress",
                            "upstream prematurely closed connection while reading response header from upstream",
                            {
                                "client": ids.ipv4(),
                                "request": f'"POST {path} HTTP/2.0"',
                                "upstream": f'"http://{ids.ipv4("10.244.5")}:8080{path}"',
                            },
                        )
                    ],
                    w.clock,
                    host,
                    r,
                )
        else:
            out.add(line)


def postgres(out: Out, w: World, n: int, error_rate: float = 0.02) -> None:
    r, ids = w.r, w.ids
    host = Host(r.choice(["cdr-db-1", "inventory-db", "pcf-db-2"]), "postgres", r.randint(2000, 40000))
    for _ in range(n):
        roll = r.random()
        if roll < error_rate:
            key = r.randint(10**6, 10**7)
            e = r.choice(
                [
                    Event(
                        "error",
                        "charging@cdrdb",
                        'duplicate key value violates unique constraint "cdr_events_pkey"',
                        detail=[
                            f"DETAIL:  Key (id)=({key}) already exists.",
                            "STATEMENT:  INSERT INTO cdr_events (id, msisdn, rated_at) VALUES ($1, $2, $3)",
                        ],
                        ids=[str(key)],
                    ),
                    Event(
                        "error",
                        "inventory@netbox",
                        "deadlock detected",
                        detail=[
                            f"DETAIL:  Process {host.pid} waits for ShareLock on transaction {key}; blocked by "
                            f"process {host.pid + 7}.",
                            "HINT:  See server log for query details.",
                        ],
                        ids=[str(key)],
                    ),
                    Event(
                        "error",
                        "pcf@policy",
                        "canceling statement due to statement timeout",
                        detail=["STATEMENT:  SELECT * FROM sm_policy WHERE supi = $1 FOR UPDATE"],
                    ),
                ]
            )
        elif roll < error_rate + 0.02:
            e = Event("warning", "charging@cdrdb", "there is no transaction in progress")
        else:
            e = r.choice(
                [
                    Event(
                        "info",
                        "[unknown]@[unknown]",
                        f"connection received: host={ids.ipv4('10.244.7')} port={r.randint(30000, 60000)}",
                    ),
                    Event(
                        "info",
                        "charging@cdrdb",
                        "connection authorized: user=charging database=cdrdb application_name=chf-rating",
                    ),
                    Event(
                        "info",
                        "[unknown]@[unknown]",
                        f"checkpoint complete: wrote {r.randint(100, 9000)} buffers ({r.uniform(0.1, 9):.1f}%); 0 "
                        f"WAL file(s) added, 0 removed, {r.randint(1, 9)} recycled",
                    ),
                    Event(
                        "info",
                        "[unknown]@[unknown]",
                        'automatic vacuum of table "cdrdb.public.cdr_events": index scans: 1',
                    ),
                ]
            )
        write(out, "postgres", [e], w.clock, host, r)


def coredns(out: Out, w: World, n: int, error_rate: float = 0.01) -> None:
    r, ids = w.r, w.ids
    host = Host("coredns", "coredns", 1)
    for _ in range(n):
        name = r.choice(
            [
                f"pcscf.{ids.realm}",
                "nrf.5gc.svc.cluster.local",
                "kafka-0.kafka.charging.svc.cluster.local",
                f"{ids.hex(6)}.internal.noc",
            ]
        )
        if r.random() < error_rate:
            up = ids.ipv4("10.10.0")
            write(
                out,
                "coredns",
                [
                    Event(
                        "error",
                        "plugin/errors",
                        f"2 {name}. A: read udp {ids.ipv4('10.244.1')}:{r.randint(30000, 60000)}->{up}:53: i/o timeout",
                        ids=[name, up],
                    )
                ],
                w.clock,
                host,
                r,
            )
        else:
            rcode = "NXDOMAIN" if name.endswith(".noc") else "NOERROR"
            write(
                out,
                "coredns",
                [
                    Event(
                        "info",
                        f"{ids.ipv4('10.244.1')}:53",
                        f'{ids.ipv4("10.244.3")}:{r.randint(30000, 60000)} - {r.randint(1, 65000)} "A IN {name}. udp '
                        f'64 false 512" {rcode} qr,aa,rd 120 0.000{r.randint(100, 999)}s',
                    )
                ],
                w.clock,
                host,
                r,
            )


def syslog_collector(out: Out, w: World, n: int, error_rate: float = 0.02) -> None:
    """The central syslog collector: RFC 5424 from servers, RFC 3164 from older boxes."""
    r, ids = w.r, w.ids
    hosts = [
        Host(name, prog, r.randint(100, 9000))
        for name, prog in (
            ("sbc-media-1", "rtpengine"),
            ("dra-1", "dra"),
            ("ntp-1", "ntpd"),
            ("lb-2", "haproxy"),
            ("hss-fe-1", "hssd"),
        )
    ]
    for _ in range(n):
        host = r.choice(hosts)
        style = "rfc5424" if host.name[-1] in "12" and r.random() < 0.6 else "rfc3164"
        if r.random() < error_rate:
            peer = f"{ids.ipv4()}:{r.choice([3868, 443, 123])}"
            e = r.choice(
                [
                    Event(
                        "error",
                        "CONN",
                        f"peer {peer} closed the connection, state OPEN -> CLOSED",
                        {"peer": peer},
                        ids=[peer],
                    ),
                    Event(
                        "critical",
                        "HEALTH",
                        f"backend {peer} is DOWN, reason: Layer4 timeout, check duration: 2001ms",
                        ids=[peer],
                    ),
                    Event("error", "MEDIA", f"no RTP received for 30s on call {ids.call_id()}, tearing down", bad=True),
                ]
            )
        else:
            e = r.choice(
                [
                    Event("info", "STATS", f"{r.randint(100, 9000)} active sessions, {r.randint(0, 80)}% cpu"),
                    Event("notice", "CONN", f"peer {ids.ipv4()}:3868 state CER/CEA done, OPEN"),
                    Event("info", "SYNC", f"synchronized to {ids.ipv4('10.1.1')}, stratum 2"),
                    Event("debug", "HEALTH", f"backend {ids.ipv4()}:443 check passed in {r.randint(1, 40)}ms"),
                ]
            )
        write(out, style, [e], w.clock, host, r, 5000)


def journald_json(out: Out, w: World, unit: str, n: int, error_rate: float = 0.02) -> None:
    r, ids = w.r, w.ids
    host = Host(r.choice(w.nodes), unit, r.randint(300, 9000))
    for _ in range(n):
        if r.random() < error_rate:
            cid = ids.container_id()[:12]
            e = Event("error", unit, f'failed to stop container "{cid}": context deadline exceeded', ids=[cid])
        else:
            e = Event(
                "info",
                unit,
                r.choice(
                    [
                        f'StartContainer for "{ids.container_id()[:12]}" returns successfully',
                        f'ImageCreate event name:"registry.noc.local/pcscf:2.{r.randint(0, 9)}.1"',
                        "Received SIGHUP, reloading configuration",
                    ]
                ),
            )
        write(out, "journald-json", [e], w.clock, host, r, 3000)


def diameter_agent(out: Out, w: World, n: int, error_rate: float = 0.02) -> None:
    """The Diameter routing agent's log: peers, answers, and the odd failed request."""
    r, ids = w.r, w.ids
    host = Host("dra-1", "freeDiameterd", r.randint(100, 999))
    for _ in range(n):
        peer = f"{r.choice(['pcrf01', 'pcrf02', 'ocs01', 'hss02'])}.{ids.epc}"
        if r.random() < error_rate:
            sid = ids.diameter_session(peer)
            e = Event(
                "error", "fd", f"No route for message {sid} to realm {ids.epc}: DIAMETER_UNABLE_TO_DELIVER", ids=[sid]
            )
        else:
            e = r.choice(
                [
                    Event("info", "fd", f"'{peer}'\t-> 'STATE_OPEN'\t'DWA'"),
                    Event("info", "fd", f"Routed CCR-U {ids.diameter_session('pcscf-1.' + ids.realm)} to '{peer}'"),
                ]
            )
        write(out, "freediameter", [e], w.clock, host, r, 2000)


def connections(out: Out, w: World, host: Host, network: str, n: int) -> None:
    """A database's log of `n` clients connecting from `network`."""
    r = w.r
    for _ in range(n):
        line = f"connection received: host={w.ids.ipv4(network)} port={r.randint(30000, 60000)}"
        write(out, "postgres", [Event("info", "[unknown]@[unknown]", line)], w.clock, host, r)
