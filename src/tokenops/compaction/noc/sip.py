"""SIP call flows and the ways a NOC engineer sees them: raw message dumps, ngrep, sngrep, tshark, Homer.

A failed call's final response is an error line in every format, with the Reason and
Warning headers where the format shows headers; a digest challenge (401/407), a busy
callee (486), a caller's CANCEL (487) and a decline (603) are ordinary outcomes.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import orjson

from tokenops.compaction.noc.ids import Ids
from tokenops.compaction.noc.record import Out

REASONS = {
    100: "Trying",
    180: "Ringing",
    183: "Session Progress",
    200: "OK",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    407: "Proxy Authentication Required",
    408: "Request Timeout",
    480: "Temporarily Unavailable",
    481: "Call/Transaction Does Not Exist",
    486: "Busy Here",
    487: "Request Terminated",
    488: "Not Acceptable Here",
    500: "Server Internal Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Server Time-out",
    580: "Precondition Failure",
    603: "Decline",
}
ORDINARY = {401, 407, 486, 487, 603}
Q850 = {
    408: (102, "Recovery on timer expiry"),
    480: (18, "No user responding"),
    503: (38, "Network out of order"),
    500: (41, "Temporary failure"),
    502: (27, "Destination out of order"),
    504: (102, "Recovery on timer expiry"),
    580: (47, "Resource unavailable, unspecified"),
    404: (1, "Unallocated number"),
    488: (65, "Bearer capability not implemented"),
    403: (21, "Call rejected"),
}


@dataclass
class Msg:
    at: datetime
    src: str  # ip:port
    dst: str
    first: str  # request line or status line
    headers: list[str]
    body: list[str] = field(default_factory=list)
    code: int = 0  # a response's status, 0 for a request

    @property
    def method(self) -> str:
        return self.first.split(" ", 1)[0] if not self.code else ""

    @property
    def failed(self) -> bool:
        return self.code >= 400 and self.code not in ORDINARY


@dataclass
class Call:
    call_id: str
    msgs: list[Msg]
    outcome: int
    root: bool = False  # this call's failure is evidence of the root cause
    ids: list[str] = field(default_factory=list)  # identifiers a failure line may carry


def _sdp(ids: Ids, ip: str) -> list[str]:
    r = ids.r
    sess = r.randint(10**9, 10**10)
    return [
        "v=0",
        f"o=- {sess} {sess} IN IP4 {ip}",
        "s=-",
        f"c=IN IP4 {ip}",
        "t=0 0",
        f"m=audio {r.randrange(20000, 40000, 2)} RTP/AVP 96 8 0 101",
        "a=rtpmap:96 AMR-WB/16000",
        "a=fmtp:96 mode-change-capability=2;max-red=0",
        "a=rtpmap:8 PCMA/8000",
        "a=rtpmap:101 telephone-event/8000",
        "a=ptime:20",
        "a=maxptime:240",
        "a=sendrecv",
    ]


def call(ids: Ids, at: datetime, a: str, b: str, outcome: int, *, reason: str = "", challenge: bool = False) -> Call:
    """One INVITE transaction from `a` to `b` (ip:port) ending in `outcome`, then ACK, and BYE after a 200."""
    r = ids.r
    cid = ids.call_id()
    _, _, msisdn = ids.subscriber()
    callee = "+86" + r.choice(["10", "21", "755"]) + ids.digits(8)
    ftag, ttag = ids.tag(), ids.tag()
    icid = ids.hex(24)
    a_ip = a.split(":")[0]
    t = at
    msgs: list[Msg] = []
    cseq = 1

    def step(ms: int) -> datetime:
        nonlocal t
        t += timedelta(milliseconds=r.randint(1, ms))
        return t

    def invite(auth: bool) -> Msg:
        branch = ids.branch()
        hdr = [
            f"Via: SIP/2.0/UDP {a};branch={branch};rport",
            "Max-Forwards: 69",
            f"From: <sip:{msisdn}@{ids.realm}>;tag={ftag}",
            f"To: <tel:{callee}>",
            f"Call-ID: {cid}",
            f"CSeq: {cseq} INVITE",
            f"Contact: <sip:{msisdn}@{a};transport=udp>",
            f"P-Asserted-Identity: <sip:{msisdn}@{ids.realm}>",
            f"P-Charging-Vector: icid-value={icid};icid-generated-at={a_ip}",
            "Supported: 100rel,timer,precondition",
            "Allow: INVITE,ACK,CANCEL,BYE,UPDATE,PRACK,OPTIONS",
            "Content-Type: application/sdp",
        ]
        if auth:
            hdr.append(
                f'Proxy-Authorization: Digest username="{msisdn}",realm="{ids.realm}",nonce="{ids.hex(32)}",'
                f'uri="tel:{callee}",response="{ids.hex(32)}",algorithm=MD5'
            )
        body = _sdp(ids, a_ip)
        hdr.append(f"Content-Length: {sum(len(x) + 2 for x in body)}")
        return Msg(step(40), a, b, f"INVITE tel:{callee} SIP/2.0", hdr, body)

    def response(req: Msg, code: int, tagged: bool = True) -> Msg:
        via = req.headers[0]
        hdr = [
            via,
            req.headers[2],
            f"To: <tel:{callee}>" + (f";tag={ttag}" if tagged else ""),
            f"Call-ID: {cid}",
            next(h for h in req.headers if h.startswith("CSeq:")),
            f"Server: {r.choice(['BroadWorks', 'OpenSBC/5.2', 'kamailio (5.7.4 (x86_64/linux))'])}",
        ]
        if code in Q850 and code not in ORDINARY:
            cause, text = Q850[code]
            hdr.append(f'Reason: Q.850;cause={cause};text="{text}"')
            if reason:
                hdr.append(f'Warning: 399 {b.split(":")[0]} "{reason}"')
        hdr.append("Content-Length: 0")
        return Msg(step(3000 if code == 408 else 400), b, a, f"SIP/2.0 {code} {REASONS[code]}", hdr, code=code)

    req = invite(False)
    msgs += [req, response(req, 100, False)]
    if challenge:
        msgs.append(response(req, 407))
        msgs.append(
            Msg(step(20), a, b, f"ACK tel:{callee} SIP/2.0", [req.headers[0], f"Call-ID: {cid}", f"CSeq: {cseq} ACK"])
        )
        cseq += 1
        req = invite(True)
        msgs += [req, response(req, 100, False)]
    if outcome == 200:
        msgs += [response(req, 183), response(req, 180), response(req, 200)]
        msgs.append(Msg(step(50), a, b, f"ACK sip:{callee}@{b} SIP/2.0", [f"Call-ID: {cid}", f"CSeq: {cseq} ACK"]))
        msgs.append(
            Msg(step(90_000), a, b, f"BYE sip:{callee}@{b} SIP/2.0", [f"Call-ID: {cid}", f"CSeq: {cseq + 1} BYE"])
        )
        msgs.append(Msg(step(60), b, a, "SIP/2.0 200 OK", [f"Call-ID: {cid}", f"CSeq: {cseq + 1} BYE"], code=200))
    else:
        msgs.append(response(req, outcome))
        msgs.append(Msg(step(20), a, b, f"ACK tel:{callee} SIP/2.0", [f"Call-ID: {cid}", f"CSeq: {cseq} ACK"]))
    return Call(cid, msgs, outcome, ids=[cid, msisdn])


def _err(out: Out, line: str, m: Msg, c: Call, style: str, ids: list[str]) -> None:
    if m.failed:
        out.error(line, style, [i for i in ids if i in line], root=c.root)
    else:
        out.add(line)


def raw(out: Out, calls: list[Call]) -> None:
    """Messages as a SIP proxy's debug trace prints them, headers and bodies included."""
    for c in calls:
        for m in c.msgs:
            out.add(f"----- {m.at:%Y-%m-%d %H:%M:%S}.{m.at.microsecond // 1000:03d} {m.src} -> {m.dst} (UDP) -----")
            _err(out, m.first, m, c, "sip-raw", [])
            for h in m.headers:
                if h.startswith(("Reason:", "Warning:")):
                    _err(out, h, m, c, "sip-raw", [])
                else:
                    out.add(h)
            if m.body:
                out.add("")
                out.extend(m.body)
            out.add("")


def ngrep(out: Out, calls: list[Call]) -> None:
    """`ngrep -W byline port 5060`: a `U` header per packet, each line ending in `.` for its CR."""
    packet = 0
    for c in calls:
        for m in c.msgs:
            packet += 1
            out.add("#", f"U {m.at:%Y/%m/%d %H:%M:%S}.{m.at.microsecond:06d} {m.src} -> {m.dst} #{packet}")
            _err(out, m.first + ".", m, c, "sip-ngrep", [])
            for h in m.headers:
                if h.startswith(("Reason:", "Warning:")):
                    _err(out, h + ".", m, c, "sip-ngrep", [])
                else:
                    out.add(h + ".")
            out.add(".")
            out.extend(x + "." for x in m.body)


def sngrep(out: Out, calls: list[Call]) -> None:
    """A call flow as sngrep draws it, one arrow per message, the Call-ID above."""
    for c in calls:
        a, b = c.msgs[0].src, c.msgs[0].dst
        out.add(f" Call-ID: {c.call_id}", f"       {a:<40}{b}")
        t0 = c.msgs[0].at
        for m in c.msgs:
            label = (m.method + (" (SDP)" if m.body else "")) if not m.code else m.first[8:]
            rel = (m.at - t0).total_seconds()
            line = f" {m.at:%H:%M:%S}.{m.at.microsecond:06d} +{rel:.3f}  "
            line += (
                f"──── {label} " + "─" * max(28 - len(label), 2) + ">"
                if m.src == a
                else "<" + "─" * max(28 - len(label), 2) + f" {label} ────"
            )
            _err(out, line, m, c, "sip-sngrep", [])
        out.add("")


def tshark(out: Out, calls: list[Call], r: random.Random) -> None:
    """`tshark -Y sip`: one summary line per packet."""
    n = r.randint(100, 5000)
    t0 = calls[0].msgs[0].at if calls else None
    for c in calls:
        for m in c.msgs:
            n += r.randint(1, 40)
            rel = (m.at - t0).total_seconds() if t0 else 0.0
            what = f"Request: {m.first.rsplit(' ', 1)[0]}" if not m.code else f"Status: {m.first[8:]}"
            proto = "SIP/SDP" if m.body else "SIP"
            size = 400 + sum(len(h) for h in m.headers) + sum(len(x) for x in m.body)
            line = f"{n:>7} {rel:>11.6f} {m.src.split(':')[0]} → {m.dst.split(':')[0]} {proto} {size} {what} | "
            _err(out, line, m, c, "sip-tshark", [m.src.split(":")[0], m.dst.split(":")[0]])


def tshark_fields(out: Out, calls: list[Call]) -> None:
    """`tshark -T fields -E header=y -e frame.time -e sip.Call-ID -e sip.CSeq -e sip.Status-Code -e sip.Reason`."""
    out.add("frame.time\tsip.Call-ID\tsip.CSeq\tsip.Status-Code\tsip.Reason")
    for c in calls:
        for m in c.msgs:
            cseq = next((h[6:] for h in m.headers if h.startswith("CSeq:")), "")
            reason = next((h[8:] for h in m.headers if h.startswith("Reason:")), "")
            stamp = f"{m.at:%b %d, %Y %H:%M:%S}.{m.at.microsecond:06d}000 CST"
            line = f"{stamp}\t{c.call_id}\t{cseq}\t{m.code or ''}\t{reason}"
            _err(out, line, m, c, "sip-tshark-fields", [c.call_id])


def homer(out: Out, calls: list[Call]) -> None:
    """A Homer/HEP search export: one JSON object per message."""
    for c in calls:
        for m in c.msgs:
            obj = {
                "create_date": f"{m.at:%Y-%m-%dT%H:%M:%S}.{m.at.microsecond // 1000:03d}Z",
                "sid": c.call_id,
                "callid": c.call_id,
                "method": str(m.code) if m.code else m.method,
                "reply_reason": m.first[12:] if m.code else "",
                "srcIp": m.src.split(":")[0],
                "dstIp": m.dst.split(":")[0],
                "srcPort": int(m.src.split(":")[1]),
                "dstPort": int(m.dst.split(":")[1]),
                "cseq": next((h[6:] for h in m.headers if h.startswith("CSeq:")), ""),
                "protocol": 17,
            }
            _err(out, orjson.dumps(obj).decode(), m, c, "sip-homer", [c.call_id])


FORMATS = {"raw": raw, "ngrep": ngrep, "sngrep": sngrep, "tshark-fields": tshark_fields, "homer": homer}


def render(out: Out, fmt: str, calls: list[Call], r: random.Random) -> None:
    if fmt == "tshark":
        tshark(out, calls, r)
    else:
        FORMATS[fmt](out, calls)
