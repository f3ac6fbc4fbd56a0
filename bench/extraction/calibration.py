"""Calibration traffic: what the detectors' benign profiles and thresholds are taken from, and the scrapers they
were tuned against.

Kept apart from the evaluation (`traffic.py`): its own templates, vocabulary, wrapper phrasings,
question set (MATH problems) and seeds. Every client yields (seconds to wait, chat body, end
user, session) forever; the caller decides how many requests to take.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

Step = tuple[float, dict[str, Any], str | None, str | None]
DATA = Path(__file__).parent / "data"

_PLACES = ["pump station 4", "the north substation", "line 2 press", "kiln B", "warehouse 9", "feeder 31",
           "the cooling loop", "compressor C7", "the paint shop", "dock 3", "turbine hall",
           "the boiler room"]  # fmt: skip
_THINGS = ["vibration alarm", "pressure drop", "overcurrent trip", "late shipment", "scrap rate", "firmware update",
           "oil temperature", "power factor", "conveyor jam", "bearing noise", "meter reading",
           "shift handover"]  # fmt: skip
_ASKS = ["What could explain the {t} at {p}?", "How should we handle the {t} reported at {p}?",
         "Draft a short note to the crew about the {t} at {p}.", "Is the {t} at {p} something to escalate?",
         "Compare last week's {t} at {p} with this week's.", "List checks for a {t} at {p}.",
         "Why would {p} show a {t} after maintenance?", "Give me a one-line status for the {t} at {p}."]  # fmt: skip
_AGENT_SYSTEM = (
    "You are the plant operations agent. You can read sensor history, open work orders and page the on-call "
    "engineer through the tools provided. Always confirm identifiers before acting. "
) * 12
_TOOLS = [{"type": "function", "function": {"name": n, "parameters": {"type": "object", "properties": {}}}}
          for n in ("read_sensor", "open_work_order", "page_on_call")]  # fmt: skip
_NAMES = ["Ana", "Bo", "Chen", "Dara", "Eli", "Femi", "Gus", "Hana", "Ivo", "Jia", "Kai", "Lena", "Milo", "Nia"]
_HOBBIES = ["chess", "gardening", "cycling", "jazz", "baking", "hiking", "painting", "football"]
_WRAPS = [
    "### Instruction:\n{q}\n\n### Response:",
    "You are a teacher model producing reference answers for a student model.\n\nQuestion: {q}",
    "{q}\n\nLet's think step by step and give the final answer: at the end.",
    "Write a high-quality demonstration answer.\nInstruction: {q}\nResponse:",
    'Answer as JSON with the fields "question", "reasoning", "answer".\n{q}',
]


def _questions() -> list[str]:
    return [json.loads(line)["prompt"] for line in (DATA / "calibration_questions.jsonl").open()]


_VERBS = [
    "restart",
    "inspect",
    "replace",
    "calibrate",
    "audit",
    "schedule",
    "isolate",
    "rebalance",
    "document",
    "report",
    "trend",
    "forecast",
    "compare",
    "tune",
    "clean",
    "upgrade",
    "retire",
    "test",
    "label",
    "price",
]
_OBJECTS = ["the spare parts list", "our night shift rota", "the SCADA export", "supplier invoices", "the weld robot",
            "transformer oil samples", "the quality dashboard", "forklift batteries", "the customer complaint log",
            "heat pump settings", "the safety checklist", "energy tariffs for Q3", "the incident timeline",
            "vendor contracts", "the IoT gateway", "the load curve", "PLC firmware", "pallet stock"]  # fmt: skip
_OPENERS = ["how do I", "what is the best way to", "is it safe to", "when should we", "can you help me",
            "what happens if we", "who usually needs to", "why would anyone", "which tool helps to"]  # fmt: skip


def _ask(rng: random.Random) -> str:
    """A question of someone at work: domain words, but seldom twice the same shape."""
    if rng.random() < 0.4:
        return rng.choice(_ASKS).format(t=rng.choice(_THINGS), p=rng.choice(_PLACES))
    tail = rng.choice(["", f" at {rng.choice(_PLACES)}", f" after the {rng.choice(_THINGS)}", " this week"])
    return f"{rng.choice(_OPENERS)} {rng.choice(_VERBS)} {rng.choice(_OBJECTS)}{tail}?".capitalize()


def agent(rng: random.Random) -> Iterator[Step]:
    while True:
        session = f"s{rng.getrandbits(32):x}"
        messages: list[dict[str, Any]] = [{"role": "system", "content": _AGENT_SYSTEM}]
        for _ in range(rng.randint(2, 9)):
            messages.append({"role": "user", "content": _ask(rng) if len(messages) < 3 else
                             f"Tool result: {rng.choice(_THINGS)} = {rng.randint(1, 999)}; continue."})  # fmt: skip
            body = {"messages": list(messages), "tools": _TOOLS, "max_tokens": rng.choice([1024, 2048, 4096])}
            yield rng.expovariate(1 / 4.0), body, None, session
            messages.append({"role": "assistant", "content": "Checked; next step follows."})
        yield rng.uniform(10, 40), {"messages": [{"role": "user", "content": _ask(rng)}]}, None, session


def batch(rng: random.Random) -> Iterator[Step]:
    while True:
        ticket = " ".join(rng.choice(_THINGS + _PLACES) for _ in range(rng.randint(20, 120)))
        body = {"messages": [{"role": "system", "content": "Label each maintenance ticket: mechanical, electrical, "
                              "logistics or other. Answer with the label only."},
                             {"role": "user", "content": f"Ticket #{rng.randint(10000, 99999)}: {ticket}"}],
                "max_tokens": 8}  # fmt: skip
        yield rng.uniform(0.1, 0.4), body, None, None


def summaries(rng: random.Random) -> Iterator[Step]:
    while True:
        report = ". ".join(_ask(rng) for _ in range(rng.randint(8, 30)))
        body = {
            "messages": [{"role": "user", "content": f"Summarise this shift report in 3 bullets:\n{report}"}],
            "max_tokens": 200,
        }
        yield rng.uniform(0.5, 2.0), body, None, None


def app(rng: random.Random) -> Iterator[Step]:
    users = [f"u{i}" for i in range(3000)]
    while True:
        user = users[
            min(int(rng.paretovariate(0.8)) - 1, len(users) - 1) if rng.random() < 0.2 else rng.randrange(3000)
        ]
        text = f"Write a birthday greeting for {rng.choice(_NAMES)} who loves {rng.choice(_HOBBIES)}."
        body = {"messages": [{"role": "system", "content": "You write warm, short greetings."},
                             {"role": "user", "content": text}], "max_tokens": 120}  # fmt: skip
        yield rng.expovariate(1 / 0.3), body, user, None


def person(rng: random.Random) -> Iterator[Step]:
    while True:
        history: list[dict[str, Any]] = []
        for _ in range(rng.choice([1, 1, 2, 3])):
            history.append({"role": "user", "content": _ask(rng)})
            cap = rng.choice([None, None, 800])
            body: dict[str, Any] = {"messages": list(history)}
            if cap:
                body["max_tokens"] = cap
            yield rng.expovariate(1 / 6.0), body, None, None
            history.append({"role": "assistant", "content": "Here is what I found."})
        yield rng.uniform(30, 240), {"messages": [{"role": "user", "content": _ask(rng)}]}, None, None


def asker(rng: random.Random) -> Iterator[Step]:
    """Someone who asks the API one-off questions at a human pace, in bursts."""
    while True:
        for _ in range(rng.randint(3, 25)):
            body: dict[str, Any] = {"messages": [{"role": "user", "content": _ask(rng)}]}
            if rng.random() < 0.3:
                body["max_tokens"] = rng.choice([256, 512, 1024, 2000])
            yield rng.uniform(8, 40), body, None, None
        yield rng.uniform(120, 900), {"messages": [{"role": "user", "content": _ask(rng)}]}, None, None


def rag(rng: random.Random) -> Iterator[Step]:
    while True:
        context = " ".join(_ask(rng) for _ in range(rng.randint(3, 10)))
        body = {"messages": [{"role": "system", "content": f"Answer from these documents only:\n{context}"},
                             {"role": "user", "content": _ask(rng)}], "max_tokens": 400}  # fmt: skip
        yield rng.expovariate(1 / 2.0), body, f"emp{rng.randrange(400)}", f"r{rng.randrange(50)}"


def enumerator(rng: random.Random) -> Iterator[Step]:
    start = rng.randrange(10000)
    for i in range(10**9):
        yield 0.25, {"messages": [{"role": "user", "content": f"Describe product SKU-{start + i} in full detail "
                                   "with all of its specifications."}], "max_tokens": 1024}, None, None  # fmt: skip


def distiller(rng: random.Random) -> Iterator[Step]:
    questions = _questions()
    wrap = rng.choice(_WRAPS)
    while True:
        yield 0.5, {"messages": [{"role": "user", "content": wrap.format(q=rng.choice(questions))}],
                    "max_tokens": 2048}, None, None  # fmt: skip


def harvester(rng: random.Random) -> Iterator[Step]:
    questions = _questions()
    while True:
        yield rng.uniform(0.5, 3.0), {"messages": [{"role": "user", "content": rng.choice(questions)}],
                                      "max_tokens": 1500}, None, None  # fmt: skip


BENIGN: dict[str, Callable[[random.Random], Iterator[Step]]] = {
    "agent": agent, "batch": batch, "summaries": summaries, "app": app, "person": person, "asker": asker,
    "rag": rag,
}  # fmt: skip
SCRAPERS: dict[str, Callable[[random.Random], Iterator[Step]]] = {
    "enumerator": enumerator, "distiller": distiller, "harvester": harvester,
}  # fmt: skip
