"""Generated long agent sessions for measuring compaction, each with the diagnostics it planted.

A session is an operations or coding agent at work: conversation, tool calls, and tool
outputs from kubectl, journalctl, syslog, an alarm console, pytest, Maven, grep, cat and
curl. The generator records every error line, warning line, stack frame, identifier on
an error line and failing command it writes, so the fidelity metric needs no regexes of
its own. Seeded: the same seed gives the same session, byte for byte.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson

from tokenops.compaction.field.record import Labels as FieldLabels
from tokenops.compaction.noc.record import Labels as NocLabels
from tokenops.tokenize import counter_for

Message = dict[str, Any]

_SERVICES = ["amf", "smf", "upf", "nrf", "ausf", "udm", "pcf", "session-api", "billing-gw", "cell-config"]
_NAMESPACES = ["ran-core", "5gc-prod", "oss", "edge-west"]
_UNITS = ["open5gs-amfd", "open5gs-smfd", "kamailio", "sctp-proxy", "node-exporter", "chronyd"]
_JAVA_PKGS = ["com.telco.ran.session", "com.telco.oss.alarm", "com.telco.billing.rating", "org.acme.cellcfg"]
_JAVA_CLASSES = ["SessionService", "HandoverManager", "AlarmCorrelator", "RatingEngine", "CellConfigLoader"]
_JAVA_METHODS = ["process", "handle", "apply", "correlate", "rate", "load", "dispatch", "onMessage"]
_LIB_FRAMES = [
    "org.springframework.web.servlet.FrameworkServlet.service(FrameworkServlet.java:{n})",
    "org.apache.catalina.core.ApplicationFilterChain.doFilter(ApplicationFilterChain.java:{n})",
    "io.netty.channel.AbstractChannelHandlerContext.invokeChannelRead(AbstractChannelHandlerContext.java:{n})",
    "java.base/java.util.concurrent.ThreadPoolExecutor.runWorker(ThreadPoolExecutor.java:{n})",
    "com.zaxxer.hikari.pool.HikariPool.getConnection(HikariPool.java:{n})",
    "java.base/java.lang.Thread.run(Thread.java:{n})",
]
_JAVA_EXC = [
    ("java.net.SocketTimeoutException", "Read timed out after {ms} ms calling {svc}"),
    ("java.lang.IllegalStateException", "Session {req} in state RELEASING, cannot modify bearer"),
    ("org.springframework.dao.DataAccessResourceFailureException", "Unable to acquire JDBC Connection"),
    ("java.lang.NullPointerException", 'Cannot invoke "CellConfig.getPci()" because "cfg" is null'),
    ("com.telco.ran.HandoverRejectedException", "X2 handover preparation failure cause=radioNetwork"),
]
_PY_EXC = [
    ("AssertionError", "assert {a} == {b}"),
    ("KeyError", "'{key}'"),
    ("ValueError", "invalid literal for int() with base 10: '{key}'"),
    ("TimeoutError", "timed out waiting for {svc} after {ms} ms"),
    ("ConnectionRefusedError", "[Errno 111] Connection refused"),
]
_INFO_MSGS = [
    "Registration accepted for SUPI imsi-{imsi} on {cell}",
    "PDU session established dnn=internet sst=1 sd=000001 request_id={req}",
    "GET /api/v1/cells/{cell}/config 200 {ms}ms request_id={req} trace_id={trace}",
    "Heartbeat to nrf ok latency={ms}ms",
    "Handover completed source={cell} target={cell2} ue=imsi-{imsi}",
    "Metrics flushed: sessions=1532 bearers=2870 active_cells=412",
    "Config version 8.4.{n} applied to {cell}",
    "Cache hit ratio 0.{n} over last 60s",
    "Accepted SCTP association from 10.20.{a}.{b}:38412",
]
_ERROR_MSGS = [
    "Upstream {svc} returned 503 request_id={req} trace_id={trace}",
    "SCTP association lost with gNB peer 10.20.{a}.{b} cell={cell}",
    "Authentication failure for imsi-{imsi} cause=MAC_FAILURE request_id={req}",
    "Failed to apply config to {cell}: checksum mismatch alarm_id={alarm}",
    "Connection reset by peer while streaming CDRs request_id={req}",
    "Timeout waiting for PFCP session report from upf seid={hexid} trace_id={trace}",
]
_WARN_MSGS = [
    "Slow query on sessions table took {ms}ms request_id={req}",
    "Retrying call to {svc} (attempt 2/5) trace_id={trace}",
    "Deprecated field 'tac' used by {cell}",
    "Connection pool at 91% capacity",
]
_PROSE = [
    "Let me look at {what} to narrow this down.",
    "The pattern so far points at {what}; I will confirm before changing anything.",
    "Nothing conclusive in {what}, moving on to the next component.",
    "That matches the time window of the incident. Checking {what} next.",
    "I want to rule out {what} before touching the configuration.",
]
_GREP_HITS = ["timeout_ms = cfg.timeout_ms", "retry = Retry(total=5)", "pool_size = 20", "self.sctp.connect(peer)"]
_WHATS = [
    "the AMF logs",
    "the alarm history for the cluster",
    "recent deployments",
    "the SCTP links",
    "the failing unit tests",
    "the database pool",
    "the cell configuration",
]


@dataclass
class Labels:
    session: str
    seed: int
    kind: str
    generator: str = "agent"
    tokens: int = 0
    error_lines: list[str] = field(default_factory=list)
    warning_lines: list[str] = field(default_factory=list)
    stack_frames: list[str] = field(default_factory=list)
    identifiers: list[str] = field(default_factory=list)  # on error lines
    frame_references: list[str] = field(default_factory=list)  # file:line of application frames
    failing_commands: list[str] = field(default_factory=list)
    error_styles: dict[str, str] = field(default_factory=dict)  # error line -> the output it is written in


class _Gen:
    def __init__(self, name: str, seed: int, kind: str) -> None:
        self.rng = random.Random(seed)
        self.labels = Labels(name, seed, kind)
        self.clock = self.rng.randint(0, 20_000)
        self.cells = [self._cell() for _ in range(12)]
        self.imsis = [f"46001{self.rng.randrange(10**10):010d}" for _ in range(30)]
        self.style = ""  # the format of the output being written, for the labels

    # identifiers -------------------------------------------------------------------
    def _cell(self) -> str:
        return f"cell-460-01-{self.rng.randint(10000, 99999)}-{self.rng.randint(1, 9)}"

    def _ids(self) -> dict[str, str]:
        r = self.rng
        return {
            "req": f"req-{r.getrandbits(48):012x}",
            "trace": f"{r.getrandbits(128):032x}",
            "imsi": r.choice(self.imsis),
            "cell": r.choice(self.cells),
            "cell2": r.choice(self.cells),
            "alarm": f"ALM-{r.randint(100000, 999999)}",
            "hexid": f"0x{r.getrandbits(32):08x}",
            "svc": r.choice(_SERVICES),
            "ms": str(r.randint(3, 30000)),
            "n": str(r.randint(1, 999)),
            "a": str(r.randint(0, 255)),
            "b": str(r.randint(1, 254)),
            "key": r.choice(["cell_id", "tac", "plmn", "qos_flow"]),
        }

    def _stamp(self) -> str:
        self.clock += self.rng.randint(1, 900)
        t = self.clock
        return f"2024-05-14T{(t // 3_600_000) % 24:02d}:{(t // 60_000) % 60:02d}:{(t // 1000) % 60:02d}.{t % 1000:03d}Z"

    # labelled lines ----------------------------------------------------------------
    def error(self, line: str, ids: list[str]) -> str:
        self.labels.error_lines.append(line.strip())
        self.labels.error_styles.setdefault(line.strip(), self.style)
        self.labels.identifiers.extend(i for i in ids if i in line)
        return line

    def warning(self, line: str) -> str:
        self.labels.warning_lines.append(line.strip())
        return line

    def frame(self, line: str, ids: Sequence[str] = ()) -> str:
        self.labels.stack_frames.append(line.strip())
        self.labels.frame_references.extend(ids)
        return line

    # tool outputs ------------------------------------------------------------------
    def java_trace(self, out: list[str]) -> None:
        outer, self.style = self.style, "java-trace"
        r = self.rng
        exc, msg = r.choice(_JAVA_EXC)
        ids = self._ids()
        out.append(self.error(f"{exc}: {msg.format(**ids)}", [ids["req"]]))
        for _ in range(r.randint(3, 9)):
            cls = r.choice(_JAVA_CLASSES)
            where = f"{cls}.java:{r.randint(20, 900)}"
            out.append(self.frame(f"\tat {r.choice(_JAVA_PKGS)}.{cls}.{r.choice(_JAVA_METHODS)}({where})", [where]))
        for _ in range(r.randint(4, 14)):
            out.append(self.frame("\tat " + r.choice(_LIB_FRAMES).format(n=r.randint(50, 1500))))
        if r.random() < 0.5:
            cause, cmsg = r.choice(_JAVA_EXC)
            out.append(self.error(f"Caused by: {cause}: {cmsg.format(**ids)}", [ids["req"]]))
            out.append(self.frame("\tat " + r.choice(_LIB_FRAMES).format(n=r.randint(50, 1500))))
            out.append(self.frame(f"\t... {r.randint(8, 60)} more"))
        self.style = outer

    def app_log(self, n: int, pod: str) -> list[str]:
        self.style = "spring-boot"
        r = self.rng
        out: list[str] = []
        for _ in range(n):
            ids = self._ids()
            thread = f"[nio-8080-exec-{r.randint(1, 40)}]"
            roll = r.random()
            if roll < 0.025:
                line = f"{self._stamp()} ERROR 1 --- {thread} {pod} : {r.choice(_ERROR_MSGS).format(**ids)}"
                out.append(self.error(line, [ids["req"], ids["trace"], ids["cell"], ids["alarm"], ids["hexid"]]))
                if r.random() < 0.3:
                    self.java_trace(out)
            elif roll < 0.045:
                out.append(
                    self.warning(f"{self._stamp()}  WARN 1 --- {thread} {pod} : {r.choice(_WARN_MSGS).format(**ids)}")
                )
            else:
                out.append(f"{self._stamp()}  INFO 1 --- {thread} {pod} : {r.choice(_INFO_MSGS).format(**ids)}")
        return out

    def pods(self, ns: str) -> tuple[list[str], int]:
        self.style = "kubectl-table"
        r = self.rng
        out = ["NAME                                READY   STATUS             RESTARTS        AGE"]
        for svc in r.sample(_SERVICES, r.randint(5, 10)):
            for _ in range(r.randint(1, 3)):
                pod = f"{svc}-{r.getrandbits(36):09x}-{r.getrandbits(20):05x}"
                if r.random() < 0.12:
                    status = r.choice(["CrashLoopBackOff", "Error", "OOMKilled", "ImagePullBackOff"])
                    row = f"{pod:<36}0/1     {status:<19}{r.randint(3, 40)} (2m ago)      {r.randint(1, 9)}d"
                    out.append(self.error(row, [pod]))
                else:
                    out.append(f"{pod:<36}1/1     Running            0               {r.randint(1, 9)}d")
        return out, 0

    def journal(self, n: int, unit: str) -> tuple[list[str], int]:
        self.style = "journald"
        r = self.rng
        out: list[str] = []
        host = f"node-{r.randint(1, 24)}"
        for _ in range(n):
            ids = self._ids()
            stamp = f"May 14 {self._stamp()[11:19]} {host}"
            roll = r.random()
            if roll < 0.02:
                out.append(
                    self.error(
                        f"{stamp} systemd[1]: {unit}.service: Main process exited, code=exited, status=1/FAILURE", []
                    )
                )
                out.append(self.error(f"{stamp} systemd[1]: {unit}.service: Failed with result 'exit-code'.", []))
            elif roll < 0.03:
                pid = str(r.randint(1000, 99999))
                out.append(
                    self.error(
                        f"{stamp} kernel: Out of memory: Killed process {pid} ({unit}) total-vm:8123456kB", [pid]
                    )
                )
            elif roll < 0.04:
                out.append(
                    self.error(
                        f"{stamp} {unit}[{r.randint(100, 9999)}]: sctp: association {ids['hexid']} "
                        f"to 10.20.{ids['a']}.{ids['b']} aborted, no route to host",
                        [ids["hexid"]],
                    )
                )
            elif roll < 0.06:
                out.append(
                    self.warning(
                        f"{stamp} chronyd[812]: System clock wrong by {r.randint(1, 9)}.{r.randint(100, 999)} seconds, "
                        "adjustment started"
                    )
                )
            else:
                out.append(f"{stamp} {unit}[{r.randint(100, 9999)}]: {r.choice(_INFO_MSGS).format(**ids)}")
        return out, 0

    def alarms(self) -> tuple[list[str], int]:
        self.style = "alarm-table"
        r = self.rng
        out = ["ALARM_ID    SEVERITY  RAISED                    OBJECT                        IMSI             TEXT"]
        for _ in range(r.randint(10, 40)):
            ids = self._ids()
            sev = r.choices(["CRITICAL", "MAJOR", "MINOR", "WARNING", "CLEARED"], [2, 3, 4, 4, 12])[0]
            text = r.choice(
                [
                    "S1 link down",
                    "RRC setup failure rate 14%",
                    "VSWR over threshold",
                    "Cell unavailable",
                    "License usage 92%",
                    "Clock sync degraded",
                ]
            )
            row = f"{ids['alarm']:<12}{sev:<10}{self._stamp():<26}{ids['cell']:<30}{ids['imsi']:<17}{text}"
            if sev in ("CRITICAL", "MAJOR"):
                out.append(self.error(row, [ids["alarm"], ids["cell"], ids["imsi"]]))
            elif sev in ("MINOR", "WARNING"):
                out.append(self.warning(row))
            else:
                out.append(row)
        return out, 0

    def pytest(self) -> tuple[list[str], int]:
        self.style = "pytest"
        r = self.rng
        out = [
            "============================= test session starts ==============================",
            "platform linux -- Python 3.11.9, pytest-8.2.0",
            f"collected {r.randint(80, 400)} items",
            "",
        ]
        fails: list[str] = []
        for mod in r.sample(["test_rating", "test_handover", "test_alarm_sync", "test_cells", "test_cdr"], 3):
            marks = "".join(r.choice("....F") for _ in range(r.randint(20, 60)))
            out.append(f"tests/{mod}.py {marks}")
            fails += [mod] * marks.count("F")
        out.append("")
        for mod in fails[:6]:
            ids = self._ids()
            exc, msg = r.choice(_PY_EXC)
            test = f"test_{r.choice(_JAVA_METHODS).lower()}_{r.randint(1, 99)}"
            out.append(f"____________________________ {test} ____________________________")
            for depth in range(r.randint(2, 5)):
                path = f"/app/src/telco/{r.choice(['rating', 'ran', 'oss'])}/{r.choice(['engine', 'cells', 'sync'])}.py"
                out.append(
                    self.frame(f'  File "{path}", line {r.randint(10, 700)}, in {r.choice(_JAVA_METHODS)}', [path])
                )
                out.append(f"    result = handler(payload, depth={depth})")
            where = f"tests/{mod}.py:{r.randint(10, 400)}"
            out.append(
                self.error(f"E   {exc}: {msg.format(**{**ids, 'a': r.randint(1, 9), 'b': r.randint(10, 99)})}", [])
            )
            out.append(self.error(f"{where}: {exc}", [where]))
            out.append("")
        out.append("=========================== short test summary info ============================")
        for mod in fails[:6]:
            out.append(self.error(f"FAILED tests/{mod}.py::test_case_{r.randint(1, 999)} - {r.choice(_PY_EXC)[0]}", []))
        out.append(
            f"======================== {len(fails)} failed, {r.randint(80, 300)} passed in "
            f"{r.randint(2, 90)}.{r.randint(10, 99)}s ========================"
        )
        return out, 1 if fails else 0

    def mvn(self) -> tuple[list[str], int]:
        self.style = "maven"
        r = self.rng
        out = ["[INFO] Scanning for projects...", "[INFO] Building rating-engine 3.7.2-SNAPSHOT"]
        out += [f"[INFO] Running com.telco.billing.rating.{c}Test" for c in r.sample(_JAVA_CLASSES, 3)]
        out.append(
            self.error(
                f"[ERROR] Tests run: {r.randint(20, 90)}, Failures: 1, Errors: 1, Skipped: 0, Time elapsed: "
                f"{r.randint(1, 30)}.{r.randint(100, 999)} s <<< FAILURE!",
                [],
            )
        )
        self.java_trace(out)
        out += [
            "[INFO] ------------------------------------------------------------------------",
            self.error("[ERROR] BUILD FAILURE", []),
        ]
        return out, 1

    def code(self) -> tuple[list[str], int]:
        r = self.rng
        out: list[str] = []
        for k in range(r.randint(30, 140)):
            ind = "    " * r.randint(0, 3)
            out.append(
                r.choice(
                    [
                        f"{ind}def {r.choice(_JAVA_METHODS)}_{k}(self, payload: dict[str, Any]) -> Result:",
                        f"{ind}cfg = self.store.get(payload['{r.choice(['cell_id', 'plmn', 'tac'])}'])",
                        f"{ind}if cfg is None:",
                        f"{ind}    return Result(status='skipped', reason='no config')",
                        f"{ind}for bearer in session.bearers:",
                        f"{ind}log.info('applied %s to %s', version, cell)",
                        f"{ind}self.metrics.observe('apply_seconds', time.monotonic() - t0)",
                        "",
                    ]
                )
            )
        return out, 0

    def grep(self) -> tuple[list[str], int]:
        r = self.rng
        return [
            f"src/telco/{r.choice(['ran', 'oss', 'rating'])}/{r.choice(['engine', 'cells', 'sync', 'api'])}.py:"
            f"{r.randint(1, 800)}:    {r.choice(_GREP_HITS)}"
            for _ in range(r.randint(5, 40))
        ], 0

    def failing_shell(self) -> tuple[str, list[str], int]:
        self.style = "shell"
        r = self.rng
        ids = self._ids()
        choice = r.randrange(3)
        if choice == 0:
            cmd = f"ssh node-{r.randint(1, 24)} 'ss -tanp | grep 38412'"
            return (
                cmd,
                [self.error(f"ssh: connect to host 10.20.{ids['a']}.{ids['b']} port 22: No route to host", [])],
                255,
            )
        if choice == 1:
            unit = r.choice(_UNITS)
            cmd = f"sudo systemctl restart {unit}"
            line = (
                f"Job for {unit}.service failed because the control process exited with error code. "
                f'See "journalctl -xeu {unit}.service" for details.'
            )
            return cmd, [self.error(line, [])], 1
        cmd = f"curl -sf https://{ids['svc']}.{r.choice(_NAMESPACES)}.svc:8443/healthz"
        return (
            cmd,
            [
                self.error(
                    f"curl: (7) Failed to connect to {ids['svc']} port 8443 after {ids['ms']} ms: Connection refused",
                    [],
                )
            ],
            7,
        )


def generate(name: str, seed: int, target_tokens: int, kind: str = "ops") -> tuple[list[Message], Labels]:
    """A session of about `target_tokens` (cl100k) and the labels of what it planted."""
    g = _Gen(name, seed, kind)
    r = g.rng
    count = counter_for("cl100k").count
    system = (
        "You are an operations agent for a mobile network operator's 5G core and RAN. You isolate faults "
        "using the tools provided: run shell commands on the bastion host, query the alarm console, read "
        "files. Always quote the exact error lines, identifiers (request IDs, trace IDs, IMSI, cell IDs, "
        "alarm IDs) and file:line references you rely on. Never restart production services without "
        "stating the risk first.\n"
        + "\n".join(f"Runbook {k}: check {w} before escalating." for k, w in enumerate(_WHATS, 1))
    )
    incident = g._ids()
    messages: list[Message] = [
        {"role": "system", "content": system},
        {
            "role": "user",
            "content": f"Incident INC-{r.randint(100000, 999999)}: since 09:40 UTC subscribers on {incident['cell']} "
            f"fail to register (alarm {incident['alarm']}, e.g. IMSI {incident['imsi']}). Find the root cause. "
            f"Code is in /srv/telco, cluster namespace {r.choice(_NAMESPACES)}.",
        },
    ]
    tokens = sum(count(m["content"]) + 4 for m in messages)
    n = 0
    while tokens < target_tokens:
        n += 1
        call_id = f"call_{r.getrandbits(64):016x}"
        tool, lines, rc, cmd = _step(g, kind)
        thought = r.choice(_PROSE).format(what=r.choice(_WHATS))
        args = orjson.dumps({"command": cmd}).decode() if tool == "shell" else orjson.dumps({"query": cmd}).decode()
        call = {"id": call_id, "type": "function", "function": {"name": tool, "arguments": args}}
        if rc != 0:
            g.labels.failing_commands.append(cmd)
            g.style = "exit-status"
            lines.append(g.error(f"[exit code: {rc}]", []))
        else:
            lines.append(f"[exit code: {rc}]")
        output = "\n".join([f"$ {cmd}", *lines])
        new: list[Message] = [
            {"role": "assistant", "content": thought, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": call_id, "content": output},
        ]
        if n % 23 == 0:
            new.append(
                {
                    "role": "user",
                    "content": f"Any link with the config push to {r.choice(g.cells)} at 09:35? Keep going.",
                }
            )
        messages += new
        tokens += sum(count(str(m.get("content") or "")) + 4 for m in new) + count(args) + 3
    g.labels.tokens = tokens
    return messages, g.labels


def _step(g: _Gen, kind: str) -> tuple[str, list[str], int, str]:
    r = g.rng
    weights = [5, 14, 6, 3, 5, 2, 2, 6, 3, 2] if kind == "ops" else [2, 6, 2, 1, 2, 7, 5, 8, 6, 2]
    action = r.choices(range(10), weights)[0]
    ns = r.choice(_NAMESPACES)
    if action == 0:
        return "shell", *g.pods(ns), f"kubectl get pods -n {ns}"
    if action == 1:
        svc = r.choice(_SERVICES)
        pod = f"{svc}-{r.getrandbits(36):09x}-{r.getrandbits(20):05x}"
        n = r.randint(30, 160)
        return "shell", g.app_log(n, pod), 0, f"kubectl logs {pod} -n {ns} --tail={n}"
    if action == 2:
        unit = r.choice(_UNITS)
        return (
            "shell",
            *g.journal(r.randint(30, 120), unit),
            f"journalctl -u {unit} --since '2024-05-14 09:00' --no-pager",
        )
    if action == 3:
        return "alarms", *g.alarms(), "alarms list --severity all --since 2h"
    if action == 4:
        return "shell", *g.journal(r.randint(20, 100), r.choice(_UNITS)), "tail -n 200 /var/log/syslog"
    if action == 5:
        return "shell", *g.pytest(), "cd /srv/telco && python -m pytest -q tests/"
    if action == 6:
        return "shell", *g.mvn(), "cd /srv/telco/rating && mvn -q test"
    if action == 7:
        area, module = r.choice(["ran", "oss", "rating"]), r.choice(["engine", "cells", "sync", "api"])
        path = f"/srv/telco/src/telco/{area}/{module}.py"
        return "shell", *g.code(), f"cat {path}"
    if action == 8:
        return "shell", *g.grep(), f"grep -rn '{r.choice(['timeout', 'retry', 'pool_size', 'sctp'])}' /srv/telco/src"
    cmd, lines, rc = g.failing_shell()
    return "shell", lines, rc, cmd


def write_session(directory: Path, messages: list[Message], labels: Labels | NocLabels | FieldLabels) -> Path:
    """`NAME.jsonl`, one message a line, and `NAME.labels.json` beside it."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{labels.session}.jsonl"
    path.write_bytes(b"".join(orjson.dumps(m) + b"\n" for m in messages))
    (directory / f"{labels.session}.labels.json").write_bytes(orjson.dumps(asdict(labels), option=orjson.OPT_INDENT_2))
    return path


# The evaluation set: (name, seed, tokens, kind).
STANDARD_SET = [
    ("ops-50k", 101, 50_000, "ops"),
    ("code-80k", 102, 80_000, "code"),
    ("ops-100k", 103, 100_000, "ops"),
    ("code-150k", 104, 150_000, "code"),
    ("ops-200k", 105, 200_000, "ops"),
    ("ops-250k", 106, 250_000, "ops"),
    ("code-300k", 107, 300_000, "code"),
    ("ops-400k", 108, 400_000, "ops"),
]
