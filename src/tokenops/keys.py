"""API keys: keyed hashes (HMAC-SHA256 with the server secret), never stored or logged in clear."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

KEY_PREFIX = "sk-to-"


class KeyHasher:
    """HMAC-SHA256 of a key with the server secret, remembered for the keys seen recently.

    The cache maps a presented key to its hash only; whether that hash is a valid,
    unrevoked key is still looked up in the current catalog on every request.
    """

    def __init__(self, secret: bytes, cache_size: int = 65536) -> None:
        self._secret = secret
        self._cache: dict[str, str] = {}
        self._cache_size = cache_size

    def __call__(self, plaintext: str) -> str:
        found = self._cache.get(plaintext)
        if found is None:
            found = hmac.new(self._secret, plaintext.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()
            if len(self._cache) >= self._cache_size:
                self._cache.clear()  # bounded: a flood of random keys cannot grow it
            self._cache[plaintext] = found
        return found


    def digest(self, domain: str, plaintext: str) -> str:
        """The keyed hash of another kind of secret (`domain`: e.g. a voucher code), apart from keys' hashes and
        never cached: a flood of guesses neither fills the cache nor evicts the keys in it."""
        message = f"{domain}\x00{plaintext}".encode("utf-8", "surrogatepass")
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()


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
