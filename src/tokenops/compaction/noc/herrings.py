"""Red herrings: real failures elsewhere in the network, unrelated to the incident, that an engineer meets late."""

from __future__ import annotations

from collections.abc import Callable

from tokenops.compaction.noc import apps, devices, hostlogs, infra, routerlog, sip, traces
from tokenops.compaction.noc.logs import Event, Host, write
from tokenops.compaction.noc.record import Out
from tokenops.compaction.noc.steps import Step, calls, cli, done, kubectl, sip_trace, ssh
from tokenops.compaction.noc.world import World


def crashing_inventory(w: World) -> Step:
    r, ids = w.r, w.ids
    pod = w.pods["inventory"][0]

    def run(out: Out) -> int:
        host = w.host("inventory")
        apps.app_log(out, w, "inventory", r.randint(20, 60), error_rate=0.0)
        write(
            out,
            "json-severity",
            [
                Event(
                    "critical",
                    "inventory.sync",
                    f"netbox sync aborted: site key missing for device {w.router().name}",
                    ids=[w.router().name],
                )
            ],
            w.clock,
            host,
            r,
        )
        traces.python(
            out,
            r,
            [
                traces.Exc("KeyError", "'site'"),
                traces.Exc("inventory.errors.SyncError", f"cannot map device {ids.hex(8)} to a site"),
            ],
            "inventory",
            direct=True,
        )
        return 0

    return kubectl(f"logs -n oss {pod} --previous", run)


def fan_alarm(w: World) -> Step:
    r = w.r
    router = w.router()
    rows = [
        (
            "Major",
            "FAN_TRAY_FAIL",
            f"{router.name}/fantray{r.randint(0, 3)}",
            "Fan tray 2 failure, redundancy lost",
            False,
        ),
        ("Minor", "TEMP_HIGH", f"{router.name}/slot{r.randint(0, 7)}", "Inlet temperature 41C above 40C", False),
        ("Critical", "PSU_FAIL", f"{router.name}/PM{r.randint(0, 3)}", "Power module input lost", False),
        ("Cleared", "LINK_DOWN", f"{w.router().name}/{r.choice(router.interfaces)}", "Link down", False),
    ]
    fmt = r.choice(["csv", "pipe"])
    return Step(
        "nms_alarms",
        {"filter": f"ne={router.name} severity>=minor", "format": fmt},
        f"ne={router.name}",
        done(lambda o: infra.nms_alarms(o, w, rows, fmt)),
    )


def other_bgp(w: World) -> Step:
    r, ids = w.r, w.ids
    router = w.router("xr")
    peer = ids.ipv4("192.0.2")

    def run(out: Out) -> int:
        host = Host(router.name, "bgp", r.randint(1000, 2000))
        routerlog.router_log(out, w, "xr", r.randint(20, 40))
        write(
            out,
            "ios-xr",
            [
                Event(
                    "notice",
                    "ROUTING-BGP-N-ADJCHANGE",
                    f"neighbor {peer} Down - BGP Notification received, administrative reset (VRF: mgmt) (AS: 64512)",
                    ids=[peer],
                    bad=True,
                ),
                Event("notice", "ROUTING-BGP-N-ADJCHANGE", f"neighbor {peer} Up (VRF: mgmt) (AS: 64512)"),
            ],
            w.clock,
            host,
            r,
        )
        return 0

    return cli(router.name, "show logging | include BGP", run)


def grafana_db(w: World) -> Step:
    r = w.r

    def run(out: Out) -> int:
        host = Host("report-db", "postgres", r.randint(2000, 40000))
        hostlogs.connections(out, w, host, "10.60.1", r.randint(10, 30))
        write(
            out,
            "postgres",
            [
                Event(
                    "critical",
                    "grafana@grafana",
                    'password authentication failed for user "grafana"',
                    detail=[
                        'DETAIL:  Connection matched pg_hba.conf line 98: "host all all 10.60.0.0/16 scram-sha-256"'
                    ],
                )
            ],
            w.clock,
            host,
            r,
        )
        return 0

    return ssh("report-db", "tail -n 100 /var/log/postgresql/postgresql-15-main.log", run)


def full_log_disk(w: World) -> Step:
    node = w.r.choice(w.nodes)
    return ssh(node, "df -h", done(lambda o: infra.df(o, w, "/var")))


def misdialled(w: World) -> Step:
    r = w.r
    batch = calls(w, r.randint(6, 14), 0.3, (404,))
    fmt = r.choice(["tshark", "homer"])
    return sip_trace("status=404", fmt, done(lambda o: sip.render(o, fmt, batch, r)))


def notify_crash(w: World) -> Step:
    r, ids = w.r, w.ids
    redis = f"{ids.ipv4('10.70.0')}:6379"

    def run(out: Out) -> int:
        traces.node(
            out,
            r,
            traces.Exc(
                "MaxRetriesPerRequestError",
                'Reached the max retries per request limit (which is 20). Refer to "maxRetriesPerRequest" option for '
                "details.",
            ),
            traces.Exc("Error", f"connect ECONNREFUSED {redis}", [redis]),
            "notify",
        )
        return 0

    return kubectl(f"logs -n oss sms-notify-{ids.hex(10)}-{ids.hex(5)} --previous", run)


def leader_election(w: World) -> Step:
    r = w.r

    def run(out: Out) -> int:
        host = Host("cp-1", "kube-controller-manager", 1)
        lease = "kube-system/kube-controller-manager"
        for _ in range(r.randint(20, 50)):
            write(
                out,
                "klog",
                [
                    Event(
                        "info",
                        f"replica_set.go:{r.randint(100, 700)}",
                        "Finished syncing",
                        {"kind": "ReplicaSet", "key": f"ims/{w.pod()[2][:-6]}", "duration": f"{r.randint(50, 900)}µs"},
                    )
                ],
                w.clock,
                host,
                r,
            )
        write(
            out,
            "klog",
            [
                Event(
                    "error",
                    "leaderelection.go:332",
                    "error retrieving resource lock kube-system/kube-controller-manager: Get "
                    '"https://10.96.0.1:443/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/"'
                    'kube-controller-manager?timeout=5s": context deadline exceeded',
                    ids=[lease],
                ),
                Event(
                    "info",
                    "leaderelection.go:285",
                    "failed to renew lease kube-system/kube-controller-manager: timed out waiting for the condition",
                    ids=[lease],
                    bad=True,
                ),
            ],
            w.clock,
            host,
            r,
        )
        return 0

    return kubectl("logs -n kube-system kube-controller-manager-cp-1 --tail=200", run)


def expiring_cert(w: World) -> Step:
    host = f"grafana.noc.{w.ids.realm}"
    return ssh(
        "noc-jump", f"openssl s_client -connect {host}:443 </dev/null", done(lambda o: infra.openssl(o, w, host, True))
    )


def flapping_port(w: World) -> Step:
    r = w.r
    router = w.router("xr")
    ifname = r.choice(router.interfaces)
    fault = devices.LinkFault(crc=r.randint(3, 40))
    return cli(
        router.name, f"show interfaces {ifname}", done(lambda o: devices.show_interface(o, w, router, ifname, fault))
    )


def failed_unit(w: World) -> Step:
    node = w.r.choice(w.nodes)
    unit = w.r.choice(["snmpd", "node-exporter", "auditd", "lldpd"])
    return ssh(
        node, f"systemctl status {unit} --no-pager", done(lambda o: infra.systemctl_status(o, w, unit, node, True))
    )


HERRINGS: list[Callable[[World], Step]] = [
    crashing_inventory,
    fan_alarm,
    other_bgp,
    grafana_db,
    full_log_disk,
    misdialled,
    notify_crash,
    leader_election,
    expiring_cert,
    flapping_port,
    failed_unit,
]


def pick(w: World, n: int) -> list[Step]:
    return [make(w) for make in w.r.sample(HERRINGS, n)]
