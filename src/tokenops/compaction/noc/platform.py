"""Platform incidents: a database pool drained by a lock, a pod killed for memory, a Kafka disk full."""

from __future__ import annotations

from tokenops.compaction.noc import apps, hostlogs, infra, traces
from tokenops.compaction.noc.incident import Scenario
from tokenops.compaction.noc.logs import Event, Host, write
from tokenops.compaction.noc.record import Out
from tokenops.compaction.noc.steps import Step, done, kubectl, promql, ssh
from tokenops.compaction.noc.world import World

_POOL_TIMEOUT = [
    traces.Exc(
        "org.springframework.transaction.CannotCreateTransactionException",
        "Could not open JDBC Connection for transaction",
    ),
    traces.Exc(
        "java.sql.SQLTransientConnectionException",
        "HikariPool-1 - Connection is not available, request timed out after 30000ms.",
    ),
]
_NOT_ENOUGH_REPLICAS = [
    traces.Exc(
        "org.apache.kafka.common.errors.NotEnoughReplicasException",
        "Messages are rejected since there are fewer in-sync replicas than required.",
    )
]


def dbpool(w: World) -> Scenario:
    r, ids = w.r, w.ids
    ns, _, pod = w.pod("chf-rating")
    req = ids.request_id()

    def ingress(out: Out) -> int:
        host = w.host("nginx")
        events = [
            Event(
                "error",
                "ingress",
                "upstream timed out (110: Connection timed out) while reading response header from upstream",
                {
                    "client": ids.ipv4(),
                    "server": "chf.charging.svc",
                    "request": '"POST /nchf-convergedcharging/v3/chargingdata HTTP/2.0"',
                    "upstream": f'"http://{ids.ipv4("10.244.7")}:8080/nchf-convergedcharging/v3/chargingdata"',
                },
                root=True,
            )
        ]
        for k in range(r.randint(30, 80)):
            t = w.clock.tick(800)
            status = 503 if r.random() < 0.3 else 201
            rid = ids.request_id()
            line = (
                f'{ids.ipv4()} - - [{t:%d/%b/%Y:%H:%M:%S} +0800] "POST /nchf-convergedcharging/v3/chargingdata '
                f'HTTP/2.0" {status} '
                f'{r.randint(100, 900)} "-" "smf/2.3.1" {r.uniform(0.002, 30):.3f} [charging-chf-8080] {rid}'
            )
            if status >= 500:
                out.error(line, "nginx-access", [rid], root=k < 3)
            else:
                out.add(line)
            if k == 5:
                write(out, "nginx-error", events, w.clock, host, r)
        return 0

    def chf(out: Out) -> int:
        host = w.host("chf-rating", thread="http-nio-8080-exec-14")
        write(
            out,
            "logback",
            [
                Event(
                    "error",
                    "com.zaxxer.hikari.pool.HikariPool",
                    "HikariPool-1 - Connection is not available, request timed out after 30000ms (total=50, "
                    "active=50, idle=0, waiting=187)",
                    root=True,
                )
            ],
            w.clock,
            host,
            r,
        )
        traces.java(
            out,
            r,
            _POOL_TIMEOUT,
            "com.telco.charging.rating",
            "jdbc",
            root=True,
        )
        apps.app_log(out, w, "chf-rating", r.randint(40, 120), error_rate=0.02)
        write(
            out,
            "logback",
            [
                Event(
                    "error",
                    "c.t.c.rating.RatingService",
                    f"rating failed for request {req}: quota unavailable",
                    ids=[req],
                    root=True,
                )
            ],
            w.clock,
            host,
            r,
        )
        return 0

    def pg(out: Out) -> int:
        host = Host("cdr-db-1", "postgres", r.randint(2000, 40000))
        lock = Event(
            "info",
            "charging@cdrdb",
            f"process {host.pid} still waiting for AccessExclusiveLock on relation 16412 of database 16385 after "
            "1000.081 ms",
            bad=True,
            root=True,
            detail=[
                "DETAIL:  Process holding the lock: 2211. Wait queue: 4410, 4411, 4415.",
                "STATEMENT:  ALTER TABLE cdr_events ADD COLUMN rat_type smallint NOT NULL DEFAULT 6;",
            ],
        )
        full = Event(
            "critical",
            "charging@cdrdb",
            "remaining connection slots are reserved for non-replication superuser connections",
            root=True,
        )
        hostlogs.connections(out, w, host, "10.244.7", r.randint(10, 30))
        write(out, "postgres", [lock, full, full], w.clock, host, r)
        return 0

    def symptom() -> Step:
        def run(out: Out) -> int:
            host = w.host("chf-rating", thread="http-nio-8080-exec-" + str(r.randint(1, 50)))
            for _ in range(r.randint(3, 8)):
                apps.app_log(out, w, "chf-rating", r.randint(5, 30), error_rate=0.01, host=host)
                rid = ids.request_id()
                write(
                    out,
                    "logback",
                    [
                        Event(
                            "error",
                            "c.t.c.rating.RatingService",
                            f"rating failed for request {rid}: quota unavailable",
                            ids=[rid],
                        )
                    ],
                    w.clock,
                    host,
                    r,
                )
                if r.random() < 0.4:
                    traces.java(
                        out,
                        r,
                        _POOL_TIMEOUT,
                        "com.telco.charging.rating",
                        "jdbc",
                    )
            return 0

        return kubectl(f"logs -n {ns} {r.choice(w.pods['chf-rating'])} --since=10m", run)

    return Scenario(
        "dbpool",
        (
            f"Ticket {ids.ticket()} (P1): SMFs report Nchf ConvergedCharging timeouts since ~09:30; new data "
            "sessions are rejected for "
            "prepaid subscribers. The charging team deployed nothing today, but there was a DB maintenance window "
            f"(change {ids.ticket()}). "
            f"Example request id from the SMF: {req}."
        ),
        [
            kubectl(
                f"logs -n ingress ingress-nginx-controller-{ids.hex(10)}-{ids.hex(5)} --since=30m | grep chargingdata",
                ingress,
            ),
            ssh(
                f"smf-{r.randint(1, 4)}",
                "curl -sv -X POST https://chf.charging.svc/nchf-convergedcharging/v3/chargingdata -d @ccr.json",
                done(
                    lambda o: infra.curl_verbose(
                        o, w, "https://chf.charging.svc/nchf-convergedcharging/v3/chargingdata", 503, ids.request_id()
                    )
                ),
            ),
            kubectl(f"logs -n {ns} {pod} --since=30m", chf),
            ssh("cdr-db-1", "tail -n 300 /var/log/postgresql/postgresql-15-main.log", pg),
            promql(
                "hikaricp_connections_timeout_total",
                done(
                    lambda o: infra.prometheus(
                        o,
                        w,
                        "chf_rating",
                        f"{ids.ipv4('10.244.7')}:8081",
                        {"hikaricp_connections_timeout_total": r.randint(300, 9000)},
                        root=True,
                    )
                ),
            ),
        ],
        symptom,
    )


def oom(w: World) -> Scenario:
    r, ids = w.r, w.ids
    pods = w.pods["sbc-sig"]
    pod = pods[0]
    node = r.choice(w.nodes)
    fault = infra.PodFault(
        pod,
        "CrashLoopBackOff",
        [
            ("BackOff", "Back-off restarting failed container sbc-sig in pod " + pod),
            ("OOMKilling", f"Memory cgroup out of memory: Killed process {r.randint(1000, 90000)} (sbc-sig)"),
        ],
        exit_code=137,
        root=True,
    )

    def previous(out: Out) -> int:
        host = w.host("sbc-sig", node, "main")
        apps.app_log(out, w, "sbc-sig", r.randint(60, 200), error_rate=0.01)
        write(
            out,
            "zap",
            [
                Event(
                    "warning",
                    "dialplan/loader.go:212",
                    f"dialplan reload: {r.randint(200, 900)}k prefixes loaded, cache grows to "
                    f"{r.randint(3, 9)}.{r.randint(1, 9)}GiB",
                )
            ],
            w.clock,
            host,
            r,
        )
        traces.go_panic(out, r, "runtime: out of memory", "github.com/noc/sbc", [], root=True, fatal=True)
        return 0

    def kernel(out: Out) -> int:
        host = Host(node, "kernel", 0)
        kpid = str(r.randint(10000, 99999))
        events = [
            Event(
                "warning",
                "kernel",
                "sbc-sig invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=999",
            ),
            Event(
                "error",
                "kernel",
                f"Memory cgroup out of memory: Killed process {kpid} (sbc-sig) total-vm:9872312kB, "
                "anon-rss:4193280kB, file-rss:31228kB, shmem-rss:0kB, UID:1000 pgtables:8660kB oom_score_adj:999",
                ids=[kpid],
                root=True,
            ),
        ]
        for _ in range(r.randint(10, 30)):
            write(
                out,
                "dmesg",
                [Event("info", "kernel", f"cni0: port {r.randint(1, 40)}(veth{ids.hex(8)}) entered forwarding state")],
                w.clock,
                host,
                r,
            )
        write(out, "dmesg", events, w.clock, host, r)
        return 0

    def symptom() -> Step:
        others = [infra.PodFault(p, r.choice(["CrashLoopBackOff", "OOMKilled"]), exit_code=137) for p in pods]
        return kubectl("get pods -n ims -o wide", done(lambda o: infra.get_pods(o, w, "ims", others)))

    return Scenario(
        "oom",
        (
            f"Ticket {ids.ticket()} (P2): the SBC signalling pods in namespace ims keep restarting; calls in setup "
            "are dropped every "
            "few minutes (customers hear silence, then a fast busy). It started after this morning's dialplan "
            "update. Root cause please."
        ),
        [
            kubectl("get pods -n ims -o wide", done(lambda o: infra.get_pods(o, w, "ims", [fault]))),
            kubectl(f"describe pod -n ims {pod}", done(lambda o: infra.describe_pod(o, w, "ims", fault))),
            kubectl(
                "get events -n ims --sort-by=.lastTimestamp",
                done(lambda o: infra.get_events(o, w, "ims", [fault], r.randint(10, 30))),
            ),
            kubectl(f"logs -n ims {pod} --previous --tail=400", previous),
            ssh(node, "dmesg -T | grep -i -A3 oom", kernel),
        ],
        symptom,
    )


def kafka(w: World) -> Scenario:
    r, ids = w.r, w.ids
    broker = f"kafka-{r.randint(0, 2)}"
    topic = f"cdr-events-{r.randint(0, 11)}"

    def server_log(out: Out) -> int:
        host = Host(broker, "kafka", 1, "data-plane-kafka-request-handler-3")
        for _ in range(r.randint(30, 80)):
            write(
                out,
                "log4j",
                [
                    Event(
                        "info",
                        "kafka.log.LogCleaner",
                        f"[LocalLog partition=cdr-events-{r.randint(0, 11)}, dir=/var/lib/kafka/data] Rolled new log "
                        f"segment at offset {r.randint(10**8, 10**9)} in {r.randint(1, 20)} ms.",
                    )
                ],
                w.clock,
                host,
                r,
            )
        write(
            out,
            "log4j",
            [
                Event(
                    "error",
                    "kafka.server.LogDirFailureChannel",
                    f"Error while appending records to {topic} in dir /var/lib/kafka/data",
                    ids=[topic],
                    root=True,
                )
            ],
            w.clock,
            host,
            r,
        )
        traces.java(
            out, r, [traces.Exc("java.io.IOException", "No space left on device")], "kafka.log", "io", root=True
        )
        write(
            out,
            "log4j",
            [
                Event(
                    "error",
                    "kafka.server.ReplicaManager",
                    f"[ReplicaManager broker={broker[-1]}] Stopping serving replicas in dir /var/lib/kafka/data",
                    root=True,
                )
            ],
            w.clock,
            host,
            r,
        )
        return 0

    def writer(out: Out) -> int:
        host = w.host("cdr-writer", thread="kafka-producer-network-thread | cdr-writer-1")
        apps.app_log(out, w, "cdr-writer", r.randint(40, 120), error_rate=0.005)
        for k in range(r.randint(2, 4)):
            write(
                out,
                "log4j",
                [
                    Event(
                        "error",
                        "c.t.cdr.writer.BatchWriter",
                        f"send failed for batch of {r.randint(100, 900)} CDRs to {topic}",
                        ids=[topic],
                        root=k == 0,
                    )
                ],
                w.clock,
                host,
                r,
            )
            traces.java(
                out,
                r,
                _NOT_ENOUGH_REPLICAS,
                "com.telco.cdr.writer",
                "kafka",
                root=k == 0,
            )
        return 0

    def symptom() -> Step:
        def run(out: Out) -> int:
            host = w.host("cdr-writer", thread="kafka-producer-network-thread | cdr-writer-1")
            for _ in range(r.randint(2, 6)):
                apps.app_log(out, w, "cdr-writer", r.randint(10, 40), error_rate=0.01, host=host)
                write(
                    out,
                    "log4j",
                    [
                        Event(
                            "error",
                            "c.t.cdr.writer.BatchWriter",
                            f"send failed for batch of {r.randint(100, 900)} CDRs to {topic}",
                            ids=[topic],
                        )
                    ],
                    w.clock,
                    host,
                    r,
                )
                traces.java(
                    out,
                    r,
                    _NOT_ENOUGH_REPLICAS,
                    "com.telco.cdr.writer",
                    "kafka",
                )
            return 0

        return kubectl(f"logs -n charging {r.choice(w.pods['cdr-writer'])} --since=10m", run)

    return Scenario(
        "kafka",
        (
            f"Ticket {ids.ticket()} (P2): billing reconciliation shows about two hours of missing CDRs today for "
            "postpaid voice; cdr-writer "
            "dashboards show a backlog. Find where CDRs are lost."
        ),
        [
            kubectl(f"logs -n charging {w.pods['cdr-writer'][0]} --since=3h", writer),
            ssh(broker, "tail -n 400 /var/log/kafka/server.log", server_log),
            ssh(broker, "df -h", done(lambda o: infra.df(o, w, "/var/lib/kafka", root=True))),
            promql(
                "kafka_server_replicamanager_underreplicatedpartitions > 0",
                done(
                    lambda o: infra.prometheus(
                        o,
                        w,
                        "kafka",
                        f"{broker}:7071",
                        {"kafka_server_replicamanager_underreplicatedpartitions": r.randint(10, 60)},
                        root=True,
                    )
                ),
            ),
        ],
        symptom,
    )
