"""The scenario corpus: every scenario holds, the README indexes it, and the contract
examples fail under 5.1 for the documented reason."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from support import REPO

from ftscen.app.corpus import Job, run_job
from ftscen.app.pipeline import check_file, load
from ftscen.report.golden import GoldenMode, compare
from ftscen.report.text import render_text
from ftscen.verdicts.evaluate import Outcome

SCENARIOS = REPO / "scenarios"
CORPUS = sorted(SCENARIOS.glob("*.yaml"))
#: files with explored calls (docs/explore.md): a corpus run explores them
EXPLORED = {p for p in CORPUS if load(p).explores}
README = SCENARIOS / "README.md"
RULES = [f"R{n}" for n in range(1, 14)]
CONTRACT = [
    "filter-notrace.yaml",
    "i386-regs-caller-window.yaml",
    "ipmodify-exclusive.yaml",
    "seed-livepatch-tracer-window.yaml",
    "text-poke-new-insn.yaml",
]
FIXTURES = REPO / "tests" / "fixtures"

# (file, the body that runs instead in call "window", the handlers that are not called)
BYPASSED_UNDER_5_1 = [
    ("seed-livepatch-tracer-window.yaml", "do_IRQ", ["function_tracer", "livepatch"]),
    ("i386-regs-caller-window.yaml", "f", ["fixer", "tracer"]),
]


def rule_rows() -> dict[str, str]:
    """The rows of README's rule table, by rule (``| R4 | ... |``)."""
    text = README.read_text(encoding="utf-8")
    return dict(re.findall(r"^\| (R\d+) \|(.*)$", text, re.MULTILINE))


def test_the_corpus_holds_the_contract_examples_and_more() -> None:
    names = {p.name for p in CORPUS}
    assert set(CONTRACT) <= names
    assert len(names) >= 30
    assert [p.name for p in EXPLORED] == ["seed-livepatch-tracer-window-explored.yaml"]


def test_the_explored_seed_fails_up_to_5_1_as_its_xfail_says_and_holds_from_5_2() -> None:
    """Up to 5.1 a call at sites.int3 or sites.tail runs the old body (ftrace_int3_handler
    skips the site): 2 of the 7 points for each call, times the other call's 7."""
    [path] = EXPLORED
    result = run_job(Job(str(path), ("5.1", "5.2")))
    assert result.explored is not None
    assert [(v, w) for v, w, _ in result.explored.words()] == [("5.1", "XFAIL"), ("5.2", "PASS")]
    k51 = result.explored.report.kernels[0]
    bypassed = [c for c in k51.checks if not c.ok]
    assert [(c.title, c.held, c.applicable) for c in bypassed] == [
        ("never: call window: ran [do_IRQ]", 14, 49),
        ("never: call window_tail: ran [__migrate_task]", 14, 49),
    ]


@pytest.mark.parametrize("name", CONTRACT, ids=CONTRACT)
def test_a_contract_example_is_the_same_in_the_corpus_and_the_fixtures(name: str) -> None:
    assert (SCENARIOS / name).read_bytes() == (FIXTURES / name).read_bytes()


@pytest.mark.parametrize("path", CORPUS, ids=[p.name for p in CORPUS])
def test_a_scenario_passes_or_fails_as_documented(path: Path) -> None:
    if path in EXPLORED:
        result = run_job(Job(str(path), ("all",)))
        assert result.explored is not None and result.explored.ok, result
        return
    reports = check_file(path)
    assert reports
    for rep in reports:
        assert rep.outcome.ok, render_text(rep)


@pytest.mark.parametrize("path", CORPUS, ids=[p.name for p in CORPUS])
def test_a_scenario_matches_its_golden_log(path: Path) -> None:
    golden = path.with_suffix(".golden")
    assert golden.exists(), f"{golden.name} is missing: ftscen run {path} --update-golden"
    if path in EXPLORED:  # the exploration's text report, under the file's own kernel
        shown = path.relative_to(REPO) if path.is_relative_to(REPO) else path
        result = run_job(Job(str(shown), golden=GoldenMode.COMPARE))
        assert result.explored is not None
        checks = [g for g in result.explored.goldens if g is not None]
        assert [g.status.value for g in checks] == ["match"], [g.diff for g in checks]
        return
    for rep in check_file(path.relative_to(REPO) if path.is_relative_to(REPO) else path):
        check = compare(rep, golden)
        assert check.ok, "\n".join([check.status.value, *check.diff])


@pytest.mark.parametrize("path", CORPUS, ids=[p.name for p in CORPUS])
def test_an_xfail_scenario_fails_on_a_call_or_a_fault_never_on_a_return_value(path: Path) -> None:
    if path in EXPLORED:
        return  # an exploration checks its xfail per kernel (docs/explore.md)
    for rep in check_file(path):
        if rep.outcome is not Outcome.XFAIL:
            continue
        failed = [v.title for v in rep.verdicts if not v.ok]
        assert failed
        assert all(t.startswith(("call ", "emulation fault")) for t in failed), failed


@pytest.mark.parametrize("rule", RULES, ids=RULES)
def test_every_rule_has_a_row_naming_existing_scenarios(rule: str) -> None:
    rows = rule_rows()
    assert rule in rows, f"scenarios/README.md has no table row for {rule}"
    named = re.findall(r"`([\w.-]+\.yaml)`", rows[rule])
    assert named, f"the {rule} row names no scenario"
    missing = [n for n in named if not (SCENARIOS / n).exists()]
    assert not missing, f"the {rule} row names missing files: {missing}"


@pytest.mark.parametrize("path", CORPUS, ids=[p.name for p in CORPUS])
def test_every_scenario_is_listed_in_the_readme(path: Path) -> None:
    text = README.read_text(encoding="utf-8")
    assert f"* `{path.name}` - " in text, f"scenarios/README.md does not list {path.name}"


@pytest.mark.parametrize(
    "name,body,handlers", BYPASSED_UNDER_5_1, ids=[case[0] for case in BYPASSED_UNDER_5_1]
)
def test_a_contract_example_fails_under_5_1_naming_the_window_call(
    name: str, body: str, handlers: list[str]
) -> None:
    [rep] = check_file(SCENARIOS / name, ["5.1"])
    assert rep.outcome is Outcome.FAIL
    text = render_text(rep)
    assert "call window: ran" in text
    assert f"ran instead: {body}" in text
    assert f"not called: {', '.join(handlers)}" in text
