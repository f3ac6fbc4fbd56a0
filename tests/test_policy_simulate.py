"""`tokenops policy simulate` on a recorded demo day: cheaper candidates pass, broken ones are rejected."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from tests.conftest import demo_catalog, start_gateway
from tokenops.cli.main import main
from tokenops.routing.curves import Curves

Day = tuple[Path, Path, Path]  # traffic, store home, the catalog in force


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Day]:
    """A short demo day recorded against a real gateway; its store holds the usage records."""
    root = tmp_path_factory.mktemp("day")
    gateway = start_gateway(demo_catalog(), root / "home")
    try:
        args = ["demo", "traffic", "--url", gateway.url, "--duration", "3", "--agents", "2"]
        assert main([*args, "--record", str(root / "day.jsonl")]) == 0
    finally:
        gateway.server.stop()
    in_force = root / "in-force.yaml"
    in_force.write_text(yaml.safe_dump(demo_catalog()))
    yield root / "day.jsonl", root / "home", in_force


def candidate(tmp: Path, change: Callable[[dict[str, Any]], None]) -> Path:
    data = copy.deepcopy(demo_catalog())
    change(data)
    path = tmp / "candidate.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def simulate(day: Day, catalog: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, dict[str, Any]]:
    traffic, home, in_force = day
    capsys.readouterr()
    code = main(["policy", "simulate", "--traffic", str(traffic), "--catalog", str(catalog),
                 "--baseline", str(in_force), "--home", str(home), "--days", "1", "--json", *extra])  # fmt: skip
    return code, orjson.loads(capsys.readouterr().out)


def complexity_routed_max(data: dict[str, Any]) -> None:
    """`tele-max` becomes a complexity alias: routine turns go to tele-lite, hard ones to the big model."""
    for model in data["models"]:
        if model["name"] == "tele-max":
            model["name"] = "tele-max-235b"
    for dep in data["deployments"]:
        if dep["model"] == "tele-max":
            dep["model"] = "tele-max-235b"
    for alias in data["aliases"]:
        for side in ("target", "weak", "strong"):
            if alias.get(side) == "tele-max":
                alias[side] = "tele-max-235b"
    data["aliases"].append({"name": "tele-max", "target": "tele-max-235b", "router": "complexity",
                            "weak": "tele-lite", "strong": "tele-max-235b", "threshold": 0.41})  # fmt: skip
    version = data["prices"]["versions"][0]["models"]
    version["tele-max-235b"] = version.pop("tele-max")
    data["packages"][0]["models"] = ["tele-lite", "tele-max-235b"]


def gov_consolidated_on_shared_east(data: dict[str, Any]) -> None:
    """The bureau's models moved onto the shared pool in cn-east, the tenant loosened to match."""
    for tenant in data["tenants"]:
        if tenant["id"] == "cn-gov-energy":
            tenant["isolation"] = "shared"
            tenant["residency"] = ["cn-north", "cn-east"]
    for dep in data["deployments"]:
        if dep.get("tenant") == "cn-gov-energy":
            dep.update(pool="shared", region="cn-east")
            del dep["tenant"]


def test_the_policy_in_force_replayed_against_itself_passes_with_equal_figures(
    day: Day, capsys: pytest.CaptureFixture[str]
) -> None:
    code, report = simulate(day, day[2], capsys, "--max-cost-increase", "0")
    assert code == 0 and report["passed"]
    for sides in report["tenants"].values():
        assert sides["baseline"] == sides["candidate"]
    total = report["tenants"]["(total)"]["baseline"]
    assert total["violations"] == 0 and total["requests"] > 50
    assert report["output_tokens_from"]["recorded"] > 0  # lines matched to the gateway's usage records
    assert {row["tenant"] for row in report["exhaustion"]["baseline"]} == {
        "acme-manufacturing",
        "cn-gov-energy",
        "nova-tutor",
        "ringback-app",
    }


def test_complexity_routing_acmes_max_traffic_lowers_projected_cost_and_passes(
    day: Day, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, report = simulate(day, candidate(tmp_path, complexity_routed_max), capsys, "--max-cost-increase", "0")
    assert code == 0 and report["passed"]
    acme = report["tenants"]["acme-manufacturing"]
    assert float(acme["candidate"]["cost_exact"]) < float(acme["baseline"]["cost_exact"])
    assert acme["candidate"]["model_mix"]["tele-lite"] > acme["baseline"]["model_mix"]["tele-lite"]
    # in force only acme's `auto` requests may get the weaker model; the candidate routes its tele-max turns too
    assert 0.5 < acme["candidate"]["expected_quality"] < acme["baseline"]["expected_quality"] < 1.0
    assert report["cost_change_pct"] < 0
    assert report["tenants"]["cn-gov-energy"]["candidate"] == report["tenants"]["cn-gov-energy"]["baseline"]


def test_sending_the_dedicated_tenant_to_the_shared_pool_in_cn_east_is_rejected_request_by_request(
    day: Day, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, report = simulate(day, candidate(tmp_path, gov_consolidated_on_shared_east), capsys)
    assert code == 1 and not report["passed"]
    gov = report["tenants"]["cn-gov-energy"]["candidate"]
    assert gov["served"] > 0 and gov["violations"] == gov["served"]  # each of its requests counted
    assert report["tenants"]["(total)"]["candidate"]["violations"] == gov["violations"]
    assert any("outside residency cn-north" in k for k in gov["violations_by_deployment"])
    assert any("isolation loosened" in f for f in report["findings"])
    assert any("residency widened to cn-east" in f for f in report["findings"])
    assert any("gov-grid-north-1" in f and "shared pool" in f for f in report["findings"])
    assert next(c for c in report["checks"] if c["check"] == "residency and isolation")["passed"] is False


def test_moving_a_dedicated_deployment_to_the_shared_pool_is_caught_even_when_the_gateway_would_refuse(
    day: Day, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def share_grid_model(data: dict[str, Any]) -> None:
        dep = next(d for d in data["deployments"] if d["id"] == "gov-grid-north-1")
        dep["pool"] = "shared"
        del dep["tenant"]

    code, report = simulate(day, candidate(tmp_path, share_grid_model), capsys)
    assert code == 1
    gov = report["tenants"]["cn-gov-energy"]["candidate"]
    assert gov["violations"] == 0 and gov["refused_by_reason"] == {"no_permitted_deployment": gov["requests"]}
    assert report["newly_refused"] == gov["requests"]
    assert report["findings"] == [
        "deployment gov-grid-north-1: dedicated to cn-gov-energy in force, moved to the shared pool"
    ]


def test_max_cost_increase_rejects_a_dearer_candidate_and_admits_it_with_headroom(
    day: Day, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def dearer_lite(data: dict[str, Any]) -> None:
        for dep in data["deployments"]:
            if dep["model"] == "tele-lite":
                dep["input_cost_per_mtok"], dep["output_cost_per_mtok"] = "0.90", "1.80"

    path = candidate(tmp_path, dearer_lite)
    code, report = simulate(day, path, capsys, "--max-cost-increase", "10")
    assert code == 1 and report["cost_change_pct"] > 10
    assert next(c for c in report["checks"] if c["check"] == "cost increase")["passed"] is False
    code, report = simulate(day, path, capsys, "--max-cost-increase", "1000")
    assert code == 0 and report["passed"]


def test_without_usage_records_output_tokens_are_estimated_from_each_requests_cap(
    day: Day, capsys: pytest.CaptureFixture[str]
) -> None:
    traffic, _, in_force = day
    assert main(["policy", "simulate", "--traffic", str(traffic), "--catalog", str(in_force), "--json"]) == 0
    report = orjson.loads(capsys.readouterr().out)
    assert set(report["output_tokens_from"]) == {"cap"}
    gov = report["tenants"]["cn-gov-energy"]["baseline"]
    assert gov["output_tokens"] == 128 * gov["served"]  # the batch jobs' max_tokens


def test_usage_records_alone_replay_without_content(day: Day, capsys: pytest.CaptureFixture[str]) -> None:
    _, home, in_force = day
    assert main(["policy", "simulate", "--home", str(home), "--catalog", str(in_force), "--json"]) == 0
    report = orjson.loads(capsys.readouterr().out)
    assert set(report["output_tokens_from"]) <= {"recorded"}
    assert report["tenants"]["(total)"]["baseline"]["served"] > 0


def test_people_get_a_table_and_a_verdict(day: Day, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    traffic, home, _ = day
    path = candidate(tmp_path, gov_consolidated_on_shared_east)
    assert main(["policy", "simulate", "--traffic", str(traffic), "--catalog", str(path), "--home", str(home)]) == 1
    out = capsys.readouterr().out
    assert "In force vs candidate" in out and "REJECTED" in out and "violation" in out


def test_measured_curves_price_each_candidates_threshold_in_expected_quality(
    day: Day, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With `routing evaluate --out` curves, a routed request keeps what its kind keeps at the policy's threshold."""
    sample = Path(__file__).parent / "data" / "routing" / "mmlu_sample.csv"
    curve = tmp_path / "curve.json"
    argv = ["routing", "evaluate", "--dataset", str(sample), "--weak", "mistralai/Mixtral-8x7B-Instruct-v0.1",
            "--strong", "gpt-4-1106-preview", "--out", str(curve), "--json"]  # fmt: skip
    assert main(argv) == 0
    curves = Curves.load(curve)
    qualities = []
    for threshold in (0.3, 0.6):

        def routed(data: dict[str, Any], threshold: float = threshold) -> None:
            complexity_routed_max(data)
            for alias in data["aliases"]:  # the new tele-max alias and the demo's own `auto` alike
                if alias.get("router") == "complexity":
                    alias["threshold"] = threshold

        _, report = simulate(day, candidate(tmp_path, routed), capsys, "--routing-curve", str(curve))
        acme = report["tenants"]["acme-manufacturing"]["candidate"]
        assert acme["expected_quality"] == pytest.approx(curves.quality(None, threshold), abs=1e-4)
        baseline = report["tenants"]["acme-manufacturing"]["baseline"]["expected_quality"]
        # in force, acme's explicit tele-max turns keep all their quality and its `auto` turns what the curve keeps
        assert curves.quality(None, 0.41) <= baseline < 1.0
        qualities.append((acme["expected_quality"], acme["model_mix"].get("tele-lite", 0.0)))
    (q_low, lite_low), (q_high, lite_high) = qualities
    assert q_low > q_high and lite_low < lite_high  # a higher threshold: more tele-lite, less of the strong quality
