"""Transport incidents: a failing optic, an MTU cut by a change, a BGP session lost to its hold timer."""

from __future__ import annotations

from tokenops.compaction.noc import devices, infra, routerlog, sip
from tokenops.compaction.noc.incident import Scenario, among, root_calls
from tokenops.compaction.noc.logs import Event, Host, write
from tokenops.compaction.noc.record import Out
from tokenops.compaction.noc.steps import Step, calls, cli, done, exits, logs, promql, sip_trace, ssh
from tokenops.compaction.noc.world import World


def optic(w: World) -> Scenario:
    r, ids = w.r, w.ids
    router = w.router("xr")
    ifname = r.choice([i for i in router.interfaces if i.startswith("Hundred")] or router.interfaces)
    nbr = ids.ipv4("10.0.12")
    peer = w.peers[0]
    fault = devices.LinkFault(crc=r.randint(900, 90_000), optics_alarm="LOW-RX-PWR          (error)", root=True)
    host = Host(router.name, "ifmgr", r.randint(200, 400))

    def flaps(out: Out) -> int:
        events = [
            Event(
                "error",
                "PKT_INFRA-LINK-N-UPDOWN",
                f"Interface {ifname}, changed state to Down",
                ids=[ifname],
                root=True,
            ),
            Event(
                "info",
                "L2-BFD-N-SESSION_STATE_DOWN",
                f"BFD session to neighbor {nbr} on interface {ifname} has gone down. Reason: Echo function failed",
                ids=[nbr, ifname],
                bad=True,
                root=True,
            ),
            Event(
                "notice",
                "ROUTING-ISIS-N-ADJCHANGE",
                f"Adjacency to {w.router().name} ({ifname}) (L2) Down, Interface state down",
                ids=[ifname],
                bad=True,
                root=True,
            ),
            Event("error", "PKT_INFRA-LINK-N-UPDOWN", f"Interface {ifname}, changed state to Up", bad=False),
            Event(
                "notice",
                "ROUTING-ISIS-N-ADJCHANGE",
                f"Adjacency to {w.router().name} ({ifname}) (L2) Up, New adjacency",
            ),
        ]
        routerlog.router_log(out, w, "xr", r.randint(10, 30))
        among(out, w, "ios-xr", host, events)
        routerlog.router_log(out, w, "xr", r.randint(10, 30))
        return 0

    def sbc_log(out: Out) -> int:
        kam = Host(w.sbc.split(":")[0], "kamailio", r.randint(2000, 9000))
        events = [
            Event(
                "warning",
                "dispatcher [dispatch.c:3312]",
                f"ds_ping_reply_callback(): probing failed to sip:{peer} with code 408, disabling destination",
                ids=[peer],
                bad=True,
                root=True,
            )
        ]
        among(out, w, "kamailio", kam, events, "pcscf", r.randint(40, 120))
        return 0

    def symptom() -> Step:
        fmt = r.choice(["raw", "ngrep", "sngrep", "tshark", "tshark-fields", "homer"])
        batch = calls(w, r.randint(4, 8) if fmt in ("raw", "ngrep") else r.randint(12, 30), 0.15, (503, 408), b=peer)
        return sip_trace(f"dst {peer}", fmt, done(lambda o: sip.render(o, fmt, batch, r)))

    return Scenario(
        "optic",
        (
            f"Ticket {ids.ticket()} (P2): since about 09:20 CST roughly 3% of outgoing calls towards carrier trunk "
            f"{peer} fail "
            f"with 503 or 408; {ids.subscriber()[2]} and {ids.subscriber()[2]} reported failed call setups. NMS "
            "shows the SIP trunk "
            "availability KPI under target. Find the root cause; do not touch production config without telling me."
        ),
        [
            sip_trace(
                f"dst {peer} status>=400",
                "homer",
                done(lambda o: sip.render(o, "homer", root_calls(w, 24, 503, 0.2, b=peer), r)),
            ),
            cli(router.name, "show logging | include Hu0/0/0|BFD|ISIS", flaps),
            cli(
                router.name,
                f"show interfaces {ifname}",
                done(lambda o: devices.show_interface(o, w, router, ifname, fault)),
            ),
            cli(
                router.name,
                f"show controllers optics {ifname[-7:]}",
                done(lambda o: devices.show_optics(o, w, ifname, fault)),
            ),
            cli(
                router.name,
                "show bfd session",
                done(
                    lambda o: devices.show_bfd(
                        o,
                        w,
                        [(ifname, nbr), *((i, ids.ipv4("10.0.13")) for i in router.interfaces[:3])],
                        {ifname},
                        root=True,
                    )
                ),
            ),
            logs(f"kamailio@{w.sbc.split(':')[0]}", "dispatcher", sbc_log),
        ],
        symptom,
    )


def mtu(w: World) -> Scenario:
    r, ids = w.r, w.ids
    router = w.router("vrp")
    trunk = f"Eth-Trunk{r.randint(1, 64)}"
    peer = w.peers[1]
    peer_ip = peer.split(":")[0]
    change = ids.ticket().replace("INC", "CHG").replace("PRB", "CHG")
    sbc_ip = w.sbc.split(":")[0]

    def sbc_log(out: Out) -> int:
        kam = Host(sbc_ip, "kamailio", r.randint(2000, 9000))
        buf = ids.hex_addr()
        events = [
            Event(
                "error",
                "<core> [core/udp_server.c:626]",
                f"udp_send(): sendto(sock, buf: {buf}, len: {r.randint(1500, 2100)}, 0, dst: ({peer}), tolen: 16) - "
                "err: Message too long (90)",
                ids=[buf, peer],
                root=True,
            ),
            Event(
                "error",
                "tm [../../core/forward.h:292]",
                f"msg_send_buffer(): send() to {peer} for proto udp/1 failed",
                ids=[peer],
                root=True,
            ),
        ]
        among(out, w, "kamailio", kam, events, "pcscf", r.randint(60, 150))
        return 0

    def vrp_log(out: Out) -> int:
        host = Host(router.name, "IFNET", 0)
        routerlog.router_log(out, w, "vrp", r.randint(10, 30))
        write(
            out,
            "vrp",
            [
                Event(
                    "notice",
                    "IFNET/N/IF_MTU_CHANGE",
                    f"The MTU of the interface changed. (ifName={trunk}, OldMtu=9000, NewMtu=1400)",
                )
            ],
            w.clock,
            host,
            r,
        )
        routerlog.router_log(out, w, "vrp", r.randint(10, 30))
        return 0

    def symptom() -> Step:
        fmt = r.choice(["sngrep", "tshark", "homer", "ngrep"])
        batch = calls(w, r.randint(4, 8) if fmt == "ngrep" else r.randint(12, 30), 0.2, (408,), a=w.sbc, b=peer)
        return sip_trace(f"dst {peer} method INVITE", fmt, done(lambda o: sip.render(o, fmt, batch, r)))

    return Scenario(
        "mtu",
        (
            f"Ticket {ids.ticket()} (P3): since yesterday evening some calls to trunk {peer} fail after ~32 s with "
            "408; audio-only calls "
            f"seem fine, video calls and calls with long SDP fail. Transport says change {change} on {router.name} "
            "was routine. Please check."
        ),
        [
            sip_trace(
                f"dst {peer} method INVITE",
                "ngrep",
                done(lambda o: sip.render(o, "ngrep", root_calls(w, 5, 408, 0.4, a=w.sbc, b=peer), r)),
            ),
            ssh(
                sbc_ip,
                f"ping -M do -s 1472 -c 5 {peer_ip}",
                exits(1, lambda o: devices.ping(o, w, peer_ip, False, 1400, root=True)),
            ),
            logs(f"kamailio@{sbc_ip}", "udp_send OR send()", sbc_log),
            cli(router.name, "display logbuffer", vrp_log),
            promql(
                "kamailio_core_udp_send_errors_total",
                done(
                    lambda o: infra.prometheus(
                        o,
                        w,
                        "kamailio",
                        f"{sbc_ip}:9494",
                        {"kamailio_core_udp_send_errors_total": r.randint(50, 900)},
                        root=True,
                    )
                ),
            ),
        ],
        symptom,
    )


def bgp(w: World) -> Scenario:
    r, ids = w.r, w.ids
    router = w.router("junos")
    peer = ids.ipv6()
    upf = f"upf-{r.randint(1, 4)}"
    anchor = ids.ipv6()

    def messages(out: Out) -> int:
        host = Host(router.name, "rpd", r.randint(1000, 9000))
        una = r.getrandbits(31)
        events = [
            Event(
                "error",
                "BGP_IO_ERROR_CLOSE_SESSION",
                f"BGP peer {peer} (External AS 4809): Error event Operation timed out(60) for I/O session - closing it",
                ids=[peer],
                root=True,
            ),
            Event(
                "error",
                "bgp_hold_timeout:4068",
                f"NOTIFICATION sent to {peer} (External AS 4809): code 4 (Hold Timer Expired Error), Reason: "
                f"holdtime expired for {peer} (External AS 4809), "
                f"socket buffer sndcc: 0 rcvcc: 0 TCP state: 4, snd_una: {una} snd_nxt: {una} snd_wnd: 16384 "
                f"rcv_nxt: {r.getrandbits(31)} rcv_adv: {r.getrandbits(31)}, hold timer out 90s, hold timer remain 0s",
                ids=[peer],
                root=True,
            ),
            Event(
                "info",
                "RPD_BGP_NEIGHBOR_STATE_CHANGED",
                f"BGP peer {peer} (External AS 4809) changed state from Established to Idle (event HoldTime) "
                "(instance master)",
                ids=[peer],
                bad=True,
                root=True,
            ),
        ]
        routerlog.router_log(out, w, "junos", r.randint(15, 40))
        among(out, w, "junos", host, events)
        routerlog.router_log(out, w, "junos", r.randint(15, 40))
        return 0

    def alerts(out: Out) -> int:
        rows = [
            ("BGPSessionDown", "critical", f"BGP session {router.name} -> {peer} down", True),
            ("UPFN6ThroughputDrop", "major", f"{upf} N6 downlink throughput -92% vs last week", True),
            ("KubeletTooManyPods", "warning", "node near pod capacity", True),
            ("Watchdog", "none", "pipeline is alive", True),
        ]
        infra.amtool(out, w, rows, {"BGPSessionDown", "UPFN6ThroughputDrop"})
        return 0

    def symptom() -> Step:
        def run(out: Out) -> int:
            host = Host(router.name, "rpd", r.randint(1000, 9000))
            routerlog.router_log(out, w, "junos", r.randint(10, 30))
            for _ in range(r.randint(1, 4)):
                write(
                    out,
                    "junos",
                    [
                        Event(
                            "info",
                            "BGP_CONNECT_FAILED",
                            f"bgp_connect_start: connect {peer} (External AS 4809): No route to host",
                            ids=[peer],
                            bad=True,
                        ),
                        Event(
                            "info",
                            "RPD_BGP_NEIGHBOR_STATE_CHANGED",
                            f"BGP peer {peer} (External AS 4809) changed state from Connect to Active (event "
                            "ConnectRetry) (instance master)",
                            ids=[peer],
                            bad=True,
                        ),
                    ],
                    w.clock,
                    host,
                    r,
                    60_000,
                )
            routerlog.router_log(out, w, "junos", r.randint(10, 30))
            return 0

        return cli(router.name, f"show log messages | match {peer}", run)

    return Scenario(
        "bgp",
        (
            f"Ticket {ids.ticket()} (P1): enterprise APN customers behind {upf} lose internet access intermittently "
            "since 09:05 "
            "(PDU sessions stay up, traffic stops). Other UPFs unaffected. Find the root cause."
        ),
        [
            ssh("noc-jump", "amtool alert query --alertmanager.url=http://alertmanager.oss:9093", alerts),
            cli(router.name, "show log messages | match bgp | last 200", messages),
            cli(
                router.name,
                "show bgp summary",
                done(lambda o: devices.show_bgp_summary(o, w, router, (peer,), root=True)),
            ),
            ssh(upf, f"ping -6 -c 5 {anchor}", exits(1, lambda o: devices.ping(o, w, anchor, True, root=True))),
        ],
        symptom,
    )
