"""Generate libraries of N realistic playbooks in the real format, for the benchmarks.

A generated library is the bundled library (its policy and its eight playbooks, copied byte
for byte) plus `N - 8` variants of the bundled playbooks, the way a large organisation ends up
with one copy of "database failure" per database team:

- every variant is scoped to services of its own (`appliesWhen` becomes
  `all: [{field: incident.service, oneOf: [its services]}, <the original condition>]`), so an
  incident selects a handful of playbooks, not a growing share of the library;
- ids of the playbook, its rules, steps and notifications get the variant's suffix (and so do
  `dependsOn` references), so nothing shadows anything;
- one template per variant (the first step's details) gains a variant-specific sentence, and
  step titles name the variant's team: template sources are partly shared, partly unique, as
  in real copy-and-adapt libraries.

An incident of the bundled examples selects exactly what it selects in the bundled library,
so `playbook run` prints the same plan against both (the benchmarks check this).

Usage: `python benchmarks/generate.py OUT_DIR N [--seed S] [--incidents K]`.
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import shutil
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
BUNDLED = REPO / "playbooks"
TEAMS = ("atlas", "borealis", "cobalt", "delta", "ember", "fjord", "granite", "harbor")


def bundled_playbooks() -> list[Path]:
    """The bundled playbook files (the policy excluded), sorted."""
    return sorted(p for p in BUNDLED.glob("*.yaml") if p.name != "policy.yaml")


def _suffix_ids(spec: dict[str, Any], suffix: str) -> None:
    for rule in spec.get("classification", {}).get("rules", []):
        rule["id"] = f"{rule['id']}-{suffix}"
    for step in spec.get("steps", []):
        step["id"] = f"{step['id']}-{suffix}"
        if "dependsOn" in step:
            step["dependsOn"] = [f"{d}-{suffix}" for d in step["dependsOn"]]
    for notification in spec.get("notifications", []):
        notification["id"] = f"{notification['id']}-{suffix}"


def variant(base: dict[str, Any], number: int, rng: random.Random) -> dict[str, Any]:
    """Variant `number` of a bundled playbook's data."""
    doc = copy.deepcopy(base)
    suffix = f"{number:05d}"
    team = TEAMS[number % len(TEAMS)]
    meta, spec = doc["metadata"], doc["spec"]
    meta["id"] = f"{meta['id']}-{suffix}"
    meta["title"] = f"{meta['title']} ({team} {suffix})"
    services = [f"svc-{suffix}-{part}" for part in rng.sample(["api", "db", "worker", "web"], 2)]
    scope = {"field": "incident.service", "oneOf": services}
    applies = spec.get("appliesWhen")
    spec["appliesWhen"] = {"all": [scope, applies]} if applies else scope
    spec.pop("fallback", None)  # one fallback playbook per library: the bundled one
    spec["order"] = rng.choice([20, 30, 40, 50, 60, 80])
    _suffix_ids(spec, suffix)
    steps = spec.get("steps", [])
    for step in steps:
        step["title"] = f"[{team}] {step['title']}"
    if steps:
        extra = f"Runbook of team {team}, section {number}: check svc-{suffix} dashboards first."
        steps[0]["details"] = (steps[0].get("details", "") + "\n" + extra).strip() + "\n"
    return doc


def generate(out: Path, count: int, seed: int = 1, incidents: int = 0) -> Path:
    """Write a library of `count` playbooks (at least the 8 bundled ones) plus a policy to
    `out` (emptied first), and `incidents` incidents aimed at random variants under
    `out/incidents/`. Returns `out`."""
    rng = random.Random(seed)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    shutil.copy(BUNDLED / "policy.yaml", out / "policy.yaml")
    bases = bundled_playbooks()
    for path in bases:
        shutil.copy(path, out / path.name)
    datas = [yaml.safe_load(p.read_text(encoding="utf-8")) for p in bases]
    datas = [d for d in datas if not d["spec"].get("fallback")]
    made: list[dict[str, Any]] = []
    for number in range(max(0, count - len(bases))):
        doc = variant(datas[number % len(datas)], number, rng)
        made.append(doc)
        name = doc["metadata"]["id"]
        text = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100)
        header = "# yaml-language-server: $schema=../../../schemas/playbook.schema.json\n"
        # Spread over team folders, as large libraries are.
        folder = out / TEAMS[number % len(TEAMS)]
        folder.mkdir(exist_ok=True)
        (folder / f"{name}.yaml").write_text(header + text, encoding="utf-8")
    if incidents:
        folder = out / "incidents"
        folder.mkdir()
        for index in range(incidents):
            target = rng.choice(made) if made else None
            service = target["spec"]["appliesWhen"]["all"][0]["oneOf"][0] if target else "web"
            incident = {
                "id": f"INC-{index:05d}",
                "title": f"Errors on {service}",
                "startedAt": "2026-01-31T23:27:00Z",
                "detectedAt": "2026-01-31T23:30:00Z",
                "service": service,
                "environment": rng.choice(["production", "staging"]),
                "severity": rng.choice(["critical", "high", "low"]),
                "description": rng.choice(
                    [
                        "Checkout is down for everyone: HTTP 503 errors.",
                        "Replication lag on the replica keeps growing.",
                        "Reports are slow since the deploy; timeouts in the UI.",
                        "Leaked API keys found in a public repository.",
                    ]
                ),
                "customersAffected": rng.choice([1, 40, 500, 5000]),
                "labels": {"category": rng.choice(["database", "outage", "performance"])},
            }
            path = folder / f"{index:05d}.json"
            path.write_text(json.dumps(incident, indent=2) + "\n", encoding="utf-8")
    return out


def main() -> None:
    """Command line: see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("count", type=int)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--incidents", type=int, default=0)
    args = parser.parse_args()
    generate(args.out, args.count, args.seed, args.incidents)


if __name__ == "__main__":
    main()
