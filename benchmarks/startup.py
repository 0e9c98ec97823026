"""Start-up: ``ftscen run SCENARIO`` against the bare imports of its dependencies.

Both commands run alternately in fresh processes, several times each; the figures are
medians of wall-clock time. Target: ftscen within 1.5x of the bare imports.

``ftscen`` is the console script, so the command line is parsed by typer, as for a user.
Both sides run with bytecode caches (in a temporary directory, written during the warm-up
run even when PYTHONDONTWRITEBYTECODE is set): the dependencies come with compiled bytecode,
and without this ftscen's own modules would be compiled from source on every run.

    python benchmarks/startup.py [--runs 15] [--scenario FILE]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BARE = "import yaml, jsonschema, typer, unicorn, capstone, keystone"
CANDIDATES = ("scenarios/seed-livepatch-tracer-window.yaml",
              "tests/fixtures/seed-livepatch-tracer-window.yaml")
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


def timed(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT,
                          env=env, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        sys.exit(f"{' '.join(cmd)} exited {proc.returncode}: {proc.stderr.decode()}")
    return elapsed


def measure(bare: list[str], run: list[str], runs: int) -> tuple[list[float], list[float]]:
    """Alternate runs of both commands, sharing one bytecode cache."""
    with tempfile.TemporaryDirectory(prefix="ftscen-pycache-") as cache:
        env = cached_env(cache)
        timed(bare, env), timed(run, env)  # warm the page cache and bytecode caches
        t_bare, t_run = [], []
        for _ in range(runs):
            t_bare.append(timed(bare, env))
            t_run.append(timed(run, env))
    return t_bare, t_run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--scenario", type=Path, default=None)
    args = ap.parse_args()
    scenario = args.scenario or default_scenario()
    bare = [sys.executable, "-c", BARE]
    run = [*ftscen_command(), "run", os.path.relpath(scenario, ROOT)]
    t_bare, t_run = measure(bare, run, args.runs)
    m_bare, m_run = statistics.median(t_bare), statistics.median(t_run)
    ratio = m_run / m_bare
    print(f"python {sys.version.split()[0]}, {args.runs} runs each, medians (min..max)")
    print(f"bare imports : {m_bare * 1000:7.1f} ms  ({min(t_bare) * 1000:.1f}..{max(t_bare) * 1000:.1f})")
    print(f"ftscen run   : {m_run * 1000:7.1f} ms  ({min(t_run) * 1000:.1f}..{max(t_run) * 1000:.1f})"
          f"  [{' '.join(run[-2:])}]")
    verdict = "ok" if ratio <= TARGET else "ABOVE TARGET"
    print(f"ratio        : {ratio:7.2f}x  (target <= {TARGET}x: {verdict})")


if __name__ == "__main__":
    main()
