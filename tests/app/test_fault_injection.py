"""Fault injection on real ``ftscen`` processes: what an operator sees when the surroundings fail.

Each test starts ``python -m ftscen`` and breaks something around it: the reader of its
output goes away, its output is closed or full, it is interrupted or killed mid-run with
worker processes, its inputs are unreadable, FIFOs, devices or oversize. The promise each
test holds is listed in docs/reliability.md.

Unreadable files need a process the permissions apply to. The tests run as root here, and
``nobody`` cannot start this interpreter (it lives under root's home), so as root the
child drops the two capabilities that let root ignore permissions (CAP_DAC_OVERRIDE and
CAP_DAC_READ_SEARCH) from its bounding set before it starts; as another user, ``chmod``
alone does it.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from support import REPO, Preexec, run_ftscen

from ftscen.app.workers import PER_CPU, usable_cpus, worker_count
from ftscen.core.model import LIMITS
from ftscen.report.golden import parse

CORPUS = REPO / "scenarios"
FAST = CORPUS / "filter-notrace.yaml"
LINUX = sys.platform == "linux"
ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def start(*args: str, cwd: Path, **kwargs: object) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    return subprocess.Popen(
        [sys.executable, "-m", "ftscen", *args], cwd=cwd, env=env, text=True, **kwargs
    )


def quiet(done: subprocess.CompletedProcess[str]) -> None:
    """No traceback and no 'bug in ftscen' report: the failure was the surroundings'."""
    assert "Traceback" not in done.stderr, done.stderr
    assert "internal error" not in done.stderr, done.stderr
    assert "Exception ignored" not in done.stderr, done.stderr


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """A copy of the scenario corpus (goldens included), to break and to write into."""
    target = tmp_path / "corpus"
    shutil.copytree(CORPUS, target, ignore=shutil.ignore_patterns("invalid"))
    return target


@pytest.fixture
def small(tmp_path: Path) -> Path:
    target = tmp_path / "small"
    target.mkdir()
    shutil.copyfile(FAST, target / FAST.name)
    shutil.copyfile(FAST.with_suffix(".golden"), target / "filter-notrace.golden")
    return target


# ---- permissions that apply to the child ---------------------------------------------------
_PR_CAPBSET_DROP, _CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH = 24, 1, 2


def _drop_dac() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH):
        if libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def _probe(preexec: Preexec, tmp: Path) -> bool:
    locked = tmp / "probe"
    locked.write_text("x")
    locked.chmod(0)
    try:
        done = subprocess.run(
            [sys.executable, "-c", f"open({str(locked)!r}).read()"],
            preexec_fn=preexec,
            capture_output=True,
            check=False,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    finally:
        locked.chmod(0o600)
    return done.returncode != 0 and b"PermissionError" in done.stderr


@pytest.fixture
def unprivileged(tmp_path_factory: pytest.TempPathFactory) -> Preexec:
    """A preexec_fn under which file permissions hold for the child (None: they already do)."""
    if not ROOT:
        return None
    if LINUX and _probe(_drop_dac, tmp_path_factory.mktemp("probe")):
        return _drop_dac
    pytest.skip(
        "running as root and cannot drop CAP_DAC_OVERRIDE for the child (no "
        "CAP_SETPCAP), so permissions cannot be made to apply"
    )


# ---- closed, full and broken outputs -------------------------------------------------------
@pytest.mark.parametrize(
    "args",
    [
        ("run", "."),
        ("run", ".", "--jobs", "2"),
        ("points", "filter-notrace.yaml"),
        ("validate", "--format", "json", "filter-notrace.yaml"),
    ],
    ids=["run", "run-jobs", "points", "validate-json"],
)
def test_a_reader_that_goes_away_ends_the_run_quietly_with_141(
    small: Path, args: tuple[str, ...]
) -> None:
    shutil.copyfile(FAST, small / "second.yaml")  # two files: --jobs 2 starts workers
    proc = start(*args, cwd=small, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # as `| head -0`: the reader is gone before the first line
    err = proc.stderr.read()
    assert proc.wait(timeout=60) == 141, err
    assert err == ""


def test_a_full_stdout_is_one_line_naming_the_reason_and_exit_4(small: Path) -> None:
    with open("/dev/full", "w") as full:
        done = run_ftscen(["run", "filter-notrace.yaml"], cwd=small, stdout=full)
    quiet(done)
    assert done.returncode == 4
    assert done.stderr == (
        "ftscen: error: cannot write to standard output: No space left on device\n"
    )


def test_a_closed_stdout_is_refused_before_anything_runs(small: Path) -> None:
    done = run_ftscen(
        ["run", "filter-notrace.yaml", "--update-golden"],
        cwd=small,
        preexec=lambda: os.close(1),
        stdout=None,
    )
    quiet(done)
    assert done.returncode == 4
    assert "standard output is closed" in done.stderr


def test_a_closed_stderr_keeps_the_exit_status(small: Path) -> None:
    done = run_ftscen(["run", "missing.yaml"], cwd=small, preexec=lambda: os.close(2), stderr=None)
    assert done.returncode == 2  # the missing file's status: what it would say is lost


@pytest.mark.parametrize(
    ("given", "said"),
    [("", "--junit needs a file name"), ("sub", "--junit: sub is a folder; name a file in it")],
)
def test_a_junit_path_that_is_no_file_name_is_a_usage_error(
    small: Path, given: str, said: str
) -> None:
    (small / "sub").mkdir()
    done = run_ftscen(["run", "filter-notrace.yaml", "--junit", given], cwd=small)
    quiet(done)
    assert done.returncode == 2
    assert said in done.stderr


def test_an_unwritable_junit_report_names_the_path_and_exits_4(
    small: Path, unprivileged: Preexec
) -> None:
    locked = small / "reports"
    locked.mkdir(mode=0o555)
    done = run_ftscen(
        ["run", "filter-notrace.yaml", "--junit", "reports/r.xml"], cwd=small, preexec=unprivileged
    )
    quiet(done)
    assert done.returncode == 4
    assert "cannot write the JUnit report reports/r.xml: Permission denied" in done.stderr
    assert "PASS" in done.stdout  # the run itself was reported


def test_an_unwritable_golden_folder_is_reported_per_file_and_exits_4(
    small: Path, unprivileged: Preexec
) -> None:
    (small / "filter-notrace.golden").unlink()
    small.chmod(0o555)
    try:
        done = run_ftscen(["run", ".", "--update-golden"], cwd=small, preexec=unprivileged)
    finally:
        small.chmod(0o755)
    quiet(done)
    assert done.returncode == 4
    assert "golden filter-notrace.golden: cannot be written (Permission denied)" in done.stdout
    assert "goldens: 1 unwritable" in done.stdout


# ---- interrupted and killed runs with workers ----------------------------------------------
def children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        found |= {int(c) for c in task.read_text().split()}
    return found


def alive(pid: int) -> bool:
    """Running, not a zombie (a dead child its new parent has not reaped yet)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def wait_for_workers(proc: subprocess.Popen[str], count: int) -> set[int]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = children(proc.pid)
        if len(found) >= count:
            time.sleep(0.3)  # let them take their first files
            return children(proc.pid)
        assert proc.poll() is None, "the run ended before its workers started"
        time.sleep(0.02)
    raise AssertionError("no workers appeared")


def gone(pids: set[int], within: float = 10) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not any(alive(p) for p in pids):
            return True
        time.sleep(0.05)
    return False


def complete_goldens(folder: Path) -> None:
    """Every golden is whole: the meta header, a body, and the outcome line at the end."""
    for path in folder.rglob("*.golden"):
        golden = parse(path.read_text(encoding="utf-8"))
        assert golden.sha256 and golden.body, path
        assert golden.body[-1].startswith("outcome: "), path


@contextmanager
def update_run(corpus: Path) -> Iterator[tuple[subprocess.Popen[str], set[int]]]:
    for golden in corpus.rglob("*.golden"):
        golden.unlink()  # so every file's job writes one
    proc = start(
        "run",
        ".",
        "--jobs",
        "2",
        "--update-golden",
        cwd=corpus,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        yield proc, wait_for_workers(proc, 2)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)
        assert proc.stderr is not None
        proc.stderr.close()


@pytest.mark.skipif(not LINUX, reason="lists worker processes through /proc")
@pytest.mark.parametrize(
    ("how", "status"), [("interrupt", 130), ("terminate", 143), ("kill", -signal.SIGKILL)]
)
def test_stopping_the_parent_mid_run_leaves_no_worker_and_no_partial_golden(
    corpus: Path, how: str, status: int
) -> None:
    with update_run(corpus) as (proc, workers):
        assert len(workers) == 2
        if how == "interrupt":  # Ctrl-C: the terminal signals the whole process group
            os.killpg(proc.pid, signal.SIGINT)
        else:
            os.kill(proc.pid, signal.SIGTERM if how == "terminate" else signal.SIGKILL)
        assert proc.wait(timeout=30) == status
        err = proc.stderr.read() if proc.stderr else ""
    assert "Traceback" not in err and "internal error" not in err, err
    assert gone(workers), [p for p in workers if alive(p)]
    complete_goldens(corpus)
    assert len(list(corpus.rglob("*.golden"))) < len(list(corpus.rglob("*.yaml")))


@pytest.mark.skipif(not LINUX, reason="the death signal is Linux's prctl")
def test_a_worker_whose_parent_died_before_it_started_exits() -> None:
    code = (
        "import os, sys; from ftscen.app.workers import _die_with_parent\n"
        "_die_with_parent(os.getppid() + 1); sys.exit(0)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, check=False, timeout=30
    )
    assert done.returncode == 1


def test_jobs_are_capped_and_the_cap_is_said(capsys: pytest.CaptureFixture[str]) -> None:
    import io

    cap = min(PER_CPU * usable_cpus(), 64)
    err = io.StringIO()
    assert worker_count(100_000, 10_000, err) == cap
    assert f"--jobs 100000 capped at {cap}" in err.getvalue()
    quiet_err = io.StringIO()
    assert worker_count(100_000, 3, quiet_err) == min(3, cap)  # never more than the files
    assert quiet_err.getvalue() == ""


# ---- inputs that are unreadable, special or oversize ---------------------------------------
def test_an_unreadable_folder_fails_the_run_and_is_named(
    small: Path, unprivileged: Preexec
) -> None:
    hidden = small / "locked"
    hidden.mkdir()
    shutil.copyfile(FAST, hidden / "x.yaml")
    hidden.chmod(0)
    try:
        whole = run_ftscen(["run", ".", "-q"], cwd=small, preexec=unprivileged)
        named = run_ftscen(["run", "locked"], cwd=small, preexec=unprivileged)
    finally:
        hidden.chmod(0o755)
    for done in (whole, named):
        quiet(done)
        assert done.returncode == 2
        assert "UNREADABLE  locked: cannot read the folder: Permission denied" in done.stdout
        assert "1 unreadable folder" in done.stdout
    assert "PASS" in whole.stdout  # the readable rest ran


def test_an_unreadable_scenario_file_is_a_diagnostic_naming_the_reason(
    small: Path, unprivileged: Preexec
) -> None:
    (small / "filter-notrace.yaml").chmod(0)
    done = run_ftscen(["run", "filter-notrace.yaml"], cwd=small, preexec=unprivileged)
    quiet(done)
    assert done.returncode == 2
    assert (
        "filter-notrace.yaml: error: cannot open the scenario file: Permission denied"
        in done.stderr
    )


def test_a_fifo_named_as_a_scenario_is_refused_without_waiting(small: Path) -> None:
    os.mkfifo(small / "x.yaml")
    done = run_ftscen(["run", "x.yaml"], cwd=small, timeout=30)
    quiet(done)
    assert done.returncode == 2
    assert "x.yaml: error: this is a FIFO (named pipe), not a regular file" in done.stderr


def test_a_fifo_in_a_folder_is_reported_and_the_rest_runs(small: Path) -> None:
    os.mkfifo(small / "zz.yaml")
    done = run_ftscen(["run", "."], cwd=small, timeout=30)
    quiet(done)
    assert done.returncode == 2
    assert "PASS  filter-notrace.yaml" in done.stdout
    assert "INVALID  zz.yaml" in done.stdout and "FIFO" in done.stdout


def test_a_device_is_refused_without_reading_it() -> None:
    done = run_ftscen(["run", "/dev/zero"], cwd=REPO, timeout=30)
    quiet(done)
    assert done.returncode == 2
    assert "/dev/zero: error: this is a character device, not a regular file" in done.stderr


def test_an_oversize_scenario_is_refused_with_its_size(small: Path) -> None:
    big = small / "big.yaml"
    limit = LIMITS["file_bytes"]
    with big.open("wb") as out:
        out.truncate(limit + 1)  # sparse: costs no disk
    done = run_ftscen(["run", "big.yaml"], cwd=small)
    quiet(done)
    assert done.returncode == 2
    assert f"the file is {limit + 1} bytes; the limit is {limit} bytes" in done.stderr


@pytest.mark.parametrize("kind", ["oversize", "fifo"])
def test_a_golden_that_is_no_golden_is_refused_in_a_few_lines(small: Path, kind: str) -> None:
    golden = small / "filter-notrace.golden"
    golden.unlink()
    if kind == "fifo":
        os.mkfifo(golden)
    else:
        with golden.open("wb") as out:
            out.truncate(200 << 20)  # 200 MB, sparse
    done = run_ftscen(["run", ".", "--golden"], cwd=small, timeout=30)
    quiet(done)
    assert done.returncode == 1
    said = {
        "oversize": "the golden file is over the limit of 4194304 bytes",
        "fifo": "this is a FIFO (named pipe), not a regular file",
    }[kind]
    assert f"golden filter-notrace.golden: cannot be read ({said}" in done.stdout
    assert len(done.stdout) < 2000  # no 200 MB diff
    assert stat.S_ISFIFO(golden.stat().st_mode) == (kind == "fifo")
