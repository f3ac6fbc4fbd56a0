"""One run of `tokenops demo traffic`: its clock (a day compressed into --duration seconds), the requests its
clients send through the gateway, and what the gateway's answers showed (compactions, routing, regions,
refusals by code, top-ups), tallied for the summary at the end."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import IO, Any
from urllib.parse import quote

import aiohttp
import orjson

KEYS = {"acme": "sk-demo-acme", "gov": "sk-demo-gov", "consumer": "sk-demo-consumer", "partner": "sk-demo-partner",
        "tutor": "sk-demo-tutor"}  # fmt: skip
TENANTS = {"acme": "acme-manufacturing", "gov": "cn-gov-energy", "consumer": "ringback-app",
           "partner": "ringback-app", "tutor": "nova-tutor"}  # fmt: skip
DAY_S = 60.0  # the pauses of the clients are written for a day compressed into a minute


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    text: str = ""


@dataclass
class Run:
    url: str
    duration: float
    record: IO[bytes] | None
    admin_token: str
    started: float = field(default_factory=time.monotonic)
    results: Counter[tuple[str, int]] = field(default_factory=Counter)
    notes: Counter[tuple[str, str]] = field(default_factory=Counter)
    session: aiohttp.ClientSession | None = None
    _topups: int = 0

    @property
    def t(self) -> float:
        """How far through the compressed day we are, 0 to 1."""
        return min(1.0, (time.monotonic() - self.started) / self.duration)

    @property
    def over(self) -> bool:
        return self.t >= 1.0

    async def pause(self, seconds: float) -> None:
        """A client's pause, written for a one-minute day, at this run's pace."""
        await asyncio.sleep(seconds * self.duration / DAY_S)

    async def send(self, who: str, key: str, body: dict[str, Any], headers: dict[str, str] | None = None) -> Answer:
        if self.record is not None:
            line = {"tenant": TENANTS[key], "client": who, "time": round(time.time(), 3), "api": "chat.completions",
                    "session_id": (headers or {}).get("X-Session-Id"), "body": body}  # fmt: skip
            self.record.write(orjson.dumps(line) + b"\n")
        assert self.session is not None
        hdrs = {"Authorization": f"Bearer {KEYS[key]}", **(headers or {})}
        try:
            async with self.session.post(self.url + "/v1/chat/completions", json=body, headers=hdrs) as resp:
                data = await resp.read()
                self.results[(who, resp.status)] += 1
                self._note(who, resp, data)
                if resp.status != 200 or body.get("stream"):
                    return Answer(resp.status)
                reply: dict[str, Any] = orjson.loads(data)
                return Answer(200, str(reply["choices"][0]["message"].get("content") or ""))
        except (aiohttp.ClientError, TimeoutError) as exc:
            self.results[(who, 0)] += 1
            self.notes[(who, f"no answer: {type(exc).__name__}")] += 1
            return Answer(0)

    def _note(self, who: str, resp: aiohttp.ClientResponse, data: bytes) -> None:
        """What this answer shows: a compaction, the model and region that served, or the refusal's code."""
        if resp.status != 200:
            try:
                error = orjson.loads(data).get("error") or {}
            except orjson.JSONDecodeError:
                error = {}
            self.notes[(who, f"{resp.status} {error.get('code') or error.get('type') or 'error'}")] += 1
            return
        if resp.headers.get("x-tokenops-compaction") == "applied":
            self.notes[(who, "compacted to fit the window")] += 1
        served = f"served by {resp.headers.get('x-tokenops-model')} in {resp.headers.get('x-tokenops-region')}"
        self.notes[(who, served)] += 1

    async def top_up(self, who: str, amount: str) -> None:
        """Credit `who`'s tenant through the admin API, once per key, as its billing system would."""
        assert self.session is not None
        self._topups += 1
        key = f"demo-{int(time.time() * 1000)}-{self._topups}"
        url = f"{self.url}/admin/accounts/{quote(TENANTS[who], safe='')}/topups"
        headers = {"Authorization": f"Bearer {self.admin_token}", "Idempotency-Key": key}
        try:
            async with self.session.post(url, json={"amount": amount}, headers=headers) as resp:
                await resp.read()
                self.notes[(who, "topped up" if resp.status in (200, 201) else f"top-up refused ({resp.status})")] += 1
        except (aiohttp.ClientError, TimeoutError):
            self.notes[(who, "top-up failed: no answer")] += 1
