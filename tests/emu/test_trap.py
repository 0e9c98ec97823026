"""int3 delivered on a real frame: what an emulated call does to each era's pt_regs.

The expected stack words are worked out from the memory map, not read back from the program:
CPU 1 starts its call with esp = stack top - 16, the caller stub's ``call f`` leaves f's
return address at top - 20, and that word is the interrupted stack when f's site traps.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support import run_ftscen

from ftscen.app.pipeline import check_file
from ftscen.image import build, entry
from ftscen.image import layout as L
from ftscen.verdicts.evaluate import Outcome

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
SHORT = SCENARIOS / "i386-emulate-call-5.2-short-frame-faults.yaml"
FULL = SCENARIOS / "i386-emulate-call-5.3-full-frame.yaml"
RETURN_ADDRESS = SCENARIOS / "i386-emulated-call-return-address.yaml"

#: f's return address into caller_cpu1: the interrupted stack's top word at the trap.
INTERRUPTED = L.cpu_stack_top(1) - 20
#: Hardware frame (3 words), orig_eax and SAVE_ALL (12 words) below it: the short pt_regs.
SHORT_REGS = INTERRUPTED - 15 * 4
#: The full pt_regs lies below the 5-word gap FIXUP_FRAME leaves.
FULL_REGS = INTERRUPTED - 5 * 4 - len(L.PT_REGS) * 4


def test_an_emulated_call_on_the_short_frame_faults_in_do_int3() -> None:
    (report,) = check_file(SHORT)
    assert report.outcome is Outcome.XFAIL
    fault = report.result.fault
    assert fault is not None
    assert (fault.kind, fault.cpu, fault.call) == ("write-to-text", 1, "window")
    # the faulting instruction is int3_emulate_push's store, mov [ecx], eax (89 01)
    image = report.result.image
    assert image is not None and fault.pc.startswith("do_int3+0x")
    pc = image.symbols.addr("do_int3") + int(fault.pc.split("+")[1], 16)
    (unit,) = [u for u in image.units if u.base == entry.ENTRY_BASE]
    assert unit.code[pc - unit.base : pc - unit.base + 2] == b"\x89\x01"
    # regs->sp of the short frame is the interrupted stack's top word: f's return address,
    # which the push moves down by 4 and then writes through, into the caller's text
    assert SHORT_REGS + L.PT_SP == INTERRUPTED
    assert "the trap at f (emulate call ftrace_regs_caller" in fault.detail
    assert f"regs at {SHORT_REGS:#x}" in fault.detail
    assert (
        f"regs->sp (not saved: the interrupted stack) at {INTERRUPTED:#x}: "
        "caller_cpu1+0x5 -> caller_cpu1+0x1" in fault.detail
    )
    assert "(caller_cpu1+0x1)" in fault.detail  # the address the CPU refused to write


def test_the_same_call_on_the_full_frame_returns_into_the_callee() -> None:
    (report,) = check_file(FULL)
    assert report.outcome is Outcome.PASS
    assert report.result.fault is None


def test_without_the_gap_the_5_3_entry_faults_too(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fault comes from the frame: the 5.3 entry code without FIXUP_FRAME's gap (and so
    without CS_FROM_KERNEL: IRET_FRAME passes) gives the 5.3 kernel the 5.2 failure."""
    monkeypatch.setattr(entry, "fixup_frame_asm", lambda: "")
    monkeypatch.setattr(build, "_IMAGES", {})  # images built with the real entry stay apart
    build.entry_unit.cache_clear()
    try:
        (report,) = check_file(FULL)
    finally:
        build.entry_unit.cache_clear()
    fault = report.result.fault
    assert fault is not None and fault.kind == "write-to-text"
    assert fault.pc.startswith("do_int3+0x")
    assert report.outcome is Outcome.FAIL


def test_the_json_int3_event_shows_the_frame_and_the_pushed_return_address(
    tmp_path: Path,
) -> None:
    done = run_ftscen(["run", "--format", "json", str(RETURN_ADDRESS)], tmp_path)
    assert done.returncode == 0, done.stdout[-2000:]
    (result,) = json.loads(done.stdout)["results"]
    (int3,) = [e for e in result["events"] if e["kind"] == "int3"]
    assert int3 == {
        "kind": "int3",
        "step": 0,
        "cpu": 1,
        "call": "window",
        "ip": "f",
        "action": "emulate call",
        "target": "ftrace_regs_caller",
        "regs": f"{FULL_REGS:#x}",
        "regs_ip": "ftrace_regs_caller",  # int3_emulate_jmp: iret goes there
        "regs_sp": f"{INTERRUPTED - 4:#x}",  # int3_emulate_push moved it one word down
        "pushed": "f+0x5",  # site + CALL_INSN_SIZE, what the callee finds on top
    }


def test_the_text_log_keeps_its_one_line_int3_sentence(tmp_path: Path) -> None:
    done = run_ftscen(["run", str(RETURN_ADDRESS)], tmp_path)
    assert "      int3 at f: emulate call ftrace_regs_caller\n" in done.stdout


def test_the_listing_shows_the_era_entry_code(tmp_path: Path) -> None:
    old = run_ftscen(["build", "--listing", str(SHORT)], tmp_path).stdout
    new = run_ftscen(["build", "--listing", str(FULL)], tmp_path).stdout
    assert "int3 entry (short pt_regs) and do_int3" in old
    assert "int3 entry (full pt_regs: FIXUP_FRAME) and do_int3" in new
    assert "int3_no_fixup:" in new and "int3_no_fixup:" not in old
    for text in (old, new):
        assert "iretd" in text and "int 0xf0" in text


@pytest.mark.parametrize(
    "version, dynamic, kind",
    [
        ("5.1", False, "short"),
        ("5.2", False, "short"),
        ("5.2", True, "full"),  # x86_64's create_gap, stood in by the full frame
        ("5.1", True, "full"),  # the same, for a stable backport (kernel.int3 override)
        ("5.3", False, "full"),
        ("6.6", False, "full"),
    ],
)
def test_the_entry_of_each_era(version: str, dynamic: bool, kind: str) -> None:
    from ftscen.core.model import Kernel
    from ftscen.core.profile import profile_for

    profile = profile_for(Kernel(version=version, dynamic_trampolines=dynamic))
    assert entry.entry_kind(profile) == kind


@pytest.mark.parametrize("name", ["int3", "do_int3", "int3_iret"])
def test_the_entry_code_names_are_reserved(tmp_path: Path, name: str) -> None:
    (tmp_path / "s.yaml").write_text(f"ftscen: 1\nfunctions: [{{name: {name}}}]\ntimeline: []\n")
    done = run_ftscen(["validate", "s.yaml"], tmp_path)
    assert done.returncode == 2
    assert f"'{name}' is a symbol of the runtime image" in done.stdout + done.stderr
