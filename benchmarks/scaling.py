"""Scaling: time and peak memory of generated scenarios as each dimension grows to its limit.

Four series, each varying one dimension with the others small: functions (10 to 5,000),
ops (1 to 256), timeline steps (10 to 10,000) and calls (10 to 100,000; ``during`` calls
at ``sites.int3`` of register/unregister steps). Each scenario is written to a file and
checked the way ``ftscen run FILE`` checks it (load, validate, build, run, verdicts) in
this process. Printed per size: CPU seconds (median of ``--repeat``), peak memory allocated
by Python during the check (tracemalloc, a separate pass) and the outcome; per series: the
growth exponent fitted between the sizes (log time against log size; 1 is linear), and the
exponent between the two largest sizes alone. The bar: every fitted exponent <= 1.15 and no
size fails.

    python benchmarks/scaling.py [--repeat 3] [--series calls]
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

BAR = 1.15


def scenario_text(functions: int = 4, ops: int = 1, steps: int = 2, calls: int = 0) -> str:
    """A valid scenario: ``functions`` functions (the first calls the second), ``ops`` ops
    filtering the first function, ``steps`` timeline steps and about ``calls`` calls."""
    out = ["ftscen: 1", "functions:", "  - name: f0", "    calls: [f1]"]
    out += [f"  - name: f{i}" for i in range(1, functions)]
    out += ["ops:"] + [f"  - name: o{i}\n    filter: [f0]" for i in range(ops)]
    out.append("timeline:")
    out += _calls(calls) if calls else _steps(steps, ops)
    return "\n".join(out) + "\n"


def _steps(steps: int, ops: int) -> list[str]:
    """Register and unregister every ops, then calls of f0 up to ``steps`` steps."""
    lines = [f"  - register: o{i}" for i in range(ops)]
    lines += [f"  - unregister: o{i}" for i in range(ops)]
    return lines + ["  - call: f0"] * max(1, steps - len(lines))


def _calls(calls: int) -> list[str]:
    """Register/unregister steps each placing 32 calls at ``sites.int3``, then the rest."""
    per, lines, left = 32, [], calls
    action = "register"
    while left >= per:
        entries = ", ".join(["{at: sites.int3, call: f0}"] * per)
        lines.append(f"  - {action}: o0\n    during: [{entries}]")
        action = "unregister" if action == "register" else "register"
        left -= per
    return lines + ["  - call: f0"] * left


SERIES: dict[str, tuple[list[int], Callable[[int], str]]] = {
    "functions": ([10, 100, 1_000, 5_000], lambda n: scenario_text(functions=n)),
    "ops": ([1, 8, 64, 256], lambda n: scenario_text(ops=n)),
    "steps": ([10, 100, 1_000, 10_000], lambda n: scenario_text(steps=n)),
    "calls": ([10, 1_000, 100_000], lambda n: scenario_text(calls=n)),
}


def check(path: Path) -> str:
    from ftscen.app import pipeline

    reports = pipeline.check_file(path)
    return ",".join(r.outcome.name for r in reports)


def measure(path: Path, repeat: int) -> tuple[float, int, str]:
    times = []
    outcome = ""
    for _ in range(repeat):
        start = time.process_time()
        outcome = check(path)
        times.append(time.process_time() - start)
    tracemalloc.start()
    check(path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return statistics.median(times), peak, outcome


def exponent(points: list[tuple[int, float]]) -> float:
    """Least-squares slope of log(time) against log(size)."""
    xs = [math.log(n) for n, _ in points]
    ys = [math.log(max(t, 1e-6)) for _, t in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum(
        (x - mx) ** 2 for x in xs
    )


def run_series(name: str, folder: Path, repeat: int) -> bool:
    sizes, make = SERIES[name]
    points = []
    ok = True
    print(f"{name}:")
    for n in sizes:
        path = folder / f"{name}-{n}.yaml"
        path.write_text(make(n), encoding="utf-8")
        seconds, peak, outcome = measure(path, repeat)
        ok &= outcome == "PASS"
        points.append((n, seconds))
        print(
            f"  {n:>7,}  {seconds * 1000:10.1f} ms CPU  {peak / 2**20:8.1f} MiB peak  "
            f"{path.stat().st_size / 1024:8.0f} KiB file  {outcome}"
        )
    k = exponent(points)
    top = exponent(points[-2:])  # the largest step alone: superlinear growth shows there first
    ok &= k <= BAR
    print(
        f"  growth exponent {k:.2f} (bar <= {BAR}): {'ok' if k <= BAR else 'SUPERLINEAR'}; "
        f"between the two largest sizes {top:.2f}"
    )
    return ok


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3, help="timed checks per size (median)")
    ap.add_argument("--series", choices=sorted(SERIES), action="append", help="only these")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        check_warm = Path(tmp, "warm.yaml")
        check_warm.write_text(scenario_text(), encoding="utf-8")
        check(check_warm)  # imports, the runtime's assembly, the engine
        results = [run_series(s, Path(tmp), args.repeat) for s in args.series or SERIES]
    print("all series linear, none failed" if all(results) else "FAILED: see above")
    sys.exit(0 if all(results) else 1)


if __name__ == "__main__":
    main()
