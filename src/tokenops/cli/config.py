"""`tokenops check-config`: validate a catalog and warn of each model that can only be estimated."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from tokenops.catalog import load_catalog
from tokenops.catalog.model import EXACT_TOKENIZERS
from tokenops.cli.ops_config import check_ops_sections
from tokenops.tokenize import is_tokenizer_file


def cmd_check_config(args: argparse.Namespace) -> int:
    spec = load_catalog(args.file)
    check_ops_sections(spec.raw)
    print(
        f"{args.file}: ok — {len(spec.tenants)} tenants, {len(spec.keys)} keys, {len(spec.models)} models, "
        f"{len(spec.deployments)} deployments, {len(spec.aliases)} aliases"
    )
    for model in spec.models.values():
        if model.kind != "chat" or model.tokenizer in EXACT_TOKENIZERS or is_tokenizer_file(model.tokenizer):
            continue
        asking = [d.id for d in spec.deployments.values() if d.model == model.name and d.provider == "openai"
                  and d.tokenize != "none"]  # fmt: skip
        fallback = (
            f"its server's tokenize endpoint counts it where one answers (probed on {', '.join(asking)}), "
            "else it is estimated"
            if asking
            else "it is estimated (about four bytes a token)"
        )
        print(
            f"warning: model {model.name!r} has no exact tokenizer here: when its upstream sends no usage, "
            f"{fallback} and that is billed; name its tokenizer file (tokenizer: /path/model.gguf or "
            "tokenizer.json) to count exactly",
            file=sys.stderr,
        )
    return 0


def add_parser(sub: Any) -> None:
    check = sub.add_parser("check-config")
    check.add_argument("file", help="the catalog YAML to check")
    check.set_defaults(func=cmd_check_config)
