"""What a person at a terminal (or reading a CI log) sees of a corpus run: progress, colour,
-q, golden mismatches as outcomes, and a Ctrl-C that keeps what finished."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from support import FIXTURES, NOT_CI, copy_fixture, invoke
from typer.testing import CliRunner

from ftscen.app.cli import app
from ftscen.app.output import wants_color
from ftscen.report.terminal import Progress

ANSI = re.compile(r"\x1b\[[0-9;]*m")


# ---- progress --------------------------------------------------------------------------------
class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_progress_shows_rate_eta_and_running_counts() -> None:
    out, clock = io.StringIO(), Clock()
    progress = Progress(out, 10, width=lambda: 200, clock=clock)
    clock.now += 2
    progress.advance("a.yaml", ok=True)
    clock.now += 2
    progress.advance("b.yaml", ok=False)
    # 2 files in 4 s: 0.5/s, so the 8 left take 16 s
    assert out.getvalue().endswith("\r\x1b[K[2/10] 0.5/s ETA 0:16  1 PASS 1 FAIL  b.yaml")


def test_progress_is_cut_to_the_terminal_width() -> None:
    out = io.StringIO()
    progress = Progress(out, 3, width=lambda: 40, clock=Clock())
    progress.advance("a/very/long/path/to/a/scenario/file.yaml", ok=True)
    line = out.getvalue().rsplit("\x1b[K", 1)[1]
    assert len(line) == 39 and line.startswith("[1/3] ")  # never wraps: \r cannot undo a wrap


def test_progress_is_erased_and_not_drawn_for_the_last_file() -> None:
    out = io.StringIO()
    progress = Progress(out, 2, width=lambda: 80, clock=Clock())
    progress.advance("a.yaml", ok=True)
    progress.clear()
    progress.advance("b.yaml", ok=True)
    assert out.getvalue().endswith("\r\x1b[K") and "b.yaml" not in out.getvalue()


# ---- colour ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("mode", "terminal", "env", "want"),
    [
        ("auto", True, {}, True),
        ("auto", False, {}, False),
        ("auto", True, {"NO_COLOR": "1"}, False),
        ("auto", True, {"NO_COLOR": ""}, True),  # no-color.org: only a non-empty value counts
        ("auto", False, {"FORCE_COLOR": "1"}, True),
        ("auto", False, {"FORCE_COLOR": "0"}, False),
        ("auto", False, {"FORCE_COLOR": "1", "NO_COLOR": "1"}, False),
        ("always", False, {"NO_COLOR": "1"}, True),
        ("never", True, {"FORCE_COLOR": "1"}, False),
    ],
)
def test_color_follows_the_option_then_the_environment(
    mode: str, terminal: bool, env: dict[str, str], want: bool
) -> None:
    assert wants_color(mode, terminal, env) is want


@pytest.mark.parametrize(
    ("args", "env", "coloured"),
    [
        (["--color", "always"], {}, True),
        ([], {"FORCE_COLOR": "1"}, True),
        (["--color", "never"], {"FORCE_COLOR": "1"}, False),
        ([], {"FORCE_COLOR": "1", "NO_COLOR": "1"}, False),
        ([], {}, False),  # CliRunner's output is no terminal
    ],
)
def test_color_option_and_environment_reach_the_output(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    env: dict[str, str],
    coloured: bool,
) -> None:
    monkeypatch.chdir(tmp_path)
    for var in ("NO_COLOR", "FORCE_COLOR"):
        monkeypatch.delenv(var, raising=False)
    copy_fixture("filter-notrace.yaml", tmp_path / "d")
    copy_fixture("failing-filter.yaml", tmp_path / "d")
    result = CliRunner().invoke(app, ["run", "d", *args], env=env)
    assert result.exit_code == 1
    assert ("\x1b[1;31mFAIL\x1b[0m  d/failing-filter.yaml" in result.stdout) is coloured
    assert ("\x1b[" in result.stdout) is coloured
    assert ANSI.sub("", result.stdout).splitlines()[0].startswith("FAIL  d/failing-filter.yaml")


# ---- -q and goldens ---------------------------------------------------------------------------
@pytest.fixture
def mixed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for name in ("filter-notrace.yaml", "failing-filter.yaml", "xfail-skip-window.yaml"):
        copy_fixture(name, tmp_path / "d")
    return tmp_path


def test_quiet_over_several_files_prints_only_failures_and_the_summary(mixed: Path) -> None:
    loud = invoke(["run", "d"])
    quiet = invoke(["run", "d", "-q"])
    assert loud.exit_code == quiet.exit_code == 1
    assert "PASS  d/filter-notrace.yaml" in loud.stdout
    assert "XFAIL  d/xfail-skip-window.yaml" in loud.stdout
    lines = quiet.stdout.splitlines()
    assert lines[0] == "FAIL  d/failing-filter.yaml [kernel 6.6]: 1/2 assertions hold"
    assert lines[1].startswith("  FAIL  d/failing-filter.yaml:14:5: call outside")
    assert "PASS" not in quiet.stdout.replace("1 PASS", "")
    assert lines[-1] == "3 scenarios: 1 PASS, 1 FAIL, 1 XFAIL"


def _goldens(folder: Path, *names: str) -> None:
    for name in names:
        copy_fixture(name, folder)
    assert invoke(["run", str(folder), "--update-golden"], env=NOT_CI).exit_code == 0


def _edit_log(golden: Path) -> None:
    text = golden.read_text()
    golden.write_text(text.replace("outcome: PASS", "outcome: FAIL", 1))


def test_a_golden_mismatch_is_the_lines_outcome_and_stale_and_differing_are_counted_apart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    names = ("filter-notrace.yaml", "ipmodify-exclusive.yaml", "text-poke-new-insn.yaml")
    _goldens(tmp_path / "g", *names, "i386-regs-caller-window.yaml")
    g = tmp_path / "g"
    _edit_log(g / "filter-notrace.golden")  # differs
    with (g / "ipmodify-exclusive.yaml").open("a") as f:  # stale: its scenario was edited
        f.write("# edited\n")
    with (g / "text-poke-new-insn.yaml").open("a") as f:  # stale, and its log differs
        f.write("# edited\n")
    _edit_log(g / "text-poke-new-insn.golden")
    result = invoke(["run", "g", "--golden"])
    assert result.exit_code == 1
    heads = [t for t in result.stdout.splitlines() if re.match(r"^[A-Z]", t)]
    assert heads[:4] == [
        "FAIL (golden)  g/filter-notrace.yaml [kernel 6.6]: 10/10 assertions hold",
        "PASS  g/i386-regs-caller-window.yaml [kernel 5.3]: 9/9 assertions hold",
        "FAIL (golden)  g/ipmodify-exclusive.yaml [kernel 6.6]: 8/8 assertions hold",
        "FAIL (golden)  g/text-poke-new-insn.yaml [kernel 5.10]: 11/11 assertions hold",
    ]
    assert result.stdout.splitlines()[-1] == (
        "4 scenarios: 4 PASS; goldens: 1 match, 1 differ, 1 stale, 1 stale and differ"
    )


# ---- Ctrl-C ----------------------------------------------------------------------------------
def _in_group(pgid: int) -> list[int]:
    """Processes of a process group still running (not zombies)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            found.append(int(stat.parent.name))
    return found


@pytest.mark.skipif(sys.platform != "linux", reason="lists processes through /proc")
def test_ctrl_c_with_jobs_prints_the_partial_summary_and_writes_a_partial_junit(
    tmp_path: Path,
) -> None:
    many = tmp_path / "many"
    many.mkdir()
    for i in range(300):
        shutil.copyfile(FIXTURES / "filter-notrace.yaml", many / f"s{i:03}.yaml")
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "ftscen", "run", "many", "--jobs", "2", "--junit", "r.xml"],
        cwd=tmp_path,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group, as a shell job has
    )
    try:
        assert proc.stdout is not None
        for _ in range(20):  # some files finished, many to go
            assert proc.stdout.readline().startswith("PASS  many/s")
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C: the terminal signals the whole group
        rest, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "Exception ignored" not in err, err
    summary = rest.splitlines()[-1]
    found = re.match(r"(\d+) scenarios: \1 PASS \(interrupted\)$", summary)
    assert found, summary
    done = int(found.group(1))
    assert 20 <= done < 300
    assert f"ftscen: interrupted: {done} of 300 files finished" in err
    deadline = time.monotonic() + 10
    while _in_group(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _in_group(proc.pid) == []  # no worker left behind
    suite = ET.parse(tmp_path / "r.xml").getroot().find("testsuite")
    assert suite is not None and suite.get("tests") == str(done)
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props == {"interrupted": "true"}
    assert len(suite.findall("testcase")) == done


def test_an_interrupted_json_report_says_so_and_covers_what_finished(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ftscen.app import corpus, session

    monkeypatch.chdir(tmp_path)
    for name in ("filter-notrace.yaml", "ipmodify-exclusive.yaml"):
        copy_fixture(name, tmp_path / "d")

    def first_then_ctrl_c(jobs: list[corpus.Job], workers: int = 1) -> Iterator[object]:
        yield corpus.run_job(jobs[0])
        raise KeyboardInterrupt

    monkeypatch.setattr(corpus, "run_jobs", first_then_ctrl_c)
    out, err = io.StringIO(), io.StringIO()
    opts = session.RunOptions(("d",), json=True, junit="r.xml")
    assert session.run_session(opts, session.Streams(out, err)) == 130
    doc = json.loads(out.getvalue())
    assert doc["interrupted"] is True and len(doc["results"]) == 1
    assert err.getvalue() == (
        "ftscen: interrupted: 1 of 2 files finished; the summary and reports cover only those\n"
    )
    assert "interrupted" in (tmp_path / "r.xml").read_text()
