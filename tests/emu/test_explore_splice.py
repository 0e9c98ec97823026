"""The saved-machine exploration gives, placement for placement, the run from the start."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from ftscen.app import pipeline as api
from ftscen.app.explore_plan import plan
from ftscen.core.errors import ScenarioInvalid
from ftscen.core.kernels import ERA_KERNELS
from ftscen.core.model import ANY, Scenario
from ftscen.emu.explore import probe
from ftscen.emu.run import Budget, run_scenario
from ftscen.verdicts.quantify import SplicedStates, checks_for, states
from tests.support import FIXTURES, REPO


def every_call_at_any(sc: Scenario) -> Scenario:
    timeline = tuple(
        dataclasses.replace(s, during=tuple(dataclasses.replace(d, at=ANY) for d in s.during))
        for s in sc.timeline
    )
    return dataclasses.replace(sc, timeline=timeline)


def assert_spliced_runs_match(sc: Scenario, versions: list[str], limit: int = 40) -> int:
    spliced = 0
    for space in plan(sc, api.profiles(sc, versions), 10**6):
        checks = checks_for(sc, space.profile.release)
        probed = probe(sc, space.profile, list(space.slots), Budget())
        fast = SplicedStates(probed, checks, [s.id for s in space.slots])
        for n in range(0, space.size, max(1, space.size // limit)):
            full = run_scenario(space.pinned(sc, n), space.profile)
            assembled = probed.assemble(space.place(n))
            if assembled is None:
                assert fast.states(space.place(n)) is None
                continue
            spliced += 1
            assert assembled.events == full.events
            assert assembled.calls == full.calls
            assert fast.states(space.place(n)) == states(full, checks)
    return spliced


def test_seed_every_placement_on_every_era() -> None:
    sc = api.load(FIXTURES / "explore-seed-window.yaml")
    assert assert_spliced_runs_match(sc, list(ERA_KERNELS), limit=10**6) == 227


@pytest.mark.parametrize(
    "name",
    [
        "r12-emulate-call-5.4-disabling-still-calls.yaml",
        "r11-direct-ops-recursion-faults.yaml",
        "r4-regs-caller-while-a-regs-ops-is-attached.yaml",
        "i386-regs-caller-window.yaml",
        "klp-seed-tracer-window-eras.yaml",
        "klp-transition-busy-task.yaml",
    ],
)
def test_corpus_files_with_their_calls_at_any(name: str) -> None:
    sc = every_call_at_any(api.load(REPO / "scenarios" / name))
    try:
        assert_spliced_runs_match(sc, [sc.kernel.version])
    except ScenarioInvalid as exc:  # too many placements for the test: fine, not the point
        assert "placements" in exc.diagnostics[0].message


def test_a_faulting_call_is_run_from_the_start(tmp_path: Path) -> None:
    """A call that faults ends its run: it cannot be spliced into the base log."""
    from tests.support import write_file

    path = write_file(
        tmp_path,
        "f.yaml",
        "ftscen: 1\nkernel: {version: '6.6'}\nfunctions: [{name: g}]\n"
        "ops: [{name: loop, filter: [g], calls: [g]}]\n"
        "timeline:\n  - register: loop\n    during: [{at: any, call: g, id: w}]\n",
    )
    sc = api.load(path)
    space = plan(sc, api.profiles(sc, None), 100)[0]
    probed = probe(sc, space.profile, list(space.slots), Budget())
    faulted = [
        n for n in range(space.size) if run_scenario(space.pinned(sc, n), space.profile).fault
    ]
    assert faulted  # once g's site calls the handler, the unguarded recursion overflows
    for n in faulted:
        assert probed.assemble(space.place(n)) is None
