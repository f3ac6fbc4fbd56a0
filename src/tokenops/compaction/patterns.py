"""Regex building blocks shared by the scanner and the line rules."""

from __future__ import annotations

import re
from typing import Any


def trie(words: list[str]) -> str:
    """One regex for many literals, shaped as a trie: several times faster than an alternation.
    A `|` in a word stands for a space."""
    root: dict[str, Any] = {}
    for word in words:
        node = root
        for ch in word.replace("|", " "):
            node = node.setdefault(ch, {})
        node[""] = {}

    def build(node: dict[str, Any]) -> str:
        alts = [re.escape(ch) + build(sub) for ch, sub in sorted(node.items()) if ch]
        if not alts:
            return ""
        body = "(?:" + "|".join(alts) + ")" if len(alts) > 1 or "" in node else alts[0]
        return body + "?" if "" in node else body

    return build(root)
