"""Cues of distillation in a prompt: instruction-tuning wrappers, a teacher or data-generation brief, and
chain-of-thought elicitation.

The lexicon follows the public instruction-tuning formats (Alpaca/Dolly field headers, ChatML,
Llama's [INST], inlined Human/Assistant transcripts) and the phrasing distillation campaigns
are reported to use. One compiled pattern scans a bounded slice: a few microseconds a prompt.
"""

from __future__ import annotations

import re

WRAPPER = 1  # an instruction-tuning template around the question
TEACHER = 2  # the model is told it writes training data, or plays the teacher of a smaller model
REASONING = 4  # the answer must spell out its reasoning (chain-of-thought elicitation)
HARVEST = 8  # the answer is asked for in a fixed, machine-readable record (question/answer/rationale fields)

# (category, anchor, pattern): the pattern is tried only where its anchor (a lower-case literal) occurs,
# so an ordinary prompt costs a few substring searches and no regular expression at all.
_LEXICON: tuple[tuple[int, str, str], ...] = (
    (WRAPPER, "#", r"#{2,4} ?(?:instruction|response|input|output|question|answer|task|context)\b"),
    (WRAPPER, "below is an instruction", r"below is an instruction that describes a task"),
    (WRAPPER, "<|", r"<\|(?:im_start|im_end|user|assistant|system|start_header_id|begin_of_text)\|>"),
    (WRAPPER, "inst]", r"\[/?inst\]"),
    (WRAPPER, "<<sys>>", r"<<sys>>"),
    (WRAPPER, "assistant:", r"(?:^|\n) *(?:human|user) *: [\s\S]{0,400}?\n *assistant *:"),
    (WRAPPER, "instruction:", r"(?:^|\n) *instruction *:"),
    (WRAPPER, "response:", r"(?:^|\n) *(?:response|output) *: *$"),
    (TEACHER, "teacher", r"\bteacher (?:model|llm|assistant)\b|\byou are (?:the|a) teacher\b"),
    (TEACHER, "student", r"\bstudent (?:model|llm|network)\b"),
    (
        TEACHER,
        "distil",
        r"\bknowledge distillation\b|\bdistil\w* (?:it |this |them )?into (?:a |the |our )?(?:smaller|student)\b",
    ),
    (TEACHER, " data", r"\b(?:training|fine[- ]?tun\w*|instruction[- ]tuning|sft|synthetic) data(?:set)?\b"),
    (TEACHER, "training", r"\btraining (?:example|examples|corpus|set|pairs?)\b"),
    (TEACHER, "gold", r"\bgold(?:en)? (?:answer|response|label|reference)\b"),
    (TEACHER, "reference", r"\breference (?:answer|solution|response) for\b"),
    (TEACHER, "quality", r"\bhigh[- ]quality (?:demonstration|training|reference)\b"),
    (TEACHER, "learn", r"\bmodel (?:will|can|should) learn\b"),
    (REASONING, "step", r"\bstep[- ]by[- ]step\b"),
    (REASONING, "chain", r"\bchain[- ]of[- ]thought\b"),
    (
        REASONING,
        "reason",
        r"\b(?:show|explain|give|write out|include|provide) (?:all |your |the |full |complete |detailed )*"
        r"(?:reasoning|rationale)\b|\breasoning (?:trace|steps|process|chain)\b",
    ),
    (REASONING, "show", r"\bshow (?:all |your |the )*work(?:ing)?\b"),
    (REASONING, "think", r"</?think>|\bthink (?:it )?(?:through|carefully|aloud) (?:before|first)\b|\blet'?s think\b"),
    (HARVEST, '"', r"\"(?:question|instruction|rationale|reasoning|answer|response|output)\" *:"),
    (HARVEST, "json", r"\bjson (?:object )?with (?:the )?(?:fields|keys)\b"),
    (HARVEST, "yaml", r"\byaml (?:object )?with (?:the )?(?:fields|keys)\b"),
    (HARVEST, "final answer", r"\bfinal answer *:"),
    (HARVEST, "answer in the", r"\banswer in the (?:form|format)\b"),
)
_COMPILED = tuple((bit, anchor, re.compile(pattern, re.MULTILINE)) for bit, anchor, pattern in _LEXICON)
NAMES = {WRAPPER: "wrapper", TEACHER: "teacher", REASONING: "reasoning", HARVEST: "harvest"}


def cues(text: str) -> int:
    """The cue bits found in `text` (a bounded slice)."""
    lowered = text.lower()
    found = 0
    for bit, anchor, pattern in _COMPILED:
        if not found & bit and anchor in lowered and pattern.search(lowered):
            found |= bit
    return found


def describe(mask: int) -> list[str]:
    return [name for bit, name in NAMES.items() if mask & bit]
