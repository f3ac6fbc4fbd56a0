"""A GGUF file's metadata (the key-value section at its start), read without loading its tensors.

GGUF (version 2 and 3) is little-endian: magic `GGUF`, version, tensor count, key-value count,
then each key as a length-prefixed UTF-8 string, a type tag and the value. Only the metadata
is read, so a model file of many gigabytes costs what its vocabulary costs.
"""

from __future__ import annotations

import struct
from typing import Any, BinaryIO

from tokenops.errors import ConfigError

_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9


class _Reader:
    def __init__(self, f: BinaryIO, path: str) -> None:
        self._f = f
        self._path = path

    def take(self, n: int) -> bytes:
        data = self._f.read(n)
        if len(data) != n:
            raise ConfigError(f"{self._path}: GGUF file ends inside its metadata")
        return data

    def unpack(self, fmt: str) -> Any:
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]

    def string(self) -> str:
        return self.take(self.unpack("<Q")).decode("utf-8", "replace")

    def value(self, kind: int) -> Any:
        if kind == _STRING:
            return self.string()
        if kind == _ARRAY:
            item, count = self.unpack("<I"), self.unpack("<Q")
            code = _SCALARS.get(item)
            if code is not None:  # one read for the whole array (token types, scores)
                return list(struct.unpack(f"<{count}{code[1]}", self.take(count * struct.calcsize(code))))
            return [self.value(item) for _ in range(count)]
        scalar = _SCALARS.get(kind)
        if scalar is None:
            raise ConfigError(f"{self._path}: unknown GGUF value type {kind}")
        return self.unpack(scalar)


def read_metadata(path: str) -> dict[str, Any]:
    """Every metadata key of a GGUF file, with its value."""
    try:
        with open(path, "rb") as f:
            r = _Reader(f, path)
            if r.take(4) != b"GGUF":
                raise ConfigError(f"{path}: not a GGUF file")
            version = r.unpack("<I")
            if version not in (2, 3):
                raise ConfigError(f"{path}: GGUF version {version} is not supported (2 and 3 are)")
            r.unpack("<Q")  # tensors: not read
            count = r.unpack("<Q")
            meta: dict[str, Any] = {}
            for _ in range(count):
                key = r.string()
                meta[key] = r.value(r.unpack("<I"))
            return meta
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the GGUF file ({exc.strerror or exc})") from None
