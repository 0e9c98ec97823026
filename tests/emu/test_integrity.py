"""Integrity checks: corrupted emulated state stops the run with an internal error that names
the check (and, through the pipeline, the kernel), never a PASS or FAIL."""

from __future__ import annotations

from pathlib import Path

import pytest
from build import fn, ops, scenario, steps
from support import FIXTURES, run_ftscen

from ftscen.app import pipeline
from ftscen.app.corpus import Job, run_job
from ftscen.core.errors import IntegrityError
from ftscen.core.model import Call, Register
from ftscen.core.profile import profile_for
from ftscen.emu.machine import Machine
from ftscen.emu.run import Runner
from ftscen.image import layout as L

SEED = FIXTURES / "seed-livepatch-tracer-window.yaml"


def traced() -> Runner:
    sc = scenario([fn("f")], [ops("T", filter=("f",))], steps(Register("T"), Call("f")))
    return Runner(sc, profile_for(sc.kernel))


def test_a_ring_pointer_off_an_event_boundary_is_refused():
    runner = traced()
    runner.m.write_u32(L.RING_PTR, L.RING_BASE + 6)
    with pytest.raises(IntegrityError) as caught:
        runner.run()  # the ring is emptied into the log after the call
    assert caught.value.check == "event-ring-pointer"


def test_a_ring_pointer_outside_the_ring_is_refused_when_the_call_returns():
    runner = traced()
    runner.m.write_u32(L.RING_PTR, 0x830010)
    with pytest.raises(IntegrityError, match="RING_PTR holds 0x830010"):
        runner.run()


def test_a_record_the_model_never_writes_is_refused_when_the_log_is_read():
    runner = traced()
    runner.m.emit(0x77, 1, 2)
    with pytest.raises(IntegrityError) as caught:
        runner.run()
    assert caught.value.check == "event-record" and "0x77" in str(caught.value)


def test_text_changed_under_the_patcher_between_phases_is_refused():
    sc = scenario([fn("f")], [ops("T", filter=("f",))], steps(Register("T")))
    runner = Runner(sc, profile_for(sc.kernel), execute_calls=False)
    site = runner.image.sites["f"]

    def clobber(name: str) -> None:
        if name == "sites.int3":
            runner.m.poke(site, L.NOP5)  # someone else's write: the int3 is gone

    runner.patcher.on_point = clobber
    with pytest.raises(IntegrityError) as caught:
        runner.run()
    assert caught.value.check == "text-under-patch"
    assert "f holds 3e, expected the int3 of phase 1 (cc)" in str(caught.value)


@pytest.fixture
def corrupt_after_each_call(monkeypatch: pytest.MonkeyPatch) -> None:
    real = Machine.run_call

    def run_call(self: Machine, cpu: int, target: int, stop=None):  # type: ignore[no-untyped-def]
        fault = real(self, cpu, target, stop)
        self.write_u32(L.RING_PTR, self.read_u32(L.RING_PTR) + 6)
        return fault

    monkeypatch.setattr(Machine, "run_call", run_call)


@pytest.mark.usefixtures("corrupt_after_each_call")
def test_through_the_pipeline_the_error_names_the_kernel():
    with pytest.raises(IntegrityError, match=r"'event-ring-pointer' failed under kernel 5\.1"):
        pipeline.check_file(SEED, ["5.1"])


@pytest.mark.usefixtures("corrupt_after_each_call")
def test_a_corpus_job_reports_an_error_for_the_file_and_no_run():
    result = run_job(Job(str(SEED), ("5.3",)))
    assert result.runs == ()
    assert result.error is not None
    assert "IntegrityError" in result.error and "kernel 5.3" in result.error


def test_the_command_exits_3_naming_file_kernel_and_check(tmp_path: Path):
    hook = tmp_path / "sitecustomize.py"  # the corruption, installed in the child process
    hook.write_text(
        "from ftscen.emu.machine import Machine\n"
        "from ftscen.image import layout as L\n"
        "real = Machine.run_call\n"
        "def run_call(self, cpu, target, stop=None):\n"
        "    fault = real(self, cpu, target, stop)\n"
        "    self.write_u32(L.RING_PTR, self.read_u32(L.RING_PTR) + 6)\n"
        "    return fault\n"
        "Machine.run_call = run_call\n"
    )
    done = run_ftscen(
        ["run", str(SEED), "--kernel", "5.3"], tmp_path, {"PYTHONPATH": str(tmp_path)}, timeout=60
    )
    assert done.returncode == 3
    assert "PASS" not in done.stdout and "FAIL" not in done.stdout
    said = done.stdout + done.stderr
    assert SEED.name in said and "kernel 5.3" in said and "event-ring-pointer" in said


def test_validate_names_each_file_and_kernel_and_checks_the_others(tmp_path: Path):
    (tmp_path / "sitecustomize.py").write_text(
        "from ftscen.emu.machine import Machine\n"
        "from ftscen.image import layout as L\n"
        "real = Machine.emit\n"
        "def emit(self, kind, *args):\n"
        "    real(self, kind, *args)\n"
        "    self.write_u32(L.RING_PTR, self.read_u32(L.RING_PTR) + 6)\n"
        "Machine.emit = emit\n"
    )
    for name in ("a.yaml", "b.yaml"):
        (tmp_path / name).write_bytes(SEED.read_bytes())
    done = run_ftscen(["validate", "a.yaml", "b.yaml"], tmp_path, {"PYTHONPATH": str(tmp_path)})
    assert done.returncode == 3
    lines = done.stderr.splitlines()
    for name in ("a.yaml", "b.yaml"):
        [line] = [t for t in lines if t.startswith(f"ftscen: internal error: {name}: ")]
        assert "'event-ring-pointer' failed under kernel 5.3" in line
