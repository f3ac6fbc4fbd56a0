"""What the generator planted: every labelled line is recorded as it is written, never found afterwards."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass
class Labels:
    """The labels file of a session; the field names are those `compaction.evaluate` reads."""

    session: str
    seed: int
    kind: str  # the scenario
    generator: str = "noc"
    tokens: int = 0
    error_lines: list[str] = field(default_factory=list)
    warning_lines: list[str] = field(default_factory=list)
    stack_frames: list[str] = field(default_factory=list)
    identifiers: list[str] = field(default_factory=list)  # the IDs written on error lines
    frame_references: list[str] = field(default_factory=list)  # file:line of application frames
    failing_commands: list[str] = field(default_factory=list)
    root_cause: list[str] = field(default_factory=list)  # the lines that together show the root cause
    red_herrings: list[str] = field(default_factory=list)  # error lines of unrelated faults, placed late
    error_styles: dict[str, str] = field(default_factory=dict)  # error line -> the format it is written in
    frame_styles: dict[str, str] = field(default_factory=dict)  # stack frame -> language
    root_cause_turn: int = 0  # the last message that carries root-cause evidence
    red_herring_turn: int = 0  # the first message that carries a red herring


class Out:
    """One tool output being written: its lines, with each planted item recorded in the labels."""

    def __init__(self, labels: Labels, *, herring: bool = False) -> None:
        self.labels = labels
        self.lines: list[str] = []
        self.herring = herring  # every error line of this output belongs to an unrelated fault
        self.has_root = False
        self.failed = False

    def add(self, *lines: str) -> None:
        self.lines.extend(lines)

    def extend(self, lines: Iterable[str]) -> None:
        self.lines.extend(lines)

    def error(self, line: str, style: str, ids: Iterable[str] = (), *, root: bool = False) -> None:
        """A line that reports a failure; `ids` are the identifiers written on it."""
        key = line.strip()
        found = [i for i in ids if i]
        missing = [i for i in found if i not in line]
        if missing:
            raise AssertionError(f"identifiers {missing} are not on the line {line!r}")
        self.labels.error_lines.append(key)
        self.labels.error_styles.setdefault(key, style)
        self.labels.identifiers.extend(found)
        if root:
            self.labels.root_cause.append(key)
            self.has_root = True
        elif self.herring:
            self.labels.red_herrings.append(key)
        self.lines.append(line)

    def warning(self, line: str, style: str) -> None:
        self.labels.warning_lines.append(line.strip())
        self.lines.append(line)

    def frame(self, line: str, language: str, reference: str = "", *, root: bool = False) -> None:
        """A stack frame; `reference` is the file:line of an application frame."""
        key = line.strip()
        self.labels.stack_frames.append(key)
        self.labels.frame_styles.setdefault(key, language)
        if reference:
            if reference not in line:
                raise AssertionError(f"{reference!r} is not on the frame {line!r}")
            self.labels.frame_references.append(reference)
        if root:
            self.labels.root_cause.append(key)
            self.has_root = True
        self.lines.append(line)

    def text(self) -> str:
        return "\n".join(self.lines)
