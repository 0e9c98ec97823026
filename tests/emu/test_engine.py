"""One emulator per process: what a scenario leaves behind (code, trampolines, hashes, stacks,
registers, translated blocks) never shows in the next one, whatever the order; the log never
loses an event; the on-disk cache of assembled code is used, and ignored when damaged."""

from __future__ import annotations

import itertools
import random
from pathlib import Path

import pytest
from build import fn, ops, scenario, steps
from support import FIXTURES, REPO, runs_on

from ftscen.app import pipeline
from ftscen.core.errors import InternalError
from ftscen.core.model import Call, Register
from ftscen.core.profile import profile_for
from ftscen.emu.machine import Machine
from ftscen.emu.run import Budget, Runner, run_scenario
from ftscen.image import build, cache
from ftscen.image import layout as L
from ftscen.report.text import render_text

#: plain files (an explored one is explored, not run once)
CORPUS = [p for p in sorted((REPO / "scenarios").glob("*.yaml")) if not pipeline.load(p).explores]
KERNELS = ["5.1", "5.3", "6.6"]
RECURSING = """ftscen: 1
functions:
  - name: f
ops:
  - name: tracer
    calls: [f]
    filter: [f]
timeline:
  - register: tracer
  - call: f
"""


def texts(jobs: list[tuple[Path, str]]) -> dict[tuple[Path, str], str]:
    return {job: render_text(pipeline.check_file(job[0], [job[1]])[0]) for job in jobs}


def test_scenarios_give_the_same_log_in_any_order_in_one_process(tmp_path: Path) -> None:
    (tmp_path / "recurse.yaml").write_text(RECURSING)  # leaves a deep stack behind
    files = [*CORPUS, tmp_path / "recurse.yaml"]
    jobs = [(f, k) for f in files for k in KERNELS if runs_on(f, [k])]
    forward = texts(jobs)
    backward = texts(jobs[::-1])
    shuffled = random.Random(11).sample(jobs, len(jobs))
    assert texts(shuffled) == backward == forward
    # from 5.11 an ops without RECURSION is called directly: its handler recurses until the
    # stack overflows (before, ftrace_ops_assist_func guards it)
    assert "FAULT stack-overflow" in forward[(tmp_path / "recurse.yaml", "6.6")]


def test_a_large_scenario_leaves_nothing_behind_for_a_small_one() -> None:
    small = scenario([fn("f")], [ops("T", filter=("f",))], steps(Register("T"), Call("f")))
    profile = profile_for(small.kernel)
    alone = run_scenario(small, profile).events
    names = [f"f{i}" for i in range(300)]
    big = scenario(
        [fn(n) for n in names],
        [ops(f"O{i}", filter=tuple(names)) for i in range(40)],
        steps(*[Register(f"O{i}") for i in range(40)], Call("f7")),
        dynamic=True,
    )
    assert run_scenario(big, profile_for(big.kernel)).fault is None
    assert run_scenario(small, profile).events == alone


def test_a_call_cut_short_in_the_list_function_leaves_no_recursion_bit_set() -> None:
    two = [ops("A", filter=("f",)), ops("B", filter=("f",))]
    # 5.3: no transition bit, so one bit left set would silence both callbacks
    clean = scenario([fn("f")], two, steps(Register("A"), Register("B"), Call("f")), "5.3")
    profile = profile_for(clean.kernel)
    alone = run_scenario(clean, profile).events
    assert [e.kind for e in alone].count("callback") == 2
    heavy = [ops("A", filter=("f",), calls=("g0",)), ops("B", filter=("f",))]
    cut = scenario(
        [fn("f"), *fan_out(3, "g")], heavy, steps(Register("A"), Register("B"), Call("f")), "5.3"
    )
    result = run_scenario(cut, profile, Budget(per_call=2_000))  # stops inside A's handler
    assert result.fault is not None and result.fault.kind == "runaway"
    assert result.fault.pc.startswith("g")
    assert run_scenario(clean, profile).events == alone


def test_a_stopped_machine_is_not_used_once_the_next_one_started() -> None:
    sc = scenario([fn("f")], [], steps(Call("f")))
    first = Runner(sc, profile_for(sc.kernel))
    first.run()
    assert first.m.read(L.RING_PTR, 4) == L.RING_BASE.to_bytes(4, "little")  # still readable
    Runner(sc, profile_for(sc.kernel))
    with pytest.raises(InternalError, match="stopped machine"):
        first.m.read(L.RING_PTR, 4)


def test_two_machines_in_use_at_once_do_not_share_memory() -> None:
    sc = scenario([fn("f"), fn("g")], [], steps(Call("f")))
    img = build.build_image(sc, profile_for(sc.kernel))
    one, two = (Machine(img, 2, lambda ip: None) for _ in range(2))
    one.poke(img.functions["f"], b"\xc3")  # f returns at once on this machine only
    assert one.run_call(1, img.functions["f"]) is None
    assert two.run_call(1, img.functions["f"]) is None
    assert [r[0] for r in one.ring()] == []
    assert [r[0] for r in two.ring()] == [L.EV_RAN]


def test_a_machine_dropped_without_being_stopped_frees_the_engine() -> None:
    sc = scenario([fn("f")], [], steps(Call("f")))
    img = build.build_image(sc, profile_for(sc.kernel))
    first = Machine(img, 2, lambda ip: None)
    engine = first.engine
    del first  # no cycle holds it: the engine is free at once, not at the next collection
    assert Machine(img, 2, lambda ip: None).engine is engine


# ---- the event log --------------------------------------------------------------------------


def fan_out(levels: int, prefix: str = "f") -> list[object]:
    """f0 calls f1 16 times, each f1 calls f2 16 times...: 16**levels bodies at the bottom."""
    names = [f"{prefix}{i}" for i in range(levels + 1)]
    return [fn(a, *[b] * 16) for a, b in itertools.pairwise(names)] + [fn(names[-1])]


def test_one_call_logging_more_than_the_ring_holds_stops_with_the_limit_named() -> None:
    sc = scenario(fan_out(4), [], steps(Call("f0")))  # 69,905 bodies run
    result = run_scenario(sc, profile_for(sc.kernel))
    assert result.fault is not None and result.fault.kind == "event-ring-full"
    assert f"more than {L.RING_CAPACITY} events" in result.fault.detail


def test_one_call_logging_almost_a_full_ring_loses_nothing() -> None:
    sc = scenario(fan_out(3), [], steps(Call("f0"), Call("f0")))  # 4,369 bodies per call
    result = run_scenario(sc, profile_for(sc.kernel))
    assert result.fault is None
    ran = [e for e in result.events if e.kind == "ran"]
    assert len(ran) == 2 * (1 + 16 + 256 + 4096)
    assert [e.call for e in ran] == ["@0"] * 4369 + ["@1"] * 4369


# ---- the on-disk cache of assembled code ----------------------------------------------------


def test_the_disk_cache_is_off_unless_asked_for() -> None:
    assert cache.directory({}) is None
    assert cache.directory({"FTSCEN_CACHE": "0"}) is None
    assert cache.directory({"FTSCEN_CACHE": "1", "XDG_CACHE_HOME": "/x"}) == Path("/x/ftscen")
    assert cache.directory({"FTSCEN_CACHE": "/some/dir"}) == Path("/some/dir")


def test_assembled_units_are_stored_and_read_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FTSCEN_CACHE", str(tmp_path))
    build._assembled.cache_clear()
    first = build.assemble("f:\n  nop\n  ret\n", 0x110000, "test")
    assert len(list(tmp_path.glob("*.unit"))) == 1
    build._assembled.cache_clear()
    monkeypatch.setattr(build, "_keystone", lambda *a: pytest.fail("assembled again"))
    assert build.assemble("f:\n  nop\n  ret\n", 0x110000, "test") == first
    assert first.code == b"\x90\xc3" and first.labels == {"f": 0x110000}


@pytest.mark.parametrize("damage", [b"", b"ftscen-unit 1\n{}", b"garbage", None])
def test_a_damaged_entry_is_ignored_and_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damage: bytes | None
) -> None:
    monkeypatch.setenv("FTSCEN_CACHE", str(tmp_path))
    build._assembled.cache_clear()
    good = build.assemble("g:\n  ret\n", 0x110000, "test")
    [entry] = tmp_path.glob("*.unit")
    blob = entry.read_bytes()
    entry.write_bytes(damage if damage is not None else blob[:-1] + b"\x90")  # a changed byte
    build._assembled.cache_clear()
    assert build.assemble("g:\n  ret\n", 0x110000, "test") == good
    assert entry.read_bytes() == blob


def test_a_corpus_file_gives_the_same_report_with_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed = FIXTURES / "seed-livepatch-tracer-window.yaml"
    without = render_text(pipeline.check_file(seed, ["5.1"])[0])
    monkeypatch.setenv("FTSCEN_CACHE", str(tmp_path))
    build._assembled.cache_clear()
    build._IMAGES.clear()
    cold = render_text(pipeline.check_file(seed, ["5.1"])[0])
    build._assembled.cache_clear()
    build._IMAGES.clear()
    warm = render_text(pipeline.check_file(seed, ["5.1"])[0])
    assert without == cold == warm
    assert len(list(tmp_path.glob("*.unit"))) >= 2  # the runtime, the scenario's text
