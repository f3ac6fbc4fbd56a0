"""Cluster and host tooling output: kubectl, helm, systemctl, Prometheus, Alertmanager, NMS alarm exports,
dig, openssl, curl and df."""

from __future__ import annotations

from dataclasses import dataclass, field

from tokenops.compaction.noc.record import Out
from tokenops.compaction.noc.world import World

_GOOD_EVENTS = [
    ("Normal", "Scheduled", "Successfully assigned {ns}/{pod} to {node}"),
    ("Normal", "Pulled", 'Container image "registry.noc.local/{dep}:{ver}" already present on machine'),
    ("Normal", "Created", "Created container {dep}"),
    ("Normal", "Started", "Started container {dep}"),
    ("Normal", "SuccessfulCreate", "Created pod: {pod}"),
    ("Normal", "ScalingReplicaSet", "Scaled up replica set {dep}-7d9c6b5f4 to 3"),
]


@dataclass
class PodFault:
    """A pod that is not well: its status, restarts and what its events say."""

    pod: str
    status: str  # CrashLoopBackOff, OOMKilled, Error, ImagePullBackOff, Pending, Running (not ready)
    events: list[tuple[str, str]] = field(default_factory=list)  # (reason, message)
    exit_code: int = 0
    root: bool = False


def get_pods(out: Out, w: World, ns: str, faults: list[PodFault]) -> None:
    r = w.r
    bad = {f.pod: f for f in faults}
    out.add(
        "NAME                                READY   STATUS             RESTARTS         AGE     IP             NODE"
    )
    pods = [p for d, ps in sorted(w.pods.items()) if w.namespace_of[d] == ns for p in ps]
    for pod in sorted({*pods, *bad}):
        ip, node = w.ids.ipv4("10.244." + str(r.randint(0, 40))), r.choice(w.nodes)
        f = bad.get(pod)
        if f is None:
            out.add(
                f"{pod:<36}1/1     Running            {r.choice([0, 0, 0, 1])}                {r.randint(2, 40)}d    "
                f" {ip:<14} {node}"
            )
            continue
        ready = "0/1"
        restarts = f"{r.randint(8, 90)} ({r.randint(1, 5)}m ago)"
        out.error(
            f"{pod:<36}{ready}     {f.status:<19}{restarts:<17}{r.randint(1, 9)}d      {ip:<14} {node}",
            "kubectl-table",
            [pod, ip, node],
            root=f.root,
        )


def get_events(out: Out, w: World, ns: str, faults: list[PodFault], noise: int) -> None:
    r = w.r
    out.add("LAST SEEN   TYPE      REASON              OBJECT                                   MESSAGE")
    rows: list[tuple[int, str, bool, list[str], bool]] = []
    for _ in range(noise):
        _, dep, pod = w.pod()
        kind, reason, msg = r.choice(_GOOD_EVENTS)
        text = msg.format(
            ns=ns, pod=pod, node=r.choice(w.nodes), dep=dep, ver=f"2.{r.randint(0, 9)}.{r.randint(0, 20)}"
        )
        rows.append((r.randint(10, 3000), f"{kind:<9} {reason:<19} pod/{pod:<36} {text}", False, [], False))
    for f in faults:
        for reason, msg in f.events:
            rows.append((r.randint(5, 600), f"Warning   {reason:<19} pod/{f.pod:<36} {msg}", True, [f.pod], f.root))
    for age, row, failure, ids, root in sorted(rows, key=lambda x: -x[0]):
        line = f"{age // 60}m{age % 60}s".ljust(12) + row if age >= 60 else f"{age}s".ljust(12) + row
        if failure:
            out.error(line, "k8s-events", [i for i in ids if i in line], root=root)
        else:
            out.add(line)


def describe_pod(out: Out, w: World, ns: str, f: PodFault) -> None:
    r, ids = w.r, w.ids
    node = r.choice(w.nodes)
    dep = f.pod.rsplit("-", 2)[0]
    out.add(
        f"Name:             {f.pod}",
        f"Namespace:        {ns}",
        "Priority:         0",
        f"Service Account:  {dep}",
        f"Node:             {node}/{ids.ipv4('10.30.0')}",
        f"Start Time:       Sat, 07 Dec 2024 0{r.randint(1, 8)}:12:{r.randint(10, 59)} +0800",
        f"Labels:           app.kubernetes.io/name={dep}",
        "                  pod-template-hash=7d9c6b5f4",
        "Status:           Running",
        f"IP:               {ids.ipv4('10.244.3')}",
        "Containers:",
        f"  {dep}:",
        f"    Container ID:   containerd://{ids.container_id()}",
        f"    Image:          registry.noc.local/{dep}:2.{r.randint(0, 9)}.1",
        f"    Image ID:       registry.noc.local/{dep}@sha256:{ids.hex(64)}",
        "    Ports:          5060/UDP, 9090/TCP",
        "    State:          Waiting",
    )
    reason = "OOMKilled" if f.exit_code == 137 else "Error"
    out.error(f"      Reason:       {f.status}", "kubectl-describe", root=f.root)
    out.add("    Last State:     Terminated")
    out.error(f"      Reason:       {reason}", "kubectl-describe", root=f.root)
    out.error(f"      Exit Code:    {f.exit_code}", "kubectl-describe", root=f.root)
    out.add(
        f"      Started:      Sat, 07 Dec 2024 09:{r.randint(10, 59)}:0{r.randint(0, 9)} +0800",
        f"      Finished:     Sat, 07 Dec 2024 09:{r.randint(10, 59)}:1{r.randint(0, 9)} +0800",
        "    Ready:          False",
        f"    Restart Count:  {r.randint(8, 60)}",
        "    Limits:",
        "      cpu:     2",
        f"      memory:  {r.choice([512, 1024, 2048])}Mi",
        "    Requests:",
        "      cpu:        500m",
        "      memory:     256Mi",
        "    Liveness:       http-get http://:9090/healthz delay=10s timeout=1s period=10s #success=1 #failure=3",
        "    Environment:",
        f"      SIP_DOMAIN:  {ids.realm}",
        "      LOG_LEVEL:   info",
        "Conditions:",
        "  Type              Status",
        "  Initialized       True ",
        "  Ready             False ",
        "  ContainersReady   False ",
        "  PodScheduled      True ",
        "Events:",
        "  Type     Reason     Age                   From     Message",
        "  ----     ------     ----                  ----     -------",
    )
    for reason, msg in f.events:
        out.error(
            f"  Warning  {reason:<10} {r.randint(1, 50)}m (x{r.randint(2, 90)} over {r.randint(50, 90)}m)  kubelet  "
            f"{msg}",
            "kubectl-describe",
            root=f.root,
        )


def systemctl_status(out: Out, w: World, unit: str, host: str, failed: bool, root: bool = False) -> None:
    r = w.r
    pid = r.randint(1000, 60000)
    out.add(
        f"● {unit}.service - {unit} daemon",
        f"     Loaded: loaded (/lib/systemd/system/{unit}.service; enabled; vendor preset: enabled)",
    )
    if failed:
        out.error(
            "     Active: failed (Result: exit-code) since Sat 2024-12-07 "
            f"09:{r.randint(10, 59)}:{r.randint(10, 59)} CST; {r.randint(2, 50)}min ago",
            "systemd",
            root=root,
        )
        out.add(f"    Process: {pid} ExecStart=/usr/sbin/{unit} -f /etc/{unit}/{unit}.conf")
        out.error(f"   Main PID: {pid} (code=exited, status=1/FAILURE)", "systemd", [str(pid)], root=root)
    else:
        out.add(
            "     Active: active (running) since Fri 2024-11-29 03:12:44 CST; 1 weeks 1 days ago",
            f"   Main PID: {pid} ({unit})",
            f"      Tasks: {r.randint(4, 90)} (limit: 154238)",
            f"     Memory: {r.randint(20, 900)}.{r.randint(0, 9)}M",
            f"        CPU: {r.randint(1, 99)}h {r.randint(1, 59)}min",
        )
    out.add(f"     CGroup: /system.slice/{unit}.service", "")


def prometheus(out: Out, w: World, job: str, instance: str, bad: dict[str, int], root: bool = False) -> None:
    """A `/metrics` scrape: counters and gauges, with non-zero error counters from `bad`."""
    r = w.r
    metrics = [
        ("process_cpu_seconds_total", "counter", f"{r.uniform(100, 90000):.2f}"),
        ("process_resident_memory_bytes", "gauge", f"{r.randint(10**7, 4 * 10**9)}"),
        ("go_goroutines", "gauge", str(r.randint(20, 3000))),
        (f"{job}_requests_total", "counter", str(r.randint(10**4, 10**8))),
        (f"{job}_request_duration_seconds_sum", "counter", f"{r.uniform(10, 99999):.3f}"),
    ]
    for name, kind, value in metrics:
        out.add(
            f"# HELP {name} {name.replace('_', ' ')}.",
            f"# TYPE {name} {kind}",
            f'{name}{{instance="{instance}"}} {value}',
        )
    for counter, count in bad.items():
        out.add(f"# HELP {counter} Errors by cause.", f"# TYPE {counter} counter")
        line = f'{counter}{{instance="{instance}",job="{job}"}} {count}'
        if count:
            out.error(line, "prometheus", [instance], root=root)
        else:
            out.add(line)


def up_query(out: Out, w: World, targets: list[tuple[str, str, int]], root: bool = False) -> None:
    """`promtool query instant … 'up'`: 1 for a target scraped, 0 for one down."""
    stamp = f"{w.clock.t.timestamp():.3f}"
    for job, instance, value in targets:
        line = f'up{{instance="{instance}", job="{job}"}} => {value} @[{stamp}]'
        if value == 0:
            out.error(line, "prometheus", [instance], root=root)
        else:
            out.add(line)


def amtool(out: Out, w: World, alerts: list[tuple[str, str, str, bool]], root_names: set[str]) -> None:
    """`amtool alert query`: (name, severity, summary, firing)."""
    out.add(
        "Alertname                         Starts At                Summary                                          "
        "           State"
    )
    for name, sev, summary, firing in alerts:
        line = f"{name:<33} {w.clock.t:%Y-%m-%d %H:%M:%S} CST  {summary:<59} {'active' if firing else 'suppressed'}"
        if sev in ("critical", "major") and firing:
            out.error(line, "alertmanager", [], root=name in root_names)
        else:
            out.add(line)


def nms_alarms(out: Out, w: World, rows: list[tuple[str, str, str, str, bool]], fmt: str) -> None:
    """An NMS alarm export: (severity, name, object, text, root) rows, as CSV or as a pipe table."""
    r, ids = w.r, w.ids
    if fmt == "csv":
        out.add("Alarm ID,Severity,Alarm Name,Occurred On,Cleared On,Location Information,NE Name,Acknowledged")
    else:
        out.add(
            "| Seq    | Sev      | Raised              | NE                   | Object                   | "
            "Description                               |",
            "|--------|----------|---------------------|----------------------|--------------------------|-------------------------------------------|",
        )
    for sev, name, obj, text, root in rows:
        aid, ne = ids.alarm_id(), w.router().name
        when = w.clock.tick(60_000)
        cleared = sev == "Cleared"
        if fmt == "csv":
            stamp = f"{when:%Y-%m-%d %H:%M:%S}"
            shown = "Major" if cleared else sev
            ack = r.choice(["Yes", "No"])
            line = f'{aid},{shown},{name},{stamp},{stamp if cleared else ""},"{obj}, {text}",{ne},{ack}'
        else:
            line = f"| {aid:<6} | {sev:<8} | {when:%Y-%m-%d %H:%M:%S} | {ne:<20} | {obj:<24} | {text:<41} |"
        if sev in ("Critical", "Major") and not cleared:
            out.error(line, f"alarms-{fmt}", [aid, obj], root=root)
        elif sev in ("Minor", "Warning"):
            out.warning(line, f"alarms-{fmt}")
        else:
            out.add(line)


def dig(
    out: Out, w: World, name: str, rtype: str, status: str, answers: list[str], server: str, root: bool = False
) -> None:
    r = w.r
    qid = r.randint(1000, 65000)
    out.add(
        f"; <<>> DiG 9.18.24 <<>> {rtype} {name} @{server.split('#')[0]}", ";; global options: +cmd", ";; Got answer:"
    )
    head = f";; ->>HEADER<<- opcode: QUERY, status: {status}, id: {qid}"
    if status != "NOERROR":
        out.error(head, "dig", [], root=root)
    else:
        out.add(head)
    out.add(
        f";; flags: qr rd ra; QUERY: 1, ANSWER: {len(answers)}, AUTHORITY: 0, ADDITIONAL: 1",
        "",
        ";; QUESTION SECTION:",
        f";{name}.\t\tIN\t{rtype}",
        "",
    )
    if answers:
        out.add(";; ANSWER SECTION:", *answers, "")
    out.add(
        f";; Query time: {r.randint(0, 4000)} msec",
        f";; SERVER: {server}({server.split('#')[0]}) (UDP)",
        f";; WHEN: Sat Dec 07 {w.clock.t:%H:%M:%S} CST 2024",
        f";; MSG SIZE  rcvd: {r.randint(40, 400)}",
    )


def openssl(out: Out, w: World, host: str, expired: bool, root: bool = False) -> None:
    r = w.r
    out.add(
        "CONNECTED(00000003)",
        f"depth=1 C = CN, O = Operator PKI, CN = Operator Issuing CA {r.randint(1, 4)}",
        "verify return:1",
        f"depth=0 CN = {host}",
    )
    if expired:
        out.error("verify error:num=10:certificate has expired", "openssl", root=root)
        out.add("notAfter=Dec  6 23:59:59 2024 GMT", "verify return:1")
    else:
        out.add("verify return:1")
    out.add(
        "---",
        "Certificate chain",
        f" 0 s:CN = {host}",
        "   i:C = CN, O = Operator PKI, CN = Operator Issuing CA",
        "   a:PKEY: rsaEncryption, 2048 (bit); sigalg: RSA-SHA256",
        "   v:NotBefore: Dec  7 00:00:00 2023 GMT; NotAfter: "
        f"{'Dec  6 23:59:59 2024' if expired else 'Mar 30 23:59:59 2026'} GMT",
        "---",
        "Server certificate",
        "-----BEGIN CERTIFICATE-----",
    )
    for _ in range(r.randint(12, 20)):
        out.add(
            "".join(r.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/") for _ in range(64))
        )
    out.add(
        "-----END CERTIFICATE-----",
        "---",
        "SSL handshake has read 3412 bytes and written 412 bytes",
        "Verification: OK" if not expired else "---",
    )
    code = "    Verify return code: 10 (certificate has expired)" if expired else "    Verify return code: 0 (ok)"
    if expired:
        out.error(code, "openssl", root=root)
    else:
        out.add(code)


def curl_verbose(out: Out, w: World, url: str, status: int, request_id: str, root: bool = False) -> None:
    host = url.split("/")[2]
    out.add(
        f"*   Trying {w.ids.ipv4()}:443...",
        f"* Connected to {host} port 443",
        "* ALPN: server accepted h2",
        f"> POST /{url.split('/', 3)[3]} HTTP/2",
        f"> Host: {host}",
        "> user-agent: curl/8.5.0",
        "> content-type: application/json",
        ">",
    )
    line = f"< HTTP/2 {status} "
    if status >= 500:
        out.error(line, "curl", root=root)
    else:
        out.add(line)
    out.add("< content-type: application/problem+json", f"< x-request-id: {request_id}", "<")
    if status >= 500:
        detail = "upstream connect error or disconnect/reset before headers"
        body = f'{{"title":"Service Unavailable","status":{status},"detail":"{detail}","instance":"{request_id}"}}'
        out.error(body, "curl", [request_id], root=root)


def df(out: Out, w: World, full: str = "", root: bool = False) -> None:
    r = w.r
    out.add("Filesystem                 Size  Used Avail Use% Mounted on")
    for fs, mount in (
        ("/dev/mapper/vg0-root", "/"),
        ("/dev/nvme0n1p1", "/boot"),
        ("/dev/mapper/vg0-var", "/var"),
        ("/dev/mapper/vg1-kafka", "/var/lib/kafka"),
        ("tmpfs", "/run"),
    ):
        if mount == full:
            out.error(f"{fs:<26} 1.8T  1.8T     0 100% {mount}", "df", [], root=root)
        else:
            use = r.randint(3, 78)
            out.add(f"{fs:<26} {r.randint(10, 900)}G  {use}G  {100 - use}G  {use}% {mount}")
