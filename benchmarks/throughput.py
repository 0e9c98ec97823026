"""Corpus throughput: scenarios per second per core, in one process, against the floor.

Runs a set of scenario files (default: every scenario under ``scenarios/``, else the test
fixtures) repeated until at least ``--min`` runs, through the same job function
``ftscen run DIR`` uses (load, validate, build, run every kernel, check, render), serially.
Rates are per core: runs divided by the process's CPU time (steadier than wall-clock time on
a shared machine). In the same run, the floor: what the emulator alone costs per scenario
when used the simplest way (a fresh ``Uc``, one ``mem_map``, one ``mem_write`` and one short
``emu_start``), and the ratio of the two. Bar: 300 scenarios/s/core; goal: 500.

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
BAR, GOAL = 300.0, 500.0
LOOP = bytes.fromhex("b90a000000") + b"\xe2\xfe"  # mov ecx, 10; loop $: 11 instructions


def floor_rate(n: int) -> float:
    """Bare Unicorn per scenario, in runs per CPU second."""
    from unicorn import UC_ARCH_X86, UC_MODE_32, UC_PROT_ALL, Uc

    start = time.process_time()
    for _ in range(n):
        uc = Uc(UC_ARCH_X86, UC_MODE_32)
        uc.mem_map(0x100000, 0x1000, UC_PROT_ALL)
        uc.mem_write(0x100000, LOOP)
        uc.emu_start(0x100000, 0x100000 + len(LOOP))
    return n / (time.process_time() - start)


def verdict(rate: float) -> str:
    return "goal met" if rate >= GOAL else "bar met" if rate >= BAR else "BELOW THE BAR"


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
        t0 = time.process_time()
        sc = api.load(f)
        t1 = time.process_time()
        results = [run_scenario(sc, p) for p in api.profiles(sc, None)]
        t2 = time.process_time()
        for r in results:
            outcome, verdicts = evaluate(r)
            log_lines(r)
            render_text(api.ScenarioReport(r, outcome, tuple(verdicts), str(f)))
        out["load"] += t1 - t0
        out["run"] += t2 - t1
        out["check+render"] += time.process_time() - t2
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
    for job in jobs[: len(files)]:  # warm-up: imports, the runtime's assembly, the engine
        run_job(job)
    floor_rate(20)
    before = floor_rate(len(jobs) // 2 + 1)
    start, wall = time.process_time(), time.perf_counter()
    bad = sum(1 for j in jobs if run_job(j).error is not None)
    cpu, wall = time.process_time() - start, time.perf_counter() - wall
    floor = (before + floor_rate(len(jobs) // 2 + 1)) / 2  # before and after: the same load
    rate = len(jobs) / cpu
    print(
        f"in-process: {len(jobs)} runs of {len(files)} scenario files: {rate:.0f} scenarios/s/core "
        f"({cpu / len(jobs) * 1000:.2f} ms CPU each, {wall:.2f} s wall) "
        f"(bar {BAR:.0f}, goal {GOAL:.0f}: {verdict(rate)})"
    )
    print(
        f"floor (Uc + mem_map + mem_write + one short emu_start, same run): {floor:.0f}/s/core "
        f"({1000 / floor:.2f} ms each); corpus / floor: {rate / floor:.2f}"
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
