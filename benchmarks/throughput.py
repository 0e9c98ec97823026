"""Corpus throughput: scenarios per second in one process, one core.

Runs a set of scenario files (default: every scenario under ``scenarios/``, else the test
fixtures) repeated until at least ``--min`` runs, through the same job function
``ftscen run DIR`` uses (load, validate, build, run, check, render), serially.
Target: at least 100 scenarios per second.

    python benchmarks/throughput.py [--min 400] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = 100.0


def scenario_files(given: list[str]) -> list[Path]:
    from ftscen.app import corpus

    if given:
        return corpus.discover(given)
    for rel in ("scenarios", "tests/fixtures"):
        found = corpus.discover([ROOT / rel])
        if found:
            return found
    sys.exit("no scenarios found")


def phases(files: list[Path]) -> dict[str, float]:
    """Seconds per phase over one pass: load (YAML, schema, checks), run, verdicts+report."""
    from ftscen.app import pipeline as api
    from ftscen.emu.run import run_scenario
    from ftscen.report.text import log_lines, render_text
    from ftscen.verdicts.evaluate import evaluate

    out = {"load": 0.0, "run": 0.0, "check+render": 0.0}
    for f in files:
        t0 = time.perf_counter()
        sc = api.load(f)
        t1 = time.perf_counter()
        results = [run_scenario(sc, p) for p in api.profiles(sc, None)]
        t2 = time.perf_counter()
        for r in results:
            outcome, verdicts = evaluate(r)
            log_lines(r)
            render_text(api.ScenarioReport(r, outcome, tuple(verdicts), str(f)))
        out["load"] += t1 - t0
        out["run"] += t2 - t1
        out["check+render"] += time.perf_counter() - t2
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("paths", nargs="*", help="scenario files or directories")
    ap.add_argument("--min", type=int, default=400, help="at least this many runs")
    ap.add_argument("--profile", action="store_true", help="print the top of a cProfile")
    args = ap.parse_args()
    from ftscen.app.corpus import Job, run_job

    files = scenario_files(args.paths)
    jobs = [Job(str(f)) for f in files] * max(1, -(-args.min // len(files)))
    for job in jobs[: len(files)]:  # warm-up: imports, cached runtime assembly
        run_job(job)
    start = time.perf_counter()
    bad = sum(1 for j in jobs if run_job(j).error is not None)
    elapsed = time.perf_counter() - start
    rate = len(jobs) / elapsed
    print(
        f"in-process: {len(jobs)} runs of {len(files)} scenario files in {elapsed:.2f} s: "
        f"{rate:.0f} scenarios/s, {elapsed / len(jobs) * 1000:.2f} ms each"
        f"  (target >= {TARGET:.0f}/s: {'ok' if rate >= TARGET else 'BELOW TARGET'})"
    )
    split = phases(files)
    total = sum(split.values())
    print(
        "  one pass by phase: "
        + ", ".join(
            f"{k} {v / len(files) * 1000:.2f} ms ({v / total:.0%})" for k, v in split.items()
        )
    )
    cli_rate(files, len(jobs))
    if bad:
        print(f"warning: {bad} runs ended in an internal error")
    if args.profile:
        profiler = cProfile.Profile()
        profiler.runcall(lambda: [run_job(j) for j in jobs])
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)


def cli_rate(files: list[Path], n: int) -> None:
    """``ftscen run DIR -q`` in one process over copies of the files (start-up included)."""
    copies = max(1, n // len(files))
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(copies):
            folder = Path(tmp, f"c{i:03}")
            folder.mkdir()
            for j, f in enumerate(files):
                shutil.copyfile(f, folder / f"{j:03}-{f.name}")
        cmd = [sys.executable, "-m", "ftscen", "run", tmp, "-q"]
        start = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        elapsed = time.perf_counter() - start
    total = copies * len(files)
    print(
        f"ftscen run DIR -q: {total} scenario files in {elapsed:.2f} s (one process, "
        f"start-up included): {total / elapsed:.0f} scenarios/s"
    )


if __name__ == "__main__":
    main()
