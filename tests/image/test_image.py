from __future__ import annotations

from build import fn, ops, scenario, steps

from ftscen.core.model import Register
from ftscen.core.profile import profile_for
from ftscen.image import layout as L
from ftscen.image.build import build_image, runtime_unit


def image(dynamic=False, version="6.6"):
    sc = scenario(
        [fn("f", "g"), fn("g"), fn("g2", notrace=True)],
        [ops("A", "SAVE_REGS", filter=("f",), redirect={"g": "g2"}), ops("B")],
        steps(Register("A")),
        version=version,
        dynamic=dynamic,
    )
    return build_image(sc, profile_for(sc.kernel))


def unit_bytes(img, addr, size):
    for u in img.units:
        if u.base <= addr < u.base + len(u.code):
            return u.code[addr - u.base : addr - u.base + size]
    raise AssertionError(hex(addr))


def test_every_traceable_function_starts_with_the_i386_nop5_site():
    img = image()
    assert set(img.sites) == {"f", "g"}
    for addr in img.sites.values():
        assert unit_bytes(img, addr, 5) == L.NOP5


def test_notrace_function_has_no_site():
    img = image()
    assert "g2" not in img.sites
    assert unit_bytes(img, img.functions["g2"], 5) != L.NOP5


def test_shared_trampoline_call_sites_start_as_call_ftrace_stub():
    img = image()
    stub = img.symbols.addr("ftrace_stub")
    for label in ("ftrace_call", "ftrace_regs_call"):
        at = img.symbols.addr(label)
        assert unit_bytes(img, at, 5) == L.call_insn(at, stub)


def test_graph_call_is_a_five_byte_jmp_to_the_stub_right_after_it():
    img = image()
    at = img.symbols.addr("ftrace_graph_call")
    assert unit_bytes(img, at, 5) == b"\xe9\x00\x00\x00\x00"
    assert img.symbols.addr("ftrace_stub") == at + 5


def test_symbols_name_labels_inside_trampolines_and_offsets():
    img = image()
    sym = img.symbols
    assert sym.label_for(sym.addr("ftrace_call")) == "ftrace_call"
    assert sym.label_for(sym.addr("ftrace_caller") + 1) == "ftrace_caller+0x1"
    assert sym.label_for(img.callers[1] + 5) == "caller_cpu1+0x5"
    assert sym.label_for(img.handlers["A"]) == "A.func"


def test_per_ops_trampolines_exist_only_with_dynamic_trampolines():
    assert image().trampolines == {}
    img = image(dynamic=True)
    assert set(img.trampolines) == {"A", "B"}
    assert img.symbols.label_for(img.trampolines["A"].addr) == "A.tramp"


def test_full_and_short_regs_frames_are_different_code():
    assert runtime_unit("full", True).code != runtime_unit("short", True).code


def test_runtime_is_assembled_once_per_profile_key():
    assert runtime_unit("full", True) is runtime_unit("full", True)


def test_labels_inside_a_handler_are_not_symbols_of_their_own():
    img = image()
    names = [s.name for s in img.symbols.symbols()]
    assert "A.func" in names and not [n for n in names if "_r0" in n]
    a = img.symbols.get("A.func")
    assert a.size == img.handlers["B"] - a.addr
