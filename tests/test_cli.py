"""The `tokenops` command: check-config and usage, as a person or a script runs them."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from tests.conftest import ROOT, Gateway
from tokenops.cli.common import default_url
from tokenops.cli.main import ALIASES, COMMANDS, build_parser, main


def tokenops(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tokenops", *args], capture_output=True, text=True, timeout=60)


def test_check_config_accepts_the_demo() -> None:
    result = tokenops("check-config", str(ROOT / "examples" / "demo.yaml"))
    assert result.returncode == 0 and "4 tenants" in result.stdout


def test_check_config_names_the_bad_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("models:\n  - name: m\n    context_window: -1\n")
    result = tokenops("check-config", str(bad))
    assert result.returncode == 2
    assert "catalog.models[0].context_window: must be at least 1" in result.stderr


def test_check_config_refuses_an_unknown_tokenizer_family_and_names_the_known_ones(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("models:\n  - name: m\n    context_window: 1000\n    tokenizer: llama\n")
    result = tokenops("check-config", str(bad))
    assert result.returncode == 2
    assert "catalog.models[0].tokenizer: unknown tokenizer family 'llama'" in result.stderr
    assert "cl100k, o200k, estimate" in result.stderr


def test_check_config_warns_of_a_model_that_can_only_be_estimated(tmp_path: Path) -> None:
    spec = tmp_path / "estimated.yaml"
    spec.write_text(
        "models:\n"
        "  - {name: exact, context_window: 1000, tokenizer: cl100k_base}\n"
        "  - {name: guessed, context_window: 1000, tokenizer: estimate}\n"
    )
    result = tokenops("check-config", str(spec))
    assert result.returncode == 0, result.stderr
    assert "warning: model 'guessed' has no exact tokenizer" in result.stderr
    assert "'exact'" not in result.stderr


def test_usage_reads_the_store_of_a_running_gateway(gateway: Gateway) -> None:
    api = openai.OpenAI(base_url=gateway.url + "/v1", api_key="sk-demo-acme", max_retries=0)
    replies = [api.chat.completions.create(model="tele-lite", messages=[{"role": "user", "content": f"q{i}"}])
               for i in range(3)]  # fmt: skip
    result = tokenops("usage", "--json", "--home", str(gateway.home))
    assert result.returncode == 0, result.stderr
    [row] = [r for r in json.loads(result.stdout) if r["model"] == "tele-lite"]
    assert row["tenant"] == "acme-manufacturing" and row["requests"] == 3
    assert row["output_tokens"] == sum(r.usage.completion_tokens for r in replies)  # type: ignore[union-attr]
    table = tokenops("usage", "--home", str(gateway.home))
    assert "acme-manufacturing" in table.stdout and "tele-lite" in table.stdout


def test_usage_without_a_store_says_how_to_fix_it(tmp_path: Path) -> None:
    result = tokenops("usage", "--home", str(tmp_path / "none"))
    assert result.returncode == 2 and "start the gateway first" in result.stderr


def test_commands_find_the_gateway_where_make_run_serves_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TOKENOPS_URL", raising=False)
    monkeypatch.setenv("TOKENOPS_PORT", "9191")
    assert default_url() == "http://127.0.0.1:9191"
    monkeypatch.delenv("TOKENOPS_PORT")
    assert default_url() == "http://127.0.0.1:8080"
    monkeypatch.setenv("TOKENOPS_URL", "http://gw.example:8000/")
    assert default_url() == "http://gw.example:8000"


def _parsers(parser: argparse.ArgumentParser, path: str) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from _parsers(child, f"{path} {name}")


def test_every_option_of_every_command_says_what_it_does() -> None:
    bare = []
    for path, parser in _parsers(build_parser(), "tokenops"):
        assert parser.format_help()  # every help page renders
        for action in parser._actions:
            skip = (argparse._HelpAction, argparse._VersionAction, argparse._SubParsersAction)
            if not isinstance(action, skip) and not action.help:
                bare.append(f"{path} {'/'.join(action.option_strings) or action.dest}")
    assert bare == []


def test_help_and_light_commands_load_no_database_or_http_stack() -> None:
    probe = (
        "import sys, contextlib, io\n"
        "from tokenops.cli.main import main\n"
        "for argv in (['--help'], ['keys', '--help'], ['routing', '--help']):\n"
        "    with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
        "        main(argv)\n"
        "print(' '.join(sorted({m.split('.')[0] for m in sys.modules} & {'alembic', 'sqlalchemy', 'aiohttp', "
        "'asyncpg', 'redis', 'uvicorn'})))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


def test_the_command_table_names_the_module_of_every_command() -> None:
    whole = build_parser()
    [commands] = [a for a in whole._actions if isinstance(a, argparse._SubParsersAction)]
    assert set(commands.choices) == set(COMMANDS) | set(ALIASES)
    for name, (_, text) in COMMANDS.items():
        alone = build_parser(name, whole=False)
        [sub] = [a for a in alone._actions if isinstance(a, argparse._SubParsersAction)]
        assert set(sub.choices) == set(commands.choices)  # every command is listed, whichever is loaded
        assert sub.choices[name].format_help() == commands.choices[name].format_help()
        listed = {c.dest: c.help for c in sub._choices_actions}
        assert listed[name] == text


def test_reports_on_an_empty_period_say_there_is_nothing_in_it(
    gateway: Gateway, capsys: pytest.CaptureFixture[str]
) -> None:
    home = ["--home", str(gateway.home)]
    assert main(["usage", *home]) == 0
    assert capsys.readouterr().out.strip() == "no usage recorded"
    assert main(["invoice", "--tenant", "ringback-app", *home]) == 0
    out = capsys.readouterr().out
    assert "nothing was used or charged in this period" in out and "total: 0.00" in out
    assert main(["sla", "report", "--tenant", "cn-gov-energy", *home]) == 0
    out = capsys.readouterr().out
    assert "nothing to judge" in out and "every objective met" not in out
    assert main(["compliance", "report", "--tenant", "cn-gov-energy", *home]) == 0
    out = capsys.readouterr().out
    assert "no requests in" in out and "COMPLIANT" not in out
