"""The ``ftscen`` command end to end: exit codes and the shape of what it prints."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from support import FIXTURES, SEED, copy_fixture, invoke, run_ftscen

from ftscen import __version__
from ftscen.app import session
from ftscen.emu.run import Budget
from ftscen.report.golden import GoldenMode


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_a_single_passing_file_prints_header_log_assertions_and_summary(here: Path):
    copy_fixture(SEED, here)
    result = invoke(["run", SEED])
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[:3] == [
        f"# ftscen {__version__}",
        "# scenario: seed-livepatch-tracer-window",
        ("# kernel: 5.3 (int3: emulate-call, pt_regs: full, dynamic trampolines)"),
    ]
    # the description, as the file folds it (">"): one line
    assert lines[3] == (
        "# description: Livepatch on do_IRQ/__migrate_task via a per-ops trampoline, then the "
        "function tracer is registered; do_IRQ is called while its call site holds int3."
    )
    assert lines[4] == "[0] register livepatch"
    assert "    call window: do_IRQ on cpu1" in lines
    assert "assertions:" in lines and "  ok    call window: ran [do_IRQ_v2]" in lines
    assert lines[-1] == (
        "PASS  seed-livepatch-tracer-window.yaml [kernel 5.3]: 9/9 assertions hold"
    )


def test_a_single_file_under_another_kernel_fails_with_exit_1_and_the_log(here: Path):
    copy_fixture(SEED, here)
    result = invoke(["run", SEED, "--kernel", "5.1"])
    assert result.exit_code == 1
    assert "      int3 at do_IRQ: resume at do_IRQ+0x5" in result.stdout
    assert "  FAIL  seed-livepatch-tracer-window.yaml:47:5: call window: ran [do_IRQ_v2]" in (
        result.stdout
    )
    assert result.stdout.splitlines()[-1].startswith(
        "FAIL  seed-livepatch-tracer-window.yaml [kernel 5.1]: 5/9"
    )


def test_quiet_prints_only_the_summary_line(here: Path):
    copy_fixture(SEED, here)
    result = invoke(["run", SEED, "-q"])
    assert result.stdout == (
        "PASS  seed-livepatch-tracer-window.yaml [kernel 5.3]: 9/9 assertions hold\n"
    )


def test_one_file_with_several_kernels_ends_with_the_table(here: Path):
    copy_fixture(SEED, here)
    result = invoke(["run", SEED, "--kernel", "5.1,5.3,6.6", "-q"])
    assert result.exit_code == 1
    rows = [line.split() for line in result.stdout.splitlines()[-2:]]
    assert rows == [
        ["scenario", "5.1", "5.3", "6.6"],
        ["seed-livepatch-tracer-window.yaml", "FAIL", "PASS", "PASS"],
    ]


def test_xfail_exits_0_and_xpass_exits_1(here: Path):
    copy_fixture("xfail-skip-window.yaml", here)
    xfail = invoke(["run", "xfail-skip-window.yaml", "-q"])
    assert xfail.exit_code == 0 and xfail.stdout.startswith("XFAIL  ")
    xpass = invoke(["run", "xfail-skip-window.yaml", "-q", "--kernel", "5.3"])
    assert xpass.exit_code == 1 and xpass.stdout.startswith("XPASS  ")


def test_an_invalid_file_exits_2_with_diagnostics_on_stderr(here: Path):
    (here / "bad.yaml").write_text("ftscen: 1\nfunctions: []\ntimeline: []\n")
    result = invoke(["run", "bad.yaml"])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "bad.yaml:2:12: error: the function table is empty" in result.stderr


def test_a_missing_file_is_an_invalid_scenario_not_a_crash(here: Path):
    result = invoke(["run", "nope.yaml"])
    assert result.exit_code == 2
    assert "nope.yaml" in result.stderr and "Traceback" not in result.output


@pytest.mark.parametrize(
    "args",
    [
        ["run", SEED, "--kernel", "2.6"],
        ["run", SEED, "--bogus"],
        ["run"],
        ["run", SEED, "--jobs", "-1"],
        [],
    ],
)
def test_usage_errors_exit_2_without_a_traceback(here: Path, args: list[str]):
    copy_fixture(SEED, here)
    proc = run_ftscen(args, here)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


def test_version_and_exit_codes_through_the_console_entry_point(here: Path):
    copy_fixture(SEED, here)
    assert run_ftscen(["--version"], here).stdout == f"ftscen {__version__}\n"
    assert run_ftscen(["run", SEED, "-q"], here).returncode == 0
    assert run_ftscen(["run", SEED, "-q", "--kernel", "5.1"], here).returncode == 1


def test_output_in_a_pipe_has_no_colour_codes(here: Path):
    copy_fixture(SEED, here)
    proc = run_ftscen(["run", ".", "--kernel", "5.1,5.3"], here)
    assert "\x1b[" not in proc.stdout + proc.stderr


def test_validate_accepts_directories(here: Path):
    for name in ("filter-notrace.yaml", "ipmodify-exclusive.yaml"):
        copy_fixture(name, here / "s")
    result = invoke(["validate", "s"])
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        "s/filter-notrace.yaml: valid",
        "s/ipmodify-exclusive.yaml: valid",
    ]


def test_validate_json_is_one_document_for_several_files(here: Path):
    copy_fixture("filter-notrace.yaml", here / "s")
    (here / "s" / "a.yaml").write_text("ftscen: 1\nfunctions: [{name: f}]\ntimeline: [{call: g}]\n")
    (here / "s" / "b.yaml").write_bytes(b"")
    result = invoke(["validate", "--format", "json", "s"])
    assert result.exit_code == 2
    doc = json.loads(result.stdout)
    assert doc["valid"] is False
    assert doc["files"] == [
        {"file": "s/a.yaml", "valid": False, "errors": 1},
        {"file": "s/b.yaml", "valid": False, "errors": 1},
        {"file": "s/filter-notrace.yaml", "valid": True, "errors": 0},
    ]
    assert [(e["file"], e["message"]) for e in doc["errors"]] == [
        ("s/a.yaml", "unknown function 'g'"),
        ("s/b.yaml", "the file is empty"),
    ]


def test_validate_json_of_valid_files_is_still_a_document(here: Path):
    copy_fixture("filter-notrace.yaml", here)
    result = invoke(["validate", "--format", "json", "filter-notrace.yaml"])
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {
        "valid": True,
        "files": [{"file": "filter-notrace.yaml", "valid": True, "errors": 0}],
        "errors": [],
    }


def test_validate_of_a_folder_without_scenarios_is_a_usage_error(here: Path):
    (here / "empty").mkdir()
    result = invoke(["validate", "empty"])
    assert result.exit_code == 2
    assert "no scenario files (*.yaml, *.yml) under empty" in result.stderr


def test_build_prints_the_memory_map_symbols_and_call_sites(here: Path):
    result = invoke(["build", str(FIXTURES / "text-poke-new-insn.yaml")])
    assert result.exit_code == 0
    out = result.stdout
    assert "sections:" in out and "symbols:" in out
    assert "  f  0x00110000  3e 8d 74 26 00  nop" in out.splitlines()
    assert "capstone" not in out and "ftrace_ops_list_func:" not in out


def recorded_options(monkeypatch: pytest.MonkeyPatch, args: list[str]) -> session.RunOptions:
    """The options ``ftscen ARGS`` hands to the run session (which is not run)."""
    seen: list[session.RunOptions] = []
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setattr(session, "run_session", lambda opts, streams: seen.append(opts) or 0)
    result = invoke(args)
    assert result.exit_code == 0, result.output
    assert len(seen) == 1
    return seen[0]


def test_every_run_option_reaches_the_session(monkeypatch: pytest.MonkeyPatch):
    opts = recorded_options(
        monkeypatch,
        [
            "run",
            "a.yaml",
            "b",
            "-q",
            "--kernel",
            "5.1,5.3",
            "--format",
            "json",
            "--golden",
            "-j",
            "3",
            "--shard=2/4",
            "--junit",
            "r.xml",
            "--max-insns",
            "1000",
            "--max-insns-total",
            "5000",
        ],
    )
    assert opts == session.RunOptions(
        ("a.yaml", "b"),
        ("5.1", "5.3"),
        json=True,
        quiet=True,
        golden=GoldenMode.COMPARE,
        jobs=3,
        shard=(2, 4),
        junit="r.xml",
        budget=Budget(1000, 5000),
    )


def test_run_defaults(monkeypatch: pytest.MonkeyPatch):
    opts = recorded_options(monkeypatch, ["run", "a.yaml"])
    assert opts == session.RunOptions(
        ("a.yaml",),
        None,
        json=False,
        quiet=False,
        golden=None,
        jobs=1,
        shard=None,
        junit=None,
        budget=Budget(2_000_000, 50_000_000),
    )


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ["run", "--update-golden", "a.yaml", "--format=text", "-k", "6.6", "--jobs=0"],
            {"paths": ("a.yaml",), "versions": ("6.6",), "golden": GoldenMode.UPDATE, "jobs": 0},
        ),
        (["run", "a.yaml", "-qk", "5.1"], {"quiet": True, "versions": ("5.1",)}),
        (["run", "--", "-a.yaml"], {"paths": ("-a.yaml",)}),
    ],
)
def test_option_forms(
    monkeypatch: pytest.MonkeyPatch, args: list[str], expected: dict[str, object]
):
    opts = recorded_options(monkeypatch, args)
    assert {name: getattr(opts, name) for name in expected} == expected


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "a.yaml", "--bogus"], "No such option: --bogus"),
        (["run", "a.yaml", "--jobs", "-1"], "Invalid value for '--jobs'"),
        (["run", "a.yaml", "--jobs", "x"], "Invalid value for '--jobs'"),
        (["run", "a.yaml", "--max-insns", "0"], "Invalid value for '--max-insns'"),
        (["run", "a.yaml", "--format", "xml"], "Invalid value for '--format'"),
        (["run", "a.yaml", "--kernel"], "Option '--kernel' requires an argument"),
        (["run", "a.yaml", "--golden=yes"], "Option '--golden' does not take a value"),
        (["run"], "Missing argument"),
        (["points", "a.yaml", "b.yaml"], "unexpected extra argument(s) (b.yaml)"),
        (["nope"], "No such command 'nope'"),
    ],
)
def test_usage_errors_say_what_is_wrong(here: Path, args: list[str], message: str):
    proc = run_ftscen(args, here)
    assert proc.returncode == 2
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert proc.stdout == ""


def test_help_lists_the_commands_and_options(here: Path):
    top = run_ftscen(["--help"], here)
    assert top.returncode == 0
    commands = top.stdout.split("Commands:")[1].split()
    assert [w for w in ("run", "validate", "points", "build") if w in commands] == [
        "run",
        "validate",
        "points",
        "build",
    ]
    run = run_ftscen(["run", "--help"], here)
    assert run.returncode == 0 and " run [OPTIONS] " in run.stdout.splitlines()[0]
    for option in (
        "--kernel",
        "--format",
        "--quiet",
        "--golden",
        "--update-golden",
        "--jobs",
        "--shard",
        "--junit",
        "--max-insns",
        "--max-insns-total",
    ):
        assert option in run.stdout


@pytest.mark.parametrize(
    ("args", "absent"),
    [
        (["--version"], ("unicorn", "keystone", "capstone", "jsonschema", "yaml", "rich")),
        (["--help"], ("unicorn", "keystone", "capstone", "jsonschema", "yaml", "rich")),
        (["run", "-q", str(FIXTURES / SEED)], ("capstone", "jsonschema", "rich")),
    ],
)
def test_a_command_imports_only_the_engines_it_uses(
    here: Path, args: list[str], absent: tuple[str, ...]
):
    code = (
        "import sys; from ftscen.app.cli import main\n"
        "try:\n    main()\nexcept SystemExit as e:\n"
        f"    print(e.code, [m for m in {absent!r} if m in sys.modules], file=sys.stderr)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=here,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.stderr.split() == ["0", "[]"]
