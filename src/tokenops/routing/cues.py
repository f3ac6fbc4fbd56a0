"""Word groups that mark what a prompt asks for: math, code, reasoning, writing, facts, science, extraction.

Groups name the task, not the topic, so what a router learns from them carries over to kinds
of prompts it was not trained on; a word may belong to several groups.
"""

from __future__ import annotations

_GROUPS = {
    "math": "calculate compute solve equation equations sum product probability integer integers percent percentage "
    "ratio total average remainder fraction fractions divided multiply multiplied times minus plus digit digits "
    "number numbers value expression simplify evaluate root roots polynomial derivative integral geometry triangle "
    "circle area perimeter volume angle degrees square cube prime factor factors mean median many much cost costs "
    "price dollars cents hours minutes miles each per twice half",
    "code": "code python function program programming script implement implementation algorithm class method bug "
    "debug error compile java javascript typescript html css sql query regex api json array list string loop "
    "recursion variable return def import library framework database server linux bash git docker react node rust "
    "golang",
    "reason": "prove proof why explain reasoning reason logic logical deduce infer conclude conclusion assume "
    "assumption suppose therefore hence puzzle riddle step steps must cannot true false valid argument "
    "contradiction hypothesis implies",
    "write": "write story poem essay email letter blog post compose draft rewrite paraphrase summarize summary "
    "describe imagine pretend role character persuasive tweet slogan dialogue speech song lyrics creative narrative "
    "joke review advertisement outline",
    "fact": "who when where name named capital country year born died founded invented wrote famous known called city",
    "science": "chemistry chemical physics molecule molecules reaction reactions energy force mass velocity cell "
    "cells gene genes protein dna atom atoms electron quantum organic compound acid temperature pressure",
    "extract": "extract json table list following text passage paragraph article document format csv yaml bullet "
    "classify categorize identify",
    "advice": "should recommend best tips advice suggest help how can ideas plan improve",
}

GROUPS: tuple[str, ...] = tuple(_GROUPS)



def _index() -> dict[str, tuple[str, ...]]:
    index: dict[str, tuple[str, ...]] = {}
    for group, words in _GROUPS.items():
        for word in words.split():
            index[word] = (*index.get(word, ()), group)
    return index


# word -> the groups it belongs to: one dictionary look-up per word on the request path
WORD_GROUPS = _index()

WRITING_VERBS = frozenset(_GROUPS["write"].split()) | {"create", "generate", "give", "tell", "make", "act", "list"}
_QUESTION = "who what when where which why how whom whose is are was were does do did can could should would will"
QUESTION_WORDS = frozenset(_QUESTION.split())
