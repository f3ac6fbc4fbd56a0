"""The field generator's labels: each planted line recorded as it is written."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Labels:
    """Field names as `compaction.evaluate` reads them."""

    session: str
    seed: int
    kind: str
    generator: str = "field"
    tokens: int = 0
    error_lines: list[str] = field(default_factory=list)
    warning_lines: list[str] = field(default_factory=list)
    stack_frames: list[str] = field(default_factory=list)
    identifiers: list[str] = field(default_factory=list)
    frame_references: list[str] = field(default_factory=list)
    failing_commands: list[str] = field(default_factory=list)
    root_cause: list[str] = field(default_factory=list)
    red_herrings: list[str] = field(default_factory=list)
    error_styles: dict[str, str] = field(default_factory=dict)
    frame_styles: dict[str, str] = field(default_factory=dict)


class Sheet:
    """Lines of one tool output; `bad`, `warn` and `frame` record what they plant."""

    def __init__(self, labels: Labels, *, root: bool = False, herring: bool = False) -> None:
        self.labels = labels
        self.root = root  # this output's failure lines are root-cause evidence
        self.herring = herring
        self.lines: list[str] = []

    def put(self, *lines: str) -> None:
        self.lines.extend(lines)

    def bad(self, line: str, style: str, *ids: str, key: bool = True) -> None:
        """A failure line; `key` False keeps it out of the root cause even in a root-cause output."""
        for i in ids:
            if i not in line:
                raise AssertionError(f"{i!r} not on {line!r}")
        text = line.strip()
        self.labels.error_lines.append(text)
        self.labels.error_styles.setdefault(text, style)
        self.labels.identifiers.extend(ids)
        if self.root and key:
            self.labels.root_cause.append(text)
        if self.herring:
            self.labels.red_herrings.append(text)
        self.lines.append(line)

    def warn(self, line: str) -> None:
        self.labels.warning_lines.append(line.strip())
        self.lines.append(line)

    def frame(self, line: str, language: str, *, key: bool = False) -> None:
        text = line.strip()
        self.labels.stack_frames.append(text)
        self.labels.frame_styles.setdefault(text, language)
        if self.root and key:
            self.labels.root_cause.append(text)
        self.lines.append(line)
