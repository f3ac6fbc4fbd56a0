"""OpenClaw, a real agent, against the gateway as `make run` serves it: one turn ends ok on each of its APIs.

scripts/openclaw-turns.sh is the documented check (README, "Real agents"); this runs it against the demo
catalog served by a `tokenops serve` process, with the simulated models paced as in the demo. OpenClaw and
its Node 24 come from the npm registry (scripts/openclaw.sh, run by `make test`, installs them once).
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.test_process import serve_process

APIS = {"openai-completions": "chat.completions", "openai-responses": "responses", "anthropic-messages": "messages"}
INSTALLED = Path(os.environ.get("TOKENOPS_OPENCLAW_DIR", Path.home() / ".cache" / "tokenops-openclaw"))

pytestmark = pytest.mark.skipif(
    not (INSTALLED / "node_modules" / "openclaw").exists() and shutil.which("npm") is None,
    reason="OpenClaw is not installed and npm is missing to install it (scripts/openclaw.sh)",
)


@pytest.fixture
def make_run(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """`tokenops serve --config examples/demo.yaml` on a free port, as `make run` starts it."""
    home = tmp_path / "home"
    args = ["--config", str(ROOT / "examples" / "demo.yaml"), "--home", str(home)]
    proc, port = serve_process(args, dict(os.environ))
    yield port, home
    proc.terminate()
    proc.wait(30)
    if proc.stderr:
        proc.stderr.close()


def test_openclaw_says_hello_through_each_of_its_three_apis(make_run: tuple[int, Path], tmp_path: Path) -> None:
    port, home = make_run
    out = tmp_path / "turns"
    env = {k: v for k, v in os.environ.items() if k != "TOKENOPS_URL"} | {"TOKENOPS_PORT": str(port), "OUT": str(out)}
    done = subprocess.run(["sh", str(ROOT / "scripts" / "openclaw-turns.sh")], env=env, capture_output=True,
                          text=True, timeout=240)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    for api in APIS:
        result = json.loads((out / f"{api}.json").read_text())
        assert result["status"] == "ok" and result["ok"] is True, (api, result)
        assert result["final"].strip(), api  # a text answer
        assert not (result.get("toolSummary") or {}).get("calls"), (api, result["toolSummary"])  # no tool for hello
        assert result["assistantTurns"] == 1
    db = sqlite3.connect(home / "tokenops.db")
    try:
        rows = db.execute("SELECT api, status, model_served FROM usage_records").fetchall()
    finally:
        db.close()
    assert sorted(api for api, *_ in rows) == sorted(APIS.values())  # one request per turn: no tool loop
    assert {(status, model) for _, status, model in rows} == {(200, "tele-lite")}
