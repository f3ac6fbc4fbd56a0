"""API keys: keyed hashes (HMAC-SHA256 with the server secret), never stored or logged in clear."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

KEY_PREFIX = "sk-to-"


class KeyHasher:
    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def __call__(self, plaintext: str) -> str:
        return hmac.new(self._secret, plaintext.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def load_secret(home: Path) -> bytes:
    """The server secret: `TOKENOPS_SECRET`, else a random one kept beside the embedded store."""
    env = os.environ.get("TOKENOPS_SECRET")
    if env:
        return env.encode()
    path = home / "secret"
    if path.exists():
        return path.read_bytes().strip()
    home.mkdir(parents=True, exist_ok=True)
    value = secrets.token_hex(32).encode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(value)
    return value
