"""When the simulated model calls a tool: the judgement of a sensible agent model, made deterministic.

Only the current turn can ask for a tool: what the user said since the model last answered in
text (a system prompt that lists tool names asks for nothing, and neither do the context blocks
agent harnesses append to a turn, such as "Active exec sessions: none"). A turn asks for a tool
by its name with a word that asks for it ("call get_alarm", "open ticket"), by words of its
description, or by asking to use a tool ("look up alarm A-1042 with the tool"). Once tool
results are in, the model answers in text unless the turn named further tools it has not called
yet; it never calls more than `MAX_CALLS_IN_A_ROW` tools in a row.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import Any

import orjson

MAX_CALLS_IN_A_ROW = 3
_WORD = re.compile(r"[a-z0-9][a-z0-9_\-./]*")
# Words that ask for a tool to be used without naming one.
_ASKING = frozenset(
    {"use", "call", "invoke", "tool", "tools", "look", "lookup", "check", "fetch", "search", "find", "query",
     "retrieve", "run", "execute", "get", "read", "open", "list", "show"}
)  # fmt: skip
# Words too common to say which tool is meant.
_STOP = frozenset(
    {"about", "after", "also", "been", "before", "both", "call", "could", "does", "each", "from", "give",
     "have", "into", "just", "like", "make", "more", "most", "much", "only", "other", "over", "please",
     "same", "some", "such", "than", "that", "their", "them", "then", "there", "these", "they", "this",
     "those", "tool", "tools", "used", "using", "very", "want", "what", "when", "where", "which", "while",
     "with", "would", "your", "value", "values", "given", "returns", "return", "optional", "string"}
)  # fmt: skip
# Context an agent harness appends to a turn (status of its sessions, reminders): data, not a request.
_CONTEXT_BLOCK = re.compile(
    r"<<<BEGIN_[A-Z_]*>>>.*?<<<END_[A-Z_]*>>>|<(system-reminder|[a-z_-]*context)>.*?</\1>", re.DOTALL
)
# key=value fields a harness stamps on a turn ("host=vm | shell=bash"): they say where, not what to do.
_METADATA = re.compile(r"[\w.:/-]+=\S*")
_SENTENCE = re.compile(r"[^.!?\n]+(?:[.!?](?=\s|$))?")
_STAMP = re.compile(r"^(\d{4}-\d{2}-\d{2}|\d{1,2}:\d{2}(:\d{2})?)$")  # a date or a time is not an identifier
_PATHS = frozenset({"path", "dir", "directory", "folder", "cwd", "workdir"})
_FREE_TEXT = frozenset({"query", "q", "text", "prompt", "input", "message", "content", "question", "command"})


@dataclass(frozen=True, slots=True)
class _Tool:
    name: str
    parameters: dict[str, Any]
    name_words: frozenset[str]
    description_words: frozenset[str]


def tool_call(messages: list[Any], tools: list[Any], choice: Any, rng: random.Random) -> dict[str, Any] | None:
    """The tool call the model makes next, or None when it answers in text."""
    offered = _offered(tools)
    if not offered or choice == "none" or not messages or not isinstance(messages[-1], dict):
        return None
    if messages[-1].get("role") not in ("user", "tool", "function"):
        return None
    turn, called = _current_turn(messages)
    if len(called) >= MAX_CALLS_IN_A_ROW:
        return None
    chosen = _forced(offered, choice)
    if chosen is None:
        planned = _planned(offered, turn)
        if not called:
            chosen = planned[0] if planned else None
        else:  # tool results are in: go on only with tools the turn named and that were not called yet
            chosen = next((t for t in planned if t.name not in called), None)
        if chosen is None and choice == "required":
            chosen = offered[0]
    if chosen is None:
        return None
    return {
        "id": f"call_{rng.getrandbits(48):012x}",
        "type": "function",
        "function": {"name": chosen.name, "arguments": orjson.dumps(_arguments(chosen.parameters, turn, rng)).decode()},
    }


def _offered(tools: list[Any]) -> list[_Tool]:
    out: list[_Tool] = []
    for tool in tools:
        fn = tool.get("function") if isinstance(tool, dict) and tool.get("type") == "function" else None
        if not isinstance(fn, dict) or not fn.get("name"):
            continue
        name = str(fn["name"])
        params = fn.get("parameters")
        out.append(
            _Tool(
                name=name,
                parameters=params if isinstance(params, dict) else {},
                name_words=frozenset(_significant(re.split(r"[_\-.\s]+", _camel(name)))),
                description_words=frozenset(_significant(_WORD.findall(str(fn.get("description") or "").lower()))),
            )
        )
    return out


def _current_turn(messages: list[Any]) -> tuple[str, list[str]]:
    """What the user said since the model last answered in text, and the tools called since."""
    said: list[str] = []
    called: list[str] = []
    for message in reversed(messages):
        if not isinstance(message, dict):
            continue
        role = message.get("role")
        if role == "user":
            said.append(_METADATA.sub(" ", _CONTEXT_BLOCK.sub(" ", _text(message.get("content")))))
        elif role == "assistant":
            calls = [c for c in message.get("tool_calls") or [] if isinstance(c, dict)]
            if not calls:
                break
            called.extend(str((c.get("function") or {}).get("name", "")) for c in reversed(calls))
    return "\n".join(reversed(said)), list(reversed(called))


def _forced(offered: list[_Tool], choice: Any) -> _Tool | None:
    if not isinstance(choice, dict):
        return None
    name = (choice.get("function") or {}).get("name") or choice.get("name")
    return next((t for t in offered if t.name == name), None)


def _planned(offered: list[_Tool], turn: str) -> list[_Tool]:
    """The tools the turn asks for, named ones in the order it names them, else the best match."""
    lowered = turn.lower()
    words = _WORD.findall(lowered)
    bare = {w.strip("-./") for w in words}
    named: list[tuple[int, _Tool]] = []
    for sentence in _SENTENCE.finditer(lowered):
        text = sentence.group()
        if not {w.strip("-./") for w in _WORD.findall(text)} & _ASKING:
            continue  # a name in a sentence that asks for nothing ("no exec sessions are active")
        for tool in offered:
            at = _mention(text, tool.name.lower())
            if at < 0:
                at = _mention(text, " ".join(re.split(r"[_\-.]+", _camel(tool.name))))
            if at >= 0 and tool not in (t for _, t in named):
                named.append((sentence.start() + at, tool))
    if named:
        return [t for _, t in sorted(named, key=lambda p: p[0])]
    asked = bool(bare & _ASKING)
    content = set(_significant(bare))
    best: tuple[int, bool, _Tool] | None = None
    for tool in offered:
        by_name = bool(content & tool.name_words)
        score = 2 * len(content & tool.name_words) + len(content & tool.description_words)
        if score and (best is None or score > best[0]):
            best = (score, by_name, tool)
    # words of a tool's name and its description are enough; words of its description alone only when asked
    if best is not None and (asked or (best[1] and best[0] >= 2) or best[0] >= 3):
        return [best[2]]
    if asked and re.search(r"\b(the|a|your|any|this) tools?\b", lowered):
        return [offered[0]]
    return []


def _mention(text: str, phrase: str) -> int:
    """Where the phrase occurs in the text as whole words (-1: nowhere)."""
    found = re.search(r"(?<![a-z0-9_])" + re.escape(phrase.lower()) + r"(?![a-z0-9_])", text)
    return found.start() if found else -1


def _camel(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def _significant(words: Any) -> list[str]:
    out = []
    for word in words:
        word = word.strip("-./").lower()
        if len(word) >= 4 and word.isalpha() and word not in _STOP:
            out.append(word[:-1] if word.endswith("s") and len(word) > 4 else word)
    return out


def _text(content: Any) -> str:
    if isinstance(content, list):
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return str(content or "")


def _arguments(schema: dict[str, Any], turn: str, rng: random.Random) -> dict[str, Any]:
    """The arguments a sensible model passes: the required ones (all, when the schema names none required),
    filled from the turn, and optional switches left to their defaults."""
    props = schema.get("properties") or {}
    required = schema.get("required")
    if isinstance(required, list):
        props = {name: spec for name, spec in props.items() if name in required}
    tokens = [w.strip(".,?!:;\"'()[]") for w in turn.split()]
    tokens = [w for w in tokens if w and not _STAMP.match(w)]
    ident = next((w for w in tokens if any(c.isdigit() for c in w) or "/" in w), None)
    plain = [w for w in tokens if w.lower() not in _STOP | _ASKING and w.isalpha() and len(w) >= 3]
    word = ident or (plain[-1] if plain else "value")
    args: dict[str, Any] = {}
    for name, spec in props.items():
        spec = spec if isinstance(spec, dict) else {}
        kind = spec.get("type")
        if str(name).lower() in _PATHS and kind in (None, "string"):
            args[name] = next((w for w in tokens if "/" in w), ".")  # the working folder unless one is named
        elif spec.get("enum"):
            args[name] = spec["enum"][0]
        elif kind == "integer":
            args[name] = rng.randint(1, 100)
        elif kind == "number":
            args[name] = rng.randint(1, 1000) / 10
        elif kind == "boolean":
            args[name] = True
        elif kind == "array":
            args[name] = [word]
        elif kind == "object":
            args[name] = {}
        elif str(name).lower() in _FREE_TEXT:
            quoted = re.search(r"`([^`]+)`", turn)  # "run `ls -l` with the exec tool": the quoted command
            args[name] = quoted.group(1) if quoted else turn.strip()[:200] or word
        else:
            args[name] = word
    return args
