"""The patcher's decisions, observed on the real emulated machine."""

from __future__ import annotations

from build import during, fn, ops, scenario, steps

from ftscen.core.model import Call, Register, SetFilter, SetNotrace, Sysctl, Unregister
from ftscen.core.profile import profile_for
from ftscen.emu.events import CallbackEvent, RanEvent
from ftscen.emu.run import Runner, dry_run, run_scenario
from ftscen.image import layout as L


def run(sc, version=None):
    return run_scenario(sc, profile_for(sc.kernel, version))


def callbacks(result, cid):
    return [e.ops for e in result.events if e.call == cid and isinstance(e, CallbackEvent)]


def ran(result, cid):
    return [e.func for e in result.events if e.call == cid and isinstance(e, RanEvent)]


def test_site_bytes_go_through_the_three_phases_of_the_int3_protocol():
    sc = scenario([fn("f")], [ops("T", filter=("f",))], steps(Register("T")))
    prof = profile_for(sc.kernel)
    seen = {}
    runner = Runner(sc, prof, execute_calls=False)
    site = runner.image.sites["f"]
    caller = runner.image.symbols.addr("ftrace_caller")
    new = L.call_insn(site, caller)

    def capture(name):
        seen[name] = runner.m.read(site, 5)

    runner.patcher.on_point = capture
    runner.m.emit(L.EV_STEP, 0)
    before = runner.m.read(site, 5)
    runner.patcher.run(Register("T"))
    assert before == L.NOP5
    assert seen["start"] == L.NOP5
    assert seen["sites.int3"] == b"\xcc" + L.NOP5[1:]
    assert seen["sites.tail"] == b"\xcc" + new[1:]
    assert seen["sites.done"] == new
    assert runner.m.read(site, 5) == new


def test_register_points_follow_the_kernel_order_list_function_first():
    sc = scenario([fn("f")], [ops("T", filter=("f",))], steps(Register("T")))
    pts = dry_run(sc, profile_for(sc.kernel)).steps[0].points
    assert pts == (
        "start",
        "ftrace_call.int3",
        "ftrace_call.tail",
        "ftrace_call.done",
        "ftrace_regs_call.int3",
        "ftrace_regs_call.tail",
        "ftrace_regs_call.done",
        "sites.int3",
        "sites.tail",
        "sites.done",
        "ftrace_call.int3#2",
        "ftrace_call.tail#2",
        "ftrace_call.done#2",
        "ftrace_regs_call.int3#2",
        "ftrace_regs_call.tail#2",
        "ftrace_regs_call.done#2",
    )


def test_a_second_ops_switches_to_the_list_function_and_needs_no_final_update():
    sc = scenario([fn("f")], [ops("A"), ops("B")], steps(Register("A"), Register("B")))
    pts = dry_run(sc, profile_for(sc.kernel)).steps[1].points
    assert "ftrace_call.int3" in pts and "ftrace_call.int3#2" not in pts
    assert "sites.int3" not in pts  # f already calls ftrace_caller


def test_single_static_ops_is_called_directly_with_function_trace_op():
    sc = scenario([fn("f")], [ops("T", filter=("f",))], steps(Register("T"), (Call("f"), "c")))
    r = run(sc)
    cb = [e for e in r.events if isinstance(e, CallbackEvent)]
    assert [e.op for e in cb] == ["T.ops"]
    assert r.sites["f"] == "call ftrace_caller"


def test_save_regs_ops_moves_the_site_to_ftrace_regs_caller():
    sc = scenario([fn("f")], [ops("T", "SAVE_REGS", filter=("f",))], steps(Register("T")))
    assert run(sc).sites["f"] == "call ftrace_regs_caller"


def test_save_regs_if_supported_alone_does_not_ask_for_regs_on_i386():
    sc = scenario(
        [fn("f")], [ops("T", "SAVE_REGS_IF_SUPPORTED", filter=("f",))], steps(Register("T"))
    )
    assert run(sc).sites["f"] == "call ftrace_caller"


def test_unregister_puts_the_nop_back_and_the_stub_in_the_trampoline():
    sc = scenario([fn("f")], [ops("T")], steps(Register("T"), Unregister("T"), (Call("f"), "c")))
    r = run(sc)
    assert r.sites["f"] == "nop" and callbacks(r, "c") == []


def test_ipmodify_second_owner_gets_ebusy_and_leaves_no_trace():
    sc = scenario(
        [fn("f")],
        [
            ops("A", "SAVE_REGS", "IPMODIFY", filter=("f",)),
            ops("B", "SAVE_REGS", "IPMODIFY", filter=("f",)),
        ],
        steps(Register("A"), (Register("B"), None, "EBUSY"), (Call("f"), "c")),
    )
    r = run(sc)
    assert [s.errno for s in r.steps[:2]] == ["0", "EBUSY"]
    assert callbacks(r, "c") == ["A"]


def test_ipmodify_without_filter_is_einval():
    sc = scenario([fn("f")], [ops("A", "SAVE_REGS", "IPMODIFY")], steps(Register("A")))
    assert run(sc).steps[0].errno == "EINVAL"


def test_ipmodify_without_save_regs_registers_and_gets_no_regs():
    sc = scenario(
        [fn("f")], [ops("A", "IPMODIFY", filter=("f",))], steps(Register("A"), (Call("f"), "c"))
    )
    r = run(sc)
    assert r.steps[0].errno == "0" and r.sites["f"] == "call ftrace_caller"
    assert [e.regs for e in r.events if isinstance(e, CallbackEvent)] == [False]


def test_notrace_on_ipmodify_ops_is_einval():
    sc = scenario(
        [fn("f"), fn("g")],
        [ops("A", "SAVE_REGS", "IPMODIFY", filter=("f",))],
        steps(SetNotrace("A", ("g",))),
    )
    assert run(sc).steps[0].errno == "EINVAL"


def test_registering_twice_is_ebusy_and_unregistering_an_idle_ops_too():
    sc = scenario(
        [fn("f")], [ops("A")], steps(Register("A"), Register("A"), Unregister("A"), Unregister("A"))
    )
    assert [s.errno for s in run(sc).steps] == ["0", "EBUSY", "0", "EBUSY"]


def test_glob_matching_nothing_makes_set_filter_einval_and_changes_nothing():
    sc = scenario(
        [fn("f"), fn("g")],
        [ops("A", filter=("f",))],
        steps(Register("A"), SetFilter("A", ("nothing*",)), (Call("f"), "c")),
    )
    r = run(sc)
    assert r.steps[1].errno == "EINVAL" and callbacks(r, "c") == ["A"]


def test_sysctl_off_nops_every_site_and_permanent_refuses_it():
    sc = scenario(
        [fn("f")],
        [ops("A"), ops("P", "PERMANENT", filter=("f",))],
        steps(
            Register("A"),
            Sysctl(False),
            (Call("f"), "off"),
            Sysctl(True),
            (Call("f"), "on"),
            Register("P"),
            Sysctl(False),
        ),
    )
    r = run(sc)
    assert callbacks(r, "off") == [] and callbacks(r, "on") == ["A"]
    assert r.steps[-1].errno == "EBUSY"


def test_permanent_ops_cannot_register_while_ftrace_is_disabled():
    sc = scenario([fn("f")], [ops("P", "PERMANENT")], steps(Sysctl(False), Register("P")))
    assert run(sc).steps[1].errno == "EBUSY"


def test_skip_era_runs_the_old_body_in_the_window():
    sc = scenario(
        [fn("f"), fn("f2", notrace=True)],
        [
            ops("t", filter=("f",)),
            ops("x", "SAVE_REGS", "IPMODIFY", filter=("f",), redirect={"f": "f2"}),
        ],
        steps(Register("t"), (Register("x"), None, None, [during("sites.int3", "f", "w")])),
    )
    old = run(sc, "5.1")
    assert ran(old, "w") == ["f"] and callbacks(old, "w") == []
    new = run(sc, "5.3")
    assert ran(new, "w") == ["f2"] and sorted(callbacks(new, "w")) == ["t", "x"]
    e3 = run(sc, "6.6")
    assert ran(e3, "w") == ["f2"] and sorted(callbacks(e3, "w")) == ["t", "x"]


def test_trampoline_call_site_window_skips_every_callback_before_5_2():
    sc = scenario(
        [fn("f")],
        [ops("A", filter=("f",)), ops("B", filter=("f",))],
        steps(Register("A"), (Register("B"), None, None, [during("ftrace_call.int3", "f", "w")])),
    )
    assert callbacks(run(sc, "4.19"), "w") == []
    # 5.3: the trap at ftrace_call emulates a call to the new callee, the list function
    assert sorted(callbacks(run(sc, "5.3"), "w")) == ["A", "B"]
    assert sorted(callbacks(run(sc, "6.1"), "w")) == ["A", "B"]


def test_save_regs_ops_reached_through_ftrace_caller_is_skipped():
    """R8: during 5.5+ retargeting, a site still calling ftrace_caller passes regs=NULL."""
    sc = scenario(
        [fn("f")],
        [ops("t", filter=("f",)), ops("r", "SAVE_REGS", filter=("f",))],
        steps(
            Register("t"), (Register("r"), None, None, [during("ftrace_regs_call.done", "f", "w")])
        ),
    )
    r = run(sc, "6.6")
    assert callbacks(r, "w") == ["t"]


def test_dynamic_trampoline_is_used_only_while_one_ops_owns_the_site():
    sc = scenario(
        [fn("f")],
        [ops("A", "DYNAMIC", filter=("f",)), ops("B")],
        steps(Register("A"), Register("B"), Unregister("B")),
        dynamic=True,
    )
    r = run(sc)
    assert r.sites["f"] == "call A.tramp"


def test_dynamic_ops_trampoline_is_freed_after_unregister():
    sc = scenario(
        [fn("f")],
        [ops("A", "DYNAMIC", filter=("f",))],
        steps(Register("A"), Unregister("A")),
        dynamic=True,
    )
    runner = Runner(sc, profile_for(sc.kernel))
    runner.run()
    tramp = runner.image.trampolines["A"].addr
    assert runner.m.read(tramp, 2) == L.UD2


def test_fresh_trampoline_call_is_written_under_int3_before_5_5_and_directly_after():
    sc = scenario([fn("f")], [ops("A", filter=("f",))], steps(Register("A")), dynamic=True)
    old = dry_run(sc, profile_for(sc.kernel, "5.4")).steps[0].points
    new = dry_run(sc, profile_for(sc.kernel, "5.5")).steps[0].points
    assert "A.tramp_call.int3" in old and "A.tramp_call.int3" not in new


def test_permanent_means_nothing_before_5_5_so_sysctl_off_disables_a_live_patch():
    sc = scenario(
        [fn("f"), fn("f2", notrace=True)],
        [
            ops(
                "klp",
                "SAVE_REGS",
                "IPMODIFY",
                "DYNAMIC",
                "PERMANENT",
                filter=("f",),
                redirect={"f": "f2"},
            )
        ],
        steps(Register("klp"), Sysctl(False), (Call("f"), "c")),
    )
    old = run(sc, "5.4")
    assert old.steps[1].errno == "0" and ran(old, "c") == ["f"]
    new = run(sc, "5.5")
    assert new.steps[1].errno == "EBUSY" and ran(new, "c") == ["f2"]


def trampoline_sites(*actions, ops_=None, dynamic=False):
    sc = scenario(
        [fn("f"), fn("g")],
        ops_ or [ops("A", filter=("f",)), ops("B", filter=("g",))],
        steps(*actions),
        dynamic=dynamic,
    )
    return run(sc).trampoline_sites


def test_trampoline_call_sites_call_what_update_ftrace_function_picks():
    assert trampoline_sites() == {
        "ftrace_call": "call ftrace_stub",
        "ftrace_regs_call": "call ftrace_stub",
    }
    assert trampoline_sites(Register("A"))["ftrace_call"] == "call A.func"
    both = trampoline_sites(Register("A"), Register("B"))
    assert set(both.values()) == {"call ftrace_ops_list_func"}
    assert (
        trampoline_sites(Register("A"), Register("B"), Unregister("A"))["ftrace_regs_call"]
        == "call B.func"
    )
    recursion = trampoline_sites(Register("R"), ops_=[ops("R", "RECURSION")])
    assert recursion["ftrace_call"] == "call ftrace_ops_assist_func"
    dynamic = trampoline_sites(Register("D"), ops_=[ops("D", "DYNAMIC")])
    assert dynamic["ftrace_call"] == "call ftrace_ops_list_func"


def test_a_per_ops_call_site_reads_not_allocated_before_creation_and_after_the_free():
    sites = trampoline_sites(
        Register("A"), dynamic=True, ops_=[ops("A", "DYNAMIC", filter=("f",)), ops("B")]
    )
    assert (sites["A.tramp_call"], sites["B.tramp_call"]) == ("call A.func", "not allocated")
    freed = trampoline_sites(
        Register("A"), Unregister("A"), dynamic=True, ops_=[ops("A", "DYNAMIC", filter=("f",))]
    )
    assert freed["A.tramp_call"] == "not allocated"


def test_without_per_ops_trampolines_only_the_shared_call_sites_are_read():
    assert set(trampoline_sites(Register("A"))) == {"ftrace_call", "ftrace_regs_call"}
