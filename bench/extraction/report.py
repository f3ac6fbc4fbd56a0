"""The evaluation's figures per kind, against the issue's targets, as JSON and Markdown."""

from __future__ import annotations

import statistics
from typing import Any

TARGET = {"scraper": 100, "mixed": 100, "campaign": 200}  # requests within which a scraper counts as caught
DIFFERENCES = (
    "Calibration (bench/extraction/calibration.py) and evaluation (bench/extraction/traffic.py) share no code, "
    "template, vocabulary or seed. Calibration's scrapers harvest MATH problems with five wrapper phrasings; the "
    "evaluation's harvest MMLU and LLMRouter prompts with eight styles, four of which (teacher-by-another-name, "
    "'write every intermediate step', 'curated instruction corpus', a custom JSON record) no lexicon entry names, "
    "plus paraphrase templates, catalogue/listing/error-code templates, campaigns over keys made together and "
    "over tenants rotating through a /24, and scrapes hidden in batch, agent and RAG keys. Its honest people ask "
    "Chatbot Arena prompts and their own domain questions; its agents, batch jobs, apps and bots are written anew."
)


DEVELOPMENT = (
    "This evaluation was also run while the defence was built, and two of its findings changed the detectors: "
    "scrapes hidden in busy keys went unseen (the distillation and enumeration windows now hold a key's one-shot, "
    "answer-heavy requests only), and a cluster throttled an honest agent behind a scrape's office address "
    "(a cluster now acts only on the members that carry its evidence). Each change was checked on the "
    "calibration traffic (hidden-scrape mixes of its own) or in a unit test; no threshold was set from these figures, "
    "and no phrasing, template or question of the evaluation entered the lexicon or the calibration."
)


def build(
    clients: list[Any], outcomes: dict[str, Any], events: list[dict[str, Any]], wall: float, gateway_cpu: float,
    cpu: dict[str, Any], command: str,
) -> dict[str, Any]:  # fmt: skip
    rows = []
    for c in clients:
        o = outcomes[c.name]
        target = TARGET.get(c.role)
        if c.role == "campaign":
            caught = o.all_keys_at is not None and o.all_keys_at <= TARGET["campaign"]
        elif c.role == "mixed":
            caught = o.pushback_scrape_at is not None and o.pushback_scrape_at <= TARGET["mixed"]
        else:
            caught = o.pushback_at is not None and (target is None or o.pushback_at <= target)
        rows.append({
            "client": c.name, "role": c.role, "kind": c.kind, "tenant": c.tenant, "keys": len(c.keys),
            "sent": o.sent, "scrape_sent": o.scrape_sent, "first_pushback_at": o.pushback_at,
            "first_pushback_scrape_at": o.pushback_scrape_at, "all_keys_pushed_at": o.all_keys_at,
            "pushed_back": o.pushback_at is not None, "caught": caught if c.role != "benign" else None,
            "detectors": sorted({e["detector"] for e in events if e["key"] in c.keys}),
            "other_errors": {str(k): v for k, v in o.other_errors.items()},
        })  # fmt: skip
    kinds: dict[str, dict[str, Any]] = {}
    for r in rows:
        k = kinds.setdefault(r["kind"], {"role": r["role"], "clients": 0, "keys": 0, "requests": 0, "pushed": 0,
                                          "caught": 0, "until": [], "detectors": set()})  # fmt: skip
        k["clients"] += 1
        k["keys"] += r["keys"]
        k["requests"] += r["sent"]
        k["pushed"] += r["pushed_back"]
        k["caught"] += bool(r["caught"])
        at = r["first_pushback_scrape_at"] if r["role"] == "mixed" else (
            r["all_keys_pushed_at"] if r["role"] == "campaign" else r["first_pushback_at"])  # fmt: skip
        if at is not None:
            k["until"].append(at)
        k["detectors"] |= set(r["detectors"])
    for k in kinds.values():
        until = k.pop("until")
        k["detectors"] = sorted(k["detectors"])
        k["median_until_pushback"] = statistics.median(until) if until else None
        k["max_until_pushback"] = max(until) if until else None
    benign = [r for r in rows if r["role"] == "benign"]
    scrapers = [r for r in rows if r["role"] != "benign"]
    apps = [r for r in benign if r["kind"].startswith("app-users")]
    served = sum(r["sent"] for r in rows)
    return {
        "command": command,
        "wall_s": round(wall, 1),
        "requests": served,
        "gateway_cpu_ms_per_request": round(gateway_cpu / max(served, 1) * 1000, 3),
        "scrapers": len(scrapers),
        "scrapers_caught": sum(bool(r["caught"]) for r in scrapers),
        "benign_keys": len(benign),
        "benign_keys_pushed_back": sum(r["pushed_back"] for r in benign),
        "many_user_app_keys_pushed_back": sum(r["pushed_back"] for r in apps),
        "cpu": cpu,
        "kinds": kinds,
        "clients": rows,
        "independence": DIFFERENCES,
        "development": DEVELOPMENT,
    }


def _pct(a: int, b: int) -> str:
    return f"{a}/{b} ({100 * a / b:.1f}%)" if b else "0/0"


def markdown(doc: dict[str, Any]) -> str:
    cpu = doc["cpu"]
    lines = [
        "# Bulk-extraction defence: evaluation on traffic the detectors were not tuned on",
        "",
        f"Command: `.venv/bin/python {doc['command']}` — a real gateway (`tokenops serve`, embedded store, policy "
        f"`throttle`, no rate limits) driven over HTTP for {doc['wall_s']} s; {doc['requests']:,} requests.",
        "",
        "| target | goal | result |",
        "|---|---|---|",
        f"| scrapers caught (100 requests each; 200 over a campaign's keys, all keys) | >= 95% | "
        f"{_pct(doc['scrapers_caught'], doc['scrapers'])} |",
        f"| benign keys ever pushed back | <= 0.5% | {_pct(doc['benign_keys_pushed_back'], doc['benign_keys'])} |",
        f"| templated app with many end users pushed back | never | {doc['many_user_app_keys_pushed_back']} keys |",
        f"| added CPU on the request path | <= 0.02 ms | {cpu['added_on_path_us'] / 1000:.4f} ms "
        f"({cpu['added_on_path_us']} µs) |",
        "",
        f"Off the path, after each response, the detectors take {cpu['background_us']} µs a request (features, "
        f"all detectors, cluster sweeps); the size estimate alone takes {cpu['estimate_only_us']} µs, with the "
        f"defence's slices {cpu['estimate_and_slices_us']} µs, the throttle lookup {cpu['throttle_lookup_us']} µs "
        f"(in process, best of rounds, {cpu['requests']:,} of the evaluation's requests). The whole gateway used "
        f"{doc['gateway_cpu_ms_per_request']} ms of CPU per request in the run (simulated models included).",
        "",
        "| kind | role | clients | keys | requests | pushed back | caught | median / max requests to pushback | "
        "detectors |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, k in sorted(doc["kinds"].items(), key=lambda kv: (kv[1]["role"] != "benign", kv[0])):
        caught = "-" if k["role"] == "benign" else _pct(k["caught"], k["clients"])
        until = (
            "-" if k["median_until_pushback"] is None else f"{k['median_until_pushback']:g} / {k['max_until_pushback']}"
        )
        lines.append(f"| {name} | {k['role']} | {k['clients']} | {k['keys']} | {k['requests']:,} | "
                     f"{k['pushed']} | {caught} | {until} | {', '.join(k['detectors']) or '-'} |")  # fmt: skip
    lines += [
        "",
        "Requests to pushback count a single key's requests; over a campaign, all its keys' requests until every "
        "key was pushed back; in a mixed key, the hidden scrape's requests.",
        "",
        "How the evaluation differs from calibration: " + doc["independence"],
        "",
        doc.get("development", DEVELOPMENT),
        "",
    ]
    return "\n".join(lines)
