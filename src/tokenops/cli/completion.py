"""`tokenops completion bash | zsh | tcsh`: a shell completion script, generated from the parser itself.

shtab writes the script once from argparse (no Python runs on each Tab, unlike argcomplete),
so every subcommand and option completes as soon as it exists.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import shtab

_HOW = {
    "bash": 'eval "$(tokenops completion bash)"   # in ~/.bashrc',
    "zsh": 'tokenops completion zsh > "${fpath[1]}/_tokenops"   # then restart zsh',
    "tcsh": "eval `tokenops completion tcsh`   # in ~/.tcshrc",
}


def cmd_completion(args: argparse.Namespace) -> int:
    sys.stdout.write(shtab.complete(args.whole_parser(), shell=args.shell))
    return 0


def add_parser(sub: Any) -> None:
    completion = sub.add_parser(
        "completion",
        epilog="\n".join(f"{shell}: {how}" for shell, how in _HOW.items()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    completion.add_argument("shell", choices=sorted(_HOW), help="the shell to complete for")
    completion.set_defaults(func=cmd_completion)
