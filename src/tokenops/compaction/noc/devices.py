"""Router and host network CLI output: interfaces, optics, routing protocol tables, ping, ethtool."""

from __future__ import annotations

from dataclasses import dataclass

from tokenops.compaction.noc.record import Out
from tokenops.compaction.noc.world import Router, World


@dataclass
class LinkFault:
    """What is wrong with an interface, if anything: the counters and states to print."""

    crc: int = 0
    down: bool = False
    optics_alarm: str = ""
    root: bool = False


def show_interface(out: Out, w: World, router: Router, ifname: str, fault: LinkFault | None = None) -> None:
    r, ids = w.r, w.ids
    f = fault or LinkFault()
    style = "cli-counters"
    mac = ids.mac()
    state = f"{ifname} is up, line protocol is {'down' if f.down else 'up'}"
    if f.down:
        out.error(state, "cli-state", [ifname], root=f.root)
    else:
        out.add(state)
    out.add(
        f"  Interface state transitions: {r.randint(1, 9)}",
        f"  Hardware is {ifname.rstrip('0123456789/')}, address is {mac} (bia {mac})",
        f"  Description: to-{w.router().name} {r.choice(w.router().interfaces)}",
        f"  Internet address is {ids.ipv4()}/31",
        f"  MTU {r.choice([9216, 9192, 1514])} bytes, BW 100000000 Kbit (Max: 100000000 Kbit)",
        f"     reliability {255 if not f.crc else r.randint(180, 250)}/255, txload {r.randint(5, 90)}/255, rxload "
        f"{r.randint(5, 90)}/255",
        "  Encapsulation ARPA,",
        "  Full-duplex, 100000Mb/s, 100GBASE-LR4, link type is force-up",
        "  output flow control is off, input flow control is off",
        "  Carrier delay (up) is 10 msec",
        "  loopback not set,",
        f"  Last link flapped {r.randint(0, 23):02d}:{r.randint(0, 59):02d}:{r.randint(0, 59):02d}",
        "  Last input 00:00:00, output 00:00:00",
        '  Last clearing of "show interface" counters never',
        f"  5 minute input rate {r.randint(10**9, 9 * 10**10)} bits/sec, {r.randint(10**5, 10**7)} packets/sec",
        f"  5 minute output rate {r.randint(10**9, 9 * 10**10)} bits/sec, {r.randint(10**5, 10**7)} packets/sec",
        f"     {r.randint(10**9, 10**12)} packets input, {r.randint(10**12, 10**15)} bytes, 0 total input drops",
        "     0 drops for unrecognized upper-level protocol",
        f"     Received {r.randint(0, 99)} broadcast packets, {r.randint(1000, 999999)} multicast packets",
        "              0 runts, 0 giants, 0 throttles, 0 parity",
    )
    counters = f"     {f.crc} input errors, {f.crc} CRC, 0 frame, 0 overrun, 0 ignored, 0 abort"
    if f.crc:
        out.error(counters, style, root=f.root)
    else:
        out.add(counters)
    out.add(
        f"     {r.randint(10**9, 10**12)} packets output, {r.randint(10**12, 10**15)} bytes, 0 total output drops",
        "     0 output errors, 0 underruns, 0 applique, 0 resets",
        "     0 output buffer failures, 0 output buffers swapped out",
        f"     {r.randint(1, 9)} carrier transitions",
    )


def show_optics(out: Out, w: World, ifname: str, fault: LinkFault | None = None) -> None:
    r = w.r
    f = fault or LinkFault()
    rx = -14.37 if f.optics_alarm else round(r.uniform(-4.5, -1.0), 2)
    out.add(
        " Controller State: Up",
        " Transport Admin State: In Service",
        " Laser State: On",
        f" LED State: {'Yellow' if f.optics_alarm else 'Green'}",
        " Optics Status",
        "         Optics Type:  100G QSFP28 LR4",
        "         Wavelength = 1310.00 nm",
        "         Alarm Status:",
        "         -------------",
        "         Detected Alarms:",
    )
    if f.optics_alarm:
        out.error(f"                 {f.optics_alarm}", "cli-state", root=f.root)
    else:
        out.add("                 None")
    out.add(
        "         LOS/LOL/Fault Status:",
        f"         Laser Bias Current = {r.uniform(30, 60):.1f} mA",
        f"         Actual TX Power = {r.uniform(0.5, 2.0):.2f} dBm",
        f"         RX Power = {rx:.2f} dBm",
        "",
        "         Lane  Laser Bias    TX Power    RX Power    Output Frequency",
        "         ----  ----------    ----------  ----------  ----------------",
    )
    for lane in range(4):
        out.add(
            f"           {lane}   {r.uniform(30, 60):.1f} mA       {r.uniform(0.5, 2):.2f} dBm    "
            f"{rx + r.uniform(-0.4, 0.4):.2f} dBm  {230.56 - lane * 0.8:.2f} THz"
        )
    out.add(
        "",
        "          Parameter                 High Alarm  Low Alarm  High Warning  Low Warning",
        "          ------------------------  ----------  ---------  ------------  -----------",
        "          Rx Power Threshold(dBm)          4.5      -13.6           2.5        -9.6",
        "          Tx Power Threshold(dBm)          5.0       -4.3           3.0        -1.3",
    )


def show_bgp_summary(out: Out, w: World, router: Router, down: tuple[str, ...] = (), root: bool = False) -> None:
    r, ids = w.r, w.ids
    out.add(
        f"BGP router identifier {router.loopback}, local AS number 65001",
        "BGP generic scan interval 60 secs",
        "BGP table state: Active",
        f"Table ID: 0xe0000000   RD version: {r.randint(10**5, 10**7)}",
        "",
        "Neighbor        Spk    AS MsgRcvd MsgSent   TblVer  InQ OutQ  Up/Down  St/PfxRcd",
    )
    for peer in [*down, *(ids.ipv4("10.255.0") for _ in range(r.randint(3, 8)))]:
        msgs = f"{r.randint(1000, 99999):>7} {r.randint(1000, 99999):>7} {r.randint(10**5, 10**6):>8}"
        row = f"{peer:<15} {0:>4} {r.choice([65001, 65010, 4809]):>5} {msgs}    0    0 "
        if peer in down:
            out.error(
                row
                + f"{r.randint(0, 9):02d}:{r.randint(0, 59):02d}:{r.randint(0, 59):02d} {r.choice(['Idle', 'Active'])}",
                "cli-state",
                [peer],
                root=root,
            )
        else:
            out.add(row + f"{r.randint(1, 30)}w{r.randint(0, 6)}d {r.randint(10, 900000):>10}")


def show_bfd(out: Out, w: World, rows: list[tuple[str, str]], down: set[str], root: bool = False) -> None:
    out.add(
        "Interface           Dest Addr           Local det time(int*mult)      State",
        "                                    Echo             Async   H/W   NPU     ",
        "------------------- --------------- ---------------- ---------------- --------",
    )
    for ifname, addr in rows:
        short = ifname.replace("HundredGigE", "Hu").replace("TenGigE", "Te").replace("FourHundredGigE", "FH")
        if ifname in down:
            out.error(
                f"{short:<19} {addr:<15} 0s(0s*0)         900ms(300ms*3)   DOWN", "cli-state", [short, addr], root=root
            )
        else:
            out.add(f"{short:<19} {addr:<15} 0s(0s*0)         900ms(300ms*3)   UP      Yes   0/0/CPU0")


def ping(out: Out, w: World, target: str, lost: bool, df_mtu: int = 0, root: bool = False) -> None:
    r = w.r
    size = 1472 if df_mtu else 56
    out.add(f"PING {target} ({target}) {size}({size + 28}) bytes of data.")
    if df_mtu:
        for seq in range(1, 4):
            out.error(f"ping: local error: message too long, mtu={df_mtu}", "shell", [], root=root and seq == 1)
    for seq in range(1, 6):
        if not lost and not df_mtu:
            out.add(
                f"{size + 8} bytes from {target}: icmp_seq={seq} ttl={r.randint(52, 63)} "
                f"time={r.uniform(0.3, 9):.2f} ms"
            )
    out.add("", f"--- {target} ping statistics ---")
    if lost or df_mtu:
        out.error(
            f"5 packets transmitted, 0 received, +{3 if df_mtu else 0} errors, 100% packet loss, time 4093ms",
            "shell",
            root=root,
        )
    else:
        out.add(
            "5 packets transmitted, 5 received, 0% packet loss, time 4005ms",
            f"rtt min/avg/max/mdev = 0.3/{r.uniform(1, 6):.3f}/9.0/0.9 ms",
        )


def ethtool(out: Out, w: World, dev: str, crc: int = 0, root: bool = False) -> None:
    r = w.r
    out.add("NIC statistics:")
    for name in (
        "rx_packets",
        "tx_packets",
        "rx_bytes",
        "tx_bytes",
        "rx_crc_errors_phy",
        "rx_symbol_err_phy",
        "rx_in_range_len_errors_phy",
        "rx_discards_phy",
        "tx_errors_phy",
        "rx_pcs_symbol_err_phy",
        "link_down_events_phy",
    ):
        if name in ("rx_crc_errors_phy", "rx_pcs_symbol_err_phy") and crc:
            out.error(
                f"     {name}: {crc + r.randint(0, 9) if 'pcs' in name else crc}",
                "cli-counters",
                root=root and "crc" in name,
            )
        elif name.endswith(("packets", "bytes")):
            out.add(f"     {name}: {r.randint(10**6, 10**12)}")
        elif name == "link_down_events_phy":
            out.add(f"     {name}: {r.randint(0, 3)}")
        else:
            out.add(f"     {name}: 0")
