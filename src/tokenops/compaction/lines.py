"""What one line says: the severity it states in its own format, and whether what it reports is a failure.

A line's kind comes from two readings. Its stated severity: a level word or field in any
common format (log4j, JSON and logfmt fields, klog/glog letters, syslog PRI, Cisco and
Huawei mnemonics, bracketed levels, numeric Bunyan and journald levels). And its report:
exceptions, failures stated outright, states that went bad (`changed state to Down`,
`-> CLOSED`, a BGP peer left in Idle), error counters above zero (`CRC errors: 1042`,
`rx_crc_errors: 7`, a Prometheus error counter), non-zero exit codes, HTTP 5xx and
SIP 4xx-6xx answers, DNS failures, packet loss, a full disk. A routine level (INFO,
severity 5) does not hide a failure stated outright; it does hide words of trouble said
in passing (`contact expired`) and a bare mention of the word "error". Lines are
classified only after the scanner found a candidate word in them, so each rule here is
gated by cheap substring tests before any regex runs.
"""

from __future__ import annotations

import re

from tokenops.compaction.patterns import trie

ERROR = 0
FRAME = 1
WARNING = 2
MENTION = 3  # failure words on a line whose own level says it is routine

_ANSI = re.compile(r"\x1b\[[0-9;]*m")

# Stated severity, on the syslog scale (0 emergency … 3 error, 4 warning, 5 notice, 6 info, 7 debug).
_WORD_SEVERITY = {
    **dict.fromkeys(["EMERG", "EMERGENCY"], 0),
    **dict.fromkeys(["ALERT"], 1),
    **dict.fromkeys(["CRIT", "CRITICAL", "FATAL", "PANIC", "DPANIC", "MAJOR"], 2),
    **dict.fromkeys(["ERR", "ERROR", "SEVERE", "E", "F"], 3),
    **dict.fromkeys(["WARN", "WARNING", "MINOR", "W"], 4),
    **dict.fromkeys(["NOTICE", "NOTI", "NOTE"], 5),
    **dict.fromkeys(["INFO", "INFORMATION", "INFORMATIONAL", "LOG", "CONFIG", "CLEARED", "I"], 6),
    **dict.fromkeys(["DEBUG", "TRACE", "FINE", "FINER", "FINEST", "VERBOSE", "D", "V"], 7),
}
_BUNYAN = {10: 7, 20: 7, 30: 6, 40: 4, 50: 3, 60: 2}
_UPPER_LEVELS = [w for w in _WORD_SEVERITY if len(w) > 1 and w not in ("LOG", "INFORMATION", "INFORMATIONAL")]
_UPPER = re.compile(trie([*_UPPER_LEVELS, "LOG:"]))
_BEFORE_LEVEL = frozenset(" \t[(|,<")
_AFTER_LEVEL = frozenset(" \t]:|,)>")
_PRI = re.compile(r"<(\d{1,3})>")
_CISCO = re.compile(r"%(?:[A-Z][A-Z0-9_]*-)+([0-7])-[A-Z][A-Z0-9_]*|%%\d\d[A-Z][A-Z0-9_]*/([0-7])/")
_KLOG = re.compile(r"(?:^|[\s\]:>|])([IWEF])\d{4} \d\d:\d\d:\d\d\.\d")
_FIELD = re.compile(
    r"""(?:"(?:level|severity|PRIORITY|priority|syslog\.severity)"\s*:\s*"?(\d{1,2})\b)"""
    r"""|(?:level|lvl|severity|loglevel|levelname|log\.level|@l|priority|Level(?:DisplayName)?)["']?\s*[:=]\s*["']?([A-Za-z]+)"""
)
_BRACKET = re.compile(r"\[(?:[\w-]+:)?(error|crit|alert|emerg|warn|warning|notice|note|info|debug|fatal)\]", re.I)
_CELL = re.compile(r"[|,]\s*(Critical|Major|Minor|Warning|Cleared)\s*[|,]")
_CLEARED = re.compile(r"\bCLEARED\b|\bCleared\b")

# Failures stated outright: they stand even on a line whose own level is routine.
_FAILURE_WORDS = (
    "fatal fail fails failed failure failing exception panic panicked traceback segfault segmentation|fault "
    "core|dumped denied refused forbidden unauthorized unauthorised timed|out unreachable "
    "oomkilled out|of|memory crashloopbackoff imagepullbackoff errimagepull caused|by deadlock servfail cannot "
    "can't could|not couldn't unable|to no|space|left too|many no|route|to|host reset|by|peer closed|by|peer "
    "closed|by|remote reset|by|remote did|not|answer did|not|respond did|not|reply did|not|return "
    "did|not|complete did|not|start not|responding not|reachable still|waiting|for i/o|timeout read|timeout "
    "write|timeout connect|timeout connection|timeout request|timeout gateway|timeout operation|timeout "
    "handshake|timeout deadline|timeout idle|timeout timeout|waiting timeout|expired timeout|exceeded "
    "timeout|after timeout|occurred timeout|while timeout|on timeout|for timeout|reached"
)
_FAILURE = re.compile(trie(_FAILURE_WORDS.split()))
# Words of trouble that a routine level (INFO, a cleared alarm) may well carry in passing.
_TROUBLE_WORDS = (
    "abort aborted aborting killed oom backoff evicted notready unhealthy degraded nxdomain expired reject rejected "
    "invalid not|found notfound "
    "no|such mismatch corrupt corrupted overflow violation lost non-zero wrong unavailable exceeded exceeds "
    "suspended no|matching no|response no|reply no|answer no|rtp no|route not|ready underreplicated "
    "under-replicated"
)
_TROUBLE = re.compile(trie(_TROUBLE_WORDS.split()))
# Names that say it: exception classes, CamelCase reasons and alert names, SCREAMING_CASE event tags.
_CLASS_SUFFIX = frozenset(["Error", "Errors", "Exception", "Fault", "Failure"])
_CAMEL_SUFFIX = frozenset(["Down", "Failed", "Failing", "Unavailable", "Unreachable", "Lost", "Drop", "Crash"])
_PREFIX = frozenset(["Failed", "Error", "Err"])
_TAG = frozenset(["DOWN", "FAIL", "FAILED", "FAILURE", "ERROR", "TIMEOUT", "REJECT", "DENIED", "LOST", "ABORT"])
_NAME = re.compile(trie(sorted(_CLASS_SUFFIX | _CAMEL_SUFFIX | _PREFIX | _TAG)))
# A state a session, link or process should not move into; and, after `is`, `went` and the like, one it
# should not be in.
_BAD_TARGET = {
    *("down", "idle", "closed", "failed", "failure", "error", "init", "suspect", "unreachable", "disabled"),
    *("inactive", "suspended", "lost", "dead", "degraded", "offline"),
}
_BAD_STATE = re.compile(
    trie(["down", "failed", "dead", "unreachable", "lost", "offline", "suspended", "degraded", "suspect"])
)
_VERBS = [
    *("is", "went", "goes", "gone", "link", "port", "interface", "service", "node", "peer", "session", "neighbor"),
    *("neighbour", "tunnel", "status", "state"),
]
_STATE_VERB = re.compile(rf"\b(?:{trie(_VERBS)}|oper\w*|changed to)[\s:=]+$")
_TRANSITION = re.compile(r"\bstate (?:changed )?(?:from (\w+) )?to ['\"]?(?:state_)?(\w+)")
_ARROW = re.compile(rf"(?:->|→)\s*['\"]?(?:state_)?(?:{trie(sorted(_BAD_TARGET))})\b")
_SNMP_DOWN = re.compile(r"\bdown\s*\(\d\)")
_BGP_SOURCE = {"established", "connect", "active", "idle", "opensent", "openconfirm"}
_BGP_BAD = {"active", "connect", "opensent", "openconfirm"}
_CAPITAL_DOWN = re.compile(r"(?<![\w/-])(?:Down|DOWN|FAILED|Failed)(?![\w/-])")
_ROW_END = ("idle", "active", "connect", "opensent", "openconfirm", "(admin)")
_PEER_ROW = re.compile(r"^\s*[0-9A-Fa-f][0-9A-Fa-f:.]+\s")
_ALERT_ROW = re.compile(r"\d\d:\d\d:\d\d\s+[A-Z]{3,4}\s")

_WARNING_WORDS = re.compile(
    trie(
        [
            *("warn", "warning", "warnings", "deprecated", "deprecation", "minor", "indeterminate", "alarm"),
            *("threshold", "retry", "retrying"),
        ]
    )
    + "|"
    + trie(["timeout", "timeouts"])
)
_ERROR_WORD = re.compile(r"\berr(?:or|ors|no)?\b|[a-z]_err(?:or)?s?\b")

# Error counters: a number before a counted word, or after a key that counts failures.
_STEM = re.compile(
    trie(
        [
            *("err", "crc", "drop", "discard", "fail", "timeout", "reject", "lost", "overrun"),
            *("underreplicated", "abort", "collision", "unreachable"),
        ]
    )
)
_KEY_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_.")
_VALUE = re.compile(
    r"""(?:\{[^}\n]*\})?["']?[ \t]*(?:[:=]|=>)?[ \t]*(-?\d[\d,]*(?:\.\d+)?(?:e[+-]?\d+)?)(?![\w.:/-])"""
)
_COUNTED_KEY = re.compile(
    r"(?:^|[_.])(?:err|errs|errors?|crc|drops?|dropped|discards?|fail(?:ed|s|ures?)?|timeouts|rejects?|rejected|lost"
    r"|overruns?|underreplicated\w*|unreachable)(?:[_.]|$)|errors|_(?:total|count)$"
)
_COUNTED_WORDS = frozenset(
    [
        *("error", "errors", "crc", "drop", "drops", "dropped", "discard", "discards", "failure"),
        *("failures", "failed", "timeout", "timeouts", "overrun", "overruns", "collision", "collisions"),
        *("reject", "rejects", "rejected", "lost", "abort", "aborts", "aborted"),
    ]
)
_NUMBER_BEFORE = re.compile(r"(?<![\w.])(\d+(?:,\d{3})*) +(?:[a-z_-]+ +)?$")

_SIP = re.compile(
    r"SIP/2\.0\s+([1-6]\d\d)\b|\bStatus(?:-Code)?:\s*([1-6]\d\d)\s|─\s([1-6]\d\d)\s[A-Z]|\t([4-6]\d\d)\t"
    r"""|"(?:method|sip_status|reply_code|response_code)"\s*:\s*"?([1-6]\d\d)\b"""
)
_SIP_ORDINARY = {401, 407}  # a digest challenge
_SIP_OUTCOME = {486, 487, 603}  # busy, cancelled by the caller, declined: worth a mention, not a fault
_HTTP = re.compile(
    r"""\bHTTP/[\d.]+"?\s+([1-5]\d\d)\b|"\s([1-5]\d\d)\s"""
    r"""|"(?:status|status_code|statusCode|http_status|response_status|code)"\s*:\s*"?([1-5]\d\d)\b"""
    r"|\bstatus(?:_code)?[=:]\s*([1-5]\d\d)\b"
)
_DIAMETER = re.compile(r"Result-Code\b\W+(?:[A-Z_]+\s*\()?([1-5]\d{3})\b")
_HAPROXY = re.compile(r"\s-?\d+/-?\d+/-?\d+/-?\d+/\+?-?\d+ ([1-5]\d\d) ")
_REASON = re.compile(r"^(?:Reason:\s*(?:Q\.850|SIP)\s*;\s*cause=(\d+)|Warning:\s*3\d\d\s)", re.I)
_DNS = re.compile(r"\bstatus:\s*(?:SERVFAIL|NXDOMAIN|REFUSED|FORMERR|NOTIMP|NOTAUTH)\b")
_LOSS = re.compile(r"(?<![\d.])(?:[1-9]\d*(?:\.\d+)?|0\.\d*[1-9]\d*)% (?:packet )?loss\b")
_DISK_FULL = re.compile(r"\s(?:9[5-9]|100)%\s+/")
_UP_ZERO = re.compile(r"^up\{[^}\n]*\}\s+(?:=>\s+)?0(?:\s|$)")
_EXIT = re.compile(
    r"\bexit(?:ed)?(?:\s+with)?(?:\s+non-zero)?\s*(?:code|status)\s*[=:]?\s*\[?(-?\d+)"
    r"|\bterminated with exit code (-?\d+)|\b(?:rc|returncode|exit_code|exitcode)[\"']?\s*[=:]\s*(-?\d+)"
    r"|\bstatus=(\d+)/|\[exit (-?\d+)\]|\bexited (?:with )?(-?\d+)\b"
)


def _word_at(text: str, start: int, end: int) -> bool:
    """The text between `start` and `end` is a whole word (no letter, digit or underscore joined on)."""
    return (start == 0 or not (text[start - 1].isalnum() or text[start - 1] == "_")) and (
        end == len(text) or not (text[end].isalnum() or text[end] == "_")
    )


def _has_word(pattern: re.Pattern[str], text: str) -> bool:
    """Whether `pattern` (a plain trie, fast to search) matches a whole word of `text`."""
    return any(_word_at(text, m.start(), m.end()) for m in pattern.finditer(text))


def _named_failure(line: str) -> bool:
    """An exception class, a CamelCase reason or alert name, or a SCREAMING_CASE event tag that says failure."""
    for m in _NAME.finditer(line):
        name, start, end = m.group(), m.start(), m.end()
        before = line[start - 1] if start else " "
        after = line[end] if end < len(line) else " "
        if name in _CLASS_SUFFIX and before.isalnum() and not after.isalnum():
            return True
        if name in _CAMEL_SUFFIX and before.islower() and not after.isalnum():
            return True
        if name in _PREFIX and not before.isalnum() and after.isupper():
            return True
        if name in _TAG and before in " _:%-" and not after.isalnum():
            return True
    return False


def clean(line: str) -> str:
    return _ANSI.sub("", line) if "\x1b" in line else line


def exit_code(line: str, low: str | None = None) -> int | None:
    """The exit status a line reports, if it reports one."""
    low = line.lower() if low is None else low
    if "exit" not in low and "rc" not in low and "status=" not in low:
        return None
    match = _EXIT.search(low)
    return int(next(g for g in match.groups() if g is not None)) if match else None


def stated(line: str) -> int | None:
    """The severity the line states in its own format, on the syslog scale, or None; where several
    readings apply, the leftmost wins."""
    found: list[tuple[int, int]] = []
    if line.startswith("<") and (m := _PRI.match(line)):
        return int(m.group(1)) % 8
    if "%" in line and (m := _CISCO.search(line)):
        found.append((m.start(), int(m.group(1) or m.group(2))))
    if (m := _KLOG.search(line)) is not None:
        found.append((m.start(1), _WORD_SEVERITY[m.group(1)]))
    low = line.lower()
    if ("level" in low or "severity" in low or "priority" in low or "lvl" in low or "@l" in low) and (
        m := _FIELD.search(line)
    ):
        if m.group(1) is not None:
            n = int(m.group(1))
            value = _BUNYAN.get(n) if n >= 10 else min(n, 7)
        else:
            value = _WORD_SEVERITY.get(m.group(2).upper())
        if value is not None:
            found.append((m.start(), value))
    if "[" in line and (m := _BRACKET.search(line)):
        found.append((m.start(), _WORD_SEVERITY[m.group(1).upper()]))
    for m in _UPPER.finditer(line):
        start, end = m.start(), m.end()
        word = m.group().rstrip(":")
        if (start == 0 or line[start - 1] in _BEFORE_LEVEL) and (
            end == len(line) or line[end] in _AFTER_LEVEL or word != m.group()
        ):
            found.append((start, _WORD_SEVERITY.get(word, 6)))
            break
    if ("," in line or "|" in line) and (m := _CELL.search(line)):
        found.append((m.start(1), _WORD_SEVERITY[m.group(1).upper()]))
    return min(found)[1] if found else None


def _counters(low: str) -> tuple[bool, str]:
    """Whether any error counter on the line is above zero, and the line without its counters."""
    nonzero = False
    cut: list[tuple[int, int]] = []
    end = 0
    for m in _STEM.finditer(low):
        if m.start() < end:
            continue
        start, end = m.start(), m.end()
        while start and low[start - 1] in _KEY_CHARS:
            start -= 1
        while end < len(low) and low[end] in _KEY_CHARS:
            end += 1
        key = low[start:end]
        value = _VALUE.match(low, end)
        if value and _COUNTED_KEY.search(key):
            try:
                nonzero = nonzero or float(value.group(1).replace(",", "")) != 0
            except ValueError:
                continue
            cut.append((start, value.end()))
        elif key in _COUNTED_WORDS and (before := _NUMBER_BEFORE.search(low, max(0, start - 48), start)):
            nonzero = nonzero or before.group(1).strip("0,") != ""
            cut.append((before.start(), end))
    if not cut:
        return False, low
    pieces, at = [], 0
    for a, b in cut:
        pieces.append(low[at:a])
        at = b
    pieces.append(low[at:])
    return nonzero, " ".join(pieces)


def _status_failure(line: str, low: str) -> int | None:
    """ERROR for a failed SIP or HTTP answer, MENTION for a SIP outcome that is the caller's, else None."""
    if "sip/2.0" in low or "status" in low or "─" in line or "\t" in line or '"method"' in low:
        m = _SIP.search(line)
        if m:
            code = int(next(g for g in m.groups() if g is not None))
            if code >= 400 and code not in _SIP_ORDINARY:
                return MENTION if code in _SIP_OUTCOME else ERROR
    if "http/" in low or '" 5' in line or "status" in low or '"code"' in low:
        m = _HTTP.search(line)
        if m and int(next(g for g in m.groups() if g is not None)) >= 500:
            return ERROR
    if "result-code" in low and (m := _DIAMETER.search(line)) and int(m.group(1)) >= 3000:
        return ERROR
    if "/" in line and (m := _HAPROXY.search(line)) and int(m.group(1)) >= 500:
        return ERROR
    normal = ("16", "31", "200")  # Q.850 normal clearing and normal unspecified, SIP 200; None for Warning:
    if low.startswith(("reason:", "warning:")) and (m := _REASON.match(line)) and m.group(1) not in normal:
        return ERROR
    return None


def _bad_state(line: str, low: str) -> bool:
    if "state" in low:
        for m in _TRANSITION.finditer(low):
            src, dst = m.group(1) or "", m.group(2)
            if dst in _BAD_TARGET or (dst in _BGP_BAD and src in _BGP_SOURCE):
                return True
    if ("->" in low or "→" in low) and _ARROW.search(low):
        return True
    for m in _BAD_STATE.finditer(low):
        if _word_at(low, m.start(), m.end()) and _STATE_VERB.search(low, max(0, m.start() - 24), m.start()):
            return True
    if "down" in low and _SNMP_DOWN.search(low):
        return True
    if ("own" in line or "OWN" in line or "ailed" in line or "AILED" in line) and _CAPITAL_DOWN.search(line):
        return True
    tail = low.rstrip()
    if tail.endswith(_ROW_END):
        return bool(_PEER_ROW.match(line) or (tail.endswith("active") and _ALERT_ROW.search(line)))
    return False


def reports_failure(line: str, low: str) -> bool | None:
    """True when the line states a failure outright; False when its only failure words are counters at
    zero; None when it says nothing either way (it may still carry words of trouble)."""
    nonzero, rest = _counters(low)
    if nonzero:
        return True
    code = exit_code(line, low)
    if code:
        return True
    if _has_word(_FAILURE, rest) or _named_failure(line) or _bad_state(line, rest):
        return True
    if "status:" in low and _DNS.search(line):
        return True
    if "%" in line and (_DISK_FULL.search(line) or _LOSS.search(low)):
        return True
    if low.startswith("up{") and _UP_ZERO.search(low):
        return True
    return False if rest is not low or code == 0 else None


def classify_text(line: str) -> int | None:
    """The kind of a line that is not a stack frame: ERROR, WARNING, MENTION or None for an ordinary one."""
    line = clean(line)
    low = line.lower()
    severity = stated(line)
    if severity is not None and "clear" in low and _CLEARED.search(line):
        trouble = reports_failure(line, low) or _status_failure(line, low) is not None
        return MENTION if trouble or _has_word(_TROUBLE, low) or _ERROR_WORD.search(low) else None
    if severity is not None and severity <= 3:
        return ERROR
    status = _status_failure(line, low)
    failure = reports_failure(line, low)
    if failure is True or status == ERROR:
        return ERROR
    if severity == 4:
        return WARNING
    if failure is False:
        return None
    if _has_word(_TROUBLE, low) or _ERROR_WORD.search(low):
        return ERROR if severity is None else MENTION
    if status == MENTION:
        return MENTION
    if _has_word(_WARNING_WORDS, low):
        return WARNING if severity is None else MENTION
    return None
