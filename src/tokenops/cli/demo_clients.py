"""The clients of `tokenops demo traffic`, each showing one part of the platform on the demo catalog.

- acme's maintenance agents: sessions whose context grows by a pasted log each turn, past
  tele-lite's 32k window, so the gateway compacts them (keeping every error line);
- acme's analyst: `auto` requests, plain questions to the cheap model, reasoning checks to the big one;
- the energy bureau's batch sessions: its dedicated industry model in cn-north, each session under a
  4,000-token budget that alerts at 80% and 100%;
- the consumer app: a trickle of short questions and an evening burst, a few heavy users past their
  per-user limit (a rate limit doing its job);
- a scraper on the app's leaked partner key, distilling a training set: reference questions wrapped
  in an instruction-tuning template, long answers asked for, back to back with no end user named, so
  no per-user limit sees it; caught and throttled by the extraction detectors;
- Nova Tutor on a trial balance: long prompts that spend it in seconds, then a top-up through the admin API.
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

from tokenops.cli.demo_run import Run

AGENT_ASKS = [
    "Line 3 stopped with error E-4411 (spindle overload). Here is the MES log of the last shift:",
    "The PLC bridge keeps timing out. Here is its log; find what fails first:",
    "Vibration alarms on spindle 7 again. Here is the condition-monitoring log:",
    "The night shift restarted line 3 twice. Here is the controller log:",
    "Compare with the morning's log below and tell me what changed:",
    "Here is the maintenance system's export for the same hours:",
    "One more log, from the quality station. What do all of them have in common?",
    "Write the work order for line 3, keeping every alarm id and the failing command.",
]
LOG_SOURCES = ["plc-bridge", "mes-gateway", "spindle-7", "conveyor-2", "qc-station", "robot-cell-4"]
SIMPLE = ["What is the torque unit in the spindle report?", "Translate 'line stopped' into German.",
          "Is feeder 7 stable?", "List the shifts of this week.",
          "Summarise the shift report in one line."]  # fmt: skip
REASONING = [
    "Statement 1 | Every relay setting group is a subgroup of the substation's protection scheme. Statement 2 | "
    "If the feeder load doubles during the night shift, the transformer overheats. "
    "(A) True, True (B) False, False (C) True, False (D) False, True",
    "Statement 1 | If the protection relay trips when the feeder current exceeds its setting, the breaker opens. "
    "Statement 2 | If the breaker recloses within 0.3 s, the fault was transient. "
    "A. True, True B. False, False C. True, False D. False, True",
]
GOV_TASKS = ["Classify this fault record", "Extract the outage window and affected districts",
             "Score the transformer's risk", "Summarise for the duty officer", "Which relay acted first?"]  # fmt: skip
GOV_FACTS = ["breaker {n} tripped at {h}:{m:02d}", "relay code {code} picked up", "feeder load {load} MW",
             "oil temperature {temp} C", "{district} district reported flicker", "crew {crew} dispatched",
             "recloser locked out after {tries} tries", "SCADA lost telemetry for {m} s",
             "ground fault on phase {phase}", "{district} substation on backup supply"]  # fmt: skip
DISTRICTS = ["Lixia", "Shizhong", "Huaiyin", "Tianqiao", "Licheng", "Changqing", "Zhangqiu", "Jiyang"]
CONSUMER = ["What's a fun ringback tone for my mum?", "Write a two-line birthday greeting.",
            "Suggest a song for rainy days.", "Translate 'see you soon' into Cantonese.",
            "Give me a joke about phones."]  # fmt: skip
CHAPTER = ("Photosynthesis turns light into chemical energy in the chloroplasts; the light reactions split water "
           "and make ATP and NADPH, and the Calvin cycle fixes carbon dioxide into sugars. ")  # fmt: skip


def pasted_log(rng: random.Random, lines: int = 220) -> str:
    """A shift's log as an agent pastes it: mostly routine lines, a few warnings and errors with their ids."""
    out = []
    for i in range(lines):
        source = rng.choice(LOG_SOURCES)
        stamp = f"2026-11-03T{8 + i // 60:02d}:{i % 60:02d}:{rng.randint(0, 59):02d}Z"
        roll = rng.random()
        if roll < 0.03:
            out.append(f"{stamp} ERROR {source} E-{rng.randint(4000, 4999)} overload on axis {rng.randint(1, 6)} "
                       f"trace={rng.getrandbits(32):08x}")  # fmt: skip
        elif roll < 0.08:
            out.append(f"{stamp} WARN {source} temperature {rng.randint(60, 95)} C above soft limit")
        else:
            out.append(f"{stamp} INFO {source} cycle={rng.randint(1000, 99999)} latency_ms={rng.randint(3, 40)} ok")
    return "\n".join(out)


def gov_record(rng: random.Random, n: int) -> str:
    """One of the bureau's dispatch records with its task: each record tells its own events."""
    facts = rng.sample(GOV_FACTS, rng.randint(2, 4))
    values = {"n": n, "h": rng.randint(0, 23), "m": rng.randint(0, 59), "code": rng.choice(["51N", "67", "87T", "21"]),
              "load": rng.randint(5, 240), "temp": rng.randint(40, 110), "district": rng.choice(DISTRICTS),
              "crew": rng.randint(1, 40), "tries": rng.randint(2, 4), "phase": rng.choice("ABC")}  # fmt: skip
    return f"{rng.choice(GOV_TASKS)}: " + "; ".join(f.format(**values) for f in facts) + "."


async def agent(run: Run, n: int) -> None:
    """A maintenance agent: each turn pastes a log (about 5,000 tokens), so the session outgrows tele-lite's
    window; the work order at the end, and now and then a hard turn, go to tele-max."""
    rng = random.Random(n)
    await run.pause(rng.uniform(0, 2))
    while not run.over:
        session = f"acme-agent-{n}-{int(time.time() * 1000)}"
        messages: list[dict[str, str]] = [{"role": "system", "content": "You are the plant's maintenance agent."}]
        for ask in AGENT_ASKS:
            if run.over:
                return
            last = ask == AGENT_ASKS[-1]
            messages.append({"role": "user", "content": ask if last else f"{ask}\n{pasted_log(rng)}"})
            model = "tele-max" if last or rng.random() < 0.1 else "tele-lite"  # the hard turns on the big model
            body = {"model": model, "messages": list(messages), "max_tokens": 256, "stream": rng.random() < 0.5}
            answer = await run.send("acme-agent", "acme", body, {"X-Session-Id": session})
            messages.append({"role": "assistant", "content": answer.text or "(streamed answer)"})
            await run.pause(rng.uniform(0.5, 1.5))


async def analyst(run: Run) -> None:
    """acme's analyst asks `auto`: the complexity router sends each question to tele-lite or tele-max."""
    rng = random.Random(3)
    while not run.over:
        text = rng.choice(REASONING) if rng.random() < 0.3 else rng.choice(SIMPLE)
        body = {"model": "auto", "messages": [{"role": "user", "content": text}], "max_tokens": 128}
        await run.send("acme-analyst", "acme", body)
        await run.pause(rng.uniform(0.3, 0.9))


async def gov_batches(run: Run) -> None:
    """The bureau's batch sessions: bursts on its dedicated models, each session under its token budget."""
    rng = random.Random(7)
    n = 0
    while not run.over:
        session = f"gov-batch-{int(time.time() * 1000)}"
        for _ in range(12):  # a batch session: twelve rounds of jobs, then the next batch
            if run.over:
                return
            size = 12 if 0.1 < run.t < 0.3 or 0.7 < run.t < 0.8 else 4
            jobs = []
            for _ in range(size):
                n += 1
                text = gov_record(rng, n)
                body = {"model": "grid-fault-expert", "messages": [{"role": "user", "content": text}],
                        "max_tokens": 128}  # fmt: skip
                jobs.append(run.send("gov-batch", "gov", body, {"X-Session-Id": session}))
            await asyncio.gather(*jobs)
            await run.pause(0.5)


async def consumers(run: Run) -> None:
    """The consumer app: a trickle all day, a burst in the evening (the middle of the run)."""
    rng = random.Random(11)
    pending: set[asyncio.Task[Any]] = set()
    while not run.over:
        burst = 0.45 < run.t < 0.65
        user = f"u-{rng.randint(1, 40 if burst else 400):04d}"  # few heavy users in the burst hit their limit
        body = {"model": "lite", "messages": [{"role": "user", "content": rng.choice(CONSUMER)}], "max_tokens": 64,
                "user": user}  # fmt: skip
        task = asyncio.create_task(run.send("consumer", "consumer", body))
        pending.add(task)
        task.add_done_callback(pending.discard)
        await asyncio.sleep(rng.expovariate(40.0 if burst else 4.0))
    await asyncio.gather(*pending)


DISTILLED = ["how a ringback tone is played to the caller", "what a SIP 180 Ringing carries",
             "why a call drops after 30 seconds", "how a prepaid balance is charged per minute",
             "what a network operations centre watches at night", "how a feeder breaker trips",
             "what an IMSI identifies", "how roaming charges are settled between carriers",
             "why a base station loses its clock", "how a voicemail greeting is stored"]  # fmt: skip


async def scraper(run: Run) -> None:
    """A scraper on a leaked partner key distilling a training set: each reference question in an instruction-
    tuning wrapper, a long answer asked for, back to back."""
    while run.t < 0.35 and not run.over:
        await asyncio.sleep(0.2)
    n = 0
    while run.t < 0.9 and not run.over:
        batch = []
        for _ in range(2):
            n += 1
            topic = DISTILLED[n % len(DISTILLED)]
            text = (f"### Instruction:\nExplain {topic}, variant {n}, step by step, as a teacher model writing a "
                    "reference answer for a training set.\n\n### Response:\n")  # fmt: skip
            body = {"model": "lite", "messages": [{"role": "user", "content": text}], "max_tokens": 1024}
            batch.append(run.send("scraper", "partner", body))
        if any(answer.status == 429 for answer in await asyncio.gather(*batch)):
            await run.pause(0.5)  # throttled: it waits a little and tries again, as scrapers do


async def tutor(run: Run) -> None:
    """Nova Tutor: chapter-long prompts on a trial balance; refused with 402, it tops up and goes on."""
    rng = random.Random(5)
    while not run.over:
        chapter = CHAPTER * rng.randint(40, 60)  # about 1,500 to 2,200 tokens
        ask = {"role": "user", "content": f"Write five quiz questions on this chapter:\n{chapter}"}
        body = {"model": "lite", "max_tokens": 200, "messages": [ask]}
        answer = await run.send("tutor", "tutor", body)
        if answer.status == 402:
            await run.top_up("tutor", "0.05")
        await run.pause(rng.uniform(0.1, 0.4))
