"""Random sequential scenarios for ``crosscheck --generate``: a plain seeded generator.

It draws what the test suite's scenario strategies draw (functions with calls down the list,
ops with flags, filters, notrace hashes, redirects and handler calls, a timeline of register,
unregister, set_filter, set_notrace, sysctl and call steps), minus what a real kernel cannot
show (``during`` calls, CPU pinning, other eras, assertions). Plain ``random`` so that the
feature does not need the test-only dependency; the same seed gives the same scenarios.
"""

from __future__ import annotations

import random
from typing import Any

import yaml

from ftscen.core.errors import ScenarioInvalid
from ftscen.core.model import Scenario
from ftscen.load.scenario import load_scenario

FUNCS = ("do_IRQ", "schedule", "tick", "f", "g", "__migrate_task", "work_fn", "do_IRQ_v2")
OPS = ("livepatch", "tracer", "probe", "kp")
FLAGS = ("SAVE_REGS", "SAVE_REGS_IF_SUPPORTED", "IPMODIFY", "DYNAMIC", "RECURSION", "PERMANENT")
Data = dict[str, Any]


def _globs(rng: random.Random, names: list[str]) -> list[str]:
    picked = rng.sample(names, rng.randint(1, min(3, len(names))))
    return [n if rng.random() < 0.5 else n[: rng.randint(1, len(n))] + "*" for n in picked]


def _functions(rng: random.Random) -> list[Data]:
    names = rng.sample(FUNCS, rng.randint(1, 6))
    table = []
    for i, name in enumerate(names):
        entry: Data = {"name": name}
        later = names[i + 1 :]
        if later and rng.random() < 0.5:
            entry["calls"] = [rng.choice(later) for _ in range(rng.randint(0, 3))]
        if rng.randint(0, 4) == 0:
            entry["notrace"] = True
        table.append(entry)
    return table


def _ops(rng: random.Random, name: str, funcs: list[Data]) -> Data:
    names = [f["name"] for f in funcs]
    traceable = [f["name"] for f in funcs if not f.get("notrace")]
    entry: Data = {"name": name}
    flags = rng.sample(FLAGS, rng.randint(0, 3))
    if flags:
        entry["flags"] = flags
    if traceable and rng.random() < 0.5:
        entry["filter"] = _globs(rng, traceable)
    if traceable and "IPMODIFY" not in flags and rng.randint(0, 3) == 0:
        entry["notrace"] = _globs(rng, traceable)
    if "SAVE_REGS" in flags and traceable and len(names) > 1 and rng.random() < 0.5:
        source = rng.choice(traceable)
        entry["redirect"] = {source: rng.choice([n for n in names if n != source])}
    if rng.randint(0, 3) == 0:
        entry["calls"] = [rng.choice(names) for _ in range(rng.randint(1, 2))]
    return entry


def _step(rng: random.Random, i: int, names: list[str], traceable: list[str],
          ops: list[str]) -> Data:  # fmt: skip
    kinds = ["call"] + (["register", "unregister", "set_filter", "set_notrace"] if ops else [])
    kind = rng.choice([*kinds, "sysctl"])
    if kind == "call":
        return {"call": rng.choice(names), "id": f"c{i}"}
    if kind == "sysctl":
        return {"sysctl": {"ftrace_enabled": rng.random() < 0.5}}
    if kind in ("register", "unregister"):
        return {kind: rng.choice(ops)}
    edit: Data = {"ops": rng.choice(ops)}
    edit[kind[4:]] = _globs(rng, traceable) if rng.random() < 0.5 else []
    if rng.random() < 0.5:
        edit["reset"] = rng.random() < 0.5
    return {kind: edit}


def scenario_data(rng: random.Random) -> Data:
    funcs = _functions(rng)
    names = [f["name"] for f in funcs]
    traceable = [f["name"] for f in funcs if not f.get("notrace")] or names
    ops = [_ops(rng, n, funcs) for n in rng.sample(OPS, rng.randint(0, 3))]
    ops_names = [o["name"] for o in ops]
    steps = [_step(rng, i, names, traceable, ops_names) for i in range(rng.randint(1, 8))]
    data: Data = {"ftscen": 1, "kernel": {"version": "6.1"}, "functions": funcs}
    if ops:
        data["ops"] = ops
    data["timeline"] = steps
    return data


def generate(n: int, seed: int) -> list[tuple[str, Scenario, str]]:
    """``n`` valid scenarios: (shown name, scenario, YAML text); invalid draws are redrawn."""
    rng = random.Random(seed)
    out: list[tuple[str, Scenario, str]] = []
    while len(out) < n:
        text = yaml.safe_dump(scenario_data(rng), sort_keys=False, default_flow_style=None)
        shown = f"generated/seed{seed}-{len(out)}.yaml"
        try:
            out.append((shown, load_scenario(shown, text.encode()), text))
        except ScenarioInvalid:  # a draw the validator refuses: draw again
            continue
    return out
