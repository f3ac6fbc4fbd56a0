"""A field engineer's agent at work on a platform incident: storage, load balancers, databases, packet-core
user plane, automation; the cause shows early, unrelated failures turn up late."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import orjson

from tokenops.compaction.field import crashes
from tokenops.compaction.field import formats as f
from tokenops.compaction.field.formats import Ctx
from tokenops.compaction.field.record import Labels, Sheet
from tokenops.tokenize import counter_for

Message = dict[str, Any]
Write = Callable[[Sheet], int]  # writes a tool's output, returns its exit status
Step = tuple[str, dict[str, str], Write]

FIELD_SET = [
    ("field-disk-60k", 301, 60_000, "disk"),
    ("field-lb-90k", 302, 90_000, "lb"),
    ("field-gtpu-120k", 303, 120_000, "gtpu"),
    ("field-pfcp-150k", 304, 150_000, "pfcp"),
    ("field-storage-180k", 305, 180_000, "storage"),
    ("field-certs-210k", 306, 210_000, "certs"),
]
_HOSTS = ["db-a1", "db-a2", "api-3", "api-4", "upf-gw-1", "upf-gw-2", "osd-7", "osd-8", "mon-1", "lb-1"]


def _run(host: str, cmd: str, write: Write) -> Step:
    return "run", {"host": host, "cmd": cmd}, write


def _search(index: str, q: str, write: Write) -> Step:
    return "search_logs", {"index": index, "q": q}, write


def _ok(fn: Callable[[Sheet], None], status: int = 0) -> Write:
    def go(s: Sheet) -> int:
        fn(s)
        return status

    return go


def _events(c: Ctx, failing: int) -> Callable[[Sheet], None]:
    def go(s: Sheet) -> None:
        for k in range(3):
            f.windows(s, c, k == failing)

    return go


def _incident(kind: str, c: Ctx) -> tuple[str, list[Step]]:
    r = c.r
    if kind == "disk":
        dev = r.choice(["sdb", "sdc", "nvme1n1"])
        return (
            "P2 since 02:40: billing API answers 503 for a share of quota requests; db-a2 replication alarm. "
            "Find the cause before the morning peak."
        ), [
            _run("db-a2", "dmesg -T | tail -40", _ok(lambda s: f.dmesg_disk(s, c, 30, dev, True))),
            _run("db-a2", f"smartctl -a /dev/{dev}", _ok(lambda s: f.smartctl(s, c, dev, True))),
            _run(
                "db-a2",
                "tail -n 60 /var/log/mysql/error.log",
                _ok(lambda s: f.mysql(s, c, 40, "Relay log write failure: could not queue event from source")),
            ),
        ]
    if kind == "lb":
        srv = f"srv{r.randint(1, 4)}"
        return "P2: portal users get intermittent 503s since 01:55, about 1 in 4 requests.", [
            _run("lb-1", "tail -n 80 /var/log/haproxy.log", _ok(lambda s: f.haproxy(s, c, 60, 0.25, srv))),
            _run(
                "api-3", "tail -n 50 /var/log/httpd/error_log", _ok(lambda s: f.apache(s, c, 40, 0.2, f"{c.ip()}:8443"))
            ),
            ("kubectl", {"args": "get nodes"}, _ok(lambda s: f.nodes(s, c, "api-4"))),
        ]
    if kind == "gtpu":
        teid = f"0x{r.getrandbits(32):08x}"
        return "P1: subscribers on upf-gw-1 lose data sessions every few minutes; the relay restarts.", [
            _run("upf-gw-1", "journalctl -u gtpu-relay -n 80 -o cat", _ok(lambda s: f.tracing(s, c, 60, 0.08, teid))),
            _run(
                "upf-gw-1",
                "journalctl -u gtpu-relay --since -10min -o cat | grep -A12 panicked",
                _ok(
                    lambda s: crashes.rust_panic(
                        s, c, "index out of bounds: the len is 4 but the index is 6", "src/ext.rs"
                    )
                ),
            ),
        ]
    if kind == "pfcp":
        address = f"0x6030{c.hexs(8)}"
        session = f"pgw-2.epc.example;{r.randint(10**9, 2 * 10**9)};{r.randint(1, 9999)}"
        return "P1: charging updates for some PDN sessions fail with 5012 since the SMF upgrade at 01:30.", [
            _run("upf-gw-2", "tail -n 40 /var/log/pfcpd/asan.log", _ok(lambda s: crashes.asan(s, c, address))),
            _run(
                "mon-1",
                "tshark -r /captures/gy.pcap -V -Y 'diameter.Result-Code != 2001' | head -80",
                _ok(lambda s: f.diameter_trace(s, c, 8, 0.3, session)),
            ),
        ]
    if kind == "storage":
        osd = r.randint(0, 7)
        port = f"1/{r.randint(1, 2)}/{r.randint(1, 36)}"
        return f"P2: volume latency alarms on the storage cluster; osd-{osd % 2 + 7} unreachable from monitoring.", [
            _run("mon-1", "ceph health detail; ceph osd tree", _ok(lambda s: f.ceph(s, c, osd, True))),
            _run("agg-sr-2", "show log log-id 99", _ok(lambda s: f.sros(s, c, 30, port, True))),
            ("snmp_traps", {"since": "1h"}, _ok(lambda s: f.snmptrap(s, c, "10.9.0.22", r.randint(20, 60), True))),
        ]
    host = r.choice(["api-3", "api-4"])
    return "P2: quota reservations fail from the rating service after last night's certificate rotation.", [
        (
            "ansible",
            {"playbook": "rotate-certs.yml", "limit": "api"},
            _ok(
                lambda s: f.ansible(
                    s, c, ["api-3", "api-4", "db-a1"], host, "Destination /etc/pki/tls/certs not writable"
                ),
                2,
            ),
        ),
        _search(
            "rating-*",
            "level:error",
            _ok(
                lambda s: crashes.dotnet(
                    s,
                    c,
                    "Quota reservation failed",
                    "The SSL connection could not be established, see inner exception.",
                )
            ),
        ),
    ]


def _background(c: Ctx) -> Step:
    r = c.r
    k = r.randrange(11)
    n = r.randint(30, 120)
    steps: list[Step] = [
        _run("lb-1", "tail -n 100 /var/log/haproxy.log", _ok(lambda s: f.haproxy(s, c, n, 0.01))),
        _run("api-3", "tail -n 60 /var/log/httpd/error_log", _ok(lambda s: f.apache(s, c, n, 0.0, ""))),
        _run("db-a1", "tail -n 60 /var/log/mysql/error.log", _ok(lambda s: f.mysql(s, c, n))),
        _search("mongod-*", "*", _ok(lambda s: f.mongo(s, c, n, 0.01, f"{c.ip()}:27017"))),
        _search("es-cluster", "*", _ok(lambda s: f.elastic(s, c, n // 3, f"es-data-{r.randint(1, 6)}", False))),
        _run("mon-1", "journalctl -u consul -n 100 -o cat", _ok(lambda s: f.hclog(s, c, n, 0.0, ""))),
        _run("upf-gw-2", "journalctl -u gtpu-relay -n 100 -o cat", _ok(lambda s: f.tracing(s, c, n, 0.0, ""))),
        _run(f"agg-sr-{r.randint(1, 4)}", "show log log-id 99", _ok(lambda s: f.sros(s, c, n // 3, "", False))),
        _run("db-a1", "dmesg -T | tail -40", _ok(lambda s: f.dmesg_disk(s, c, n // 2, "sda", False))),
        ("kubectl", {"args": "get nodes"}, _ok(lambda s: f.nodes(s, c))),
        (
            "grafana_csv",
            {"panel": "api p99 latency"},
            _ok(
                lambda s: s.put(
                    "Time,p99_ms", *(f"{c.tick(60_000):%Y-%m-%d %H:%M:%S},{r.randint(40, 400)}" for _ in range(n))
                )
            ),
        ),
    ]
    return steps[k]


def _herrings(c: Ctx) -> list[Step]:
    r = c.r
    pool: list[Step] = [
        _search("es-cluster", "DiskThresholdMonitor", _ok(lambda s: f.elastic(s, c, 30, "es-data-5", True))),
        ("winevent", {"host": "sql-rep-1", "log": "Application"}, _ok(_events(c, 1))),
        _run(
            "oss-1",
            "tail -n 20 /srv/oss/log/sidekiq.log",
            _ok(lambda s: crashes.ruby(s, c, "Net::ReadTimeout with #<TCPSocket:(closed)>")),
        ),
        ("snmp_traps", {"since": "30m"}, _ok(lambda s: f.snmptrap(s, c, "10.9.0.41", r.randint(1, 48), True))),
        _run(
            "mon-1", "journalctl -u consul -n 60 -o cat", _ok(lambda s: f.hclog(s, c, 40, 0.2, f"{c.ip('10.40')}:8300"))
        ),
        _search("mongod-*", "s:E", _ok(lambda s: f.mongo(s, c, 40, 0.2, f"{c.ip()}:27017"))),
    ]
    return r.sample(pool, 3)


def generate(name: str, seed: int, target_tokens: int, kind: str) -> tuple[list[Message], Labels]:
    """A session of about `target_tokens` (cl100k) and the labels of what it planted."""
    r = random.Random(seed)
    c = f.Ctx(r, hosts=list(_HOSTS))
    labels = Labels(name, seed, kind)
    count = counter_for("cl100k").count
    ticket, evidence = _incident(kind, c)
    late = _herrings(c)
    system = (
        "You are the on-call platform engineer's assistant. Use the tools to inspect hosts, logs, traps and "
        "automation runs; report the cause with the exact lines that prove it."
    )
    messages: list[Message] = [{"role": "system", "content": system}, {"role": "user", "content": ticket}]
    tokens = sum(count(m["content"]) + 4 for m in messages)
    while tokens < target_tokens or evidence or late:
        share = tokens / target_tokens
        root = bool(evidence) and ((share > 0.05 and r.random() < 0.5) or share > 0.2)
        herring = not root and bool(late) and share > 0.65 and (r.random() < 0.3 or share > 0.95)
        tool, args, write = evidence.pop(0) if root else late.pop(0) if herring else _background(c)
        sheet = Sheet(labels, root=root, herring=herring)
        status = write(sheet)
        if status:
            labels.failing_commands.append(args.get("cmd", tool))
            sheet.bad(f"(command exited {status})", "exit")
        call_id = "toolu_" + "".join(
            r.choice("ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789") for _ in range(22)
        )
        arguments = orjson.dumps(args).decode()
        call = {"id": call_id, "type": "function", "function": {"name": tool, "arguments": arguments}}
        note = r.choice(["", "Next: " + tool + ".", f"Looking at {args.get('host', tool)}.", "Cross-checking."])
        new: list[Message] = [
            {"role": "assistant", "content": note or None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": call_id, "content": "\n".join(sheet.lines)},
        ]
        if r.random() < 0.04:
            new.append({"role": "user", "content": "Status? Keep it short."})
        messages += new
        tokens += sum(count(str(m.get("content") or "")) + 4 for m in new) + count(arguments) + 3
    messages.append({"role": "user", "content": "Summarise: the cause, the proof lines, and what to do now."})
    labels.tokens = tokens
    return messages, labels
