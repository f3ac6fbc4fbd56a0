"""Recorded traffic to replay: JSONL request lines, usage records, and the output tokens each will cost.

A line carries the tenant, the time and the request body (as `tokenops demo traffic --record`
writes them); usage records serve the parts that need no content. A line's output tokens come
from the usage record that matches it, else the tenant's and model's average, else its cap.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from tokenops.catalog import Catalog
from tokenops.errors import ConfigError
from tokenops.routing import kinds
from tokenops.routing.features import prompt_of_chat
from tokenops.store import UsageRecord
from tokenops.tokenize import content_text, count_messages, counter_for

MATCH_WINDOW_MS = 5_000  # a usage record is created within moments of the line being recorded
DEFAULT_CAP = 4096
LIMIT_STATUSES = (402, 429)  # refusals by limits, balances and budgets: kept as recorded


@dataclass(slots=True)
class Request:
    tenant: str
    at_ms: int
    model: str
    kind: str  # chat | embedding
    body: dict[str, Any] | None  # None: replayed from a usage record, content unknown
    session_id: str | None = None
    end_user: str | None = None
    request_id: str | None = None
    input_tokens: int | None = None  # known only for content-less requests
    cached_tokens: int = 0
    output_tokens: int = 0
    output_source: str = "cap"  # recorded | average | cap | none (embeddings, refusals)
    recorded_score: float | None = None
    recorded_refusal: str | None = None  # a limit's refusal (429/402), which no routing policy changes
    _prompt: dict[str, int] = field(default_factory=dict, repr=False)
    _score: list[float | None] = field(default_factory=list, repr=False)

    def prompt_tokens(self, tokenizer: str) -> int:
        """Input tokens as the serving model's tokenizer counts them (the recorded count without content)."""
        if self.body is None:
            return self.input_tokens or 0
        if tokenizer not in self._prompt:
            counter = counter_for(tokenizer)
            if self.kind == "embedding":
                inputs = self.body.get("input")
                texts = inputs if isinstance(inputs, list) else [inputs]
                self._prompt[tokenizer] = sum(counter.count(content_text(t)) for t in texts)
            else:
                messages = self.body.get("messages") or []
                self._prompt[tokenizer] = count_messages(counter, messages, self.body.get("tools"))
        return self._prompt[tokenizer]

    def score(self, scorer: Any) -> float | None:
        """The complexity router's score, computed once (the recorded one for content-less requests)."""
        if not self._score:
            if self.body is not None and self.kind == "chat":
                self._score.append(float(scorer.score(self.body)))
            else:
                self._score.append(self.recorded_score)
        return self._score[0]

    @property
    def prompt_kind(self) -> str | None:
        """The kind of prompt (routing.kinds) of a chat request with content; None without content."""
        if self.body is None or self.kind != "chat":
            return None
        return kinds.of_chat(self.body, prompt_of_chat(self.body).text)

    @property
    def cap(self) -> int | None:
        if self.body is None:
            return None
        value = self.body.get("max_completion_tokens") or self.body.get("max_tokens")
        return int(value) if isinstance(value, int) and value > 0 else None


def _kind(api: str) -> str:
    return "embedding" if api.startswith("embedding") else "chat"


def load_jsonl(path: str | Path) -> list[Request]:
    requests = []
    try:
        lines = Path(path).read_bytes().splitlines()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read traffic ({exc.strerror})") from None
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            doc = orjson.loads(line)
            body = doc["body"]
            at = doc["time_ms"] if "time_ms" in doc else round(float(doc["time"]) * 1000)
            requests.append(
                Request(
                    tenant=str(doc["tenant"]),
                    at_ms=int(at),
                    model=str(body["model"]),
                    kind=_kind(str(doc.get("api", "chat.completions"))),
                    body=body,
                    session_id=doc.get("session_id"),
                    end_user=body.get("user") if isinstance(body.get("user"), str) else None,
                    request_id=doc.get("request_id"),
                )
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"{path}:{n}: not a recorded request ({exc})") from None
    return sorted(requests, key=lambda r: r.at_ms)


def from_records(records: Iterable[UsageRecord]) -> list[Request]:
    """Content-less requests: what the usage records say each request cost, and its routing score."""
    return [
        Request(
            tenant=r.tenant_id,
            at_ms=r.created_ms,
            model=r.model_requested,
            kind=_kind(r.api),
            body=None,
            session_id=r.session_id,
            end_user=r.end_user,
            request_id=r.request_id,
            input_tokens=r.input_tokens,
            cached_tokens=r.cached_tokens,
            output_tokens=r.output_tokens,
            output_source="recorded",
            recorded_score=r.routing_score,
            recorded_refusal=(r.error_code or str(r.status)) if r.status in LIMIT_STATUSES else None,
        )
        for r in sorted(records, key=lambda r: r.created_ms)
    ]


def _averages(records: list[UsageRecord]) -> dict[tuple[str | None, str], int]:
    sums: dict[tuple[str | None, str], list[int]] = defaultdict(lambda: [0, 0])
    for r in records:
        if r.status == 200 and r.output_tokens > 0:
            for key in ((r.tenant_id, r.model_requested), (None, r.model_requested)):
                sums[key][0] += r.output_tokens
                sums[key][1] += 1
    return {k: round(total / n) for k, (total, n) in sums.items()}


class _Pool:
    """Usage records of one tenant, model, session and end user, in time order, each matched once."""

    def __init__(self) -> None:
        self.times: list[int] = []
        self.records: list[UsageRecord] = []

    def add(self, record: UsageRecord) -> None:
        i = bisect.bisect(self.times, record.created_ms)
        self.times.insert(i, record.created_ms)
        self.records.insert(i, record)

    def take(self, at_ms: int) -> UsageRecord | None:
        """The record nearest in time within the window, taken out of the pool."""
        lo = bisect.bisect_left(self.times, at_ms - MATCH_WINDOW_MS)
        hi = bisect.bisect_right(self.times, at_ms + MATCH_WINDOW_MS)
        best = None
        for i in range(lo, hi):
            r = self.records[i]
            if best is None or abs(r.created_ms - at_ms) < abs(self.records[best].created_ms - at_ms):
                best = i
            elif r.created_ms > at_ms:
                break
        if best is None:
            return None
        del self.times[best]
        return self.records.pop(best)


def _take(pool: _Pool | None, at_ms: int, used: set[str]) -> UsageRecord | None:
    while pool is not None and (record := pool.take(at_ms)) is not None:
        if record.request_id not in used:
            return record
    return None


def attach_usage(requests: list[Request], records: list[UsageRecord], catalog: Catalog) -> None:
    """Give each content-carrying request its output tokens: recorded, else average, else its cap."""
    by_id = {r.request_id: r for r in records} | {r.correlation_id: r for r in records if r.correlation_id}
    pools: dict[tuple[Any, ...], _Pool] = defaultdict(_Pool)
    sized: dict[tuple[Any, ...], _Pool] = defaultdict(_Pool)
    for r in records:
        key = (r.tenant_id, r.model_requested, r.session_id, r.end_user)
        pools[key].add(r)
        sized[(*key, r.input_tokens)].add(r)
    used: set[str] = set()
    averages = _averages(records)
    for req in requests:
        if req.body is None:
            continue
        if req.kind == "embedding":
            req.output_tokens, req.output_source = 0, "none"
            continue
        match = by_id.get(req.request_id or "")
        if match is None:
            model = catalog.resolve_model(req.model)
            counted = req.prompt_tokens(model.tokenizer) if model else 0
            key = (req.tenant, req.model, req.session_id, req.end_user)
            match = _take(sized.get((*key, counted)), req.at_ms, used) or _take(pools.get(key), req.at_ms, used)
        if match is not None and match.status == 200:
            used.add(match.request_id)
            req.output_tokens, req.cached_tokens = match.output_tokens, match.cached_tokens
            req.output_source = "recorded"
            continue
        if match is not None:
            used.add(match.request_id)
            if match.status in LIMIT_STATUSES:
                req.recorded_refusal = match.error_code or str(match.status)
                req.output_source = "none"
                continue
        average = averages.get((req.tenant, req.model), averages.get((None, req.model)))
        if average is not None:
            req.output_tokens, req.output_source = average, "average"
        else:
            model = catalog.resolve_model(req.model)
            req.output_tokens = req.cap or (model.max_output_tokens if model else DEFAULT_CAP)
            req.output_source = "cap"
