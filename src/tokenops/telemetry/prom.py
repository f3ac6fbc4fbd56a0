"""A small Prometheus registry: counters and histograms keyed by label tuples, text exposition.

Written here rather than taken from `prometheus_client`: an update is one dict lookup and
an add (no lock, no label-object lookup), which keeps the per-request cost to a couple of
microseconds on the event loop. Each family caps its series; past the cap new label sets
fold into one series whose labels all read "other", so a runaway label cannot blow up memory.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Mapping

Key = tuple[str, ...]
OTHER = "other"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def labels_text(names: tuple[str, ...], values: Key, extra: str = "") -> str:
    parts = [f'{n}="{_escape(v)}"' for n, v in zip(names, values, strict=True)]
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}" if parts else ""


def number(value: float) -> str:
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


class Family:
    kind = "untyped"

    def __init__(self, name: str, help: str, labels: tuple[str, ...], max_series: int = 10_000) -> None:
        self.name = name
        self.help = help
        self.labels = labels
        self.max_series = max_series

    def _key(self, key: Key, known: Mapping[Key, object]) -> Key:
        if key in known or len(known) < self.max_series:
            return key
        return (OTHER,) * len(self.labels)

    def header(self, suffix: str = "") -> str:
        name = self.name + suffix
        return f"# HELP {name} {self.help}\n# TYPE {name} {self.kind}\n"


class Counter(Family):
    kind = "counter"

    def __init__(self, name: str, help: str, labels: tuple[str, ...], max_series: int = 10_000) -> None:
        super().__init__(name, help, labels, max_series)
        self.values: dict[Key, float] = {}

    def inc(self, key: Key, amount: float = 1) -> None:
        values = self.values
        if key in values:
            values[key] += amount
        else:
            key = self._key(key, values)
            values[key] = values.get(key, 0) + amount

    def fold(self, position: int, names: set[str]) -> None:
        """Move the series whose label at `position` is one of `names` into that label's "other" series."""
        for key in [k for k in self.values if k[position] in names]:
            value = self.values.pop(key)
            other = (*key[:position], OTHER, *key[position + 1 :])
            self.values[other] = self.values.get(other, 0) + value

    def render(self) -> str:
        lines = [self.header("_total")]  # the text format names a counter by its sample
        for key, value in self.values.items():
            lines.append(f"{self.name}_total{labels_text(self.labels, key)} {number(value)}\n")
        return "".join(lines)


class Histogram(Family):
    kind = "histogram"
    # the lines one label set renders: a bucket per bound, +Inf, sum and count (see `series`)

    def __init__(
        self, name: str, help: str, labels: tuple[str, ...], buckets: Iterable[float], max_series: int = 10_000
    ) -> None:
        super().__init__(name, help, labels, max_series)
        self.buckets = tuple(sorted(buckets))
        self.values: dict[Key, list[float]] = {}  # per-bucket counts, then sum, then count

    @property
    def lines_per_series(self) -> int:
        return len(self.buckets) + 3

    def observe(self, key: Key, value: float) -> None:
        row = self.values.get(key)
        if row is None:
            key = self._key(key, self.values)
            row = self.values.setdefault(key, [0.0] * (len(self.buckets) + 2))
        i = bisect_left(self.buckets, value)
        if i < len(self.buckets):
            row[i] += 1
        row[-2] += value
        row[-1] += 1

    def render(self) -> str:
        lines = [self.header()]
        for key, row in self.values.items():
            running = 0.0
            for bound, count in zip(self.buckets, row, strict=False):
                running += count
                le = f'le="{number(bound)}"'
                lines.append(f"{self.name}_bucket{labels_text(self.labels, key, le)} {number(running)}\n")
            inf = 'le="+Inf"'
            lines.append(f"{self.name}_bucket{labels_text(self.labels, key, inf)} {number(row[-1])}\n")
            lines.append(f"{self.name}_sum{labels_text(self.labels, key)} {number(row[-2])}\n")
            lines.append(f"{self.name}_count{labels_text(self.labels, key)} {number(row[-1])}\n")
        return "".join(lines)


def gauge(name: str, help: str, labels: tuple[str, ...], samples: Iterable[tuple[Key, float]]) -> str:
    """A gauge family computed at scrape time."""
    lines = [f"# HELP {name} {help}\n# TYPE {name} gauge\n"]
    for key, value in samples:
        lines.append(f"{name}{labels_text(labels, key)} {number(value)}\n")
    return "".join(lines)
