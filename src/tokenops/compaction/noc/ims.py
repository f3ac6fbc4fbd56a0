"""IMS incidents: an expired Diameter peer certificate, a DNS forwarder timing out, a clock that drifted."""

from __future__ import annotations

from tokenops.compaction.noc import infra, sip, traces
from tokenops.compaction.noc.incident import Scenario, among, mixed, root_calls
from tokenops.compaction.noc.logs import Event, Host, write
from tokenops.compaction.noc.record import Out
from tokenops.compaction.noc.steps import Step, done, kubectl, logs, sip_trace, ssh
from tokenops.compaction.noc.world import World


def diameter(w: World) -> Scenario:
    r, ids = w.r, w.ids
    pcrf = f"pcrf0{r.randint(1, 4)}.{ids.epc}"
    pcscf = w.pcscf[1]
    session = ids.diameter_session(f"pcscf-2.{ids.realm}")

    def fd_log(out: Out) -> int:
        host = Host("pcscf-2", "freeDiameterd", r.randint(100, 999))
        events = [
            Event(
                "error",
                "fd",
                f"TLS: Remote certificate invalid: The certificate has expired (peer {pcrf})",
                ids=[pcrf],
                root=True,
            ),
            Event("error", "fd", f"Connection to '{pcrf}' failed: handshake error, closing", ids=[pcrf], root=True),
            Event("notice", "fd", f"'{pcrf}'\t-> 'STATE_CLOSED'\t'Suspect'", ids=[pcrf], bad=True),
        ]
        for _ in range(r.randint(3, 6)):
            write(
                out,
                "freediameter",
                [
                    Event(
                        "info", "fd", f"Connected to '{ids.ipv4()}' (TCP,soc#{r.randint(10, 90)}), remote capabilities:"
                    )
                ],
                w.clock,
                host,
                r,
            )
        among(out, w, "freediameter", host, events)
        return 0

    def rx_log(out: Out) -> int:
        kam = Host("pcscf-2", "kamailio", r.randint(2000, 9000))
        events = [
            Event(
                "error",
                "ims_qos [rx_aar.c:412]",
                "async_aar_callback(): Rx AAR failed with result code 3002 (DIAMETER_UNABLE_TO_DELIVER) for session "
                f"{session}",
                ids=[session],
                root=True,
            )
        ]
        among(out, w, "kamailio", kam, events, "pcscf", r.randint(60, 160))
        return 0

    def symptom() -> Step:
        def aar_failed() -> Event:
            s = ids.diameter_session(f"pcscf-2.{ids.realm}")
            return Event(
                "error",
                "ims_qos [rx_aar.c:412]",
                "async_aar_callback(): Rx AAR failed with result code 3002 (DIAMETER_UNABLE_TO_DELIVER) for session "
                f"{s}",
                ids=[s],
            )

        return logs(
            "kamailio@pcscf-2",
            "ims_qos OR tm",
            done(lambda o: mixed(o, w, "pcscf", r.randint(60, 200), 0.08, aar_failed)),
        )

    return Scenario(
        "diameter",
        (
            f"Ticket {ids.ticket()} (P1): since 08:00 CST VoLTE calls of subscribers attached through P-CSCF {pcscf} "
            "fail with "
            f"580 Precondition Failure or 503. Other P-CSCFs look fine. Customer care has {r.randint(40, 200)} "
            "complaints. Find out why."
        ),
        [
            sip_trace(
                f"src {pcscf} method INVITE",
                "raw",
                done(
                    lambda o: sip.render(
                        o, "raw", root_calls(w, 4, 580, 0.5, reason="Rx session setup failed", a=pcscf), r
                    )
                ),
            ),
            logs("pcscf-2:/var/log/freeDiameter.log", pcrf, fd_log),
            ssh(
                "pcscf-2",
                f"openssl s_client -connect {pcrf}:3868 -showcerts </dev/null",
                done(lambda o: infra.openssl(o, w, pcrf, True, root=True)),
            ),
            logs("kamailio@pcscf-2", "ims_qos", rx_log),
        ],
        symptom,
    )


def dns(w: World) -> Scenario:
    r, ids = w.r, w.ids
    name = f"_sip._udp.scscf.{ids.realm}"
    pod_ip = ids.ipv4("10.244.9")
    upstream = ids.ipv4("10.10.0")

    def core(out: Out) -> int:
        for _ in range(r.randint(40, 120)):
            q = r.choice([f"scscf.{ids.realm}", f"pcscf.{ids.realm}", "nrf.5gc.svc.cluster.local", name])
            write(
                out,
                "coredns",
                [
                    Event(
                        "info",
                        "10.244.1.7:53",
                        f"{ids.ipv4('10.244.3')}:{r.randint(30000, 60000)} - {r.randint(1, 65000)} "
                        f'"{r.choice(["A", "AAAA", "SRV"])} IN {q}. udp 80 false 512" NOERROR qr,aa,rd 120 '
                        f"0.000{r.randint(100, 999)}s",
                    )
                ],
                w.clock,
                Host("coredns", "coredns", 1),
                r,
            )
            if r.random() < 0.08:
                port = r.randint(30000, 60000)
                write(
                    out,
                    "coredns",
                    [
                        Event(
                            "error",
                            "plugin/errors",
                            f"2 {name}. SRV: read udp {pod_ip}:{port}->{upstream}:53: i/o timeout",
                            ids=[name, upstream],
                            root=True,
                        )
                    ],
                    w.clock,
                    Host("coredns", "coredns", 1),
                    r,
                )
        write(
            out,
            "coredns",
            [
                Event(
                    "error",
                    "plugin/errors",
                    f"2 {name}. SRV: read udp {pod_ip}:41122->{upstream}:53: i/o timeout",
                    ids=[name, upstream],
                    root=True,
                )
            ],
            w.clock,
            Host("coredns", "coredns", 1),
            r,
        )
        return 0

    def icscf(out: Out) -> int:
        kam = Host("icscf-1", "kamailio", r.randint(2000, 9000))
        events = [
            Event(
                "error",
                "<core> [core/resolve.c:1732]",
                f'sip_hostport2su(): could not resolve hostname: "scscf.{ids.realm}"',
                ids=[f"scscf.{ids.realm}"],
                root=True,
            ),
            Event(
                "error",
                "tm [ut.h:284]",
                f'uri2dst2(): failed to resolve "scscf.{ids.realm}"',
                ids=[f"scscf.{ids.realm}"],
                root=True,
            ),
        ]
        among(out, w, "kamailio", kam, events, "icscf", r.randint(50, 140))
        return 0

    def probe(out: Out) -> int:
        host = w.host("dns-probe")
        write(out, "python-logging", [Event("error", "dnsprobe.check", f"probe {name} failed")], w.clock, host, r)
        traces.python(
            out,
            r,
            [
                traces.Exc("dns.exception.Timeout", "The DNS operation timed out."),
                traces.Exc(
                    "dns.resolver.LifetimeTimeout",
                    f"The resolution lifetime expired after 5.004 seconds: Server Do53:{upstream}@53 answered The "
                    "DNS operation timed out.",
                    [upstream],
                ),
            ],
            "dnsprobe",
            root=False,
            direct=False,
        )
        return 1

    def symptom() -> Step:
        def unresolved() -> Event:
            cid = ids.call_id()
            return Event(
                "error",
                "tm [t_fwd.c:1431]",
                f"t_forward_nonack(): failure to add branches for Call-ID {cid}: could not resolve scscf.{ids.realm}",
                ids=[cid],
            )

        return logs(
            "kamailio@icscf-1",
            "t_forward_nonack OR resolve",
            done(lambda o: mixed(o, w, "icscf", r.randint(60, 200), 0.08, unresolved)),
        )

    return Scenario(
        "dns",
        (
            f"Ticket {ids.ticket()} (P2): since 07:50 about 15% of IMS registrations and MT calls fail with 503 at "
            "the I-CSCF; "
            f"NOC saw the S-CSCF pool healthy. Affected example: {ids.subscriber()[2]}. What is going on?"
        ),
        [
            sip_trace(
                "icscf status=503",
                "sngrep",
                done(
                    lambda o: sip.render(
                        o, "sngrep", root_calls(w, 6, 503, 0.3, a=w.pcscf[0], b=f"{ids.ipv4('10.40.3')}:5060"), r
                    )
                ),
            ),
            logs("kamailio@icscf-1", "resolve", icscf),
            kubectl("logs -n kube-system -l k8s-app=kube-dns --since=1h", core),
            ssh(
                "icscf-1",
                f"dig SRV {name} @10.96.0.10",
                done(lambda o: infra.dig(o, w, name, "SRV", "SERVFAIL", [], "10.96.0.10#53", root=True)),
            ),
            kubectl("logs -n oss job/dns-probe-28901432", probe),
        ],
        symptom,
    )


def clock(w: World) -> Scenario:
    r, ids = w.r, w.ids
    hss = f"hss-fe-{r.randint(1, 3)}"
    ntp = [ids.ipv4("10.1.1"), ids.ipv4("10.1.2")]
    imsi, _, msisdn = ids.subscriber()

    def chrony(out: Out) -> int:
        host = Host(hss, "chronyd", r.randint(600, 999))
        events = [
            Event("info", "chronyd", f"Source {ntp[0]} offline"),
            Event("info", "chronyd", f"Source {ntp[1]} offline"),
            Event("error", "chronyd", "Can't synchronise: no selectable sources", root=True),
            Event(
                "warning",
                "chronyd",
                f"System clock wrong by {r.randint(120, 400)}.{r.randint(100, 999)} seconds",
                bad=True,
                root=True,
            ),
        ]
        for _ in range(r.randint(10, 40)):
            write(
                out,
                "journald",
                [Event("info", "chronyd", f"Selected source {ntp[0]} (ntp1.noc.local)")],
                w.clock,
                host,
                r,
                60_000,
            )
        write(out, "journald", events, w.clock, host, r, 120_000)
        return 0

    def udm(out: Out) -> int:
        host = w.host("udm")
        token = ids.uuid()
        events = [
            Event(
                "error",
                "Udm.Ueau.AuthVectorProvider",
                f"Access token {token} rejected for {{Nf}}: token is not valid yet (nbf in the future)",
                {"Nf": "scscf", "Supi": f"imsi-{imsi}"},
                ids=[token, imsi],
                root=True,
            )
        ]
        among(out, w, "json-clef", host, events, "udm", r.randint(40, 120))
        return 0

    def scscf(out: Out) -> int:
        kam = Host("scscf-1", "kamailio", r.randint(2000, 9000))
        events = [
            Event(
                "error",
                "ims_auth [authorize.c:1195]",
                f"authorize(): MAR failed for sip:{msisdn}@{ids.realm}: Nudm_UEAU returned 401",
                ids=[msisdn],
                root=True,
            )
        ]
        among(out, w, "kamailio", kam, events, "scscf", r.randint(40, 140))
        return 0

    def symptom() -> Step:
        def mar_failed() -> Event:
            who = ids.subscriber()[2]
            return Event(
                "error",
                "ims_auth [authorize.c:1195]",
                f"authorize(): MAR failed for sip:{who}@{ids.realm}: Nudm_UEAU returned 401",
                ids=[who],
            )

        return logs(
            "kamailio@scscf-1", "ims_auth", done(lambda o: mixed(o, w, "scscf", r.randint(60, 200), 0.1, mar_failed))
        )

    return Scenario(
        "clock",
        (
            f"Ticket {ids.ticket()} (P2): VoLTE registrations through scscf-1 fail with 403 Forbidden since about "
            "06:00; phones fall back to "
            f"CS. {msisdn} is one example. The HSS team says nothing changed. Please investigate."
        ),
        [
            sip_trace(
                "scscf-1 status=403",
                "tshark-fields",
                done(lambda o: sip.render(o, "tshark-fields", root_calls(w, 12, 403, 0.3), r)),
            ),
            logs("kamailio@scscf-1", "ims_auth", scscf),
            kubectl(f"logs -n 5gc {w.pods['udm'][0]} --since=2h", udm),
            ssh(hss, "journalctl -u chronyd --since today --no-pager", chrony),
        ],
        symptom,
    )
