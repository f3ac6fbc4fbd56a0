"""The alerts service: `emit` stores an alert once per key and queues it for each webhook that wants it; a
delivery loop posts each webhook's alerts in order, signed, retrying with exponential backoff.

A webhook's alerts go out strictly in order: while the oldest is not delivered, the ones after it
wait, so a receiver that was down gets every alert afterwards, in order. An alert still undelivered
after `give_up_ms` is marked failed (replayable); the next one is tried. One replica at a time
delivers to a webhook (a lease), so a receiver is not sent the same alert by two replicas at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Callable
from typing import Any

import aiohttp
import orjson

from tokenops.alerts.config import AlertRules, hook_doc, hook_of, parse_rules, parse_section, rules_doc
from tokenops.alerts.model import Alert, Webhook, signed_headers
from tokenops.alerts.store import AlertStore
from tokenops.errors import BadRequest, ConfigError
from tokenops.security.admin_config import check_upstream
from tokenops.store.admin import AdminStore

log = logging.getLogger("tokenops.alerts")
HOOK_KIND = "alert_webhook"  # admin documents: one per webhook
SETTINGS = ("alerts", "settings")  # the allowlist and the low-balance rules
DAY_MS = 86_400_000


def check_url(url: str, allowlist: tuple[str, ...]) -> None:
    """A webhook URL must name a host the operator allowed, as upstream URLs must (no requests into the LAN)."""
    try:
        check_upstream(url, allowlist)
    except BadRequest as exc:
        if exc.code == "upstream_not_allowed":
            raise BadRequest("the webhook's host is not on the operator's alerts allowlist", param="url",
                             code="webhook_not_allowed") from None  # fmt: skip
        raise BadRequest("'url' must be an http(s) URL with a host and no credentials", param="url") from None


class Alerts:
    def __init__(self, store: AlertStore, admin: AdminStore | None, now_ms: Callable[[], int]) -> None:
        self.store = store
        self.admin = admin
        self.now_ms = now_ms
        self.webhooks: dict[str, Webhook] = {}
        self.allowlist: tuple[str, ...] = ()
        self.rules = AlertRules()
        self.owner = secrets.token_hex(8)
        self.backoff_ms = 500  # first retry; doubled each time up to `max_backoff_ms`
        self.max_backoff_ms = 60_000
        self.give_up_ms = DAY_MS
        self.tick_s = 0.2
        self.lease_ms = 10_000
        self.timeout_s = 5.0
        self.retain_ms = 90 * DAY_MS  # alerts delivered (or given up) are kept this long, with their delivery log
        self._next_prune = 0
        self.idle_ms = 2_000  # a webhook with nothing due is looked at again this often (alerts of other replicas)
        self._session: aiohttp.ClientSession | None = None
        self._task: asyncio.Task[None] | None = None
        self._next: dict[str, int] = {}  # webhook -> when to look at it next
        self._held: dict[str, int] = {}  # webhook -> until when this replica holds its lease

    async def seed(self, raw: dict[str, Any] | None) -> None:
        """Seed the catalog's webhooks, allowlist and rules into the store (never overwriting admin changes)."""
        if self.admin is None or raw is None or raw.get("alerts") is None:
            return
        allow, hooks, rules = checked_section(raw.get("alerts"))
        docs = {(HOOK_KIND, h.id): hook_doc(h) for h in hooks}
        docs[SETTINGS] = {"allowlist": list(allow), "low_balance": rules_doc(rules)}
        await self.admin.seed_admin([], docs)

    async def reload(self) -> None:
        if self.admin is None:
            return
        settings = await self.admin.get_doc(*SETTINGS) or {}
        try:
            self.rules = parse_rules(settings.get("low_balance"), "alerts.low_balance")
        except ConfigError as exc:
            log.error("stored low-balance rules are invalid, keeping the previous ones: %s", exc)
        self.allowlist = tuple(settings.get("allowlist") or ())
        self.webhooks = {i: hook_of(d) for i, d in (await self.admin.docs(HOOK_KIND)).items()}

    async def emit(self, kind: str, tenant: str | None, payload: dict[str, Any], key: str) -> bool:
        """Raise an alert once: `key` names the crossing (the same key again changes nothing). True if new."""
        hooks = [h.id for h in self.webhooks.values() if h.wants(kind, tenant)]
        alert = Alert(0, key, kind, tenant, self.now_ms(), payload)
        stored = await self.store.emit(alert, hooks)
        for hook in hooks:
            self._next[hook] = 0  # due now
        if stored is not None:
            log.warning("alert %s %s for %s: %s", stored.seq, kind, tenant or "the operator", payload)
        return stored is not None

    def due_now(self, hook_id: str) -> None:
        """Look at this webhook at the next tick (its deliveries were queued again)."""
        self._next[hook_id] = 0

    def start(self) -> None:
        """Deliver from now on, over a client of the alerts' own (webhooks are not upstreams)."""
        self._session = aiohttp.ClientSession(skip_auto_headers=("User-Agent",))
        self._task = asyncio.create_task(self._loop())

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.tick_s)
            if self.now_ms() >= self._next_prune:
                self._next_prune = self.now_ms() + 3_600_000
                with contextlib.suppress(Exception):  # the store is away: next hour
                    await self.store.prune(self.now_ms() - self.retain_ms)
            for hook in list(self.webhooks.values()):
                if not hook.active or self._next.get(hook.id, 0) > self.now_ms():
                    continue
                try:
                    if await self._leased(hook.id):
                        await self.deliver(hook)
                    else:
                        self._next[hook.id] = self.now_ms() + self.lease_ms // 2
                except asyncio.CancelledError:
                    raise
                except Exception:
                    self._next[hook.id] = self.now_ms() + self.idle_ms
                    log.exception("delivering alerts to webhook %s failed", hook.id)

    async def _leased(self, hook_id: str) -> bool:
        """Hold the webhook's lease (renewed when half of it is gone); False while another replica holds it."""
        now, key = self.now_ms(), f"lease:webhook:{hook_id}"
        if self._held.get(hook_id, 0) - now > self.lease_ms // 2:
            return True
        until = now + self.lease_ms
        held = await self.store.mark(key, self.owner, self.owner, until, now) or await self.store.mark(
            key, None, self.owner, until, now
        )
        self._held[hook_id] = until if held else 0
        return held

    async def deliver(self, hook: Webhook, limit: int = 50) -> int:
        """Post the webhook's due alerts in order until one fails; how many were delivered."""
        delivered = 0
        due = await self.store.due(hook.id, limit)
        self._next[hook.id] = self.now_ms() + (0 if len(due) == limit else self.idle_ms)
        for alert, attempts, next_ms in due:
            now = self.now_ms()
            if next_ms > now:
                self._next[hook.id] = min(next_ms, now + self.idle_ms)
                break
            if now - alert.at_ms > self.give_up_ms:
                await self.store.result(hook.id, alert.seq, "failed", None, "gave up: too old", now, now)
                continue
            code, error = await self._post(hook, alert, attempts + 1)
            now = self.now_ms()
            if error is None:
                await self.store.result(hook.id, alert.seq, "delivered", code, None, now, now)
                delivered += 1
                continue
            wait = min(self.backoff_ms * 2**attempts, self.max_backoff_ms)
            await self.store.result(hook.id, alert.seq, "pending", code, error[:500], now + wait, now)
            self._next[hook.id] = now + wait
            break  # the ones after it wait: a receiver gets its alerts in order
        return delivered

    async def _post(self, hook: Webhook, alert: Alert, attempt: int) -> tuple[int | None, str | None]:
        try:
            check_url(hook.url, self.allowlist)  # the allowlist may have changed since the webhook was made
        except BadRequest as exc:
            return None, exc.message
        body = orjson.dumps(alert.doc())
        headers = signed_headers(hook.secret, alert.seq, attempt, body, self.now_ms() // 1000)
        assert self._session is not None
        try:
            timeout = aiohttp.ClientTimeout(total=self.timeout_s)
            async with self._session.post(hook.url, data=body, headers=headers, timeout=timeout,
                                          allow_redirects=False) as reply:  # fmt: skip
                await reply.read()
                if 200 <= reply.status < 300:
                    return reply.status, None
                return reply.status, f"receiver answered {reply.status}"
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            return None, f"{type(exc).__name__}: {exc}"

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._session is not None:
            await self._session.close()


def checked_section(data: Any) -> tuple[tuple[str, ...], list[Webhook], AlertRules]:
    """The catalog's `alerts` section, parsed, with every webhook's URL held to its allowlist."""
    allow, hooks, rules = parse_section(data)
    for hook in hooks:
        try:
            check_url(hook.url, allow)
        except BadRequest as exc:
            raise ConfigError(f"catalog.alerts.webhooks[{hook.id}].url: {exc.message}") from None
    return allow, hooks, rules
