"""Loading: milliseconds per scenario load, the reference path against the fast path.

The reference path ("before") is PyYAML's pure-Python parser, read by the YAML walker in full,
and jsonschema's iter_errors on every document for the shape; the fast path ("after") is
libyaml, read by the walker's plain-data fast mode, falling back to the reference parser for
anything that is not plain data, and the shape check as it ships: jsonschema-rs says whether
the document fits, and only a document that does not fit goes through jsonschema. Both run
in this process
on the same files, several rounds each; the figures are the best round, in milliseconds per
load. Stages: YAML (bytes -> document), schema (shape check), semantics (the named checks),
total (``load_scenario``: all of them and the model). Target: total under 3 ms.

    python benchmarks/load_speed.py [--rounds 7] [--loads 40] [FILE...]

Without files: the five examples of the format (docs/format.md), as kept in scenarios/.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import yaml

from ftscen.load import schema
from ftscen.load.loader import load_yaml
from ftscen.load.scenario import load_scenario
from ftscen.load.schema import check_shape
from ftscen.load.validate import check_semantics

ROOT = Path(__file__).resolve().parent.parent
CONTRACT = (
    "filter-notrace.yaml",
    "i386-regs-caller-window.yaml",
    "ipmodify-exclusive.yaml",
    "seed-livepatch-tracer-window.yaml",
    "text-poke-new-insn.yaml",
)
TARGET_MS = 3.0


def default_files() -> list[Path]:
    return [ROOT / "scenarios" / name for name in CONTRACT if (ROOT / "scenarios" / name).exists()]


def best_ms(job: Callable[[], object], rounds: int, loads: int) -> float:
    """The best of ``rounds`` rounds of ``loads`` calls, in milliseconds per call."""
    job()  # warm caches (schema, validators) before timing
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(loads):
            job()
        best = min(best, (time.perf_counter() - start) / loads)
    return best * 1000


@contextmanager
def jsonschema_on_every_document() -> Iterator[None]:
    """The reference shape check: jsonschema finds a document's errors (none, if it fits)
    instead of jsonschema-rs telling whether it fits."""
    gate = schema.fits

    def reference(data: Any) -> bool:
        return not list(schema._validator().iter_errors(data))

    schema.fits = reference
    try:
        yield
    finally:
        schema.fits = gate


def stages(path: Path, fast: bool, rounds: int, loads: int) -> dict[str, float]:
    data, name = path.read_bytes(), path.name
    doc = load_yaml(data, name, fast=fast)
    with nullcontext() if fast else jsonschema_on_every_document():
        return {
            "yaml": best_ms(lambda: load_yaml(data, name, fast=fast), rounds, loads),
            "schema": best_ms(lambda: check_shape(doc), rounds, loads),
            "semantics": best_ms(lambda: check_semantics(doc), rounds, loads),
            "total": best_ms(lambda: load_scenario(name, data, fast=fast), rounds, loads),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--loads", type=int, default=40)
    args = parser.parse_args()
    files = args.files or default_files()
    if not files:
        sys.exit("no scenario files; pass FILE...")
    print(f"libyaml: {'yes' if yaml.__with_libyaml__ else 'no (fast YAML path unavailable)'}")
    print(f"{'file':<38} {'stage':<10} {'before ms':>10} {'after ms':>9} {'speed-up':>9}")
    totals = {"before": 0.0, "after": 0.0}
    for path in files:
        before = stages(path, False, args.rounds, args.loads)
        after = stages(path, True, args.rounds, args.loads)
        for stage in before:
            print(
                f"{path.name[:38]:<38} {stage:<10} {before[stage]:>10.3f} {after[stage]:>9.3f}"
                f" {before[stage] / after[stage]:>8.1f}x"
            )
        totals["before"] += before["total"]
        totals["after"] += after["total"]
    mean_before, mean_after = (totals[k] / len(files) for k in ("before", "after"))
    verdict = "within" if mean_after < TARGET_MS else "OVER"
    print(
        f"\nmean total per load: before {mean_before:.3f} ms, after {mean_after:.3f} ms "
        f"({mean_before / mean_after:.1f}x); target {TARGET_MS} ms: {verdict}"
    )


if __name__ == "__main__":
    main()
