"""The appeal path: an operator marks a key, or a prompt pattern, benign, and the detectors learn it.

A mark is an audited document (`security_benign`), so every replica takes it in with its next
reload. A key marked benign is never acted on again and its throttle is lifted; its window's
bin shares at the time of the mark join the benign profiles, so keys that behave like it pass the
window test too. A pattern (an example prompt, kept as its sketch) stops counting as evidence for
the tenant it names (or every tenant): an app's fixed template, say.
"""

from __future__ import annotations

from typing import Any

from tokenops.security.detectors import Appeals, prompt_sketch
from tokenops.security.features import WIDTH
from tokenops.security.reference import Reference

KIND = "security_benign"
PATTERN_MAX = 2000  # characters of an example prompt


def load_appeals(docs: dict[str, dict[str, Any]]) -> tuple[Appeals, Reference]:
    """The marks in force, and the benign reference with the marked keys' profiles added."""
    appeals = Appeals()
    reference = Reference.builtin()
    for mark_id, doc in sorted(docs.items()):
        if doc.get("status") != "active":
            continue
        key = doc.get("key")
        if isinstance(key, str):
            appeals.keys.add(key)
            profile = doc.get("profile")
            if isinstance(profile, list) and len(profile) == WIDTH:
                reference = reference.learn(f"marked:{mark_id}", tuple(float(x) for x in profile))
        sketch = doc.get("sketch")
        if isinstance(sketch, str) and len(sketch) == 64 and all(c in "0123456789abcdef" for c in sketch):
            tenant = doc.get("tenant")
            appeals.patterns.append((tenant if isinstance(tenant, str) else None, int(sketch, 16)))
    return appeals, reference


def pattern_doc(text: str) -> dict[str, Any]:
    """What is stored of an example prompt: its sketch (hex), never the text."""
    return {"sketch": f"{prompt_sketch(text[:PATTERN_MAX]):064x}"}
