// The dashboard: signs in with an admin token, then polls the JSON views and redraws.
"use strict";

const COLORS = ["#1f5fbf", "#c62828", "#2e7d32", "#b26a00", "#6a1b9a", "#00838f", "#5d4037", "#ad1457"];
const VELOCITY_EVERY_MS = 2000;
const OVERVIEW_EVERY_MS = 4000;
const state = { token: sessionStorage.getItem("tokenops.admin") || "", tenant: "", charts: {}, timers: [], currency: "CNY", digits: 2 };
window.tokenops = state;  // read by the browser tests

const $ = (id) => document.getElementById(id);
const num = (v, d = 0) => (v === null || v === undefined ? "–" : Number(v).toLocaleString("en-US", { maximumFractionDigits: d, minimumFractionDigits: d }));
// amounts arrive in accounting units (millionths of the currency unit); shown half up to the minor unit
const toMinor = (units) => Math.sign(units) * Math.round(Math.abs(units) / 10 ** (6 - state.digits));
const money = (units) => (units === null || units === undefined ? "–" : num(toMinor(units) / 10 ** state.digits, state.digits));
const pct = (v) => (v === null || v === undefined ? "–" : num(v * 100, 1) + " %");
const ms = (v) => (v === null || v === undefined ? "–" : num(v, 0) + " ms");
const time = (at) => new Date(at).toISOString().replace("T", " ").slice(0, 19) + " UTC";
const clock = (at) => new Date(at).toISOString().slice(11, 19) + " UTC";
// time-axis labels: 24-hour local time, spaced so that no two labels touch
const axisTime = (u, splits) => splits.map((s) => new Date(s * 1000).toLocaleTimeString("en-GB", { hour12: false }));
const days = (v) => (v === null || v === undefined ? "–" : v > 3650 ? "> 10 years" : num(v, 1) + " days");

async function api(view, params = {}) {
  const query = new URLSearchParams(params);
  if (state.tenant) query.set("tenant", state.tenant);
  const resp = await fetch(`/dashboard/api/${view}?${query}`, { headers: { authorization: `Bearer ${state.token}` } });
  if (resp.status === 401) { signOut("Your session ended: sign in again."); throw new Error("signed out"); }
  if (!resp.ok) throw new Error(`${view}: HTTP ${resp.status}`);
  return resp.json();
}

function bar(fraction) {
  const outer = document.createElement("span");
  outer.className = "bar" + (fraction >= 0.85 ? " hot" : "");
  const inner = document.createElement("span");
  inner.style.width = Math.min(100, Math.round(fraction * 100)) + "%";
  outer.appendChild(inner);
  const wrap = document.createElement("span");
  wrap.append(outer, pct(fraction));
  return wrap;
}

const tables = {};
function buildTables() {
  tables.tenants = new DataTable($("table-tenants"), [
    { key: "tenant", label: "tenant" }, { key: "kind", label: "kind · sector", fmt: (v, r) => `${v} · ${r.sector}` },
    { key: "requests", label: "requests", num: true, fmt: (v) => num(v) },
    { key: "error_rate", label: "5xx rate", num: true, fmt: pct, cls: (v) => (v > 0.05 ? "bad" : "") },
    { key: "refused", label: "refused (402/403/429)", num: true, fmt: (v) => num(v) },
    { key: "input_tokens", label: "tokens in", num: true, fmt: (v) => num(v) },
    { key: "output_tokens", label: "tokens out", num: true, fmt: (v) => num(v) },
    { key: "spend_today", label: "spend today", num: true, fmt: money },
    { key: "spend_month", label: "spend this month", num: true, fmt: money },
    { key: "margin", label: "margin since start", num: true, fmt: money, cls: (v) => (v < 0 ? "bad" : "") },
    { key: "balance", label: "balance", num: true, fmt: money, cls: (v, r) => (r.balance_runs_out_days !== null && r.balance_runs_out_days < 1 ? "bad" : "") },
    { key: "balance_runs_out_days", label: "balance runs out in", num: true, fmt: days, cls: (v) => (v !== null && v < 7 ? "warn" : "") },
    { key: "last_topup_ms", label: "last top-up", fmt: (v, r) => (v ? `${money(r.last_topup)} at ${clock(v)}${r.topups_today > 1 ? ` (${r.topups_today} today)` : ""}` : "–") },
    { key: "package_tokens", label: "package tokens left", num: true, fmt: (v) => num(v) },
    { key: "package_runs_out_days", label: "package runs out in", num: true, fmt: days, cls: (v) => (v !== null && v < 7 ? "warn" : "") },
    { key: "reserved", label: "reserved (open)", num: true, fmt: (v, r) => `${money(v)} (${num(r.open_reservations)})` },
  ], { sortKey: "requests" });
  tables.compaction = new DataTable($("table-compaction"), [
    { key: "tenant", label: "tenant" }, { key: "requests", label: "requests compacted", num: true, fmt: (v) => num(v) },
    { key: "tokens_before", label: "tokens before", num: true, fmt: (v) => num(v) },
    { key: "tokens_after", label: "tokens after", num: true, fmt: (v) => num(v) },
    { key: "kept", label: "kept", num: true, fmt: pct }, { key: "last_ms", label: "last", fmt: time },
    { key: "last_transcript", label: "last transcript", fmt: (v) => (v === "not-stored" ? "not stored (policy)" : v) },
  ], { sortKey: "requests" });
  tables.deployments = new DataTable($("table-deployments"), [
    { key: "deployment", label: "deployment" }, { key: "model", label: "model" }, { key: "region", label: "region" },
    { key: "pool", label: "pool" }, { key: "requests", label: "requests", num: true, fmt: (v) => num(v) },
    { key: "error_rate", label: "5xx rate", num: true, fmt: pct, cls: (v) => (v > 0.05 ? "bad" : "") },
    { key: "p50_latency_ms", label: "p50 latency", num: true, fmt: ms }, { key: "p99_latency_ms", label: "p99 latency", num: true, fmt: ms },
    { key: "p50_ttft_ms", label: "p50 TTFT", num: true, fmt: ms }, { key: "p99_ttft_ms", label: "p99 TTFT", num: true, fmt: ms },
    { key: "in_flight", label: "in flight", num: true }, { key: "capacity", label: "capacity", num: true, fmt: (v) => (v === 0 ? "unbounded" : num(v)) },
    { key: "utilization", label: "peak utilization (60 s)", fmt: (v) => (v === null || v === undefined ? "–" : bar(v)) },
    { key: "circuit", label: "circuit", cls: (v) => (v === "open" ? "bad" : v === "half_open" ? "warn" : "ok") },
  ], { sortKey: "requests" });
  tables.routing = new DataTable($("table-routing"), [
    { key: "requested", label: "model asked for" }, { key: "served", label: "model served" },
    { key: "tier", label: "price tier", cls: (v) => (v === "expensive" ? "warn" : "") },
    { key: "requests", label: "requests", num: true, fmt: (v) => num(v) }, { key: "share", label: "share", num: true, fmt: pct },
  ], { sortKey: "requests" });
  tables.residency = new DataTable($("table-residency"), [
    { key: "tenant", label: "tenant" }, { key: "region", label: "region" },
    { key: "requests", label: "requests", num: true, fmt: (v) => num(v) },
    { key: "allowed", label: "allowed regions", fmt: (v) => (v || []).join(", ") },
    { key: "violation", label: "status", fmt: (v) => (v ? "VIOLATION" : "in residency") },
  ], { sortKey: "requests", rowClass: (r) => (r.violation ? "violation" : "") });
  tables.budgets = new DataTable($("table-budgets"), [
    { key: "budget", label: "budget" }, { key: "tenant", label: "tenant" }, { key: "subject", label: "subject" },
    { key: "period", label: "period" }, { key: "mode", label: "mode" },
    { key: "spent", label: "spent", num: true, fmt: (v, r) => (r.unit === "money" ? money(v) : num(v) + " tok") },
    { key: "limit", label: "limit", num: true, fmt: (v, r) => (r.unit === "money" ? money(v) : num(v) + " tok") },
    { key: "used", label: "used", num: true, fmt: pct, cls: (v) => (v >= 1 ? "bad" : v >= 0.8 ? "warn" : "") },
  ], { sortKey: "used" });
  tables.alerts = new DataTable($("table-alerts"), [
    { key: "at_ms", label: "when", fmt: time }, { key: "budget_id", label: "budget" }, { key: "subject", label: "subject" },
    { key: "period", label: "period" }, { key: "threshold", label: "crossed", num: true, fmt: (v) => v + " %", cls: (v) => (v >= 100 ? "bad" : "warn") },
  ], { sortKey: "at_ms" });
  tables.sent = new DataTable($("table-sent-alerts"), [
    { key: "at_ms", label: "when", fmt: time }, { key: "kind", label: "alert" }, { key: "tenant", label: "tenant" },
    { key: "threshold", label: "crossed", fmt: (v, r) => (v == null ? (r.available || r.region || r.detector || "") : v + " %") },
  ], { sortKey: "at_ms" });
  tables.security = new DataTable($("table-security"), [
    { key: "at_ms", label: "when", fmt: time }, { key: "tenant", label: "tenant" }, { key: "key", label: "key" },
    { key: "detector", label: "detector" }, { key: "score", label: "score", num: true, fmt: (v) => num(v, 2) },
    { key: "action", label: "action", cls: (v) => (v === "suspend" || v === "throttle" ? "bad" : "") },
    { key: "why", label: "evidence" },
  ], { sortKey: "at_ms" });
}

function chart(id, names, unit, t, columns) {
  const el = $(id);
  const key = names.join("|");
  let c = state.charts[id];
  if (!c || c.key !== key) {
    if (c) c.plot.destroy();
    const opts = {
      width: Math.max(300, el.clientWidth - 8), height: 220,
      scales: { x: { time: true } },
      axes: [{ label: "time (local)", size: 40, space: 90, values: axisTime }, { label: unit, size: 60 }],
      series: [{}, ...names.map((n, i) => ({ label: n, stroke: COLORS[i % COLORS.length], width: 2, value: (u, v) => (v === null ? "–" : num(v, 1)) }))],
      legend: { live: false },
    };
    c = state.charts[id] = { key, plot: new uPlot(opts, [t, ...columns], el), data: null };
  } else {
    c.plot.setData([t, ...columns]);
  }
  c.data = [t, ...columns];
}

async function refreshVelocity() {
  const v = await api("velocity", { window: 120, step: 2 });
  $("kpi-in").textContent = num(v.now.in, 0);
  $("kpi-out").textContent = num(v.now.out, 0);
  $("kpi-req").textContent = num(v.now.requests, 1);
  chart("chart-velocity", ["tokens in", "tokens out"], "tokens/s", v.t, [v.in, v.out]);
  const tn = Object.keys(v.tenants), mn = Object.keys(v.models);
  chart("chart-tenants", tn.length ? tn : ["(no traffic)"], "tokens/s", v.t, tn.length ? tn.map((n) => v.tenants[n]) : [v.in]);
  chart("chart-models", mn.length ? mn : ["(no traffic)"], "tokens/s", v.t, mn.length ? mn.map((n) => v.models[n]) : [v.in]);
  chart("chart-requests", ["requests", "5xx errors"], "requests/s", v.t, [v.requests, v.errors]);
  state.velocity = v;
  $("updated").textContent = "updated " + new Date().toLocaleTimeString();
}

async function refreshOverview() {
  const o = await api("overview");
  state.currency = o.currency;
  state.overview = o;
  const sum = (k) => o.tenants.reduce((a, r) => a + (r[k] || 0), 0);
  const reqs = sum("requests");
  $("kpi-err").textContent = pct(reqs ? sum("errors") / reqs : 0);
  $("kpi-refused").textContent = pct(reqs ? sum("refused") / reqs : 0);
  $("kpi-refused-unit").textContent = num(sum("refused")) + " of " + num(reqs) + " (402/403/429) since start";
  $("kpi-spend").textContent = money(sum("spend_today"));
  $("kpi-currency").textContent = o.currency + ", from the ledger";
  $("kpi-margin").textContent = money(sum("margin"));
  tables.tenants.update(o.tenants);
  tables.deployments.update(o.deployments);
  tables.routing.update(o.routing);
  tables.residency.update(o.residency);
  tables.budgets.update(o.budgets);
  tables.alerts.update(o.budget_alerts);
  tables.sent.update(o.alerts || []);
  tables.security.update(o.security_events);
  tables.compaction.update(o.compaction);
}

function every(fn, period) {
  const run = () => fn().catch((e) => console.warn(e.message));
  run();
  state.timers.push(setInterval(run, period));
}

async function start() {
  const me = await api("me");
  $("login").hidden = true;
  $("app").hidden = false;
  $("who").textContent = me.role === "operator" ? `${me.actor} (operator)` : `${me.actor} (tenant admin of ${me.tenant})`;
  if (me.role === "operator") {
    const select = $("tenant-filter");
    for (const t of me.tenants) { const o = document.createElement("option"); o.value = t; o.textContent = t; select.appendChild(o); }
    select.addEventListener("change", () => { state.tenant = select.value; refreshVelocity(); refreshOverview(); });
    $("tenant-pick").hidden = false;
  }
  buildTables();
  every(refreshVelocity, VELOCITY_EVERY_MS);
  every(refreshOverview, OVERVIEW_EVERY_MS);
}

function signOut(message) {
  sessionStorage.removeItem("tokenops.admin");
  state.token = "";
  state.timers.forEach(clearInterval);
  state.timers = [];
  $("app").hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = message || "";
}

document.addEventListener("DOMContentLoaded", () => {
  $("login-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    state.token = $("token").value.trim();
    try {
      await start();
      sessionStorage.setItem("tokenops.admin", state.token);
      $("token").value = "";
    } catch (e) {
      $("login-error").textContent = "That token was not accepted.";
    }
  });
  $("logout").addEventListener("click", () => signOut());
  if (state.token) start().catch(() => signOut());
});
