"""Counts like the serving model's server counts them, when the upstream sends no usage.

The simulated upstream imitates each server kind (its tokenize endpoints, its chat template's
overhead, streams without usage) with a tokenizer the tests train and save as tokenizer.json;
the gateway reads the same vocabulary from a GGUF file written by llama.cpp's own `gguf` writer.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import openai
import pytest
import yaml

from tests.conftest import Gateway, ServerThread, start_gateway
from tests.tokenizer_files import mixed_texts, write_gguf, write_tokenizer_dir
from tokenops.counting.files import load_file_counter
from tokenops.simulator.engine import SimConfig
from tokenops.simulator.server import SimServer
from tokenops.tokenize import count_messages, counter_for

KEY = "sk-exact-ops"
MESSAGES = [{"role": "user", "content": "Alarm A-1042 on cell 7: what should I check first?"}]


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(a model folder with tokenizer.json and its template, the same vocabulary as a GGUF file)."""
    folder = write_tokenizer_dir(tmp_path_factory.mktemp("model"))
    return folder, write_gguf(folder)


def catalog(upstream: str, tokenizer: str, tokenize: str = "auto") -> dict[str, Any]:
    return {
        "models": [{"name": "smol", "context_window": 8192, "tokenizer": tokenizer}],
        "deployments": [{"id": "smol-1", "model": "smol", "provider": "openai", "region": "cn-east",
                         "base_url": upstream + "/v1", "tokenize": tokenize}],
        "tenants": [{"id": "ops", "kind": "enterprise", "residency": ["cn-east"], "models": ["smol"],
                     "keys": [{"id": "k1", "key": KEY}]}],
    }  # fmt: skip


@pytest.fixture
def serving(files: tuple[Path, Path], request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """(upstream imitating a server, gateway): `request.param` is (imitated server, what the catalog names)."""
    imitate, named = request.param
    upstream = ServerThread(SimServer(SimConfig(tokenizer=str(files[0]), imitate=imitate, omit_usage=True))).start()
    tokenizer = {"gguf": str(files[1]), "folder": str(files[0]), "nothing": "estimate"}[named]
    gw = start_gateway(catalog(upstream.url, tokenizer), tmp_path / "home")
    yield upstream, gw
    gw.server.stop()
    upstream.stop()


def stream_and_truth(upstream: ServerThread, gw: Gateway) -> tuple[dict[str, Any], dict[str, Any]]:
    """The record of a streamed request, and the server's own usage for the same request whole."""
    with openai.OpenAI(base_url=gw.url + "/v1", api_key=KEY, max_retries=0) as api:
        list(api.chat.completions.create(model="smol", messages=MESSAGES, stream=True))  # type: ignore[arg-type]
    truth = httpx.post(upstream.url + "/v1/chat/completions", json={"model": "smol", "messages": MESSAGES}).json()
    return gw.records()[-1], truth["usage"]


def test_a_gguf_vocabulary_splits_text_as_the_tokenizers_library_does(files: tuple[Path, Path]) -> None:
    library, gguf_file = load_file_counter(str(files[0])), load_file_counter(str(files[1]))
    texts = mixed_texts(500)
    assert [t for t in texts if library.encode(t) != gguf_file.encode(t)] == []
    assert library.template is not None and gguf_file.template is not None
    assert library.template.source == gguf_file.template.source


def test_the_chat_template_counts_the_turns_a_plain_count_misses(files: tuple[Path, Path]) -> None:
    counter = counter_for(str(files[1]))
    assert counter.template is not None  # type: ignore[attr-defined]
    rendered = counter.template.render(MESSAGES)  # type: ignore[attr-defined]
    assert rendered.startswith("<|im_start|>system\n") and rendered.endswith("<|im_start|>assistant\n")
    assert count_messages(counter, MESSAGES) == counter.count(rendered)
    assert counter.count(rendered) > counter.count(MESSAGES[0]["content"]) + 10  # the default system turn


@pytest.mark.parametrize(
    "serving",
    [(server, named) for server in ("llama-cpp-python", "vllm", "llama.cpp", "tgi") for named in ("gguf", "folder")],
    indirect=True, ids=lambda p: f"{p[0]}-{p[1]}",
)  # fmt: skip
def test_a_named_tokenizer_file_counts_a_usage_less_stream_exactly(serving: Any) -> None:
    upstream, gw = serving
    record, truth = stream_and_truth(upstream, gw)
    assert record["usage_source"] == "tokenizer"
    assert (record["input_tokens"], record["output_tokens"]) == (truth["prompt_tokens"], truth["completion_tokens"])


@pytest.mark.parametrize(
    "serving", [(server, "nothing") for server in ("vllm", "llama.cpp", "tgi")], indirect=True, ids=lambda p: p[0]
)
def test_with_no_tokenizer_named_the_servers_tokenize_endpoint_counts(serving: Any) -> None:
    upstream, gw = serving
    record, truth = stream_and_truth(upstream, gw)
    assert record["usage_source"] == "upstream_tokenize"
    assert (record["input_tokens"], record["output_tokens"]) == (truth["prompt_tokens"], truth["completion_tokens"])
    asked = httpx.get(upstream.url + "/_sim/stats").json()["tokenize"]
    record, truth = stream_and_truth(upstream, gw)  # known now to send no usage: no probing, the prompt asked early
    assert (record["input_tokens"], record["output_tokens"]) == (truth["prompt_tokens"], truth["completion_tokens"])
    calls = 3 if upstream.app.engine.config.imitate == "llama.cpp" else 2  # llama.cpp: render, then tokenize
    assert httpx.get(upstream.url + "/_sim/stats").json()["tokenize"] == asked + calls
    [provider] = gw.state.providers.values()
    assert provider.counts is not None and provider.counts.omits_stream_usage


@pytest.mark.parametrize("serving", [("llama-cpp-python", "nothing")], indirect=True, ids=["llama-cpp-python"])
def test_a_server_with_no_template_endpoint_counts_the_output_and_the_prompt_stays_an_estimate(serving: Any) -> None:
    upstream, gw = serving
    record, truth = stream_and_truth(upstream, gw)
    assert record["output_tokens"] == truth["completion_tokens"]
    assert record["usage_source"] == "estimate"


def test_a_deployment_names_its_endpoint_or_is_never_asked(files: tuple[Path, Path], tmp_path: Path) -> None:
    upstream = ServerThread(SimServer(SimConfig(tokenizer=str(files[0]), imitate="tgi", omit_usage=True))).start()
    try:
        for choice, source in (("none", "estimate"), ("vllm", "estimate"), ("tgi", "upstream_tokenize")):
            before = httpx.get(upstream.url + "/_sim/stats").json().get("tokenize", 0)
            gw = start_gateway(catalog(upstream.url, "estimate", choice), tmp_path / choice)
            try:
                record, truth = stream_and_truth(upstream, gw)
            finally:
                gw.server.stop()
            asked = httpx.get(upstream.url + "/_sim/stats").json().get("tokenize", 0) - before
            assert record["status"] == 200 and record["usage_source"] == source, choice
            if choice == "none":
                assert asked == 0
            if choice == "tgi":  # named: no probing, the prompt and the output asked once each
                assert asked == 2 and record["input_tokens"] == truth["prompt_tokens"]
    finally:
        upstream.stop()


def test_check_config_reads_tokenizer_files_and_refuses_those_it_cannot(files: Any, tmp_path: Path) -> None:
    def check(tokenizer: str) -> subprocess.CompletedProcess[str]:
        spec = tmp_path / "catalog.yaml"
        spec.write_text(f"models:\n  - {{name: m, context_window: 1000, tokenizer: '{tokenizer}'}}\n")
        return subprocess.run([sys.executable, "-m", "tokenops", "check-config", str(spec)],
                              capture_output=True, text=True, timeout=60)  # fmt: skip

    assert check(str(files[1])).returncode == 0
    (tmp_path / "m").mkdir()
    shutil.copy(files[1], tmp_path / "m" / "model.gguf")
    relative = check("m/model.gguf")  # read from the catalog's own folder
    assert relative.returncode == 0 and "warning" not in relative.stderr
    missing = check("/nowhere/model.gguf")
    assert missing.returncode == 2 and "catalog.models[0].tokenizer: /nowhere/model.gguf: no such tokenizer file" in (
        missing.stderr)  # fmt: skip
    odd = tmp_path / "odd"
    odd.mkdir()
    shutil.copy(files[0] / "tokenizer.json", odd / "tokenizer.json")
    refused = check(str(write_gguf(odd, pre="klingon")))
    assert refused.returncode == 2 and "GGUF pre-tokenizer 'klingon' is not known here" in refused.stderr
    assert "smollm" in refused.stderr  # names the known ones


def test_check_config_says_how_a_model_without_a_tokenizer_is_counted(tmp_path: Path) -> None:
    spec = tmp_path / "catalog.yaml"
    data = catalog("http://127.0.0.1:9", "estimate")
    data["deployments"].append({**data["deployments"][0], "id": "smol-2", "tokenize": "none"})
    spec.write_text(yaml.safe_dump(data))
    result = subprocess.run([sys.executable, "-m", "tokenops", "check-config", str(spec)],
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode == 0
    assert "model 'smol' has no exact tokenizer here" in result.stderr
    assert "tokenize endpoint counts it where one answers (probed on smol-1)" in result.stderr
