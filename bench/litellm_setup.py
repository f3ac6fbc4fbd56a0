"""Install LiteLLM's proxy into its own virtual environment under bench/.work/ (once), and write its config."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

LITELLM_VERSION = "1.108.7"
REQUIREMENT = f"litellm[proxy]=={LITELLM_VERSION}"


class SetupFailed(Exception):
    """LiteLLM could not be installed; the message says why."""


def ensure_litellm(work: Path) -> Path:
    """The `litellm` command of a venv holding exactly LITELLM_VERSION, installing it if needed."""
    venv = work / "litellm-venv"
    marker = venv / f".installed-{LITELLM_VERSION}"
    command = venv / "bin" / "litellm"
    if marker.exists() and command.exists():
        return command
    log_path = work / "litellm-install.log"
    work.mkdir(parents=True, exist_ok=True)
    print(f"installing {REQUIREMENT} into {venv} (log: {log_path}) ...", flush=True)
    with log_path.open("w") as log:
        steps = [
            [sys.executable, "-m", "venv", str(venv)],
            [str(venv / "bin" / "pip"), "install", "--quiet", REQUIREMENT],
        ]
        for step in steps:
            done = subprocess.run(step, stdout=log, stderr=subprocess.STDOUT, check=False)
            if done.returncode != 0:
                tail = log_path.read_text(errors="replace").strip().splitlines()[-6:]
                raise SetupFailed(f"`{' '.join(step)}` failed (exit {done.returncode}): " + " | ".join(tail))
    if not command.exists():
        raise SetupFailed(f"{REQUIREMENT} installed but {command} is missing")
    marker.touch()
    return command


def litellm_config(upstream_port: int, master_key: str) -> str:
    """One model on the fake upstream; a master key so every request is authenticated; no database."""
    return f"""model_list:
  - model_name: bench-model
    litellm_params:
      model: openai/fake-model
      api_base: http://127.0.0.1:{upstream_port}/v1
      api_key: sk-fake-upstream
general_settings:
  master_key: {master_key}
litellm_settings:
  telemetry: false
"""
