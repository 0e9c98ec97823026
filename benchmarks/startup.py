"""Start-up: ``ftscen run SCENARIO`` against the bare imports of its dependencies.

Both commands run alternately in fresh processes, several times each; the figures are
medians of wall-clock time (the target: ftscen within 1.5x of the bare imports), with the
CPU time beside them (steadier than wall-clock time on a busy machine).

``ftscen`` is the console script, so the command line is parsed by typer, as for a user.
Both sides run with bytecode caches (in a temporary directory, written during the warm-up
run even when PYTHONDONTWRITEBYTECODE is set): the dependencies come with compiled bytecode,
and without this ftscen's own modules would be compiled from source on every run.

    python benchmarks/startup.py [--runs 15] [--scenario FILE]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BARE = "import yaml, jsonschema, typer, unicorn, capstone, keystone"
CANDIDATES = (
    "scenarios/seed-livepatch-tracer-window.yaml",
    "tests/fixtures/seed-livepatch-tracer-window.yaml",
)
TARGET = 1.5


def default_scenario() -> Path:
    for rel in CANDIDATES:
        if (ROOT / rel).exists():
            return ROOT / rel
    sys.exit("no seed scenario found; pass --scenario FILE")


def ftscen_command() -> list[str]:
    beside = Path(sys.executable).with_name("ftscen")
    found = beside if beside.exists() else shutil.which("ftscen")
    return [str(found)] if found else [sys.executable, "-m", "ftscen"]


def cached_env(cache: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = cache
    return env


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall-clock and CPU (user + system) seconds of one run of CMD."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT, env=env, check=False
    )
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode not in (0, 1):
        sys.exit(f"{' '.join(cmd)} exited {proc.returncode}: {proc.stderr.decode()}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, cpu


def measure(
    bare: list[str], run: list[str], runs: int
) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    """Alternate runs of both commands, sharing one bytecode cache."""
    with tempfile.TemporaryDirectory(prefix="ftscen-pycache-") as cache:
        env = cached_env(cache)
        timed(bare, env), timed(run, env)  # warm the page cache and bytecode caches
        t_bare, t_run = [], []
        for _ in range(runs):
            t_bare.append(timed(bare, env))
            t_run.append(timed(run, env))
    return t_bare, t_run


def row(label: str, samples: list[tuple[float, float]]) -> tuple[float, float]:
    """Print one command's figures; return its wall and CPU medians."""
    wall = [w * 1000 for w, _ in samples]
    cpu = statistics.median(c * 1000 for _, c in samples)
    print(
        f"{label:13s}: {statistics.median(wall):7.1f} ms  ({min(wall):.1f}..{max(wall):.1f})"
        f"  cpu {cpu:7.1f} ms"
    )
    return statistics.median(wall), cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--scenario", type=Path, default=None)
    args = ap.parse_args()
    scenario = args.scenario or default_scenario()
    bare = [sys.executable, "-c", BARE]
    run = [*ftscen_command(), "run", os.path.relpath(scenario, ROOT)]
    t_bare, t_run = measure(bare, run, args.runs)
    print(f"python {sys.version.split()[0]}, {args.runs} runs each, medians (min..max)")
    print(f"  bare imports: {BARE}")
    print(f"  ftscen run  : {' '.join([Path(run[0]).name, *run[1:]])}")
    w_bare, c_bare = row("bare imports", t_bare)
    w_run, c_run = row("ftscen run", t_run)
    ratio = w_run / w_bare
    verdict = "ok" if ratio <= TARGET else "ABOVE TARGET"
    print(
        f"ratio        : {ratio:7.2f}x  (target <= {TARGET}x: {verdict})  cpu {c_run / c_bare:.2f}x"
    )


if __name__ == "__main__":
    main()
