"""A NOC agent's fault-isolation session: the ticket, the evidence of its root cause early, routine checks,
red herrings late, and labels of everything planted."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import orjson

from tokenops.compaction.noc import herrings, ims, net, platform
from tokenops.compaction.noc.incident import Scenario
from tokenops.compaction.noc.record import Labels, Out
from tokenops.compaction.noc.steps import Step, background
from tokenops.compaction.noc.world import World
from tokenops.tokenize import counter_for

Message = dict[str, Any]

SCENARIOS: dict[str, Callable[[World], Scenario]] = {
    "optic": net.optic,
    "mtu": net.mtu,
    "bgp": net.bgp,
    "diameter": ims.diameter,
    "dns": ims.dns,
    "clock": ims.clock,
    "dbpool": platform.dbpool,
    "oom": platform.oom,
    "kafka": platform.kafka,
}

# The evaluation set: (name, seed, tokens, scenario).
NOC_SET = [
    ("noc-optic-55k", 201, 55_000, "optic"),
    ("noc-dns-70k", 202, 70_000, "dns"),
    ("noc-dbpool-90k", 203, 90_000, "dbpool"),
    ("noc-oom-110k", 204, 110_000, "oom"),
    ("noc-diameter-130k", 205, 130_000, "diameter"),
    ("noc-mtu-160k", 206, 160_000, "mtu"),
    ("noc-bgp-190k", 207, 190_000, "bgp"),
    ("noc-clock-220k", 208, 220_000, "clock"),
    ("noc-kafka-260k", 209, 260_000, "kafka"),
    ("noc-optic-300k", 210, 300_000, "optic"),
    ("noc-dbpool-330k", 211, 330_000, "dbpool"),
    ("noc-dns-365k", 212, 365_000, "dns"),
]

_SYSTEM = """You are the network operations assistant of a mobile operator's NOC (IMS/VoLTE, 5G core, IP transport,
charging).
You work tickets end to end: isolate the fault, name the root cause with the evidence, propose the fix.

Tools:
- router_cli(device, command): read-only CLI on routers and switches (IOS-XR, Junos, VRP, NX-OS).
- ssh_exec(host, command): shell on Linux hosts and SBCs, as the noc user (sudo only with approval).
- kubectl(args): the production clusters; read-only verbs unless the duty manager approves.
- log_search(source, query, since): the central log store.
- promql(query): Prometheus; nms_alarms(filter): the NMS alarm list; sip_trace(filter, format): Homer SIP captures.
- read_file(host, path): configuration and log files.

Rules:
1. Quote evidence exactly: log lines, counters, Call-IDs, IMSIs, interface names, alarm IDs.
2. Separate symptoms from causes; a failure that starts after the incident is not its cause.
3. No change on production without an approved change ticket; say what you would change and the risk.
4. Time is CST (UTC+8) unless a tool says otherwise.
"""
_RUNBOOK = [
    "SIP 5xx towards a trunk: check the SBC dispatcher state, then the transport path to the trunk (interfaces, BFD, "
    "IGP).",
    "Registration failures: check the CSCF logs, Diameter/SBI peers towards HSS/UDM, DNS and time sync.",
    "Pod restarts: look at the last state and exit code, kernel OOM messages, then the application log before the "
    "restart.",
    "Charging timeouts: check the ingress, the CHF logs, then the database and its locks.",
    "CDR gaps: check producers, brokers and their disks; never delete segments by hand.",
]
_THOUGHTS = [
    "Checking {what} next.",
    "Let me look at {what}.",
    "{what} could explain part of this; pulling it now.",
    "Before going further I want to see {what}.",
    "Ruling out {what}.",
    "Pulling {what} to correlate with the ticket's time window.",
    "",
]
_WHAT = {
    "router_cli": "the router's view",
    "ssh_exec": "the host itself",
    "kubectl": "the cluster state",
    "log_search": "the logs around the failure",
    "promql": "the metrics",
    "nms_alarms": "the NMS alarms",
    "sip_trace": "the SIP captures",
    "read_file": "the configuration",
}
_NUDGES = [
    "Any progress? The account manager of the enterprise customer is asking for an ETA.",
    "FYI the night shift also saw some alarms elsewhere, not sure if related. Carry on.",
    "Keep going, but nothing gets restarted in production without asking me first.",
    "Can you also check whether this affects roaming subscribers?",
    "The duty manager wants a short status in 15 minutes.",
]
_NOTES = [
    "Status so far: the symptoms line up with the ticket's time window. I have a candidate cause from the first "
    "checks and "
    "I am now ruling out the alternatives one by one, so that the write-up names one cause with its evidence and not "
    "a list "
    "of everything that looked odd. Several components show ordinary background failures that are older than the "
    "incident "
    "or unrelated to the affected path; I am noting them but not treating them as causes.",
    "Interim summary for the duty manager: customer impact is confirmed and still ongoing at a low rate. The evidence "
    "gathered early points at one component; the checks since then have not contradicted it. Next I will look at the "
    "neighbouring systems for anything that started at the same time, then propose a fix and a rollback.",
    "Noting for the record: the alarms and log lines I am seeing now are from other parts of the network. They will "
    "go in "
    "the ticket as observations, with their own follow-ups, not as part of this incident's root cause.",
]


def _exit_line(tool: str, style: int, rc: int) -> str:
    if tool == "kubectl":
        return f"command terminated with exit code {rc}"
    return [
        f"exit status {rc}",
        f"[process exited with code {rc}]",
        f"Command exited with non-zero status {rc}",
        f"(rc={rc})",
    ][style]


def _output(step: Step, labels: Labels, herring: bool, exit_style: int, w: World) -> tuple[str, bool]:
    out = Out(labels, herring=herring)
    if step.tool == "router_cli":
        prompt = "RP/0/RP0/CPU0:" if "xr" in step.args["device"] else ""
        out.add(
            f"{prompt}{step.args['device']}#{step.args['command']}",
            f"{w.clock.t:%a %b} {w.clock.t.day:>2} {w.clock.t:%H:%M:%S}.{w.clock.t.microsecond // 1000:03d} CST",
        )
    rc = step.write(out)
    if step.tool == "log_search":
        out.lines.insert(
            0, f"{len(out.lines)} lines matched in {step.args['source']} (query: {step.args['query']}, last 2h)"
        )
    if rc:
        labels.failing_commands.append(step.command)
        out.error(_exit_line(step.tool, exit_style, rc), "exit-status")
    return out.text(), out.has_root


def _call(step: Step, r: random.Random) -> dict[str, Any]:
    return {
        "id": f"call_{r.getrandbits(96):024x}",
        "type": "function",
        "function": {"name": step.tool, "arguments": orjson.dumps(step.args).decode()},
    }


def generate(name: str, seed: int, target_tokens: int, scenario: str) -> tuple[list[Message], Labels]:
    """A session of about `target_tokens` (cl100k) and the labels of what it planted."""
    r = random.Random(seed)
    w = World.build(r)
    labels = Labels(name, seed, scenario)
    incident = SCENARIOS[scenario](w)
    late = herrings.pick(w, r.randint(3, 5))
    evidence_at = sorted(r.uniform(0.01, 0.22) for _ in incident.evidence)
    herring_at = sorted(r.uniform(0.6, 0.93) for _ in late)
    exit_style = r.randrange(4)
    count = counter_for("cl100k").count
    system = _SYSTEM + "\nRunbook:\n" + "\n".join(f"- {x}" for x in _RUNBOOK)
    messages: list[Message] = [{"role": "system", "content": system}, {"role": "user", "content": incident.ticket}]
    tokens = sum(count(m["content"]) + 4 for m in messages)
    evidence, reds = list(incident.evidence), list(late)
    turn = 0
    while tokens < target_tokens or evidence or reds:
        turn += 1
        share = tokens / target_tokens
        batch: list[tuple[Step, bool]]
        if evidence and (share >= evidence_at[len(incident.evidence) - len(evidence)] or share > 0.25):
            batch = [(evidence.pop(0), False)]
        elif reds and (share >= herring_at[len(late) - len(reds)] or share > 0.95):
            batch = [(reds.pop(0), True)]
        elif not evidence and r.random() < 0.2:
            batch = [(incident.symptom(), False)]
        else:
            batch = [(background(w), False) for _ in range(1 if r.random() < 0.75 else r.randint(2, 3))]
        calls = [_call(step, r) for step, _ in batch]
        thought = r.choice(_THOUGHTS).format(what=_WHAT[batch[0][0].tool])
        thought = thought[:1].upper() + thought[1:]
        new: list[Message] = [{"role": "assistant", "content": thought or None, "tool_calls": calls}]
        for (step, herring), call in zip(batch, calls, strict=True):
            text, root = _output(step, labels, herring, exit_style, w)
            content: Any = text if r.random() < 0.9 else [{"type": "text", "text": text}]
            new.append({"role": "tool", "tool_call_id": call["id"], "content": content})
            index = len(messages) + len(new) - 1
            if root:
                labels.root_cause_turn = index
            if herring and not labels.red_herring_turn:
                labels.red_herring_turn = index
        if turn % 17 == 0:
            new.append({"role": "user", "content": r.choice(_NUDGES)})
        elif turn % 11 == 0:
            new.append({"role": "assistant", "content": r.choice(_NOTES)})
        w.clock.jump(r.randint(0, 3))
        messages += new
        tokens += sum(_tokens(m, count) for m in new)
    messages.append(
        {
            "role": "user",
            "content": "Write the root-cause analysis now: the cause, the evidence (quote it), the impact, the fix.",
        }
    )
    labels.tokens = tokens + count(messages[-1]["content"]) + 4
    return messages, labels


def _tokens(m: Message, count: Callable[[str], int]) -> int:
    content = m.get("content")
    text = content if isinstance(content, str) else "".join(p["text"] for p in content or [])
    calls = sum(count(c["function"]["arguments"]) + 3 for c in m.get("tool_calls") or [])
    return count(text) + 4 + calls
