"""Each semantic check catches its mistake, says what is wrong and how to fix it."""

from __future__ import annotations

import pytest

from ftscen.core.errors import Diagnostic, ScenarioInvalid
from ftscen.core.profile import parse_version
from ftscen.load.scenario import load_scenario
from ftscen.load.validate import CHECKS

FUNCS = """ftscen: 1
functions:
  - name: do_IRQ
  - name: schedule
  - name: do_IRQ_v2
    notrace: true
"""


def problems(text: str) -> list[Diagnostic]:
    with pytest.raises(ScenarioInvalid) as caught:
        load_scenario("t.yaml", text.encode())
    return caught.value.diagnostics


def one(text: str) -> Diagnostic:
    found = problems(text)
    assert len(found) == 1, [f.message for f in found]
    return found[0]


def test_the_checks_have_unique_names() -> None:
    names = [name for name, _ in CHECKS]
    assert len(names) == len(set(names))


# ---- names ---------------------------------------------------------------------------------


def test_a_duplicate_function_is_reported_at_its_second_definition() -> None:
    found = one(FUNCS + "  - name: schedule\ntimeline: []\n")
    assert found.message == "duplicate function 'schedule' (first on line 4)"
    assert found.path == "$.functions[3].name"


def test_a_duplicate_ops_is_reported() -> None:
    found = one(FUNCS + "ops: [{name: A}, {name: A}]\ntimeline: []\n")
    assert found.message == "duplicate ops 'A' (first on line 7)"


def test_timeline_and_during_ids_share_one_namespace() -> None:
    found = one(
        FUNCS + "ops: [{name: A}]\ntimeline:\n  - {call: do_IRQ, id: x}\n"
        "  - register: A\n    during: [{at: start, call: do_IRQ, id: x}]\n"
    )
    assert found.message == "duplicate id 'x' (first on line 9)"


def test_an_unknown_function_gets_a_did_you_mean() -> None:
    found = one(FUNCS + "timeline:\n  - call: do_irq\n")
    assert found.message == "unknown function 'do_irq' (did you mean 'do_IRQ'?)"
    assert found.hint == "define it under `functions:` (defined: do_IRQ, schedule, do_IRQ_v2)"
    assert (found.line, found.col) == (8, 11)


def test_an_unknown_function_in_a_body_is_reported() -> None:
    found = one("ftscen: 1\nfunctions:\n  - name: f\n    calls: [g]\ntimeline: []\n")
    assert (found.message, found.path) == ("unknown function 'g'", "$.functions[0].calls[0]")


def test_unknown_functions_in_ops_are_reported_at_redirect_keys_and_values() -> None:
    found = problems(
        FUNCS + "ops:\n  - name: A\n    flags: [SAVE_REGS]\n    filter: [do_IRQ]\n"
        "    redirect: {do_irq: v2}\n    calls: [nope]\ntimeline: []\n"
    )
    assert [(f.message.split(" (")[0], f.line, f.col) for f in found] == [
        ("unknown function 'do_irq'", 11, 16),
        ("unknown function 'v2'", 11, 24),
        ("unknown function 'nope'", 12, 13),
    ]


def test_unknown_functions_in_during_and_expect_are_reported() -> None:
    found = problems(
        FUNCS + "ops: [{name: A}]\ntimeline:\n  - register: A\n"
        "    during: [{at: start, call: f, id: w}]\nexpect:\n  - {call: w, ran: g}\n"
        "  - not_called: {ops: A, func: h}\n  - site: {func: i, is: nop}\n"
    )
    assert [f.message for f in found] == [f"unknown function '{n}'" for n in "fgh"] + [
        "unknown call site 'i'"
    ]


def test_an_unknown_ops_gets_a_did_you_mean() -> None:
    found = one(FUNCS + "ops: [{name: livepatch}]\ntimeline:\n  - register: live_patch\n")
    assert found.message == "unknown ops 'live_patch' (did you mean 'livepatch'?)"
    assert found.hint == "define it under `ops:` (defined: livepatch)"


def test_unknown_ops_in_edits_and_assertions_are_reported() -> None:
    found = problems(
        FUNCS + "ops: [{name: A}]\ntimeline:\n"
        "  - set_filter: {ops: B, filter: []}\n  - {call: do_IRQ, id: c}\n"
        "expect:\n  - {call: c, called: {C: 1}}\n  - called: {ops: D}\n"
    )
    assert [f.message for f in found] == [f"unknown ops '{n}'" for n in "BCD"]


def test_a_reserved_symbol_cannot_name_a_function() -> None:
    found = one("ftscen: 1\nfunctions: [{name: caller_cpu1}]\ntimeline: []\n")
    assert found.message.startswith("'caller_cpu1' is a symbol of the runtime image")


def test_a_loop_of_calls_is_reported_once() -> None:
    found = one(
        "ftscen: 1\nfunctions:\n  - {name: a, calls: [b]}\n  - {name: b, calls: [c]}\n"
        "  - {name: c, calls: [a]}\ntimeline: []\n"
    )
    assert found.message == "functions call each other in a loop: a -> b -> c -> a"


def test_a_function_calling_itself_is_a_loop() -> None:
    found = one("ftscen: 1\nfunctions:\n  - {name: a, calls: [a]}\ntimeline: []\n")
    assert found.message == "functions call each other in a loop: a -> a"


# ---- ops -----------------------------------------------------------------------------------


def test_a_filter_glob_that_matches_nothing_gets_a_did_you_mean() -> None:
    found = one(FUNCS + "ops:\n  - name: A\n    filter: [sched*, do_irq]\ntimeline: []\n")
    assert found.message == "the glob 'do_irq' matches no function (did you mean 'do_IRQ'?)"
    assert found.path == "$.ops[0].filter[1]"


def test_a_notrace_glob_that_matches_nothing_is_reported() -> None:
    found = one(FUNCS + "ops:\n  - name: A\n    notrace: ['!zz*']\ntimeline: []\n")
    assert found.message == "the glob '!zz*' matches no function"


def test_a_glob_naming_a_notrace_function_says_why_it_matches_nothing() -> None:
    found = one(FUNCS + "ops:\n  - name: A\n    filter: [do_IRQ_v2]\ntimeline: []\n")
    assert found.message == "the glob 'do_IRQ_v2' matches no function: 'do_IRQ_v2' is notrace"


def test_an_ipmodify_ops_cannot_be_defined_with_a_notrace_hash() -> None:
    found = one(
        FUNCS + "ops:\n  - name: A\n    flags: [SAVE_REGS, IPMODIFY]\n"
        "    filter: [do_IRQ]\n    notrace: [schedule]\ntimeline: []\n"
    )
    assert "has a notrace hash, which the kernel refuses" in found.message
    assert found.hint is not None and "`expect: EINVAL`" in found.hint


def test_an_ipmodify_ops_may_have_an_empty_filter_the_run_refuses_it() -> None:
    load_scenario(
        "t.yaml",
        (
            FUNCS + "ops: [{name: A, flags: [SAVE_REGS, IPMODIFY]}]\n"
            "timeline:\n  - {register: A, expect: EINVAL}\n"
        ).encode(),
    )


def test_a_redirect_needs_save_regs() -> None:
    found = one(
        FUNCS + "ops:\n  - name: A\n    flags: [IPMODIFY]\n    filter: [do_IRQ]\n"
        "    redirect: {do_IRQ: do_IRQ_v2}\ntimeline: []\n"
    )
    assert found.message == "the ops 'A' redirects but lacks the SAVE_REGS flag"


def test_a_notrace_function_cannot_be_redirected() -> None:
    found = one(
        FUNCS + "ops:\n  - name: A\n    flags: [SAVE_REGS]\n"
        "    redirect: {do_IRQ_v2: do_IRQ}\ntimeline: []\n"
    )
    assert found.message == (
        "'do_IRQ_v2' is notrace: it has no call site, so it can never be redirected"
    )


def test_a_function_cannot_be_redirected_to_itself() -> None:
    found = one(
        FUNCS + "ops:\n  - name: A\n    flags: [SAVE_REGS]\n"
        "    redirect: {do_IRQ: do_IRQ}\ntimeline: []\n"
    )
    assert found.message == "'do_IRQ' is redirected to itself"


# ---- timeline ------------------------------------------------------------------------------


def test_a_call_on_the_patcher_cpu_is_refused() -> None:
    found = one(FUNCS + "timeline:\n  - {call: do_IRQ, cpu: 0}\n")
    assert found.message == "CPU 0 runs the patcher; calls run on CPU 1"


def test_a_cpu_beyond_the_machine_is_refused() -> None:
    found = one(
        FUNCS + "kernel: {cpus: 4}\nops: [{name: A}]\ntimeline:\n  - register: A\n"
        "    during: [{at: start, call: do_IRQ, cpu: 4}]\n"
    )
    assert found.message == (
        "cpu 4 is out of range: with kernel.cpus 4, calls run on CPUs 1 to "
        "3 (CPU 0 runs the patcher)"
    )


def test_expect_and_during_do_not_apply_to_a_call() -> None:
    found = problems(
        FUNCS + "timeline:\n  - call: do_IRQ\n    expect: EBUSY\n"
        "    during: [{at: start, call: do_IRQ}]\n"
    )
    assert [f.message for f in found] == [
        "'expect' does not apply to a call step: a call returns no error code",
        "'during' does not apply to a call step",
    ]


def test_cpu_does_not_apply_to_a_patcher_step() -> None:
    found = one(FUNCS + "ops: [{name: A}]\ntimeline:\n  - {register: A, cpu: 1}\n")
    assert found.message == "'cpu' does not apply to a register step: patcher steps run on CPU 0"


# ---- expect --------------------------------------------------------------------------------


def test_an_assertion_on_an_unknown_call_id_gets_a_did_you_mean() -> None:
    found = one(
        FUNCS + "timeline:\n  - {call: do_IRQ, id: window}\n"
        "expect:\n  - {call: windwo, called: []}\n"
    )
    assert found.message == "no call has the id 'windwo' (did you mean 'window'?)"


def test_an_assertion_on_a_patcher_step_id_is_refused() -> None:
    found = one(
        FUNCS + "ops: [{name: A}]\ntimeline:\n  - {register: A, id: reg}\n"
        "expect:\n  - {call: reg, called: []}\n"
    )
    assert found.message == "'reg' is the id of a register step, not of a call"


@pytest.mark.parametrize("state", ["nop", "call ftrace_caller", "call ftrace_regs_caller"])
def test_common_site_states_are_accepted(state: str) -> None:
    load_scenario(
        "t.yaml",
        (FUNCS + f"timeline: []\nexpect:\n  - site: {{func: do_IRQ, is: '{state}'}}\n").encode(),
    )


def test_a_misspelt_site_symbol_gets_a_did_you_mean() -> None:
    found = one(FUNCS + "timeline: []\nexpect:\n  - site: {func: do_IRQ, is: call ftrace_calle}\n")
    assert found.message == "unknown symbol 'ftrace_calle' (did you mean 'ftrace_caller'?)"


def test_a_private_trampoline_needs_dynamic_trampolines() -> None:
    text = (
        FUNCS
        + "ops: [{name: lp}]\ntimeline: []\nexpect:\n  - site: {func: do_IRQ, is: call lp.tramp}\n"
    )
    assert one(text).message == "'lp.tramp' exists only with per-ops trampolines"
    load_scenario(
        "t.yaml", text.replace("ops:", "kernel: {dynamic_trampolines: true}\nops:").encode()
    )


def test_a_notrace_function_has_no_site_to_check() -> None:
    found = one(FUNCS + "timeline: []\nexpect:\n  - site: {func: do_IRQ_v2, is: nop}\n")
    assert found.message == "'do_IRQ_v2' is notrace: it has no call site"


def site(func: str, state: str, kernel: str = "") -> str:
    """FUNCS with ops lp and tracer and one site assertion."""
    return (
        FUNCS + kernel + "ops: [{name: lp}, {name: tracer}]\ntimeline: []\nexpect:\n"
        f"  - site: {{func: {func}, is: '{state}'}}\n"
    )


DYNAMIC = "kernel: {dynamic_trampolines: true}\n"


@pytest.mark.parametrize(
    "func, state, kernel",
    [
        ("ftrace_call", "call ftrace_stub", ""),
        ("ftrace_call", "call ftrace_ops_list_func", ""),
        ("ftrace_regs_call", "call ftrace_ops_assist_func", ""),
        ("ftrace_regs_call", "call lp.func", ""),
        ("lp.tramp_call", "call lp.func", DYNAMIC),
    ],
)
def test_trampoline_call_sites_and_their_callees_are_accepted(
    func: str, state: str, kernel: str
) -> None:
    load_scenario("t.yaml", site(func, state, kernel).encode())


def test_an_unknown_call_site_gets_a_did_you_mean_over_functions_and_trampoline_sites() -> None:
    found = one(site("ftrace_cal", "call ftrace_stub"))
    assert found.message == "unknown call site 'ftrace_cal' (did you mean 'ftrace_call'?)"
    assert found.hint == (
        "name a traceable function (defined: do_IRQ, schedule), ftrace_call, "
        "ftrace_regs_call or, with kernel.dynamic_trampolines, OPS.tramp_call"
    )
    assert found.path == "$.expect[0].site.func"
    assert one(site("do_irq", "nop")).message == (
        "unknown call site 'do_irq' (did you mean 'do_IRQ'?)"
    )


def test_a_per_ops_call_site_of_an_unknown_ops_is_refused() -> None:
    found = one(site("live.tramp_call", "call lp.func", DYNAMIC))
    assert found.message == "unknown call site 'live.tramp_call' (did you mean 'lp.tramp_call'?)"


def test_a_per_ops_call_site_needs_dynamic_trampolines() -> None:
    found = one(site("lp.tramp_call", "call lp.func"))
    assert found.message == "'lp.tramp_call' exists only with per-ops trampolines"
    assert found.hint == (
        "set kernel.dynamic_trampolines: true, or check ftrace_call or ftrace_regs_call"
    )


def test_a_trampoline_call_site_is_never_a_nop() -> None:
    found = one(site("ftrace_regs_call", "nop"))
    assert found.message == (
        "'ftrace_regs_call' is never a nop: a trampoline's call site always calls something"
    )
    assert found.hint == (
        "expect `call ftrace_stub` when no ops is registered, else `call "
        "SYMBOL` with SYMBOL ftrace_ops_list_func, ftrace_ops_assist_func or "
        "OPS.func (an ops' callback)"
    )
    assert found.path == "$.expect[0].site.is"


def test_a_trampoline_call_site_never_calls_a_trampoline() -> None:
    found = one(site("ftrace_call", "call ftrace_caller"))
    assert found.message == "'ftrace_call' never calls 'ftrace_caller'"
    assert found.hint == (
        "a trampoline's call site calls ftrace_stub, ftrace_ops_list_func, "
        "ftrace_ops_assist_func or OPS.func (an ops' callback)"
    )
    assert one(site("ftrace_call", "call tracr.func")).message == (
        "'ftrace_call' never calls 'tracr.func' (did you mean 'tracer.func'?)"
    )


def test_a_callback_at_a_function_site_points_to_the_trampoline_site() -> None:
    found = one(site("do_IRQ", "call tracer.func"))
    assert found.message == (
        "a function's call site never calls 'tracer.func': a trampoline's call site does"
    )
    assert found.hint.endswith("`site: {func: ftrace_call, is: call tracer.func}`")


# ---- kernel and limits ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, parsed",
    [
        ("5.3", (5, 3)),
        ("4.19.12", (4, 19)),
        ("6.6-rc1", (6, 6)),
        ("5", None),
        ("v5.3", None),
        ("5.3\n", None),
        (" 5.3", None),
        ("99999999999999999999.1", None),
        ("5.100", None),
        ("4.19.325", (4, 19)),
        ("\u0665.\u0663", None),
    ],
)
def test_kernel_versions_are_parsed(text: str, parsed: tuple[int, int] | None) -> None:
    assert parse_version(text) == parsed


def test_a_kernel_version_must_look_like_one() -> None:
    found = one(FUNCS + "kernel: {version: latest}\ntimeline: []\n")
    assert found.message == "'latest' is not a kernel version"


@pytest.mark.parametrize("written", ["1.0", "0x1", "+1", "01", "!!int 0x1", "&v 1.0"])
def test_the_format_version_is_the_integer_1_as_written(written: str) -> None:
    found = one(FUNCS.replace("ftscen: 1", f"ftscen: {written}") + "timeline: []\n")
    shown = written.split()[-1]
    assert found.message == f"the format version is written '{shown}'; it is the integer 1"
    assert (found.path, found.line, found.hint) == ("$.ftscen", 1, "write `ftscen: 1`")


@pytest.mark.parametrize("written", ["1", "1  # the format", "&v 1", "!!int 1"])
def test_the_format_version_written_1_is_accepted(written: str) -> None:
    text = FUNCS.replace("ftscen: 1", f"ftscen: {written}") + "timeline: []\n"
    assert load_scenario("x.yaml", text.encode()).functions  # no ScenarioInvalid


def test_kernels_before_3_5_are_refused_with_the_reason() -> None:
    found = one(FUNCS + "kernel: {version: '3.4.99'}\ntimeline: []\n")
    assert found.message == (
        "kernel 3.4.99 is older than 3.5: kernels before 3.5 patched under "
        "stop_machine, there is no breakpoint window to model"
    )


def test_too_many_calls_in_one_body_are_refused() -> None:
    calls = ", ".join(["schedule"] * 17)
    found = one(
        f"ftscen: 1\nfunctions:\n  - {{name: f, calls: [{calls}]}}\n  - name: schedule\n"
        "timeline: []\n"
    )
    assert found.message == "too many calls: 17 (the limit is 16)"
    assert found.path == "$.functions[0].calls[16]"


def test_too_many_globs_in_a_set_filter_step_are_refused() -> None:
    globs = ", ".join(["do_IRQ"] * 65)
    found = one(
        FUNCS + f"ops: [{{name: A}}]\ntimeline:\n  - set_filter: {{ops: A, filter: [{globs}]}}\n"
    )
    assert found.message == "too many globs: 65 (the limit is 64)"


def test_every_problem_is_reported_sorted_by_line_and_column() -> None:
    found = problems(
        FUNCS + "ops: [{name: A}, {name: A}]\ntimeline:\n  - call: nope\n  - register: B\n"
    )
    assert [(f.line, f.col) for f in found] == sorted((f.line, f.col) for f in found)
    assert len(found) == 3


def test_a_scenario_over_a_limit_gets_only_the_limit_and_quickly() -> None:
    # A chain of 6,000 functions each calling the next: the loop check alone was quadratic.
    chain = "".join(f"  - {{name: f{i}, calls: [f{i + 1}]}}\n" for i in range(6000))
    found = problems(
        "ftscen: 1\nfunctions:\n" + chain + "  - name: f6000\ntimeline:\n  - call: nobody\n"
    )
    assert [d.message for d in found] == ["too many functions: 6001 (the limit is 5000)"]


# ---- record assertions -----------------------------------------------------------------------

RECORDS = (
    FUNCS
    + """ops: [{name: A, filter: [do_IRQ]}]
timeline:
  - register: A
    id: armed
    during:
      - {at: start, call: schedule, id: inside}
expect:
"""
)


def test_a_record_assertion_loads_with_its_step() -> None:
    text = RECORDS + "  - record: {func: do_IRQ, count: 1, flags: [ENABLED], after: armed}\n"
    sc = load_scenario("t.yaml", text.encode())
    [rec] = sc.expect
    assert (rec.func, rec.count, rec.flags, rec.after) == ("do_IRQ", 1, ("ENABLED",), "armed")
    assert rec.mark.line == 14


def test_a_notrace_function_has_no_record() -> None:
    found = one(RECORDS + "  - record: {func: do_IRQ_v2, count: 0}\n")
    assert found.message == "'do_IRQ_v2' is notrace: it has no ftrace record"
    assert (found.line, found.path) == (14, "$.expect[0].record.func")


def test_a_record_is_read_after_a_timeline_step_not_a_during_call() -> None:
    found = one(RECORDS + "  - record: {func: do_IRQ, count: 0, after: inside}\n")
    assert found.message == "'inside' is the id of a during call, not of a timeline step"
    assert found.path == "$.expect[0].record.after"


def test_an_unknown_step_id_gets_a_did_you_mean() -> None:
    found = one(RECORDS + "  - record: {func: do_IRQ, count: 0, after: armd}\n")
    assert found.message == "no timeline step has the id 'armd' (did you mean 'armed'?)"


def test_a_record_flag_is_one_of_the_kernels() -> None:
    found = one(RECORDS + "  - record: {func: do_IRQ, flags: [REG]}\n")
    assert found.message == "'REG' is not a record flag (did you mean 'REGS'?)"
    assert "TOUCHED" in (found.hint or "")


def test_a_record_assertion_states_a_count_or_flags() -> None:
    found = one(RECORDS + "  - record: {func: do_IRQ}\n")
    assert found.message == "a record check needs 'count' or 'flags'"
