"""No input crashes ftscen: generated scenarios, valid and broken, end in a verdict or in
diagnostics, never in a traceback, an internal error (exit 3) or a hang.

In process (fast, many examples): loading raises nothing but :class:`ScenarioInvalid`, whose
diagnostics each name the file, a line and column (line 0 only for a problem with the whole
file), a JSON path and a message; a loaded scenario runs to reports that render. Through the
real console script (fewer examples): the exit code is 0, 1 or 2 and stderr holds no
traceback.

Runs are reproducible (``derandomize``). ``HYPOTHESIS_PROFILE=long`` runs many more examples,
with fresh randomness, for a local hunt.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from scenario_strategies import assertions, broken_files, dump, odd_scalar_files, scenarios
from support import run_ftscen, write_file

from ftscen.app.pipeline import check_file
from ftscen.core.diagnostics import render_json, render_text
from ftscen.core.errors import Diagnostic, ScenarioInvalid
from ftscen.core.profile import profile_for
from ftscen.emu.run import Budget, dry_run
from ftscen.load.scenario import load_scenario
from ftscen.report.text import render_json as report_json
from ftscen.report.text import render_text as report_text

_QUIET = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]
settings.register_profile(
    "ci",
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=_QUIET,
    print_blob=True,
)
settings.register_profile(
    "long", max_examples=3000, deadline=None, suppress_health_check=_QUIET, print_blob=True
)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
IN_PROCESS = settings(settings.get_profile(PROFILE if PROFILE in ("ci", "long") else "ci"))
SUBPROCESS = settings(IN_PROCESS, max_examples=20 if PROFILE != "long" else 200)

pytestmark = pytest.mark.slow  # deselect with -m "not slow"

# Generated calls are short; a small budget keeps a runaway (a legal verdict) quick.
BUDGET = Budget(per_call=200_000, total=2_000_000)


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def assert_actionable(diag: Diagnostic, file: str) -> None:
    assert diag.file == file
    assert isinstance(diag.message, str) and diag.message.strip(), diag
    assert diag.path.startswith("$"), diag
    assert diag.line >= 0 and diag.col >= 0, diag
    if diag.line == 0:  # a problem with the whole file
        assert (diag.col, diag.path) == (0, "$"), diag
    else:
        assert diag.col >= 1, diag


class Hang(Exception):
    pass


@contextmanager
def time_limit(seconds: int) -> Iterator[None]:
    """Fail instead of hanging the suite (the console-script tests have their own timeout)."""

    def expire(signum: int, frame: object) -> None:
        raise Hang(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def check_in_process(path: Path) -> None:
    """The pipeline on ``path``: only ScenarioInvalid may escape, and reports render."""
    with time_limit(30):
        _check_in_process(path)


def _check_in_process(path: Path) -> None:
    shown = str(path)
    try:
        reports = check_file(path, budget=BUDGET)
    except ScenarioInvalid as invalid:
        assert invalid.diagnostics, "ScenarioInvalid without diagnostics"
        event(f"invalid: {invalid.diagnostics[0].message[:30]}")
        for diag in invalid.diagnostics:
            assert_actionable(diag, shown)
        render_text(invalid.diagnostics)
        render_json(invalid.diagnostics)
        return
    for report in reports:
        event(f"ran: {report.outcome.value}")
        report_text(report)
    report_json(reports)


# ---- in process ----------------------------------------------------------------------------


@IN_PROCESS
@given(broken_files())
def test_no_input_escapes_as_anything_but_diagnostics(work: Path, data: bytes) -> None:
    check_in_process(write_file(work, "fuzz.yaml", data))


@IN_PROCESS
@given(odd_scalar_files())
def test_odd_scalars_become_values_or_diagnostics(work: Path, data: bytes) -> None:
    check_in_process(write_file(work, "fuzz.yaml", data))


@IN_PROCESS
@given(st.binary(max_size=300) | st.text(max_size=300).map(lambda t: t.encode("utf-8")))
def test_random_bytes_end_in_diagnostics(work: Path, data: bytes) -> None:
    check_in_process(write_file(work, "fuzz.yaml", data))


@IN_PROCESS
@given(scenarios(durings=False), st.data())
def test_a_valid_scenario_runs_to_a_verdict(
    work: Path, data: dict[str, Any], draw: st.DataObject
) -> None:
    """Valid scenarios load; with during calls placed at points their steps really pass
    (found by a dry run), they run to reports without any diagnostic."""
    path = write_file(work, "fuzz.yaml", dump(data).encode())
    sc = load_scenario(path)
    passed = {s.index: s.points for s in dry_run(sc, profile_for(sc.kernel)).steps}
    funcs = [f["name"] for f in data["functions"]]
    ids = [step["id"] for step in data["timeline"] if "id" in step]
    for i, step in enumerate(data["timeline"]):
        if passed.get(i) and draw.draw(st.booleans()):
            step["during"] = [
                {
                    "at": draw.draw(st.sampled_from(passed[i])),
                    "call": draw.draw(st.sampled_from(funcs)),
                    "id": f"d{i}",
                }
            ]
            if sc.kernel.cpus > 2 and draw.draw(st.booleans()):
                step["during"][0]["cpu"] = draw.draw(st.integers(1, sc.kernel.cpus - 1))
            ids.append(f"d{i}")
    expect = draw.draw(assertions(data["functions"], data.get("ops", []), ids))
    data.pop("expect", None)
    if expect:
        data["expect"] = expect
    path.write_bytes(dump(data).encode())
    with time_limit(30):
        reports = check_file(path, budget=BUDGET)
    assert reports
    for report in reports:
        report_text(report)


# ---- through the console script ------------------------------------------------------------


@SUBPROCESS
@given(
    broken_files(),
    st.sampled_from(
        (
            ("run",),
            ("run", "--format", "json"),
            ("validate",),
            ("validate", "--format", "json"),
            ("points",),
        )
    ),
)
def test_the_console_script_exits_0_1_or_2_without_a_traceback(
    work: Path, data: bytes, command: tuple[str, ...]
) -> None:
    path = write_file(work, "cli.yaml", data)
    done = run_ftscen([*command, path.name], work)
    assert done.returncode in (0, 1, 2), (done.returncode, done.stderr[-3000:])
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    assert "internal error" not in done.stderr, done.stderr[-3000:]
