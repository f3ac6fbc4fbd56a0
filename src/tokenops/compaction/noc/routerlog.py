"""A router's own log (`show logging`) in its vendor's format: logins and commits, now and then a port or a
peer that fails."""

from __future__ import annotations

from tokenops.compaction.noc.logs import Event, Host, write
from tokenops.compaction.noc.record import Out
from tokenops.compaction.noc.world import Router, World

STYLES = {"xr": "ios-xr", "junos": "junos", "vrp": "vrp", "nxos": "nx-os"}


def _routine(w: World, router: Router) -> Event:
    r, ids = w.r, w.ids
    ifname = r.choice(router.interfaces)
    user = r.choice(["noc-ro", "netops", "automation"])
    if router.vendor in ("xr", "nxos"):
        return r.choice(
            [
                Event(
                    "notice",
                    "SECURITY-SSHD-N-INFO_SUCCESS",
                    f"Successfully authenticated user '{user}' from "
                    f"'{ids.ipv4()}' on 'vty{r.randint(0, 9)}'(cipher 'aes128-ctr', mac 'hmac-sha2-256')",
                ),
                Event(
                    "notice",
                    "MGBL-CONFIG-N-DB_COMMIT",
                    f"Configuration committed by user '{user}'. Use 'show "
                    f"configuration commit changes 10000{r.randint(10000, 99999)}' to view the changes.",
                ),
                Event("info", "SNMP-SNMP-N-POLL", f"SNMP polling from {ids.ipv4()} ok"),
            ]
        )
    if router.vendor == "junos":
        return r.choice(
            [
                Event("info", "UI_CMDLINE_READ_LINE", f"User '{user}', command 'show interfaces {ifname} extensive '"),
                Event(
                    "info",
                    "SNMP_TRAP_LINK_UP",
                    f"ifIndex {r.randint(500, 900)}, ifAdminStatus up(1), ifOperStatus up(1), ifName {ifname}",
                ),
                Event("notice", "UI_COMMIT_COMPLETED", "commit complete"),
            ]
        )
    return r.choice(
        [
            Event(
                "info",
                "SHELL/N/LOGIN",
                f"The user succeeded in logging in to VTY{r.randint(0, 4)}. (UserType=SSH, "
                f'UserName={user}, AuthenticationMethod="radius", Ip={ids.ipv4()})',
            ),
            Event(
                "info",
                "CFG/N/CFGCHANGE",
                f'Configuration is changed. (InternalIndex={r.randint(1, 999)}, User="{user}", '
                f"Session={r.randint(100, 999)})",
            ),
        ]
    )


def _failure(w: World, router: Router) -> Event:
    """A port or peer failing somewhere on the box: real, and not the incident's cause."""
    r, ids = w.r, w.ids
    ifname = r.choice(router.interfaces)
    peer = ids.ipv4("10.255.1")
    if router.vendor == "xr":
        return r.choice(
            [
                Event("error", "PKT_INFRA-LINK-N-UPDOWN", f"Interface {ifname}, changed state to Down", ids=[ifname]),
                Event(
                    "warning",
                    "ROUTING-LDP-N-SESSION_DOWN",
                    f"Session down: peer {peer}:0, Hold time expired",
                    ids=[peer],
                    bad=True,
                ),
            ]
        )
    if router.vendor == "nxos":
        return r.choice(
            [
                Event(
                    "notice",
                    "ETHPORT-N-IF_DOWN_LINK_FAILURE",
                    f"Interface {ifname} is down (Link failure)",
                    ids=[ifname],
                    bad=True,
                ),
                Event("error", "ETH_PORT_CHANNEL-N-PORT_SUSPENDED", f"{ifname}: {ifname} is suspended", ids=[ifname]),
            ]
        )
    if router.vendor == "junos":
        return r.choice(
            [
                Event(
                    "info",
                    "SNMP_TRAP_LINK_DOWN",
                    f"ifIndex {r.randint(500, 900)}, ifAdminStatus up(1), ifOperStatus down(2), ifName {ifname}",
                    ids=[ifname],
                    bad=True,
                ),
                Event(
                    "error",
                    "RPD_LDP_SESSIONDOWN",
                    f"LDP session {peer} is down, reason: received notification from peer",
                    ids=[peer],
                ),
            ]
        )
    return r.choice(
        [
            Event(
                "error",
                "IFNET/N/linkDown_active",
                f"The interface status changes. (ifName={ifname}, AdminStatus=UP, "
                "OperStatus=DOWN, Reason=The link protocol is down)",
                ids=[ifname],
            ),
            Event(
                "critical",
                "BFD/N/BFD_DOWN",
                f"The BFD session went Down. (Index={r.randint(1, 900)}, "
                f"SessionType=SINGLE_HOP, PeerIp={peer}, Diagnostic=DetectDown)",
                ids=[peer],
            ),
        ]
    )


def router_log(out: Out, w: World, vendor: str, lines: int, error_rate: float = 0.02) -> None:
    """`show logging`: `lines` messages of a router of `vendor`."""
    r = w.r
    router = w.router(vendor)
    program = r.choice(["sshd_child_handler", "config", "ifmgr", "snmpd", "mib2d"])
    host = Host(router.name, program, r.randint(100, 9000))
    for _ in range(lines):
        event = _failure(w, router) if r.random() < error_rate else _routine(w, router)
        write(out, STYLES[router.vendor], [event], w.clock, host, r, 60_000)
