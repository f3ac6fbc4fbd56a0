"""`tokenops routing train|evaluate --traffic`: the operator's recorded requests with its own quality labels."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import openai
import orjson
import pytest

from tests.conftest import demo_catalog, start_gateway
from tokenops.cli.main import main
from tokenops.routing.curves import Curves
from tokenops.routing.model import ComplexityRouter

NAMES = ["Ada", "Bo", "Chen", "Dara", "Eli", "Fang", "Gus", "Hana", "Ivo", "Jun", "Kai", "Lea"]
THINGS = ["a CSV file", "an HTTP header", "a date string", "a JSON patch", "a log line", "a URL query"]
PLACES = ["France", "Peru", "Kenya", "Japan", "Norway", "Chile", "Egypt", "Canada", "Nepal", "Ghana"]


def _request(rng: random.Random, i: int) -> tuple[str, float, float]:
    """(prompt, weak judge score, strong judge score): the weak model falls short on math and code."""
    match i % 4:
        case 0:
            text = (f"Compute the compound interest on {rng.randint(100, 9000)} dollars at {rng.randint(2, 9)} "
                    f"percent over {rng.randint(2, 30)} years and show each step of the calculation.")  # fmt: skip
            weak, strong = 3.0, 9.0
        case 1:
            text = f"Write a python function that parses {rng.choice(THINGS)} and returns a dict; add unit tests."
            weak, strong = 4.0, 9.0
        case 2:
            text = f"Say hello to {rng.choice(NAMES)} in a friendly way"
            weak, strong = 9.0, 9.0
        case _:
            text = f"What is the capital of {rng.choice(PLACES)}?"
            weak, strong = 9.0, 9.0
    if rng.random() < 0.1:  # judges disagree now and then
        weak, strong = strong, weak
    return text, weak, strong


def _tag(seed: int, i: int) -> str:
    """A request's own reference in letters: digits would make any prompt look like a word problem."""
    return "".join(chr(ord("a") + int(d)) for d in f"{seed}{i:04d}")


def _write(path: Path, n: int, seed: int, inline: bool) -> list[dict[str, Any]]:
    """A recorded traffic file (as `tokenops demo traffic --record` writes it); labels inline or returned."""
    rng = random.Random(seed)
    lines, labels = [], []
    for i in range(n):
        text, weak, strong = _request(rng, i)
        body = {"model": "auto", "messages": [{"role": "user", "content": f"{text} (ref {_tag(seed, i)})"}]}
        line: dict[str, Any] = {"tenant": "acme-manufacturing", "time": 1_700_000_000 + i, "api": "chat.completions",
                                "body": body}  # fmt: skip
        if inline:
            line["quality"] = {"weak": weak, "strong": strong}
        else:
            labels.append({"line": i + 1, "weak": weak, "strong": strong})
        lines.append(line)
    path.write_bytes(b"".join(orjson.dumps(x) + b"\n" for x in lines))
    return labels


def _json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> dict[str, Any]:
    capsys.readouterr()
    assert main(argv) == 0
    report: dict[str, Any] = orjson.loads(capsys.readouterr().out)
    return report


def test_a_router_trained_on_recorded_traffic_learns_where_the_weak_model_falls_short(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    train, labels, model = tmp_path / "train.jsonl", tmp_path / "labels.jsonl", tmp_path / "mine.json.gz"
    labels.write_bytes(b"".join(orjson.dumps(x) + b"\n" for x in _write(train, 400, seed=1, inline=False)))
    argv = ["routing", "train", "--traffic", str(train), "--labels", str(labels), "--out", str(model)]
    assert main([*argv, "--epochs", "3", "--min-count", "2"]) == 0

    later = tmp_path / "later.jsonl"  # next week's traffic, never trained on
    _write(later, 200, seed=2, inline=True)
    curve = tmp_path / "curve.json"
    argv = ["routing", "evaluate", "--traffic", str(later), "--model", str(model), "--quality", "0.95"]
    report = _json(capsys, [*argv, "--out", str(curve), "--json"])
    assert report["scope"] == "all rows" and report["n"] == 200 and report["labelled_rows"] == 200
    assert report["apgr"] > 0.7 > report["random"]["apgr"] + 0.15
    assert report["savings_at_95pct_strong_accuracy"] > report["random"]["savings_at_95pct_strong_accuracy"] + 0.2
    point = report["operating_point"]
    assert point["reached"] and point["quality_of_strong"] >= 0.95 and point["strong_share"] < 0.7
    assert set(report["kinds"]) == {"math-word", "code", "chat", "question"}
    assert report["kinds"]["question"]["weak_accuracy"] == pytest.approx(
        report["kinds"]["question"]["strong_accuracy"], abs=2.0
    )

    # the threshold the report names does what it says on these requests
    curves = Curves.load(curve)
    share, kept = curves.by_kind["(all)"].at_threshold(point["threshold"])
    assert share == pytest.approx(point["strong_share"], abs=0.05) and kept >= 0.95 - 0.02

    # on the training file itself only the held-out split is judged
    again = _json(capsys, ["routing", "evaluate", "--traffic", str(train), "--labels", str(labels),
                           "--model", str(model), "--json"])  # fmt: skip
    assert again["scope"].startswith("held-out") and 0 < again["n"] < 400


def test_ratings_of_the_weak_models_answers_are_labels_and_the_usage_records_say_who_served(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = random.Random(3)
    asked = []
    for i in range(16):
        text, weak, strong = _request(rng, i)
        asked.append((f"{text} (ref {_tag(3, i)})", weak, strong))
    catalog = demo_catalog()
    router = ComplexityRouter.load_default()
    scores = sorted(router.score_text(text) for text, _, _ in asked)
    for alias in catalog["aliases"]:
        if alias["name"] == "auto":
            alias["threshold"] = (scores[7] + scores[8]) / 2  # about half the requests go to each model
    gateway = start_gateway(catalog, tmp_path / "home")
    lines, labels = [], []
    try:
        api = openai.OpenAI(base_url=gateway.url + "/v1", api_key="sk-demo-acme", max_retries=0)
        for i, (text, weak, _) in enumerate(asked):
            body = {"model": "auto", "messages": [{"role": "user", "content": text}]}
            api.chat.completions.create(**body, extra_headers={"X-Request-Id": f"rq-{i}"})  # type: ignore[call-overload]
            lines.append({"tenant": "acme-manufacturing", "time": 1_700_000_000 + i, "request_id": f"rq-{i}",
                          "body": body})  # fmt: skip
            labels.append({"request_id": f"rq-{i}", "rating": 1 if weak < 5 else 5})  # a user's 1-5 stars
        choices = {r["correlation_id"]: r["routing_choice"] for r in gateway.records()}
    finally:
        gateway.server.stop()
    traffic, rated = tmp_path / "t.jsonl", tmp_path / "stars.jsonl"
    traffic.write_bytes(b"".join(orjson.dumps(x) + b"\n" for x in lines))
    rated.write_bytes(b"".join(orjson.dumps(x) + b"\n" for x in labels))
    weak_served = sum(1 for c in choices.values() if c == "weak")
    assert 0 < weak_served < 16

    argv = ["routing", "evaluate", "--traffic", str(traffic), "--labels", str(rated), "--home", str(tmp_path / "home")]
    report = _json(capsys, [*argv, "--json"])
    assert report["labelled_rows"] == report["n"] == weak_served
    assert report["skipped"] == {"rating of the strong model's answer": 16 - weak_served}
    assert report["strong_accuracy"] == 5.0  # a weak answer rated low is one the strong model is taken to fix

    capsys.readouterr()
    assert main(["routing", "evaluate", "--traffic", str(traffic), "--labels", str(rated)]) == 2
    assert "no labelled chat requests" in capsys.readouterr().err


def test_a_label_in_no_known_form_is_a_clean_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    traffic = tmp_path / "t.jsonl"
    line = {"tenant": "t", "time": 1, "body": {"model": "auto", "messages": [{"role": "user", "content": "hi"}]}}
    traffic.write_bytes(orjson.dumps({**line, "quality": {"stars": 3}}) + b"\n")
    assert main(["routing", "evaluate", "--traffic", str(traffic)]) == 2
    assert "a label gives 'weak' and 'strong', 'rating', or 'agreement'" in capsys.readouterr().err
    traffic.write_bytes(orjson.dumps({**line, "quality": {"agreement": 1.5}}) + b"\n")
    assert main(["routing", "evaluate", "--traffic", str(traffic)]) == 2
    assert "'agreement' is a share" in capsys.readouterr().err
