"""Tokenizer files the tests make themselves: a byte-level BPE trained here, saved as a Hugging Face
`tokenizer.json` (with a ChatML template in `tokenizer_config.json`) and written again as a GGUF vocabulary
with llama.cpp's own `gguf` writer, so the gateway's GGUF reading is checked against the library's tokenizer.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import gguf
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

# A system turn the template adds when the conversation has none: overhead a naive count misses.
CHATML = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\\nYou are a helpful network operations assistant.<|im_end|>\\n' }}{% endif %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
PIECES = [
    "Hello", " world", "  ", "\n", "\n\n", "\t", "123456", "3.14159", "\u4f60\u597d\uff0c\u4e16\u754c",
    "\u65e5\u672c\u8a9e", "\u00e9migr\u00e9", "don't", "I'LL", "def f(x):\n    return x**2", "   lead", "trail   ",
    "\U0001f642\U0001f680", "SIP/2.0 503", "2026-12-04T21:00:00Z", "A-1042", "...", "\u2014", '{"a": [1, 2]}',
    "\u03a9\u2248\u00e7\u221a", "\r\n", "<|im_end|>",
]
CORPUS = [
    "Alarm A-1042 on cell 7 cleared after the trunk to the core came back.",
    "SIP/2.0 503 Service Unavailable; retry after 30 seconds.",
    "The network operations team checks the base station logs every morning.",
    "def restart(node):\n    return run(['systemctl', 'restart', node])",
    "2026-12-04T21:00:00Z ERROR kamailio[812]: tm: t_relay failed",
    "\u57fa\u7ad9\u544a\u8b66\u5df2\u6e05\u9664\uff0c\u94fe\u8def\u6062\u590d\u6b63\u5e38\u3002",
]


def mixed_texts(n: int, seed: int = 11) -> list[str]:
    """Texts mixing scripts, digits, whitespace runs, code and special-token text."""
    rng = random.Random(seed)
    return ["".join(rng.choice(PIECES) for _ in range(rng.randint(1, 14))) for _ in range(n)]


def train_tokenizer(vocab_size: int = 600) -> Tokenizer:
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)  # GPT-2's split
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=SPECIALS, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tokenizer.train_from_iterator(CORPUS * 20 + PIECES * 5, trainer)
    return tokenizer


def write_tokenizer_dir(folder: Path) -> Path:
    """A model folder with tokenizer.json and tokenizer_config.json (its chat template); returns the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    train_tokenizer().save(str(folder / "tokenizer.json"))
    config = {"chat_template": CHATML, "bos_token": None, "eos_token": "<|im_end|>"}
    (folder / "tokenizer_config.json").write_text(json.dumps(config))
    return folder


def write_gguf(folder: Path, pre: str = "gpt-2", template: str | None = CHATML) -> Path:
    """The same vocabulary as a GGUF file (metadata only, no tensors), as llama.cpp's converter lays it out."""
    data = json.loads((folder / "tokenizer.json").read_text())
    vocab: dict[str, int] = data["model"]["vocab"]
    for added in data["added_tokens"]:
        vocab[added["content"]] = added["id"]
    tokens = [t for t, _ in sorted(vocab.items(), key=lambda kv: kv[1])]
    merges = [m if isinstance(m, str) else " ".join(m) for m in data["model"]["merges"]]
    path = folder / "model.gguf"
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre(pre)
    writer.add_token_list(tokens)
    writer.add_token_types([gguf.TokenType.CONTROL if t in SPECIALS else gguf.TokenType.NORMAL for t in tokens])
    writer.add_token_merges(merges)
    writer.add_bos_token_id(vocab["<|endoftext|>"])
    writer.add_eos_token_id(vocab["<|im_end|>"])
    if template is not None:
        writer.add_chat_template(template)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path
