"""Log line formats: one function per format, each with its own severity words and timestamp.

An `Event` says what happened and how bad it is; the format decides how the line reads.
Whether a line is labelled an error is the event's own truth (`bad`), never read back from
the text: a Cisco link failure logged at severity 5 is still a failure.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import orjson

from tokenops.compaction.noc.record import Out

SEVERITIES = ("debug", "info", "notice", "warning", "error", "critical", "alert", "emergency")
_SYSLOG = {s: k for k, s in enumerate(reversed(SEVERITIES))}  # emergency 0 … debug 7


@dataclass
class Event:
    sev: str
    component: str  # logger, class, program or module, as the format names it
    msg: str
    fields: dict[str, str] = field(default_factory=dict)
    ids: list[str] = field(default_factory=list)  # identifiers in msg or fields
    bad: bool | None = None  # a failure; by default, error severity or worse
    root: bool = False  # evidence of the session's root cause
    detail: list[str] = field(default_factory=list)  # continuation lines of the same record

    @property
    def failure(self) -> bool:
        return self.bad if self.bad is not None else SEVERITIES.index(self.sev) >= SEVERITIES.index("error")


class Clock:
    """Session time: it only moves forward."""

    def __init__(self, rng: random.Random, start: datetime | None = None) -> None:
        self.r = rng
        self.t = start or datetime(2024, 12, 7, 9, rng.randint(0, 40), rng.randint(0, 59), tzinfo=UTC)

    def tick(self, max_ms: int = 1500) -> datetime:
        self.t += timedelta(milliseconds=self.r.randint(1, max_ms))
        return self.t

    def jump(self, minutes: int) -> None:
        self.t += timedelta(minutes=minutes, seconds=self.r.randint(0, 59))


@dataclass
class Host:
    """Where a log comes from."""

    name: str
    program: str
    pid: int
    thread: str = "main"


Style = Callable[[Event, datetime, Host, random.Random], list[str]]


def _kv(fields: dict[str, str]) -> str:
    return "".join(f" {k}={v}" for k, v in fields.items())


def _quote(v: str) -> str:
    return f'"{v}"' if (" " in v or "=" in v or not v) else v


def _ms(t: datetime) -> str:
    return f"{t.microsecond // 1000:03d}"


def _bsd(t: datetime) -> str:
    return f"{t:%b} {t.day:>2} {t:%H:%M:%S}"


def log4j(e: Event, t: datetime, h: Host, r: random.Random) -> list[str]:
    level = {"notice": "INFO", "warning": "WARN", "critical": "FATAL", "alert": "FATAL", "emergency": "FATAL"}
    lv = level.get(e.sev, e.sev.upper())
    return [f"{t:%Y-%m-%d %H:%M:%S},{_ms(t)} {lv:<5} [{h.thread}] {e.component} - {e.msg}{_kv(e.fields)}"]


def logback(e: Event, t: datetime, h: Host, r: random.Random) -> list[str]:
    lv = {"notice": "INFO", "warning": "WARN", "critical": "ERROR", "alert": "ERROR"}.get(e.sev, e.sev.upper())
    comp = e.component if len(e.component) < 40 else e.component[-39:]
    return [f"{t:%Y-%m-%dT%H:%M:%S}.{_ms(t)}+08:00 {lv:>5} {h.pid} --- [{h.thread:>15}] {comp:<40} : {e.msg}"]


def jul(e: Event, t: datetime, h: Host, r: random.Random) -> list[str]:
    level = {"debug": "FINE", "notice": "INFO", "warning": "WARNING", "error": "SEVERE", "critical": "SEVERE"}
    lv = level.get(e.sev, "SEVERE" if e.sev in ("alert", "emergency") else e.sev.upper())
    cls, _, method = e.component.rpartition("#")
    hour = t.hour % 12 or 12
    head = f"{t:%b %d, %Y} {hour}:{t:%M:%S} {'AM' if t.hour < 12 else 'PM'} {cls or e.component} {method or 'run'}"
    return [head, f"{lv}: {e.msg}{_kv(e.fields)}"]


def logfmt(e: Event, t: datetime, h: Host, r: random.Random) -> list[str]:
    lv = {"warning": "warn", "critical": "error", "notice": "info", "alert": "error"}.get(e.sev, e.sev)
    rest = "".join(f" {k}={_quote(v)}" for k, v in e.fields.items())
    return [f"ts={t:%Y-%m-%dT%H:%M:%S}.{_ms(t)}Z level={lv} caller={e.component} msg={_quote(e.msg)}{rest}"]


def _json(obj: dict[str, object]) -> str:
    return orjson.dumps(obj).decode()


def json_level(e: Event, t: datetime, h: Host, r: random.Random) -> list[str]:
    lv = {"warning": "WARN", "critical": "ERROR", "notice": "INFO", "alert": "ERROR"}.get(e.sev, e.sev.upper())
    return [
        _json(
            {"time": f"{t:%Y-%m-%dT%H:%M:%S}.{_ms(t)}Z", "level": lv, "logger": e.component, "msg": e.msg, **e.fields}
        )
    ]


def json_ecs(e: Event, t: datetime, h: Host, r: random.Random) -> list[str]:
    lv = {"critical": "fatal", "notice": "info", "alert": "fatal"}.get(e.sev, e.sev)
    return [
        _json(
            {
                "@timestamp": f"{t:%Y-%m-%dT%H:%M:%S}.{_ms(t)}Z",
                "log.level": lv,
                "message": e.msg,
                "ecs.version": "1.6.0",
                "log.logger": e.component,
                "service.name": h.program,
                **{f"labels.{k}": v for k, v in e.fields.items()},
            }
        )
    ]


def json_severity(e: Event, t: datetime, h: Host, r: random.Random) -> list[str]:
    lv = {"warning": "WARNING", "alert": "ALERT", "emergency": "EMERGENCY"}.get(e.sev, e.sev.upper())
    return [
        _json(
            {
                "severity": lv,
                "timestamp": f"{t:%Y-%m-%dT%H:%M:%S}.{t.microsecond:06d}Z",
                "message": e.msg,
                "logging.googleapis.com/labels": {"component": e.component},
                **e.fields,
            }
        )
    ]


def json_bunyan(e: Event, t: datetime, h: Host, r: random.Random) -> list[str]:
    level = {"debug": 20, "info": 30, "notice": 30, "warning": 40, "error": 50}.get(e.sev, 60)
    stamp = int(t.timestamp() * 1000)
    return [
        _json(
            {
                "level": level,
                "time": stamp,
                "pid": h.pid,
                "hostname": h.name,
                "name": e.component,
                "msg": e.msg,
                **e.fields,
            }
        )
    ]


def json_clef(e: Event, t: datetime, h: Host, r: random.Random) -> list[str]:
    obj: dict[str, object] = {"@t": f"{t:%Y-%m-%dT%H:%M:%S}.{t.microsecond:06d}Z", "@mt": e.msg}
    level = {"debug": "Debug", "warning": "Warning", "error": "Error"}.get(e.sev, "Fatal")
    if e.sev not in ("info", "notice"):  # Serilog leaves out the level of Information events
        obj["@l"] = level
    obj.update({"SourceContext": e.component, **e.fields})
    return [_json(obj)]


def journald_json(e: Event, t: datetime, h: Host, r: random.Random) -> list[str]:
    return [
        _json(
            {
                "__REALTIME_TIMESTAMP": str(int(t.timestamp() * 1_000_000)),
                "PRIORITY": str(_SYSLOG[e.sev]),
                "_HOSTNAME": h.name,
                "SYSLOG_IDENTIFIER": h.program,
                "_PID": str(h.pid),
                "_SYSTEMD_UNIT": f"{h.program}.service",
                "MESSAGE": e.msg + _kv(e.fields),
            }
        )
    ]


def _klog_head(e: Event, t: datetime, pid: int) -> str:
    letter = {"debug": "I", "info": "I", "notice": "I", "warning": "W", "error": "E"}.get(e.sev, "F")
    return f"{letter}{t:%m%d} {t:%H:%M:%S}.{t.microsecond:06d} {pid:>7} {e.component}]"


def klog(e: Event, t: datetime, h: Host, r: random.Random) -> list[str]:
    rest = "".join(f' {k}="{v}"' for k, v in e.fields.items())
    return [f'{_klog_head(e, t, h.pid)} "{e.msg}"{rest}']


def glog(e: Event, t: datetime, h: Host, r: random.Random) -> list[str]:
    return [f"{_klog_head(e, t, h.pid)} {e.msg}{_kv(e.fields)}"]


def kamailio(e: Event, t: datetime, h: Host, r: random.Random) -> list[str]:
    lv = {"warning": "WARNING", "emergency": "ALERT"}.get(e.sev, e.sev.upper())
    return [f"{_bsd(t)} {h.name} /usr/sbin/kamailio[{h.pid}]: {lv}: {e.component}: {e.msg}"]


def nginx_error(e: Event, t: datetime, h: Host, r: random.Random) -> list[str]:
    lv = {"warning": "warn", "critical": "crit", "emergency": "emerg"}.get(e.sev, e.sev)
    tail = "".join(f", {k}: {v}" for k, v in e.fields.items())
    return [f"{t:%Y/%m/%d %H:%M:%S} [{lv}] {h.pid}#{h.pid}: *{r.randint(100, 999999)} {e.msg}{tail}"]


def postgres(e: Event, t: datetime, h: Host, r: random.Random) -> list[str]:
    lv = {"debug": "DEBUG1", "info": "LOG", "notice": "LOG", "critical": "FATAL", "alert": "PANIC"}.get(
        e.sev, e.sev.upper()
    )
    head = f"{t:%Y-%m-%d %H:%M:%S}.{_ms(t)} CST [{h.pid}] {e.component} "
    return [f"{head}{lv}:  {e.msg}", *(f"{head}{d}" for d in e.detail)]


def rfc5424(e: Event, t: datetime, h: Host, r: random.Random) -> list[str]:
    pri = 16 * 8 + _SYSLOG[e.sev]  # facility local0
    sd = "".join(f' {k}="{v}"' for k, v in e.fields.items())
    sd = f"[meta@32473{sd}]" if sd else "-"
    return [
        f"<{pri}>1 {t:%Y-%m-%dT%H:%M:%S}.{t.microsecond:06d}+08:00 {h.name} {h.program} {h.pid} "
        f"{e.component} {sd} {e.msg}"
    ]


def rfc3164(e: Event, t: datetime, h: Host, r: random.Random) -> list[str]:
    pri = 3 * 8 + _SYSLOG[e.sev]  # facility daemon
    return [f"<{pri}>{_bsd(t)} {h.name} {h.program}[{h.pid}]: {e.msg}{_kv(e.fields)}"]


def syslog_plain(e: Event, t: datetime, h: Host, r: random.Random) -> list[str]:
    return [f"{_bsd(t)} {h.name} {h.program}[{h.pid}]: {e.msg}{_kv(e.fields)}"]


def journald(e: Event, t: datetime, h: Host, r: random.Random) -> list[str]:
    return [f"{t:%Y-%m-%dT%H:%M:%S}+0800 {h.name} {h.program}[{h.pid}]: {e.msg}{_kv(e.fields)}"]


def _mnemonic(e: Event) -> str:
    """`FACILITY-SUBFACILITY` of a Cisco message in `component`, its severity from the event."""
    return f"%{e.component.replace('-N-', f'-{_SYSLOG[e.sev]}-')}"


def iosxr(e: Event, t: datetime, h: Host, r: random.Random) -> list[str]:
    node = r.choice(["RP/0/RP0/CPU0", "RP/0/RSP0/CPU0", "LC/0/0/CPU0"])
    return [f"{node}:{_bsd(t)}.{_ms(t)} UTC: {h.program}[{h.pid}]: {_mnemonic(e)} : {e.msg}"]


def nxos(e: Event, t: datetime, h: Host, r: random.Random) -> list[str]:
    return [f"{t:%Y %b} {t.day:>2} {t:%H:%M:%S} {h.name} {_mnemonic(e)}: {e.msg}"]


def junos(e: Event, t: datetime, h: Host, r: random.Random) -> list[str]:
    return [f"{_bsd(t)}  {h.name} {h.program}[{h.pid}]: {e.component}: {e.msg}"]


def vrp(e: Event, t: datetime, h: Host, r: random.Random) -> list[str]:
    cid = f"0x{r.getrandbits(32):08x}"
    return [
        f"{t:%b} {t.day:>2} {t:%Y %H:%M:%S}+08:00 {h.name} %%01{e.component.replace('/N/', f'/{_SYSLOG[e.sev]}/')}"
        f"(l):CID={cid};{e.msg}"
    ]


def python_logging(e: Event, t: datetime, h: Host, r: random.Random) -> list[str]:
    lv = {"notice": "INFO", "alert": "CRITICAL", "emergency": "CRITICAL"}.get(e.sev, e.sev.upper())
    return [f"{t:%Y-%m-%d %H:%M:%S},{_ms(t)} - {e.component} - {lv} - {e.msg}{_kv(e.fields)}"]


def zap(e: Event, t: datetime, h: Host, r: random.Random) -> list[str]:
    lv = {"warning": "WARN", "critical": "DPANIC", "notice": "INFO", "alert": "FATAL"}.get(e.sev, e.sev.upper())
    color = {"DEBUG": 35, "INFO": 34, "WARN": 33}.get(lv, 31)
    level = f"\x1b[{color}m{lv}\x1b[0m" if h.thread == "tty" else lv
    extra = "\t" + orjson.dumps(e.fields).decode() if e.fields else ""
    return [f"{t:%Y-%m-%dT%H:%M:%S}.{_ms(t)}+0800\t{level}\t{e.component}\t{e.msg}{extra}"]


def erlang(e: Event, t: datetime, h: Host, r: random.Random) -> list[str]:
    pid = f"<0.{r.randint(200, 60000)}.0>"
    return [f"{t:%Y-%m-%d %H:%M:%S}.{t.microsecond:06d}+08:00 [{e.sev}] {pid} {e.msg}{_kv(e.fields)}"]


def dmesg(e: Event, t: datetime, h: Host, r: random.Random) -> list[str]:
    uptime = (t.hour * 3600 + t.minute * 60 + t.second) + 1_200_000 + t.microsecond / 1e6
    return [f"[{uptime:13.6f}] {e.msg}"]


def coredns(e: Event, t: datetime, h: Host, r: random.Random) -> list[str]:
    lv = {"warning": "WARNING", "critical": "FATAL"}.get(e.sev, e.sev.upper())
    return [f"[{lv}] {e.component}: {e.msg}"]


def freediameter(e: Event, t: datetime, h: Host, r: random.Random) -> list[str]:
    lv = {"warning": "WARNING", "critical": "FATAL", "notice": "NOTI"}.get(e.sev, e.sev.upper())
    return [f"{t:%m/%d/%y},{t:%H:%M:%S}.{_ms(t)}  {lv:<7}  {e.msg}"]


STYLES: dict[str, Style] = {
    "log4j": log4j,
    "logback": logback,
    "jul": jul,
    "logfmt": logfmt,
    "json-level": json_level,
    "json-ecs": json_ecs,
    "json-severity": json_severity,
    "json-bunyan": json_bunyan,
    "json-clef": json_clef,
    "journald-json": journald_json,
    "klog": klog,
    "glog": glog,
    "kamailio": kamailio,
    "nginx-error": nginx_error,
    "postgres": postgres,
    "rfc5424": rfc5424,
    "rfc3164": rfc3164,
    "syslog": syslog_plain,
    "journald": journald,
    "ios-xr": iosxr,
    "nx-os": nxos,
    "junos": junos,
    "vrp": vrp,
    "python-logging": python_logging,
    "zap": zap,
    "erlang": erlang,
    "dmesg": dmesg,
    "coredns": coredns,
    "freediameter": freediameter,
}


def write(
    out: Out, style: str, events: list[Event], clock: Clock, host: Host, r: random.Random, max_gap_ms: int = 1500
) -> None:
    """Appends the events as lines of `style`, labelling each line by its event."""
    render = STYLES[style]
    for e in events:
        lines = render(e, clock.tick(max_gap_ms), host, r)
        for line in lines:
            if e.failure:
                out.error(line, style, [i for i in e.ids if i in line], root=e.root)
            elif e.sev == "warning":
                out.warning(line, style)
            else:
                out.add(line)
