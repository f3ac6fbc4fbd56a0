"""A restart on a seeded store does not read the catalog again; a changed catalog seeds only what changed."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import openai
import yaml

from tests.conftest import ServerThread, demo_catalog
from tests.scaleout_support import Backend
from tokenops.catalog import load_catalog
from tokenops.catalog.load import changed_groups
from tokenops.server import build_gateway, catalog_to_seed
from tokenops.store.backing import Backing, main_store


def _backing(backend: Backend) -> Backing:
    return Backing(backend.dsn, None, backend.schema) if backend.kind == "postgres" else Backing()


def _write(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _serve_once(spec: Any, home: Path, backing: Backing) -> str:
    """Start a gateway (seeding `spec` if given), send one request with acme's key, stop; the served model."""
    server = ServerThread(build_gateway(spec, home, backing=backing)).start()
    try:
        with openai.OpenAI(base_url=server.url + "/v1", api_key="sk-demo-acme", max_retries=0) as client:
            reply = client.chat.completions.create(model="tele-lite", messages=[{"role": "user", "content": "hi"}])
        return reply.model
    finally:
        server.stop()


async def _seeded(backing: Backing, home: Path) -> dict[str, Any] | None:
    store = main_store(backing, home)
    await store.open()
    try:
        return await store.seeded()
    finally:
        await store.close()


def test_an_unchanged_catalog_is_not_read_again_and_a_change_seeds_only_its_sections(
    tmp_path: Path, backend: Backend
) -> None:
    home, backing = tmp_path / "home", _backing(backend)
    home.mkdir()
    path = _write(tmp_path / "catalog.yaml", demo_catalog())
    first = load_catalog(path)
    assert changed_groups(first.fingerprint, None) == {"catalog", "charging", "admin"}  # a fresh store: all
    assert _serve_once(first, home, backing) == "tele-lite"
    seeded = asyncio.run(_seeded(backing, home))
    assert seeded == first.fingerprint
    # the same file again: the gateway starts from the store alone, and serves the same keys
    assert catalog_to_seed(path, home, backing) is None
    assert _serve_once(None, home, backing) == "tele-lite"
    # a change to the limits only: the file is read, and only the admin group (limits, policies, admin) seeds
    data = demo_catalog()
    data["limits"]["queue_ms"]["gold"] = 4000
    changed = catalog_to_seed(_write(path, data), home, backing)
    assert changed is not None and changed_groups(changed.fingerprint, seeded) == {"admin"}


def test_a_catalog_written_as_json_reads_as_the_same_catalog(tmp_path: Path) -> None:
    as_yaml = load_catalog(_write(tmp_path / "c.yaml", demo_catalog()))
    as_json = tmp_path / "c.json"
    as_json.write_text(json.dumps(demo_catalog()))
    read = load_catalog(as_json)
    assert read.tenants == as_yaml.tenants and read.deployments == as_yaml.deployments
    assert read.fingerprint["groups"] == as_yaml.fingerprint["groups"]  # the same sections, whatever the format
