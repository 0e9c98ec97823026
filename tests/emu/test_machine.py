"""The Unicorn machine: calls, cache invalidation, int3 and faults as verdicts."""

from __future__ import annotations

from build import fn, scenario, steps

from ftscen.core.model import Call
from ftscen.core.profile import profile_for
from ftscen.emu.machine import SLICE, Machine
from ftscen.image import layout as L
from ftscen.image.build import build_image


def machine(policy=lambda ip: None, per_call=100_000, functions=None):
    sc = scenario(functions or [fn("f", "g"), fn("g")], [], steps(Call("f")))
    img = build_image(sc, profile_for(sc.kernel))
    return img, Machine(img, 2, policy, per_call, 10_000_000)


def ran(m):
    return [e[1] for e in m.ring() if e[0] == L.EV_RAN]


def test_a_call_runs_the_body_and_its_callees_and_returns():
    img, m = machine()
    assert m.run_call(1, img.functions["f"]) is None
    assert ran(m) == [0, 1]


def test_poke_invalidates_translated_code():
    img, m = machine()
    f = img.functions["f"]
    assert m.run_call(1, f) is None
    m.poke(f + 5, b"\xc3")  # ret right after the site: the body no longer runs
    assert m.run_call(1, f) is None
    assert ran(m) == [0, 1]


def test_invalid_opcode_is_a_fault_with_the_cpu_and_pc():
    img, m = machine()
    m.poke(img.functions["g"], L.UD2)
    fault = m.run_call(1, img.functions["f"])
    assert fault is not None and fault.kind == "invalid-opcode" and fault.cpu == 1
    assert img.symbols.label_for(fault.pc) == "g"


def test_runaway_code_uses_up_the_budget_and_is_reported():
    img, m = machine()
    m.poke(img.functions["g"], b"\xeb\xfe")  # jmp $
    fault = m.run_call(1, img.functions["f"])
    assert fault is not None and fault.kind == "runaway"
    assert "budget" in fault.detail


def test_endless_recursion_overflows_the_stack_into_the_guard_page():
    img, m = machine(functions=[fn("f", "f")], per_call=5_000_000)
    fault = m.run_call(1, img.functions["f"])
    assert fault is not None and fault.kind == "stack-overflow"


def test_int3_nobody_claims_is_a_fault():
    img, m = machine()
    m.poke(img.sites["g"], b"\xcc")
    fault = m.run_call(1, img.functions["f"])
    assert fault is not None and fault.kind == "unhandled-int3"
    assert fault.pc == img.sites["g"]


def test_int3_emulated_call_pushes_site_plus_5_and_jumps():
    hits = []

    def policy(ip):
        hits.append(ip)
        return (L.INT3_CALL, img.symbols.addr("ftrace_stub"))

    img, m = machine(policy)
    m.poke(img.sites["g"], b"\xcc")
    assert m.run_call(1, img.functions["f"]) is None
    assert hits == [img.sites["g"]]
    assert ran(m) == [0, 1]  # ftrace_stub returned to g+5 and g's body ran
    # f's call of g left g's return address at interrupted = top - 16 - 4 - 4; the full
    # frame (the default era) puts pt_regs below a 5-word gap; the push lands at sp - 4.
    interrupted = L.cpu_stack_top(1) - 16 - 8
    regs = interrupted - 5 * 4 - len(L.PT_REGS) * 4
    stub = img.symbols.addr("ftrace_stub")
    int3 = [e for e in m.ring() if e[0] == L.EV_INT3]
    assert int3 == [
        (
            L.EV_INT3,
            img.sites["g"],
            L.INT3_CALL,
            stub,
            regs,
            stub,
            interrupted - 4,
            img.sites["g"] + 5,
        )
    ]


def test_int3_skip_resumes_after_the_site():
    img, m = machine(lambda ip: (L.INT3_JMP, ip + 5))
    m.poke(img.sites["f"], b"\xcc")
    assert m.run_call(1, img.functions["f"]) is None
    assert ran(m) == [0, 1]


def test_write_to_text_from_emulated_code_is_a_fault():
    img, m = machine()
    # mov dword ptr [f], eax  -> text is read/execute only
    m.poke(img.functions["g"], b"\xa3" + img.functions["f"].to_bytes(4, "little"))
    fault = m.run_call(1, img.functions["f"])
    assert fault is not None and fault.kind == "write-to-text"


def looping(count: int) -> bytes:
    """``mov ecx, count; loop $; ret``: 1 + count + 1 instructions."""
    return b"\xb9" + count.to_bytes(4, "little") + b"\xe2\xfe\xc3"


def test_the_scenario_budget_is_charged_each_slice_a_call_uses_up():
    img, m = machine()
    m.poke(img.functions["g"], looping(2_500))  # f's few instructions, then 2,502 in g
    assert m.run_call(1, img.functions["f"]) is None
    assert m.executed == 2 * SLICE
    assert m.insns_left == 10_000_000 - 2 * SLICE
    assert ran(m) == [0]  # g's body (and its event) was replaced by the loop


def test_short_calls_use_no_whole_slice():
    img, m = machine()
    for _ in range(50):  # each call runs a few dozen instructions
        assert m.run_call(1, img.functions["f"]) is None
    assert m.executed == 0 and m.insns_left == 10_000_000
    assert ran(m) == [0, 1] * 50


def test_the_scenario_budget_stops_a_long_call_at_its_limit():
    img, m = machine()
    m.insns_left = 2_500
    m.poke(img.functions["g"], looping(5_000))
    fault = m.run_call(1, img.functions["f"])
    assert fault is not None and fault.kind == "runaway"
    assert fault.detail == "instruction budget per scenario (10000000) used up"
    assert m.insns_left == 0 and m.executed == 2_500


def test_the_call_budget_is_exact():
    img, m = machine(per_call=2_600)
    m.poke(img.functions["g"], looping(2_500))
    assert m.run_call(1, img.functions["f"]) is None  # about 2,510 instructions: fits
    m.poke(img.functions["g"], looping(2_600))
    fault = m.run_call(1, img.functions["f"])
    assert fault is not None and fault.kind == "runaway"
    assert fault.detail == "instruction budget per call (2600) used up"
    assert img.symbols.label_for(fault.pc).startswith("g")
