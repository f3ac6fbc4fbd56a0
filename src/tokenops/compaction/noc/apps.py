"""What each service logs, in the format it logs in: routine lines, and now and then a failure of its own."""

from __future__ import annotations

from collections.abc import Callable

from tokenops.compaction.noc import traces
from tokenops.compaction.noc.logs import Event, Host, write
from tokenops.compaction.noc.record import Out
from tokenops.compaction.noc.world import World

# The log format of each deployment, and the logger (or source file) names it writes.
FORMATS = {
    "pcscf": "kamailio",
    "scscf": "kamailio",
    "icscf": "kamailio",
    "bgcf": "kamailio",
    "mrf-ctrl": "glog",
    "sbc-sig": "zap",
    "rtpengine": "syslog",
    "amf": "zap",
    "smf": "logfmt",
    "nrf": "json-level",
    "udm": "json-clef",
    "pcf": "jul",
    "nssf": "python-logging",
    "chf-rating": "logback",
    "cdr-writer": "log4j",
    "ocs-gateway": "json-ecs",
    "balance-api": "json-bunyan",
    "alarm-bridge": "python-logging",
    "inventory": "json-severity",
    "netconf-agent": "erlang",
    "metrics-relay": "glog",
}
_COMPONENTS = {
    "kamailio": [
        "tm [t_reply.c:{n}]",
        "<core> [core/tcp_main.c:{n}]",
        "dispatcher [dispatch.c:{n}]",
        "ims_usrloc_scscf [usrloc.c:{n}]",
        "tmx [tmx_mod.c:{n}]",
    ],
    "glog": ["session_mgr.cc:{n}", "media_ctrl.cc:{n}", "relay.cc:{n}"],
    "zap": ["sip/transport.go:{n}", "dispatch/pool.go:{n}", "registrar/cache.go:{n}", "ngap/handler.go:{n}"],
    "logfmt": ["pfcp/session.go:{n}", "n11/handler.go:{n}", "smcontext/ctx.go:{n}"],
    "json-level": ["nrf.discovery", "nrf.heartbeat", "nrf.oauth"],
    "json-clef": ["Udm.Sdm.SubscriptionService", "Udm.Ueau.AuthVectorProvider", "Udm.Uecm.Registration"],
    "jul": [
        "com.telco.pcf.policy.SmPolicyService#create",
        "com.telco.pcf.rx.AarHandler#onRequest",
        "com.telco.pcf.store.SessionStore#put",
    ],
    "python-logging": ["nssf.selection", "alarm_bridge.forwarder", "alarm_bridge.snmp", "nssf.api"],
    "logback": [
        "c.t.c.rating.RatingService",
        "c.t.c.rating.QuotaManager",
        "o.s.web.servlet.DispatcherServlet",
        "c.t.c.cdr.CdrEmitter",
    ],
    "log4j": ["c.t.cdr.writer.BatchWriter", "o.a.k.clients.producer.KafkaProducer", "c.t.cdr.writer.Enricher"],
    "json-ecs": ["ocs.gateway.ccr", "ocs.gateway.quota", "ocs.gateway.http"],
    "json-bunyan": ["balance-api", "balance-api.cache", "balance-api.http"],
    "json-severity": ["inventory.sync", "inventory.api", "inventory.netbox"],
    "erlang": ["netconf_session", "netconf_ssh", "yang_store"],
    "syslog": ["rtpengine"],
}

Msg = tuple[str, dict[str, str], list[str]]


def _info(w: World, ns: str) -> Msg:
    r, ids = w.r, w.ids
    imsi, imei, msisdn = ids.subscriber()
    trace = ids.trace_id()
    choices: dict[str, list[Callable[[], Msg]]] = {
        "ims": [
            lambda: (f"REGISTER from sip:{msisdn}@{ids.realm} accepted, expires=600", {"call_id": ids.call_id()}, []),
            lambda: (f"transaction {ids.branch()} completed with 200 in {r.randint(2, 300)} ms", {}, []),
            lambda: (f"dialog {ids.hex(8)}:{ids.hex(8)} confirmed, Call-ID {ids.call_id()}", {}, []),
            lambda: (f"relaying INVITE to sip:{ids.ipv4('10.40.3')}:5060 for tel:{msisdn}", {}, []),
            lambda: (
                f"contact sip:{msisdn}@{ids.ipv4()}:{r.randint(1024, 65000)} expired, removed from usrloc",
                {},
                [],
            ),
            lambda: (f"OPTIONS keepalive to sip:{r.choice(w.peers)} answered 200", {}, []),
        ],
        "5gc": [
            lambda: (
                f"PDU session established supi=imsi-{imsi} dnn=ims psi={r.randint(1, 15)} upf={ids.ipv4()}",
                {"trace_id": trace},
                [],
            ),
            lambda: (f"policy association created for imsi-{imsi}", {"correlation_id": ids.uuid()}, []),
            lambda: (f"NF profile {ids.uuid()} heartbeat accepted, load={r.randint(1, 90)}", {}, []),
            lambda: (f"authentication vector generated for imsi-{imsi} (SQN {ids.hex(12)})", {"trace_id": trace}, []),
            lambda: (f"UE context release imei={imei} cause=user-inactivity", {}, []),
            lambda: (f"N2 handover completed guti={ids.guti()} target gNB {r.randint(1000, 9999)}", {}, []),
        ],
        "charging": [
            lambda: (
                f"rated {r.randint(1, 400)} units for {msisdn} tariff=T{r.randint(10, 99)}",
                {"request_id": ids.request_id()},
                [],
            ),
            lambda: (
                f"flushed batch of {r.randint(100, 5000)} CDRs to topic cdr-events partition {r.randint(0, 11)}",
                {},
                [],
            ),
            lambda: (
                f"quota granted {r.randint(1, 100)} MB to imsi-{imsi} rating group {r.randint(10, 90)}",
                {"request_id": ids.request_id()},
                [],
            ),
            lambda: (
                f"ChargingDataRequest update #{r.randint(1, 40)} for session {ids.uuid()} processed in "
                f"{r.randint(2, 90)} ms",
                {},
                [],
            ),
        ],
        "oss": [
            lambda: (f"cache refresh done entries={r.randint(1000, 90000)} took={r.randint(20, 900)}ms", {}, []),
            lambda: ("GET /healthz 200", {"latency_ms": str(r.randint(1, 9))}, []),
            lambda: (f"sync of {r.randint(10, 400)} devices from netbox finished, {r.randint(0, 5)} changed", {}, []),
            lambda: (f"alarm seq {ids.alarm_id()} forwarded to NMS", {}, []),
            lambda: (f"netconf session {r.randint(100, 9999)} opened to {w.router().name}", {}, []),
        ],
    }
    return r.choice(choices[ns])()


def _failure(w: World, ns: str) -> Msg:
    """A failure that happens on any busy day, unrelated to the incident at hand."""
    r, ids = w.r, w.ids
    imsi, _, msisdn = ids.subscriber()
    cid, trace, req = ids.call_id(), ids.trace_id(), ids.request_id()
    peer = f"{ids.ipv4()}:{r.choice([5060, 3868, 8805, 9092])}"
    choices: dict[str, list[Callable[[], Msg]]] = {
        "ims": [
            lambda: (f"no matching transaction for reply, Call-ID {cid}", {}, [cid]),
            lambda: (f"relay of INVITE for {msisdn} to {peer} failed: no reply in 32s", {}, [msisdn, peer]),
        ],
        "5gc": [
            lambda: (f"subscriber imsi-{imsi} not found in UDR", {"trace_id": trace}, [imsi, trace]),
            lambda: (
                f"invalid SUCI from UE, decoding failed (scheme {r.randint(1, 2)})",
                {"correlation_id": req},
                [req],
            ),
        ],
        "charging": [
            lambda: (
                f"quota reservation rejected for {msisdn}: credit limit reached",
                {"request_id": req},
                [msisdn, req],
            ),
            lambda: (f"request {req} to {peer} failed after 3 retries", {}, [req, peer]),
        ],
        "oss": [
            lambda: (f"connection to {peer} closed by peer during read", {"trace_id": trace}, [peer, trace]),
            lambda: (f"device {w.router().name} did not answer the netconf hello within 30s", {}, []),
        ],
    }
    return r.choice(choices[ns])()


def app_log(
    out: Out,
    w: World,
    deployment: str,
    lines: int,
    *,
    error_rate: float = 0.02,
    warn_rate: float = 0.02,
    traces_on: bool = True,
    host: Host | None = None,
) -> None:
    """`kubectl logs`: routine lines of the deployment's own format, with its everyday failures."""
    r = w.r
    fmt = FORMATS[deployment]
    ns = w.namespace_of[deployment]
    comps = _COMPONENTS.get(fmt, [deployment])
    if host is None:
        thread = "tty" if r.random() < 0.3 else r.choice(["main", "grpc-default-executor-3", "http-nio-8080-exec-7"])
        host = w.host(deployment, thread=thread)
    for _ in range(lines):
        comp = r.choice(comps).format(n=r.randint(100, 4000))
        roll = r.random()
        if roll < error_rate:
            msg, fields, found = _failure(w, ns)
            write(out, fmt, [Event("error", comp, msg, fields, found)], w.clock, host, r)
            if traces_on and r.random() < 0.3:
                _trace_for(out, w, fmt)
        elif roll < error_rate + warn_rate:
            write(
                out,
                fmt,
                [
                    Event(
                        "warning",
                        comp,
                        r.choice(
                            [
                                f"slow response from {w.ids.ipv4()} took {r.randint(900, 4000)}ms",
                                f"retrying request (attempt {r.randint(2, 4)}/5)",
                                f"queue depth {r.randint(800, 5000)} above soft limit",
                            ]
                        ),
                    )
                ],
                w.clock,
                host,
                r,
            )
        else:
            msg, fields, found = _info(w, ns)
            sev = "debug" if r.random() < 0.15 else "info"
            write(out, fmt, [Event(sev, comp, msg, fields, found)], w.clock, host, r)


def _trace_for(out: Out, w: World, fmt: str) -> None:
    r = w.r
    if fmt in ("logback", "log4j", "jul"):
        traces.java(
            out,
            r,
            [traces.Exc("java.util.concurrent.TimeoutException", f"no response within {r.randint(2, 30)}s")],
            "com.telco.core",
            r.choice(["netty", "web"]),
        )
    elif fmt == "python-logging":
        traces.python(out, r, [traces.Exc("ConnectionResetError", "[Errno 104] Connection reset by peer")], "worker")


def kubelet(out: Out, w: World, node: str, lines: int) -> None:
    """`journalctl -u kubelet`: journald lines with klog inside."""
    r = w.r
    host = Host(node, "kubelet", r.randint(900, 3000))
    for _ in range(lines):
        _, dep, pod = w.pod()
        msg = r.choice(
            [
                f'"SyncLoop (PLEG): event for pod" pod="{w.namespace_of[dep]}/{pod}" '
                f'event={{"Type":"ContainerStarted"}}',
                f'"Probe succeeded" probeType="Readiness" pod="{w.namespace_of[dep]}/{pod}"',
                f'"RemoveContainer" containerID="{w.ids.container_id()[:12]}"',
                '"Image garbage collection succeeded"',
            ]
        )
        t = w.clock.tick(4000)
        source = f"{r.choice(['kubelet.go', 'prober.go', 'kuberuntime_gc.go'])}:{r.randint(100, 2800)}"
        klog_line = f"I{t:%m%d} {t:%H:%M:%S}.{t.microsecond:06d}    {host.pid} {source}] {msg}"
        out.add(f"{t:%b %d %H:%M:%S} {node} kubelet[{host.pid}]: {klog_line}")
