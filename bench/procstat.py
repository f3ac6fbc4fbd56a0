"""CPU time and memory of a process and its descendants, read from /proc (Linux only)."""

from __future__ import annotations

import os
from dataclasses import dataclass

_TICK_S = 1.0 / os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True, slots=True)
class Usage:
    cpu_s: float  # utime + stime of the whole tree (all threads)
    rss_bytes: int  # resident set of the whole tree


def _stat_fields(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read().decode()
    except OSError:
        return None
    # the command name may hold spaces and parentheses: split after its last ')'
    return raw[raw.rindex(")") + 2 :].split()


def descendants(root: int) -> list[int]:
    """`root` and every live process below it."""
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        fields = _stat_fields(int(name))
        if fields is not None:
            children.setdefault(int(fields[1]), []).append(int(name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, ()))
    return out


def sample(pids: list[int]) -> Usage:
    cpu_ticks = 0
    rss_pages = 0
    for pid in pids:
        fields = _stat_fields(pid)
        if fields is None:
            continue
        # after the name: state(0) ppid(1) ... utime(11) stime(12) ... rss(21)
        cpu_ticks += int(fields[11]) + int(fields[12])
        rss_pages += int(fields[21])
    return Usage(cpu_ticks * _TICK_S, rss_pages * _PAGE)


def peak_rss(pids: list[int]) -> int:
    """Sum of VmHWM (peak resident set) over `pids`, in bytes."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        total += int(line.split()[1]) * 1024
                        break
        except OSError:
            continue
    return total


def machine_busy_s() -> float:
    """CPU seconds all cores spent busy since boot (from /proc/stat), to spot load from outside the bench."""
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) * _TICK_S
