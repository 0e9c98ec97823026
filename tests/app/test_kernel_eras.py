"""One scenario, every kernel: per-era expectations, strict xfail and ``--kernel all``.

The expected outcomes come from the kernel: before 5.3 (i386) an int3 on a site being
modified is skipped, so a call in the window runs the old body; from 5.3 it is emulated into
``ftrace_regs_caller`` and the redirect holds.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support import invoke, write_file

from ftscen.app import pipeline as api
from ftscen.core.errors import ScenarioInvalid
from ftscen.core.kernels import ERA_KERNELS
from ftscen.verdicts.evaluate import Outcome

REPO = Path(__file__).resolve().parents[2]
SCENARIOS = REPO / "scenarios"

# A redirecting ops is registered while f is called in the window of f's site.
WINDOW = """\
ftscen: 1
kernel:
  version: "5.3"
functions:
  - name: f
  - name: f_v2
    notrace: true
ops:
  - name: fixer
    flags: [SAVE_REGS, IPMODIFY]
    filter: [f]
    redirect: {f: f_v2}
timeline:
  - register: fixer
    during:
      - {at: sites.int3, call: f, id: window}
  - {call: f, id: after}
"""

PER_ERA = (
    WINDOW
    + """\
expect:
  - {call: after, ran: f_v2, called: [fixer]}
  - {call: window, ran: f, called: [], kernels: "<5.3"}
  - {call: window, ran: f_v2, called: [fixer], kernels: ">=5.3"}
"""
)

STRICT = """\
xfail:
  reason: before 5.3 the window call is skipped
  kernels: "<5.3"
  fails: [window]
"""

SHOULD_BE = """\
expect:
  - {call: window, ran: f_v2, called: [fixer]}
  - {call: after, ran: f_v2, called: [fixer]}
"""


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def outcomes(path: Path, kernels: list[str]) -> dict[str, Outcome]:
    return {r.result.profile.version: r.outcome for r in api.check_file(path, kernels)}


def test_a_scenario_with_before_and_from_5_3_expectations_passes_under_kernel_all(here: Path):
    write_file(here, "window.yaml", PER_ERA)
    result = invoke(["run", "window.yaml", "--kernel", "all", "-q"])
    assert result.exit_code == 0, result.stdout
    header, row = result.stdout.splitlines()[-2:]
    assert header.split() == ["scenario", *ERA_KERNELS]
    assert row.split() == ["window.yaml", *["PASS"] * len(ERA_KERNELS)]


def test_an_assertion_for_other_kernels_is_not_checked(tmp_path: Path):
    [rep] = api.check_file(write_file(tmp_path, "w.yaml", PER_ERA), ["5.1"])
    titles = [v.title for v in rep.verdicts]
    assert "call window: ran [f]" in titles and "call window: ran [f_v2]" not in titles


def test_strict_xfail_holds_on_its_kernels_and_the_file_passes_on_the_others(tmp_path: Path):
    path = write_file(tmp_path, "w.yaml", WINDOW + STRICT + SHOULD_BE)
    got = outcomes(path, ["3.5", "5.2", "5.3", "6.2"])
    assert got == {
        "3.5": Outcome.XFAIL,
        "5.2": Outcome.XFAIL,
        "5.3": Outcome.PASS,
        "6.2": Outcome.PASS,
    }


def test_an_unrelated_failure_turns_a_strict_xfail_into_fail(here: Path):
    broken = SHOULD_BE + '  - site: {func: f, is: "call ftrace_caller"}\n'  # really regs_caller
    write_file(here, "w.yaml", WINDOW + STRICT + broken)
    result = invoke(["run", "w.yaml", "--kernel", "5.1"])
    assert result.exit_code == 1
    assert "          xfail: not among xfail's expected failures" in result.stdout
    assert "          xfail: expected to fail" in result.stdout
    assert result.stdout.splitlines()[-1] == (
        "FAIL  w.yaml [kernel 5.1]: 2/5 assertions hold; failed besides xfail.fails: "
        "site f is call ftrace_caller"
    )


def test_a_plain_xfail_reason_still_hides_an_unrelated_failure(tmp_path: Path):
    broken = SHOULD_BE + '  - site: {func: f, is: "call ftrace_caller"}\n'
    path = write_file(tmp_path, "w.yaml", WINDOW + 'xfail: "known"\n' + broken)
    assert outcomes(path, ["5.1"]) == {"5.1": Outcome.XFAIL}


def test_a_named_assertion_that_holds_is_xpass_and_the_report_says_which(here: Path):
    strict = STRICT.replace('kernels: "<5.3"', 'kernels: ["<5.3", "5.3"]')
    write_file(here, "w.yaml", WINDOW + strict + SHOULD_BE)
    result = invoke(["run", "w.yaml", "--kernel", "5.3"])
    assert result.exit_code == 1
    assert "  ok    call window: ran [f_v2]  (named in xfail.fails but held)" in result.stdout
    assert result.stdout.splitlines()[-1].endswith("but window held (xfail.fails)")


def test_a_step_errno_can_differ_per_kernel(tmp_path: Path):
    text = """\
ftscen: 1
functions: [{name: f}]
ops: [{name: P, flags: [PERMANENT]}]
timeline:
  - register: P
  - sysctl: {ftrace_enabled: false}
    expect:
      - {errno: EBUSY, kernels: ">=5.5"}
"""
    path = write_file(tmp_path, "p.yaml", text)
    assert outcomes(path, ["5.4", "5.5"]) == {"5.4": Outcome.PASS, "5.5": Outcome.PASS}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('"<3.5"', "'<3.5' holds no kernel ftscen models (3.5 and later)"),
        ('"5.4..5.3"', "'5.4..5.3' holds no kernel ftscen models (3.5 and later)"),
        ('"=>5.3"', "'=>5.3' is not a kernel range"),
        ("[]", None),
    ],
)
def test_an_unknown_or_empty_range_is_a_located_error_with_a_hint(
    tmp_path: Path, value: str, message: str | None
):
    path = write_file(
        tmp_path, "w.yaml", WINDOW + f"expect:\n  - {{call: after, ran: f, kernels: {value}}}\n"
    )
    with pytest.raises(ScenarioInvalid) as exc:
        api.load(path)
    [diag] = exc.value.diagnostics
    assert (diag.line, diag.path) == (19, "$.expect[0].kernels")
    if message is not None:
        assert diag.message == message
        assert diag.hint is not None and '">=5.5"' in diag.hint


def test_xfail_fails_must_name_an_assertion(tmp_path: Path):
    strict = STRICT.replace("fails: [window]", "fails: [windw]")
    with pytest.raises(ScenarioInvalid) as exc:
        api.load(write_file(tmp_path, "w.yaml", WINDOW + strict + SHOULD_BE))
    [diag] = exc.value.diagnostics
    assert diag.path == "$.xfail.fails[0]"
    assert diag.message == "no assertion is named 'windw' (did you mean 'window'?)"


def test_an_unknown_kernel_lists_the_known_ones(here: Path):
    write_file(here, "w.yaml", PER_ERA)
    result = invoke(["run", "w.yaml", "--kernel", "5.x"])
    assert result.exit_code == 2
    assert "'5.x' is not a kernel version" in result.stderr
    assert "3.5, 5.2, 5.3, 5.5, 5.9, 5.10, 5.11, 6.2" in result.stderr
    assert "'all'" in result.stderr


def test_a_file_without_per_era_keys_runs_once_at_its_own_kernel_under_all(here: Path):
    write_file(here, "w.yaml", WINDOW + SHOULD_BE)
    result = invoke(["run", "w.yaml", "--kernel", "all", "-q"])
    assert result.exit_code == 0
    assert result.stdout.splitlines()[-1].split() == ["w.yaml", "-", "-", "PASS", *["-"] * 5]
    assert "PASS  w.yaml [kernel 5.3]" in result.stdout  # once, at its own kernel.version
    assert "[kernel 5.5]" not in result.stdout


@pytest.mark.parametrize(
    ("flag", "version", "hint_start"),
    [
        ("RECURSION", "5.10", "RECURSION exists from 5.11"),
        ("RECURSION_SAFE", "5.11", "RECURSION_SAFE was replaced"),
    ],
)
def test_a_flag_the_kernel_does_not_have_is_a_located_error(
    tmp_path: Path, flag: str, version: str, hint_start: str
):
    text = f'ftscen: 1\nkernel: {{version: "{version}"}}\nfunctions: [{{name: f}}]\n'
    text += f"ops:\n  - name: A\n    flags: [{flag}]\ntimeline:\n  - register: A\n"
    with pytest.raises(ScenarioInvalid) as exc:
        api.load(write_file(tmp_path, "r.yaml", text))
    [diag] = exc.value.diagnostics
    assert (diag.line, diag.path) == (6, "$.ops[0].flags[0]")
    assert diag.message == f"kernel {version} has no {flag} flag"
    assert diag.hint is not None and diag.hint.startswith(hint_start)


def test_kernel_picking_an_era_without_the_flag_is_a_located_error(here: Path):
    text = "ftscen: 1\nfunctions: [{name: f}]\nops:\n  - name: A\n    flags: [RECURSION]\n"
    write_file(here, "r.yaml", text + "timeline:\n  - register: A\n")
    result = invoke(["run", "r.yaml", "--kernel", "5.10"])
    assert result.exit_code == 2
    assert "r.yaml:4:5: error: ops 'A': kernel 5.10 has no RECURSION flag" in result.stderr


# ---- the corpus scenarios of the new era boundaries, on both sides -------------------------

BOTH_SIDES = [
    ("r6-no-needless-ftrace-call-update-from-6.2.yaml", "6.1", Outcome.PASS, "6.2", Outcome.XFAIL),
    (
        "r9-rollback-frees-dynamic-trampoline-from-5.9.yaml",
        "5.8",
        Outcome.PASS,
        "5.9",
        Outcome.PASS,
    ),
    ("r11-direct-ops-recursion-faults.yaml", "5.10", Outcome.PASS, "5.11", Outcome.XFAIL),
]


@pytest.mark.parametrize(("name", "before", "was", "after", "is_"), BOTH_SIDES)
def test_a_boundary_scenario_holds_on_both_sides(
    name: str, before: str, was: Outcome, after: str, is_: Outcome
):
    assert outcomes(SCENARIOS / name, [before, after]) == {before: was, after: is_}


def test_the_5_9_scenario_tells_the_two_sides_apart():
    """The trampoline of the rolled-back ops is still there on 5.8, gone on 5.9."""
    sc = api.load(SCENARIOS / "r9-rollback-frees-dynamic-trampoline-from-5.9.yaml")
    sites = {
        v: api.check_file(sc.path, [v])[0].result.trampoline_sites["L.tramp_call"]
        for v in ("5.8", "5.9")
    }
    assert sites == {"5.8": "call ftrace_ops_assist_func", "5.9": "not allocated"}


def test_6_2_skips_rewriting_the_list_function_over_itself():
    sc = SCENARIOS / "r6-no-needless-ftrace-call-update-from-6.2.yaml"
    points = {}
    for version in ("6.1", "6.2"):
        [rep] = api.check_file(sc, [version])
        points[version] = [sr.points for sr in rep.result.steps][2]  # unregister B
    assert points["6.1"][1:4] == ("ftrace_call.int3", "ftrace_call.tail", "ftrace_call.done")
    assert "ftrace_call.done#2" in points["6.1"]
    assert "ftrace_call.done" in points["6.2"] and "ftrace_call.done#2" not in points["6.2"]


def test_before_5_11_an_ops_without_recursion_safe_goes_through_the_assist_function():
    sc = SCENARIOS / "r11-direct-ops-recursion-faults.yaml"
    texts = {
        v: api.check_file(sc, [v])[0].result.trampoline_sites["ftrace_call"]
        for v in ("5.10", "5.11")
    }
    assert texts == {"5.10": "call ftrace_ops_assist_func", "5.11": "call A.func"}


def test_no_known_bad_copies_are_left_in_the_corpus():
    assert not list(SCENARIOS.glob("*known-bad*"))


def test_points_lists_each_kernels_points_in_turn():
    path = SCENARIOS / "r6-no-needless-ftrace-call-update-from-6.2.yaml"
    out = invoke(["points", str(path), "--kernel", "6.1,6.2"]).stdout.splitlines()
    first, second = (
        out.index("# kernel 6.1 (int3: emulate-new)"),
        out.index("# kernel 6.2 (int3: emulate-new)"),
    )
    older, newer = out[first:second], out[second:]
    older, newer = (pts[pts.index("[2] unregister B -> 0") :] for pts in (older, newer))
    # unregistering B: 6.1 rewrites the list function over itself first, then installs A's
    # callback (the #2 points); 6.2 only installs A's callback
    assert older[2] == newer[2] == "    ftrace_call.int3"
    assert "    ftrace_call.done#2" in older
    assert "    ftrace_call.done#2" not in newer
