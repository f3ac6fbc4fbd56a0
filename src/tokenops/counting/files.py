"""Exact counts from the tokenizer files an operator already has beside the model.

A model names one of:
- a GGUF model file: its vocabulary, merges, special tokens and chat template are in the metadata
  (byte-level BPE vocabularies, `tokenizer.ggml.model = gpt2`, with the pre-tokenizers below);
- a Hugging Face `tokenizer.json`, or the directory holding it: the chat template comes from
  `chat_template.jinja` or `tokenizer_config.json` beside it.

A chat prompt is counted as servers count it: the template rendered with the assistant's turn
opened, then tokenized with special tokens recognised and none added (the template writes
its own BOS where the model wants one).
"""

from __future__ import annotations

import json
import os
from typing import Any

from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers

from tokenops.counting.gguf import read_metadata
from tokenops.counting.template import ChatTemplate, TemplateRefused
from tokenops.errors import ConfigError

_GPT2 = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)"
_CASED = "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])"
_LLAMA3 = _CASED + r"|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
_QWEN2 = _CASED + r"|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
_QWEN35 = _CASED + r"|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
_DEEPSEEK3 = (
    r"\p{N}{1,3}",
    "[\u4e00-\u9fa5\u3040-\u309f\u30a0-\u30ff]+",  # CJK ideographs, hiragana, katakana
    r"[!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+",
)
# The pre-tokenizer of each `tokenizer.ggml.pre` value, as llama.cpp splits text before BPE: the
# expressions apply in turn, each splitting the pieces of the last; `True` where a piece found whole in
# the vocabulary is taken as is (llama.cpp's `ignore_merges`).
_PRE: dict[str, tuple[tuple[str, ...], bool]] = {
    **{
        name: ((_GPT2,), False)
        for name in (
            "gpt-2",
            "phi-2",
            "mpt",
            "olmo",
            "jais",
            "jina-es",
            "jina-de",
            "gigachat",
            "mellum",
            "modern-bert",
            "trillion",
            "granite-docling",
        )
    },
    **{
        name: ((r"\p{N}", _GPT2), False)
        for name in ("starcoder", "refact", "command-r", "smollm", "codeshell", "exaone", "minerva-7b")
    },
    **{name: ((_LLAMA3,), True) for name in ("llama3", "llama-v3", "llama-bpe", "falcon3", "pixtral", "lfm2")},
    **{name: ((_LLAMA3,), False) for name in ("dbrx", "smaug-bpe")},
    **{name: ((_QWEN2,), False) for name in ("qwen2", "deepseek-r1-qwen", "stablelm2")},
    "qwen35": ((_QWEN35,), False),
    "deepseek-v3": (_DEEPSEEK3, False),
    "chatglm-bpe": ((_LLAMA3,), False),
    "glm4": ((_LLAMA3,), True),
    "glm5": ((_LLAMA3,), True),
    "default": ((r"[\p{P}\$\+<=>\^~\|]+", _GPT2, r"\p{N}+", "[0-9][0-9][0-9]"), False),
}
_CONTROL, _USER_DEFINED = 3, 4


class FileCounter:
    """Counts with the model's own tokenizer; a chat prompt through its chat template, when it has one."""

    exact = True

    def __init__(self, name: str, tokenizer: Tokenizer, template: ChatTemplate | None) -> None:
        self.name = name
        self._tokenizer = tokenizer
        self.template = template

    def encode(self, text: str) -> list[int]:
        """The token ids of text, special tokens recognised, none added."""
        return list(self._tokenizer.encode(text, add_special_tokens=False).ids) if text else []

    def count(self, text: str) -> int:
        return len(self._tokenizer.encode(text, add_special_tokens=False).ids) if text else 0

    def count_chat(self, messages: list[Any], tools: Any = None) -> int | None:
        """The prompt's tokens as the server counts them; None without a template or when it refuses."""
        if self.template is None:
            return None
        try:
            prompt = self.template.render(messages, tools)
        except TemplateRefused:
            return None
        return self.count(prompt)


def load_file_counter(path: str) -> FileCounter:
    """The counter of a GGUF file, a `tokenizer.json` or a directory holding one; errors name the path."""
    if os.path.isdir(path):
        path = os.path.join(path, "tokenizer.json")
    if not os.path.exists(path):
        raise ConfigError(f"{path}: no such tokenizer file")
    if path.endswith(".gguf"):
        return _from_gguf(path)
    return _from_tokenizer_json(path)


def _from_gguf(path: str) -> FileCounter:
    meta = read_metadata(path)
    kind = meta.get("tokenizer.ggml.model")
    if kind != "gpt2":
        raise ConfigError(
            f"{path}: GGUF vocabulary type {kind!r} is not read here (byte-level BPE, 'gpt2', is); "
            "name the model's tokenizer.json instead, or let the upstream's tokenize endpoint count"
        )
    pre = str(meta.get("tokenizer.ggml.pre") or "default")
    if pre not in _PRE:
        raise ConfigError(
            f"{path}: GGUF pre-tokenizer {pre!r} is not known here; known: {', '.join(sorted(_PRE))}; "
            "name the model's tokenizer.json instead"
        )
    tokens: list[str] = meta.get("tokenizer.ggml.tokens") or []
    types: list[int] = meta.get("tokenizer.ggml.token_type") or [1] * len(tokens)
    merges = [tuple(m.split(" ", 1)) for m in meta.get("tokenizer.ggml.merges") or ()]
    expressions, whole = _PRE[pre]
    bpe = models.BPE(vocab={t: i for i, t in enumerate(tokens)}, merges=merges, ignore_merges=whole)
    tokenizer = Tokenizer(bpe)
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Split(Regex(e), behavior="isolated") for e in expressions]
        + [pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)]
    )
    tokenizer.decoder = decoders.ByteLevel()
    specials = [t for t, k in zip(tokens, types, strict=False) if k in (_CONTROL, _USER_DEFINED)]
    tokenizer.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in specials])
    template = meta.get("tokenizer.chat_template")

    def token(key: str) -> str:
        i = meta.get(key)
        return tokens[i] if isinstance(i, int) and 0 <= i < len(tokens) else ""

    chat = None
    if isinstance(template, str):
        chat = ChatTemplate(template, token("tokenizer.ggml.bos_token_id"), token("tokenizer.ggml.eos_token_id"), path)
    return FileCounter(path, tokenizer, chat)


def _special(config: dict[str, Any], name: str) -> str:
    value = config.get(name)
    if isinstance(value, dict):
        value = value.get("content")
    return value if isinstance(value, str) else ""


def _from_tokenizer_json(path: str) -> FileCounter:
    try:
        tokenizer = Tokenizer.from_file(path)
    except Exception as exc:  # the library raises a plain Exception on a malformed file
        raise ConfigError(f"{path}: not a readable tokenizer.json ({exc})") from None
    folder = os.path.dirname(path)
    config: dict[str, Any] = {}
    config_path = os.path.join(folder, "tokenizer_config.json")
    if os.path.exists(config_path):
        try:
            with open(config_path, encoding="utf-8") as f:
                config = json.load(f)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{config_path}: not readable JSON ({exc})") from None
    source = config.get("chat_template")
    if isinstance(source, list):  # named templates: the default one
        source = next((t.get("template") for t in source if isinstance(t, dict) and t.get("name") == "default"), None)
    jinja = os.path.join(folder, "chat_template.jinja")
    if os.path.exists(jinja):
        with open(jinja, encoding="utf-8") as f:
            source = f.read()
    chat = None
    if isinstance(source, str):
        chat = ChatTemplate(source, _special(config, "bos_token"), _special(config, "eos_token"), path)
    return FileCounter(path, tokenizer, chat)
