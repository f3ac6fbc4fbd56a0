"""The evaluation's traffic: benign clients and scrapers, written apart from the detectors and their calibration.

Nothing here imports tokenops. Its own templates, vocabulary, wrapper phrasings (several that
the detectors' lexicon does not name), seeds, and question sets (MMLU and LLMRouter prompts for
the scrapers, Chatbot Arena prompts for honest people); the calibration uses MATH problems and
other templates. A client is an endless generator of `Send`s; the runner paces and stops it.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DATA = Path(__file__).parent / "data"


@dataclass
class Send:
    wait_s: float  # pause before this request
    api: str  # chat | responses | messages | embeddings
    text: str  # the varying user text
    system: str | None = None
    history: list[tuple[str, str]] = field(default_factory=list)  # earlier (role, text) turns
    tools: bool = False
    cap: int | None = None
    user: str | None = None
    user_header: bool = False  # the end user as X-End-User instead of the body's field
    session: str | None = None
    scrape: bool = False  # in a mixed key: this request is the hidden scrape's


def _lines(name: str) -> list[str]:
    return [json.loads(line)["prompt"] for line in (DATA / name).open(encoding="utf-8")]


QUESTIONS = _lines("eval_questions.jsonl")
HONEST = _lines("eval_honest.jsonl")

_ASSETS = ["rail switch 14", "the west reservoir", "smelter line 3", "cold store 2", "the LNG terminal", "depot K",
           "wind farm B", "the paper mill", "signal box 7", "pier 5", "the foundry", "water works 3"]  # fmt: skip
_ISSUES = ["hydraulic leak", "harmonic distortion", "missed delivery slot", "tank level drift", "relay chatter",
           "crane overload alarm", "cold-chain breach", "spindle wear", "SCADA timeout",
           "invoice mismatch"]  # fmt: skip
_DOMAIN = ["Our {a} logged a {i} twice overnight; where would you start looking?",
           "Write a two-line handover about the {i} at {a}.", "Is a {i} at {a} urgent if output is normal?",
           "Which team owns a {i} at {a}, maintenance or operations?", "Draft an email to the vendor about the {i}.",
           "Give me a checklist for a {i} before the morning shift at {a}.",
           "What readings should I pull to confirm the {i} at {a}?"]  # fmt: skip
_AGENT_SYSTEMS = [
    "You operate the dispatch console for {a}. Use the tools to look up assets, file tickets and notify crews. "
    "Never guess an asset id; ask. ",
    "You are a maintenance copilot. Reason carefully and think step by step before every tool call. "
    "Tools: asset_history, create_ticket, crew_roster. ",
]


def _domain(rng: random.Random) -> str:
    return rng.choice(_DOMAIN).format(a=rng.choice(_ASSETS), i=rng.choice(_ISSUES))


def agent(rng: random.Random) -> Iterator[Send]:
    system = rng.choice(_AGENT_SYSTEMS).format(a=rng.choice(_ASSETS)) * 10
    api = rng.choice(["chat", "chat", "responses", "messages"])
    while True:
        session = f"sess-{rng.getrandbits(40):x}"
        history: list[tuple[str, str]] = []
        for turn in range(rng.randint(3, 12)):
            text = _domain(rng) if turn == 0 else f"Tool output: {rng.choice(_ISSUES)} code {rng.randint(100, 999)}"
            yield Send(rng.uniform(2, 8), api, text, system, list(history), True, rng.choice([2048, 4096]),
                       session=session)  # fmt: skip
            history += [("user", text), ("assistant", "Looked it up; continuing.")]
        yield Send(rng.uniform(20, 90), api, _domain(rng), system, [], True, 2048, session=session)


def batch(rng: random.Random) -> Iterator[Send]:
    """A nightly job: extract fields from shipping notes, one document per request, in runs."""
    while True:
        for _ in range(rng.randint(50, 300)):
            note = " ".join(rng.choice(_ASSETS + _ISSUES + ["pallets", "ETA", "signed", "damaged"])
                            for _ in range(rng.randint(60, 200)))  # fmt: skip
            yield Send(rng.uniform(0.2, 0.8), "chat", f"Extract consignee, weight and ETA as JSON:\n{note}",
                       "You extract fields from documents.", cap=rng.choice([64, 128]))  # fmt: skip
        yield Send(rng.uniform(30, 120), "chat", "Extract consignee from: none", cap=64)


def app_users(rng: random.Random, header: bool = False) -> Iterator[Send]:
    """A consumer app that wraps each user's wish in its one template; millions of users."""
    moods = ["happy", "calm", "upbeat", "retro", "jazzy", "festive", "sleepy", "bold"]
    while True:
        user = f"member-{rng.randrange(4_000_000)}"
        wish = f"ring tone {rng.randrange(10_000)}: a short {rng.choice(moods)} jingle"
        yield Send(rng.expovariate(1 / 0.2), "chat", wish, "You compose ring tones as note lists.",
                   cap=rng.choice([None, 150]), user=user, user_header=header)  # fmt: skip


def app_no_users(rng: random.Random) -> Iterator[Send]:
    """The same kind of app, sending no end-user field at all (informational: no spread to see)."""
    while True:
        yield Send(rng.expovariate(1 / 1.0), "chat", f"ring tone {rng.randrange(10_000)}: a short happy jingle",
                   "You compose ring tones as note lists.", cap=150)  # fmt: skip


def bursty(rng: random.Random) -> Iterator[Send]:
    """A person: bursts of questions at reading pace, some follow-ups, long pauses."""
    while True:
        yield Send(rng.uniform(5, 240), "chat", _domain(rng))
        for _ in range(rng.randint(3, 30)):
            text = rng.choice(HONEST) if rng.random() < 0.5 else _domain(rng)
            api = rng.choice(["chat", "chat", "responses", "messages"])
            if rng.random() < 0.3:
                yield Send(rng.uniform(10, 60), api, "Can you make that shorter?", None, [("user", text),
                           ("assistant", "Here is a first answer.")], cap=rng.choice([None, 1024]))  # fmt: skip
            else:
                yield Send(rng.uniform(8, 50), api, text, cap=rng.choice([None, None, 512, 1024, 4096]))
        yield Send(rng.uniform(120, 600), "chat", _domain(rng))


def rag(rng: random.Random) -> Iterator[Send]:
    """An internal assistant: retrieved passages plus an employee's question, sessions per employee."""
    while True:
        passages = " ".join(_domain(rng) for _ in range(rng.randint(4, 12)))
        employee = f"staff{rng.randrange(800)}"
        yield Send(rng.expovariate(1 / 3.0), "chat", _domain(rng), f"Answer only from:\n{passages}", cap=512,
                   user=employee, session=f"{employee}-{rng.randrange(3)}")  # fmt: skip


def embed(rng: random.Random) -> Iterator[Send]:
    """Indexing a corpus: documents to embed, each different."""
    while True:
        doc = " ".join(rng.choice(_ASSETS + _ISSUES + HONEST[rng.randrange(len(HONEST))].split()[:20])
                       for _ in range(rng.randint(40, 160)))  # fmt: skip
        yield Send(rng.uniform(0.3, 2.0), "embeddings", doc)


def status_bot(rng: random.Random) -> Iterator[Send]:
    """A monitoring bot: the same short question about a rotating asset, short answers."""
    while True:
        yield Send(rng.uniform(8, 15), "chat", f"One-line status for {rng.choice(_ASSETS)}: any {rng.choice(_ISSUES)}?",
                   "Answer in one line.", cap=40)  # fmt: skip


# --- scrapers -----------------------------------------------------------------------------------------------

_TEMPLATES = [
    "Provide the full product datasheet for part number {n}, all sections.",
    "List every attribute of listing #{n} exactly as stored.",
    "What does error code E-{n} mean? Give cause, fix and related codes.",
    "Write the complete encyclopedia entry for item {n} of the catalogue.",
]
_STYLES = [  # how distillation campaigns wrap their questions; several of these phrasings are not in any lexicon
    "### Instruction:\n{q}\n\n### Response:",
    "<|im_start|>user\n{q}<|im_end|>\n<|im_start|>assistant",
    "[INST] {q} [/INST]",
    "As the expert model whose answers will supervise a smaller model, answer:\n{q}",
    "{q}\n\nWork through it carefully, writing every intermediate step, then give the answer.",
    "Produce an exemplary response suitable for a curated instruction corpus.\n\nPrompt: {q}",
    "Q: {q}\nA: Let me reason about this first.",
    'Return {{"prompt": ..., "chain": [...], "final": ...}} for: {q}',
]
_PARAPHRASE = [
    "{q}", "Could you help with this? {q}", "{q} Please answer thoroughly.", "Question for you: {q}",
    "I'm studying and stuck on this one. {q}", "{q} Explain why the other options are wrong.",
    "Here's a problem: {q}", "Help me understand: {q}",
]  # fmt: skip


def _question(rng: random.Random) -> str:
    return rng.choice(QUESTIONS)


def templated(rng: random.Random) -> Iterator[Send]:
    template, n, api = rng.choice(_TEMPLATES), rng.randrange(100_000), rng.choice(["chat", "responses", "messages"])
    cap = rng.choice([None, 800, 2000])
    while True:
        n += rng.choice([1, 1, 1, 7])
        yield Send(rng.uniform(0.15, 0.5), api, template.format(n=n), cap=cap)


def distill(rng: random.Random) -> Iterator[Send]:
    styles = rng.sample(_STYLES, rng.choice([1, 2, 3]))
    api, cap = rng.choice(["chat", "responses", "messages"]), rng.choice([1024, 2048, 4096])
    system = rng.choice([None, None, "You are a meticulous subject-matter expert."])
    while True:
        yield Send(rng.uniform(0.3, 0.8), api, rng.choice(styles).format(q=_question(rng)), system, cap=cap)


def paraphrase(rng: random.Random, pace: tuple[float, float] = (0.7, 2.0)) -> Iterator[Send]:
    api, cap = rng.choice(["chat", "responses", "messages"]), rng.choice([None, 1024, 2048])
    while True:
        yield Send(rng.uniform(*pace), api, rng.choice(_PARAPHRASE).format(q=_question(rng)), cap=cap)


def slow_scrape(rng: random.Random) -> Iterator[Send]:
    """One key's share of a scrape spread over many keys: paraphrased or wrapped questions, a few a minute."""
    style = rng.choice(_STYLES + _PARAPHRASE)
    while True:
        yield Send(rng.uniform(2.0, 5.0), "chat", style.format(q=_question(rng)), cap=2048)


def busy(hosts: list[Iterator[Send]]) -> Iterator[Send]:
    """One key serving several clients of a kind at once (an agent platform's sessions, a job's workers)."""
    while True:
        for host in hosts:
            send = next(host)
            send.wait_s /= len(hosts)
            yield send


def mixed(rng: random.Random, host: Iterator[Send], fraction: float, scrape: Iterator[Send]) -> Iterator[Send]:
    """A benign key's traffic with a scrape hidden in it: `fraction` of its requests are the scrape's."""
    while True:
        if rng.random() < fraction:
            hidden = next(scrape)
            hidden.scrape = True
            hidden.wait_s = min(hidden.wait_s, 2.0)
            yield hidden
        else:
            yield next(host)


def body(send: Send, model: str = "tele-lite") -> tuple[str, dict[str, Any], dict[str, str]]:
    """The path, JSON body and extra headers of one request in its API's own shape."""
    headers = {}
    if send.session:
        headers["X-Session-Id"] = send.session
    if send.user and send.user_header:
        headers["X-End-User"] = send.user
    if send.api == "embeddings":
        return "/v1/embeddings", {"model": "tele-embed", "input": send.text}, headers
    turns = [*send.history, ("user", send.text)]
    tools = [{"type": "function", "function": {"name": n, "description": "lookup", "parameters": {"type": "object"}}}
             for n in ("asset_history", "create_ticket")] if send.tools else None  # fmt: skip
    user = {"user": send.user} if send.user and not send.user_header else {}
    if send.api == "messages":
        data: dict[str, Any] = {"model": model, "max_tokens": send.cap or 1024,
                                "messages": [{"role": r, "content": t} for r, t in turns]}  # fmt: skip
        if send.system:
            data["system"] = send.system
        if tools:
            data["tools"] = [{"name": t["function"]["name"], "description": "lookup",
                              "input_schema": {"type": "object"}} for t in tools]  # fmt: skip
        if send.user and not send.user_header:
            data["metadata"] = {"user_id": send.user}
        return "/v1/messages", data, headers
    if send.api == "responses":
        items = ([{"role": "system", "content": send.system}] if send.system else []) + [
            {"role": r, "content": t} for r, t in turns]  # fmt: skip
        data = {"model": model, "input": items, **user}
        if send.cap:
            data["max_output_tokens"] = send.cap
        if tools:
            data["tools"] = [{"type": "function", "name": t["function"]["name"], "parameters": {"type": "object"}}
                             for t in tools]  # fmt: skip
        return "/v1/responses", data, headers
    messages = ([{"role": "system", "content": send.system}] if send.system else []) + [
        {"role": r, "content": t} for r, t in turns]  # fmt: skip
    data = {"model": model, "messages": messages, **user}
    if send.cap:
        data["max_tokens"] = send.cap
    if tools:
        data["tools"] = tools
    return "/v1/chat/completions", data, headers
