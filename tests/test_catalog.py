"""The YAML catalog: the demo loads, and every mistake is reported by the field that holds it."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.conftest import ROOT, demo_catalog
from tokenops import bpe
from tokenops.catalog import load_catalog, parse_catalog
from tokenops.catalog.model import EXACT_TOKENIZERS
from tokenops.errors import ConfigError


def test_demo_catalog_tells_the_operators_story() -> None:
    spec = load_catalog(ROOT / "examples" / "demo.yaml")
    assert set(spec.tenants) == {"acme-manufacturing", "cn-gov-energy", "ringback-app", "nova-tutor"}
    gov = spec.tenants["cn-gov-energy"]
    assert gov.isolation == "dedicated" and gov.residency == ("cn-north",) and gov.kind == "government"
    assert {m for m in spec.models} >= {"tele-lite", "tele-max", "grid-fault-expert", "tele-embed"}
    assert spec.models["tele-lite"].context_window == 32768
    dedicated = [d for d in spec.deployments.values() if d.pool == "dedicated"]
    assert dedicated and all(d.tenant == "cn-gov-energy" and d.region == "cn-north" for d in dedicated)
    assert {k.plaintext for k in spec.keys} == {"sk-demo-acme", "sk-demo-gov", "sk-demo-consumer", "sk-demo-partner",
                                                "sk-demo-tutor"}  # fmt: skip


def _broken(change: Any) -> str:
    data = copy.deepcopy(demo_catalog())
    change(data)
    with pytest.raises(ConfigError) as caught:
        parse_catalog(data)
    return str(caught.value)


def test_unknown_field_is_named() -> None:
    assert _broken(lambda d: d["tenants"][0].update(sectr="x")) == "catalog.tenants[0].sectr: unknown field"


def test_missing_field_is_named() -> None:
    assert "catalog.models[1].context_window: required" in _broken(lambda d: d["models"][1].pop("context_window"))


def test_bad_choice_is_named_with_the_options() -> None:
    message = _broken(lambda d: d["tenants"][2].update(kind="alien"))
    assert message.startswith("catalog.tenants[2].kind: must be one of enterprise, government, consumer")


def test_reference_to_unknown_model_is_named() -> None:
    assert "catalog.deployments[0].model: unknown model 'nope'" in _broken(
        lambda d: d["deployments"][0].update(model="nope")
    )


def test_dedicated_deployment_of_a_shared_tenant_is_rejected() -> None:
    def change(d: dict[str, Any]) -> None:
        d["deployments"][-1]["tenant"] = "acme-manufacturing"

    assert "is not dedicated" in _broken(change)


def test_money_as_float_is_rejected() -> None:
    assert "write money as a string" in _broken(lambda d: d["deployments"][0].update(input_cost_per_mtok=0.3))


def test_wrong_type_is_named() -> None:
    assert _broken(lambda d: d["models"][0].update(context_window="big")) == (
        "catalog.models[0].context_window: must be int, got str"
    )


def test_the_exact_tokenizer_families_are_the_encodings_that_ship() -> None:
    assert sorted(EXACT_TOKENIZERS) == sorted(bpe.families())
    assert all(bpe.load(family) is not None for family in EXACT_TOKENIZERS)
