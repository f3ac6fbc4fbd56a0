"""Output of the platform a field engineer keeps running: web and load-balancer logs, databases, storage,
consensus stores, packet-core user plane, out-of-band hardware and automation, each in its own format."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from tokenops.compaction.field.record import Sheet


@dataclass
class Ctx:
    """The session's clock and names."""

    r: random.Random
    t: datetime = field(default_factory=lambda: datetime(2025, 3, 18, 2, 10, 0, tzinfo=UTC))
    hosts: list[str] = field(default_factory=list)

    def tick(self, ms: int = 2000) -> datetime:
        self.t += timedelta(milliseconds=self.r.randint(1, ms))
        return self.t

    def hexs(self, n: int) -> str:
        return "".join(self.r.choice("0123456789abcdef") for _ in range(n))

    def ip(self, net: str = "172.20") -> str:
        return f"{net}.{self.r.randint(0, 31)}.{self.r.randint(2, 250)}"

    def host(self) -> str:
        return self.r.choice(self.hosts)


def apache(s: Sheet, c: Ctx, n: int, fail: float, backend: str) -> None:
    """httpd error log: module-qualified levels, pid and tid."""
    first = True
    for _ in range(n):
        t = c.tick()
        head = f"[{t:%a %b %d %H:%M:%S}.{t.microsecond:06d} {t:%Y}]"
        pid = f"[pid {c.r.randint(1000, 9000)}:tid {c.r.randint(10**14, 10**15)}]"
        if c.r.random() < fail:
            s.bad(
                f"{head} [proxy:error] {pid} (111)Connection refused: AH00957: http: attempt to connect to "
                f"{backend} (portal-be) failed",
                "apache",
                backend,
                key=first,
            )
            first = False
            s.bad(
                f"{head} [proxy_http:error] {pid} [client {c.ip('10.8')}:{c.r.randint(1024, 65000)}] AH01114: HTTP: "
                f"failed to make connection to backend: {backend.split(':')[0]}",
                "apache",
                backend.split(":")[0],
                key=False,
            )
        else:
            s.put(
                f"{head} [mpm_event:notice] {pid} AH00489: Apache/2.4.62 (Unix) configured -- resuming normal "
                "operations"
                if c.r.random() < 0.1
                else f"{head} [ssl:info] {pid} [client {c.ip('10.8')}:443] AH01964: Connection to "
                "child 12 established (server portal.example:443)"
            )


def haproxy(s: Sheet, c: Ctx, n: int, fail: float, down: str = "") -> None:
    """HAProxy HTTP log lines: timers, status, termination state."""
    for k in range(n):
        t = c.tick(500)
        bad = c.r.random() < fail
        srv = down if bad and down else f"srv{c.r.randint(1, 4)}"
        status, term = (503, "SC--") if bad else (c.r.choice([200, 200, 204, 304]), "----")
        timers = "0/0/-1/-1/3001" if bad else f"0/0/{c.r.randint(0, 3)}/{c.r.randint(2, 90)}/{c.r.randint(3, 95)}"
        line = (
            f"{t:%b} {t.day:>2} {t:%H:%M:%S} lb-1 haproxy[2211]: {c.ip('10.8')}:{c.r.randint(1024, 65000)} "
            f"[{t:%d/%b/%Y:%H:%M:%S}.{t.microsecond // 1000:03d}] fe_api be_api/{srv} {timers} {status} "
            f"{c.r.randint(120, 9000)} - - {term} {c.r.randint(1, 90)}/{c.r.randint(1, 80)}/0/0/0 0/0 "
            f'"{c.r.choice(["GET", "POST"])} /v2/{c.r.choice(["quota", "session", "usage"])} HTTP/1.1"'
        )
        if bad:
            s.bad(line, "haproxy", key=k < 2)
        else:
            s.put(line)
    if down:
        t = c.tick()
        s.bad(
            f"{t:%b} {t.day:>2} {t:%H:%M:%S} lb-1 haproxy[2211]: Server be_api/{down} is DOWN, reason: Layer4 "
            'connection problem, info: "Connection refused", check duration: 0ms. 2 active and 0 backup servers left. '
            "0 sessions active, 0 requeued, 0 remaining in queue.",
            "haproxy",
            down,
        )


def mysql(s: Sheet, c: Ctx, n: int, failure: str = "") -> None:
    for k in range(n):
        t = c.tick(5000)
        head = f"{t:%Y-%m-%dT%H:%M:%S}.{t.microsecond:06d}Z {c.r.randint(1, 90)}"
        if failure and k == n // 3:
            s.bad(
                f"{head} [ERROR] [MY-013117] [Repl] Replica I/O for channel '': Fatal error: {failure}, "
                "Error_code: MY-013117",
                "mysql",
            )
            s.bad(
                f"{head} [ERROR] [MY-010586] [Repl] Error reading relay log event for channel '': replica SQL thread "
                "was killed",
                "mysql",
                key=False,
            )
        else:
            s.put(
                f"{head} [System] [MY-010931] [Server] /usr/sbin/mysqld: ready for connections. port: 3306"
                if c.r.random() < 0.05
                else f"{head} [Note] [MY-010914] [Server] Aborted connection "
                f"{c.r.randint(100, 9999)} to db: 'billing' user: 'app' host: '{c.ip()}' (Got timeout reading "
                "communication packets)."
            )


def mongo(s: Sheet, c: Ctx, n: int, fail: float, member: str) -> None:
    """MongoDB structured log: the severity is the `s` field (F, E, W, I, D1..D5)."""
    for _ in range(n):
        t = c.tick(3000)
        date = f'{{"$date":"{t:%Y-%m-%dT%H:%M:%S}.{t.microsecond // 1000:03d}+00:00"}}'
        if c.r.random() < fail:
            s.bad(
                f'{{"t":{date},"s":"E","c":"REPL","id":21799,"ctx":"BackgroundSync","msg":"Sync source candidate '
                f'rejected","attr":{{"candidate":"{member}","reason":"last applied optime is behind"}}}}',
                "mongo",
                member,
            )
        elif c.r.random() < 0.05:
            s.warn(
                f'{{"t":{date},"s":"W","c":"NETWORK","id":4615610,"ctx":"conn{c.r.randint(10, 999)}",'
                '"msg":"Failed to check socket connectivity","attr":{"error":"Connection reset by peer"}}'
            )
        else:
            s.put(
                f'{{"t":{date},"s":"I","c":"NETWORK","id":22943,"ctx":"listener","msg":"Connection accepted",'
                f'"attr":{{"remote":"{c.ip()}:{c.r.randint(1024, 65000)}","connectionCount":{c.r.randint(10, 900)}}}}}'
            )


def elastic(s: Sheet, c: Ctx, n: int, node: str, full: bool) -> None:
    """Elasticsearch's own log: `[time][LEVEL][logger] [node] message`."""
    for k in range(n):
        t = c.tick(8000)
        head = f"[{t:%Y-%m-%dT%H:%M:%S},{t.microsecond // 1000:03d}]"
        if full and k % 9 == 4:
            s.bad(
                f"{head}[ERROR][o.e.c.r.a.DiskThresholdMonitor] [{node}] flood stage disk watermark [95%] exceeded on "
                f"[{c.hexs(22)}][{node}][/var/lib/elasticsearch] free: 4.1gb[1.9%], all indices on this node will be "
                "marked read-only",
                "elastic",
                node,
            )
        else:
            s.put(
                f"{head}[INFO ][o.e.c.m.MetadataMappingService] [{node}] [cdr-2025.03.{t.day:02d}/{c.hexs(22)}] "
                "update_mapping [_doc]"
            )


def hclog(s: Sheet, c: Ctx, n: int, fail: float, peer: str) -> None:
    """HashiCorp hclog, as Consul and Vault write it."""
    for _ in range(n):
        t = c.tick(1500)
        head = f"{t:%Y-%m-%dT%H:%M:%S}.{t.microsecond // 1000:03d}Z"
        if c.r.random() < fail:
            s.bad(
                f'{head} [ERROR] agent.server.raft: failed to appendEntries to: peer="{{Voter {c.hexs(8)} {peer}}}" '
                f'error="dial tcp {peer}: connect: no route to host"',
                "hclog",
                peer,
            )
        else:
            s.put(
                f"{head} [INFO]  agent: Synced check: "
                f"check=service:{c.r.choice(['upf', 'smf', 'nrf'])}-{c.r.randint(1, 9)}"
            )


def tracing(s: Sheet, c: Ctx, n: int, fail: float, teid: str) -> None:
    """A Rust service's `tracing` output: time, level, target, message, fields."""
    for _ in range(n):
        t = c.tick(700)
        head = f"{t:%Y-%m-%dT%H:%M:%S}.{t.microsecond:06d}Z"
        if c.r.random() < fail:
            s.bad(
                f"{head} ERROR gtpu_relay::decap: extension header chain truncated teid={teid} "
                f"peer={c.ip('10.66')}:2152 len={c.r.randint(20, 60)}",
                "rust-tracing",
                teid,
            )
        else:
            s.put(
                f"{head}  INFO gtpu_relay::stats: forwarded pkts={c.r.randint(10**5, 10**7)} "
                f"bytes={c.r.randint(10**8, 10**10)} sessions={c.r.randint(1000, 90000)}"
            )


def sros(s: Sheet, c: Ctx, n: int, port: str, down: bool) -> None:
    """Nokia SR OS event log: sequence, time, severity word, application, event id."""
    seq = c.r.randint(10000, 90000)
    for k in range(n):
        t = c.tick(30_000)
        seq += 1
        head = f"{seq} {t:%Y/%m/%d %H:%M:%S}.{t.microsecond // 10000:02d} UTC"
        if down and k == n // 2:
            s.bad(f'{head} MAJOR: PORT #2004 Base Port {port} "Interface {port} is not operational"', "sros", port)
            s.bad(
                f'{head} WARNING: SNMP #2004 Base {port} "Interface {port} is not operational"', "sros", port, key=False
            )
        else:
            s.put(
                f'{head} MINOR: SECURITY #2002 Base user admin from {c.ip("10.255")} "User admin from {c.ip("10.255")} '
                'logged in"'
                if c.r.random() < 0.3
                else f'{head} MINOR: CHASSIS #2060 Base Fan 1 "Fan 1 speed changed to {c.r.randint(40, 70)}%"'
            )


def snmptrap(s: Sheet, c: Ctx, agent: str, if_index: int, down: bool) -> None:
    t = c.tick(60_000)
    trap = "linkDown" if down else "linkUp"
    line = (
        f"{t:%Y-%m-%d %H:%M:%S} {agent} [UDP: [{agent}]:161->[10.9.0.1]:162]: DISMAN-EVENT-MIB::sysUpTimeInstance = "
        f"Timeticks: ({c.r.randint(10**6, 10**8)}) 12 days, 3:02:11.45\tSNMPv2-MIB::snmpTrapOID.0 = OID: IF-MIB::"
        f"{trap}\tIF-MIB::ifIndex.{if_index} = INTEGER: {if_index}\tIF-MIB::ifOperStatus.{if_index} = INTEGER: "
        f"{'down(2)' if down else 'up(1)'}"
    )
    if down:
        s.bad(line, "snmptrapd", agent)
    else:
        s.put(line)


def windows(s: Sheet, c: Ctx, failing: bool) -> None:
    """`Get-WinEvent | Format-List`: one record a block; a failing record's header fields are its error lines."""
    t = c.tick(60_000)
    level = "Error" if failing else "Information"
    event = 17883 if failing else 17126
    block = [
        f"TimeCreated  : {t:%m/%d/%Y %I:%M:%S %p}",
        "ProviderName : MSSQLSERVER",
        f"Id           : {event}",
        f"LevelDisplayName : {level}",
    ]
    for line in block:
        if failing and line.startswith(("Id", "LevelDisplayName")):
            s.bad(line, "windows-event")
        else:
            s.put(line)
    msg = (
        (
            "Message      : Process 0:0:0 (0x1a2c) Worker 0x000001B6 appears to be non-yielding on Scheduler 4. "
            "Thread creation time: 13384421. Approx Thread CPU Used: kernel 0 ms, user 70032 ms."
        )
        if failing
        else ("Message      : SQL Server is now ready for client connections. This is an informational message only.")
    )
    if failing:
        s.bad(msg, "windows-event")
    else:
        s.put(msg)
    s.put("")


def dmesg_disk(s: Sheet, c: Ctx, n: int, dev: str, failing: bool) -> None:
    up = 2_000_000.0 + c.r.random() * 1000
    for k in range(n):
        up += c.r.random() * 30
        stamp = f"[{up:14.6f}]"
        if failing and k % 5 == 2:
            sector = c.r.randint(10**6, 10**9)
            s.bad(
                f"{stamp} blk_update_request: I/O error, dev {dev}, sector {sector} op 0x1:(WRITE) flags 0x800 "
                "phys_seg 1 prio class 0",
                "dmesg-disk",
                dev,
                str(sector),
                key=k == 2,
            )
            s.bad(f"{stamp} ata3.00: failed command: WRITE FPDMA QUEUED", "dmesg-disk", key=False)
        else:
            s.put(
                f"{stamp} IPv4: martian source {c.ip('10.12')} from {c.ip('10.12')}, on dev bond0"
                if c.r.random() < 0.2
                else f"{stamp} nvme nvme0: {c.r.randint(8, 64)}/0/0 default/read/poll queues"
            )


def smartctl(s: Sheet, c: Ctx, dev: str, failing: bool) -> None:
    s.put(
        "smartctl 7.4 2023-08-01 r5530 [x86_64-linux-6.8.0] (local build)", "=== START OF READ SMART DATA SECTION ==="
    )
    verdict = "SMART overall-health self-assessment test result: " + ("FAILED!" if failing else "PASSED")
    if failing:
        s.bad(verdict, "smartctl")
        s.bad("Drive failure expected in less than 24 hours. SAVE ALL DATA.", "smartctl", key=False)
    else:
        s.put(verdict)
    s.put("ID# ATTRIBUTE_NAME          FLAG     VALUE WORST THRESH TYPE      UPDATED  WHEN_FAILED RAW_VALUE")
    for aid, name, thresh in (
        (1, "Raw_Read_Error_Rate", 44),
        (5, "Reallocated_Sector_Ct", 36),
        (9, "Power_On_Hours", 0),
        (187, "Reported_Uncorrect", 0),
        (197, "Current_Pending_Sector", 0),
    ):
        if failing and aid == 5:
            s.bad(
                f"{aid:>3} {name:<23} 0x0033   001   001   {thresh:03d}    Pre-fail  Always   FAILING_NOW 4095",
                "smartctl",
            )
        else:
            s.put(
                f"{aid:>3} {name:<23} 0x000f   {c.r.randint(80, 100):03d}   {c.r.randint(60, 100):03d}   "
                f"{thresh:03d}    "
                f"Old_age   Always       -       {c.r.randint(0, 90000)}"
            )


def ceph(s: Sheet, c: Ctx, osd: int, down: bool) -> None:
    if down:
        s.bad(
            f"HEALTH_ERR 1 osds down; Degraded data redundancy: {c.r.randint(1000, 9000)}/{c.r.randint(10**5, 10**6)} "
            f"objects degraded (2.173%), {c.r.randint(20, 90)} pgs degraded",
            "ceph",
            key=True,
        )
        s.bad("[WRN] OSD_DOWN: 1 osds down", "ceph", key=False)
        s.bad(f"    osd.{osd} (root=default,host={c.host()}) is down", "ceph", f"osd.{osd}")
    else:
        s.put("HEALTH_OK")
    s.put("ID  CLASS  WEIGHT    TYPE NAME         STATUS  REWEIGHT  PRI-AFF")
    for k in range(8):
        state = "down" if down and k == osd else "up"
        row = f"{k:>2}    ssd   1.74660          osd.{k:<8}    {state:<6}   1.00000  1.00000"
        if down and k == osd:
            s.bad(row, "ceph", f"osd.{k}", key=False)
        else:
            s.put(row)


def nodes(s: Sheet, c: Ctx, not_ready: str = "") -> None:
    s.put("NAME            STATUS     ROLES           AGE    VERSION")
    for h in c.hosts:
        row = (
            f"{h:<15} {'NotReady' if h == not_ready else 'Ready':<10} {'<none>':<15} {c.r.randint(20, 300)}d   v1.30.6"
        )
        if h == not_ready:
            s.bad(row, "kubectl-nodes", h)
        else:
            s.put(row)


def ansible(s: Sheet, c: Ctx, targets: list[str], broken: str, why: str) -> None:
    s.put(
        "",
        "PLAY [rotate certificates] ****************************************************",
        "",
        "TASK [Gathering Facts] ********************************************************",
    )
    for h in targets:
        s.put(f"ok: [{h}]")
    s.put("", "TASK [pki : install new server certificate] ***********************************")
    for h in targets:
        if h == broken:
            s.bad(f'fatal: [{h}]: FAILED! => {{"changed": false, "msg": "{why}"}}', "ansible", h)
        else:
            s.put(f"changed: [{h}]")
    s.put("", "PLAY RECAP ********************************************************************")
    for h in targets:
        failed = int(h == broken)
        row = (
            f"{h:<26}: ok={c.r.randint(4, 9)}    changed={1 - failed}    unreachable=0    failed={failed}    skipped=0"
        )
        if failed:
            s.bad(row, "ansible", h, key=False)
        else:
            s.put(row)


def diameter_trace(s: Sheet, c: Ctx, n: int, fail: float, session: str) -> None:
    """`tshark -V -Y diameter`, abridged to the AVPs an engineer reads."""
    for k in range(n):
        bad = c.r.random() < fail or (k == n - 1 and fail > 0)
        sid = session if bad else f"pgw-2.epc.example;{c.r.randint(10**9, 2 * 10**9)};{c.r.randint(1, 9999)}"
        s.put(
            f"Frame {c.r.randint(1000, 90000)}: {c.r.randint(200, 900)} bytes on wire",
            "Diameter Protocol",
            "    Command Code: 272 Credit-Control",
            f"    Session-Id: {sid}",
            "    CC-Request-Type: UPDATE_REQUEST (2)",
        )
        result = (
            "    Result-Code: DIAMETER_UNABLE_TO_COMPLY (5012)" if bad else "    Result-Code: DIAMETER_SUCCESS (2001)"
        )
        if bad:
            s.bad(result, "diameter")
        else:
            s.put(result)
