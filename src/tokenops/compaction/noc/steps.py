"""Tool calls of a NOC agent and the routine ones it makes between findings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tokenops.compaction.noc import apps, devices, hostlogs, infra, routerlog, sip, traces
from tokenops.compaction.noc.logs import Event, Host, write
from tokenops.compaction.noc.record import Out
from tokenops.compaction.noc.world import World


@dataclass
class Step:
    """One tool call: its name and arguments, and what writes its output (returning the exit status)."""

    tool: str
    args: dict[str, Any]
    command: str
    write: Callable[[Out], int]


def cli(device: str, command: str, fn: Callable[[Out], int]) -> Step:
    return Step("router_cli", {"device": device, "command": command}, command, fn)


def kubectl(args: str, fn: Callable[[Out], int]) -> Step:
    return Step("kubectl", {"args": args}, "kubectl " + args, fn)


def ssh(host: str, command: str, fn: Callable[[Out], int]) -> Step:
    return Step("ssh_exec", {"host": host, "command": command}, command, fn)


def logs(source: str, query: str, fn: Callable[[Out], int]) -> Step:
    return Step("log_search", {"source": source, "query": query, "since": "2h"}, f"{source}: {query}", fn)


def promql(query: str, fn: Callable[[Out], int]) -> Step:
    return Step("promql", {"query": query}, query, fn)


def alarms(query: str, fn: Callable[[Out], int]) -> Step:
    return Step("nms_alarms", {"filter": query}, query, fn)


def sip_trace(query: str, fmt: str, fn: Callable[[Out], int]) -> Step:
    return Step("sip_trace", {"filter": query, "format": fmt}, f"{fmt} {query}", fn)


def read_file(host: str, path: str, fn: Callable[[Out], int]) -> Step:
    return Step("read_file", {"host": host, "path": path}, path, fn)


def exits(status: int, fn: Callable[[Out], None]) -> Callable[[Out], int]:
    """A writer of output whose command ends with `status`."""

    def run(out: Out) -> int:
        fn(out)
        return status

    return run


def done(fn: Callable[[Out], None]) -> Callable[[Out], int]:
    return exits(0, fn)


def calls(
    w: World, n: int, fail_share: float = 0.0, codes: tuple[int, ...] = (503,), *, a: str = "", b: str = ""
) -> list[sip.Call]:
    """`n` calls through the SBC, most completing, a few with ordinary outcomes, `fail_share` failing."""
    r = w.r
    out = []
    for _ in range(n):
        roll = r.random()
        outcome = (
            r.choice(codes) if roll < fail_share else (r.choice([486, 487, 603]) if roll < fail_share + 0.08 else 200)
        )
        out.append(
            sip.call(
                w.ids,
                w.clock.tick(20_000),
                a or r.choice(w.pcscf),
                b or r.choice([w.sbc, *w.peers]),
                outcome,
                challenge=r.random() < 0.3,
            )
        )
    return out


def background(w: World) -> Step:
    """A routine look at some part of the network: mostly healthy output, now and then an everyday failure."""
    r = w.r
    kind = r.choices(range(22), [16, 5, 4, 5, 4, 3, 3, 6, 3, 3, 3, 2, 3, 2, 1, 3, 2, 2, 3, 2, 2, 2])[0]
    if kind == 0:
        ns, dep, pod = w.pod()
        n = r.randint(30, 150)
        return kubectl(f"logs -n {ns} {pod} --since=30m --tail={n}", done(lambda o: apps.app_log(o, w, dep, n)))
    if kind == 1:
        node = r.choice(w.nodes)
        n = r.randint(30, 120)
        return ssh(
            node, "journalctl -u kubelet --since '-20min' --no-pager", done(lambda o: apps.kubelet(o, w, node, n))
        )
    if kind == 2:
        router = w.router()
        return cli(
            router.name,
            "show logging last 100",
            done(lambda o: routerlog.router_log(o, w, router.vendor, r.randint(30, 100))),
        )
    if kind == 3:
        router = w.router("xr")
        ifname = r.choice(router.interfaces)
        return cli(
            router.name, f"show interfaces {ifname}", done(lambda o: devices.show_interface(o, w, router, ifname))
        )
    if kind == 4:
        router = w.router()
        return cli(router.name, "show bgp ipv6 unicast summary", done(lambda o: devices.show_bgp_summary(o, w, router)))
    if kind == 5:
        router = w.router("xr")
        ifname = r.choice(router.interfaces)
        return cli(
            router.name, f"show controllers optics {ifname[-7:]}", done(lambda o: devices.show_optics(o, w, ifname))
        )
    if kind == 6:
        ns = r.choice(sorted(set(w.namespace_of.values())))
        return kubectl(f"get pods -n {ns} -o wide", done(lambda o: infra.get_pods(o, w, ns, [])))
    if kind == 7:
        fmt = r.choice(["raw", "ngrep", "sngrep", "tshark", "tshark-fields", "homer"])
        n = r.randint(3, 14) if fmt in ("raw", "ngrep") else r.randint(10, 40)
        batch = calls(w, n, 0.05, (503, 408, 480, 500, 488, 481))
        return sip_trace(f"sbc {w.sbc} last 15m", fmt, done(lambda o: sip.render(o, fmt, batch, r)))
    if kind == 8:
        ns, dep, _ = w.pod()
        inst = f"{w.ids.ipv4('10.244.1')}:9090"
        bad = {f"{dep.replace('-', '_')}_errors_total": r.choice([0, 0, 0, r.randint(1, 40)])}
        return ssh(
            r.choice(w.nodes),
            f"curl -s http://{inst}/metrics",
            done(lambda o: infra.prometheus(o, w, dep.replace("-", "_"), inst, bad)),
        )
    if kind == 9:
        ns = r.choice(sorted(set(w.namespace_of.values())))
        return kubectl(
            f"get events -n {ns} --sort-by=.lastTimestamp",
            done(lambda o: infra.get_events(o, w, ns, [], r.randint(10, 40))),
        )
    if kind == 10:
        return read_file(w.sbc.split(":")[0], "/etc/kamailio/dispatcher.list", done(lambda o: _dispatcher(o, w)))
    if kind == 11:
        node = r.choice(w.nodes)
        return ssh(node, "dmesg -T | tail -60", done(lambda o: _dmesg(o, w, node)))
    if kind == 12:
        targets = [(dep, f"{w.ids.ipv4('10.244.2')}:9090", 1) for dep in r.sample(sorted(w.pods), 8)]
        return promql('up{namespace=~"ims|5gc"}', done(lambda o: infra.up_query(o, w, targets)))
    if kind == 13:
        return _probe(w)
    n = r.randint(30, 150)
    if kind == 15:
        return kubectl(
            f"logs -n ingress ingress-nginx-controller-{w.ids.hex(10)}-{w.ids.hex(5)} --since=15m",
            done(lambda o: hostlogs.ingress(o, w, n)),
        )
    if kind == 16:
        return ssh(
            "db-bastion",
            "tail -n 200 /var/log/postgresql/postgresql-15-main.log",
            done(lambda o: hostlogs.postgres(o, w, n)),
        )
    if kind == 17:
        return kubectl("logs -n kube-system -l k8s-app=kube-dns --since=15m", done(lambda o: hostlogs.coredns(o, w, n)))
    if kind == 18:
        return logs(
            "syslog-collector",
            "host:(sbc* OR dra* OR lb* OR hss* OR ntp*)",
            done(lambda o: hostlogs.syslog_collector(o, w, n)),
        )
    if kind == 19:
        return ssh(
            r.choice(w.nodes),
            "journalctl -u containerd -o json --since '-15min'",
            done(lambda o: hostlogs.journald_json(o, w, "containerd", n)),
        )
    if kind == 21:
        node = r.choice(w.nodes)
        dev = w.ids.interface("linux")
        crc = r.choice([0, 0, 0, r.randint(1, 500)])
        return ssh(
            node,
            f"ethtool -S {dev} | grep -E 'err|drop|discard|packets|bytes'",
            done(lambda o: devices.ethtool(o, w, dev, crc)),
        )
    if kind == 20:
        return ssh(
            "dra-1", "tail -n 200 /var/log/freeDiameter/fd.log", done(lambda o: hostlogs.diameter_agent(o, w, n))
        )
    return ssh(
        r.choice(w.nodes),
        "kill -QUIT $(pidof sbc-sig) && sleep 1 && tail -n 400 /var/log/sbc-sig/stderr.log",
        done(lambda o: traces.goroutine_dump(o, r, "github.com/noc/sbc", r.randint(8, 25))),
    )


def _dispatcher(out: Out, w: World) -> None:
    r = w.r
    out.add("# setid(int) destination(sip uri) flags(int,opt) priority(int,opt) attrs(str,opt)")
    for k, peer in enumerate(w.peers, 1):
        out.add(
            f"1 sip:{peer} 0 {k} "
            f"duid=trunk{k};socket=udp:{w.sbc};weight={r.choice([25, 50])};ping_from=sip:sbc@{w.ids.realm}"
        )
    for peer in w.pcscf:
        out.add(f"2 sip:{peer} 0 1 duid=pcscf;maxload={r.randint(100, 900)}")


def _dmesg(out: Out, w: World, node: str) -> None:
    r = w.r
    host = Host(node, "kernel", 0)
    for _ in range(r.randint(20, 60)):
        dev = w.ids.interface("linux")
        msg = r.choice(
            [
                f"IPv6: ADDRCONF(NETDEV_CHANGE): cali{w.ids.hex(11)}: link becomes ready",
                f"{dev}: renamed from eth{r.randint(0, 3)}",
                f"cni0: port {r.randint(1, 40)}(veth{w.ids.hex(8)}) entered forwarding state",
                f"xfs filesystem being remounted at /var/lib/kubelet/pods/{w.ids.uuid()}/volume-subpaths supports "
                "timestamps until 2038",
            ]
        )
        write(out, "dmesg", [Event("info", "kernel", msg)], w.clock, host, r, 30_000)


def _probe(w: World) -> Step:
    """A health probe from inside a pod: now and then the target does not answer."""
    r = w.r
    ns, _, pod = w.pod()
    target = f"{w.ids.ipv4('10.96.' + str(r.randint(0, 200)))}:{r.choice([8080, 9090, 29510])}"

    def run(out: Out) -> int:
        if r.random() < 0.4:
            out.error(
                f"curl: (7) Failed to connect to {target.split(':')[0]} port {target.split(':')[1]} after "
                f"{r.randint(0, 3000)} ms: Couldn't connect to server",
                "shell",
                [target.split(":")[0]],
            )
            return 7
        out.add('{"status":"UP","components":{"db":{"status":"UP"},"diskSpace":{"status":"UP"}}}')
        return 0

    return kubectl(f"exec -n {ns} {pod} -- curl -sf http://{target}/health", run)
