"""The JSON Schema describes format v1, and its errors reach the user as plain sentences.

Whether a document fits is asked of jsonschema-rs; the diagnostics come from jsonschema. The
two must agree on every document, or an error would go unreported.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from scenario_strategies import EXAMPLES_RUN, JSONISH, broken_data, scenarios
from support import REPO

from ftscen.core.errors import Diagnostic, ScenarioInvalid
from ftscen.core.model import ERRNOS, INT3_MODES, LIMITS, OPS_FLAGS
from ftscen.load.loader import load_yaml
from ftscen.load.schema import _validator, check_shape, fits, scenario_schema

HEAD = "ftscen: 1\nfunctions:\n  - name: f\n"
FILES = sorted([*REPO.glob("scenarios/*.yaml"), *REPO.glob("scenarios/invalid/*.yaml")])


def shape(text: str) -> list[Diagnostic]:
    return check_shape(load_yaml(text.encode(), "t.yaml"))


def one(text: str) -> Diagnostic:
    found = shape(text)
    assert len(found) == 1, found
    return found[0]


def subschemas(node: Any, path: str = "#") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from subschemas(value, f"{path}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from subschemas(value, f"{path}/{i}")


# ---- the schema itself ---------------------------------------------------------------------


def test_the_schema_is_valid_draft_2020_12() -> None:
    Draft202012Validator.check_schema(scenario_schema())
    assert scenario_schema()["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_the_package_ships_the_schema_of_the_repository() -> None:
    on_disk = json.loads((REPO / "schema" / "scenario.schema.json").read_text())
    assert scenario_schema() == on_disk


def test_every_property_has_a_description() -> None:
    missing = [
        f"{path}/{name}"
        for path, node in subschemas(scenario_schema())
        for name, prop in node.get("properties", {}).items()
        if "description" not in prop
    ]
    assert missing == []


def test_every_object_with_properties_is_closed() -> None:
    open_ = [
        path
        for path, node in subschemas(scenario_schema())
        if "properties" in node and node.get("additionalProperties") is not False
    ]
    assert open_ == []


def test_the_enums_are_the_models_constants() -> None:
    defs = scenario_schema()["$defs"]
    assert tuple(defs["ops"]["properties"]["flags"]["items"]["enum"]) == OPS_FLAGS
    assert tuple(defs["kernel"]["properties"]["int3"]["enum"]) == INT3_MODES
    assert {str(v) for v in defs["errno"]["enum"]} == set(ERRNOS)
    assert defs["kernel"]["properties"]["cpus"]["maximum"] == LIMITS["cpus"]


def test_a_minimal_scenario_fits() -> None:
    assert shape(HEAD + "timeline: []\n") == []


# ---- what users see ------------------------------------------------------------------------


def test_an_unknown_key_says_what_was_meant_and_what_is_allowed() -> None:
    found = one(HEAD + "ops:\n  - name: A\n    fliter: [f]\ntimeline: []\n")
    assert found.message == "unknown key 'fliter' in an ops (did you mean 'filter'?)"
    assert found.hint == "an ops takes the keys: name, flags, filter, notrace, redirect, calls"
    assert (found.line, found.col, found.path) == (6, 5, "$.ops[0].fliter")


def test_a_key_from_another_kind_of_assertion_does_not_belong() -> None:
    found = one(HEAD + "timeline: []\nexpect:\n  - {call: x, ran: f, count: 2}\n")
    assert found.message == "'count' does not belong in a call assertion"


def test_a_string_where_a_list_of_globs_belongs() -> None:
    found = one(HEAD + "ops:\n  - name: A\n    filter: sched_*\ntimeline: []\n")
    assert found.message == "expected a list of globs, got a string ('sched_*')"
    assert found.hint == 'write a list: ["sched_*"]'


def test_an_unquoted_version_is_read_as_a_number() -> None:
    found = one(HEAD + "kernel: {version: 5.10}\ntimeline: []\n")
    assert found.message == "expected a kernel version, got the number 5.10"
    assert found.hint == 'YAML reads 5.10 as the number 5.1: quote it, "5.10"'


def test_an_empty_value_is_null() -> None:
    found = one(HEAD + "ops:\n  - name: A\n    notrace:\ntimeline: []\n")
    assert found.message == "expected a list of globs, got nothing (null)"


def test_an_enum_lists_the_allowed_values() -> None:
    found = one(HEAD + "kernel: {int3: emulate}\ntimeline: []\n")
    assert found.message == "'emulate' is not an int3 mode (did you mean 'emulate-new'?)"
    assert found.hint == "expected one of: skip, emulate-call, emulate-new"


def test_an_unknown_errno_lists_the_return_values() -> None:
    found = one(HEAD + "ops: [{name: A}]\ntimeline:\n  - {register: A, expect: EBSY}\n")
    assert found.message == "'EBSY' is not a return value (did you mean 'EBUSY'?)"
    assert found.hint == "expected one of: 0, EBUSY, EINVAL, ENODEV"


@pytest.mark.parametrize("value", ["0", "'0'", "EBUSY", "EINVAL", "ENODEV"])
def test_every_documented_return_value_fits(value: str) -> None:
    assert (
        shape(HEAD + f"ops: [{{name: A}}]\ntimeline:\n  - {{register: A, expect: {value}}}\n") == []
    )


def test_a_step_with_two_actions_names_both() -> None:
    found = one(HEAD + "ops: [{name: A}]\ntimeline:\n  - register: A\n    call: f\n")
    assert found.message == "this step has several actions: 'register' and 'call'"
    assert (found.line, found.col) == (7, 5)


def test_a_step_without_action_lists_the_actions() -> None:
    found = one(HEAD + "timeline:\n  - id: x\n")
    assert found.message == "this step has no action"
    assert found.hint == (
        "add one of: register, unregister, set_filter, set_notrace, sysctl, call, "
        "enable, disable, transition, busy, resume"
    )


def test_an_assertion_mixing_two_checks_names_both() -> None:
    found = one(
        HEAD + "timeline: []\nexpect:\n  - {not_called: {ops: A}, site: {func: f, is: nop}}\n"
    )
    assert found.message == "this assertion mixes several checks: 'not_called' and 'site'"


def test_a_call_assertion_needs_ran_or_called() -> None:
    found = one(HEAD + "timeline: []\nexpect:\n  - call: x\n")
    assert found.message == "a call assertion needs 'ran' or 'called'"


def test_called_in_a_call_assertion_may_be_a_list_or_counts() -> None:
    text = (
        HEAD + "timeline: []\nexpect:\n  - {call: x, called: [A]}\n  - {call: x, called: {A: 2}}\n"
    )
    assert shape(text) == []


def test_a_negative_count_is_out_of_range() -> None:
    found = one(HEAD + "timeline: []\nexpect:\n  - {call: x, called: {A: -1}}\n")
    assert found.message == "-1 is out of range: a count is at least 0"


def test_an_unsupported_format_version_says_which_is_supported() -> None:
    found = one("ftscen: 2\nfunctions: [{name: f}]\ntimeline: []\n")
    assert found.message == "unsupported format version 2: this ftscen reads format version 1"
    assert (found.line, found.col) == (1, 9)


def test_true_is_not_format_version_1() -> None:
    assert one("ftscen: true\nfunctions: [{name: f}]\ntimeline: []\n").path == "$.ftscen"


def test_missing_keys_are_each_named_with_a_hint() -> None:
    found = shape("name: x\n")
    assert [f.message for f in found] == [
        "a scenario needs the key 'ftscen'",
        "a scenario needs the key 'functions'",
        "a scenario needs the key 'timeline'",
    ]
    assert found[0].hint == "add `ftscen: 1` at the top of the file"


def test_an_empty_function_table_is_refused() -> None:
    assert one("ftscen: 1\nfunctions: []\ntimeline: []\n").message == "the function table is empty"


def test_a_name_must_be_a_c_identifier() -> None:
    found = one("ftscen: 1\nfunctions: [{name: do-irq}]\ntimeline: []\n")
    assert found.message == "'do-irq' is not a function name"


def test_a_redirect_key_must_be_a_function_name() -> None:
    found = one(HEAD + "ops:\n  - name: A\n    redirect: {1f: f}\ntimeline: []\n")
    assert (found.message, found.path) == ("'1f' is not a function name", "$.ops[0].redirect['1f']")
    assert (found.line, found.col) == (6, 16)


def test_a_point_must_have_the_shape_of_a_point() -> None:
    found = one(
        HEAD + "ops: [{name: A}]\ntimeline:\n  - register: A\n    during:\n"
        "      - {at: sites.int4, call: f}\n"
    )
    assert found.message == "'sites.int4' is not a point (did you mean 'sites.int3'?)"


@pytest.mark.parametrize(
    "point",
    [
        "start",
        "sites.int3",
        "sites.tail",
        "sites.done",
        "ftrace_call.int3#2",
        "ftrace_regs_call.done",
        "livepatch.tramp_call.tail",
    ],
)
def test_every_point_shape_fits(point: str) -> None:
    text = (
        HEAD + f"ops: [{{name: A}}]\ntimeline:\n  - register: A\n    during:\n"
        f"      - {{at: '{point}', call: f}}\n"
    )
    assert shape(text) == []


def test_a_site_state_is_nop_or_a_call() -> None:
    found = one(HEAD + "timeline: []\nexpect:\n  - site: {func: f, is: jmp x}\n")
    assert found.message == "'jmp x' is not a site state"


@pytest.mark.parametrize(
    "func, state",
    [
        ("f", "nop"),
        ("f", "call A.tramp"),
        ("ftrace_call", "call ftrace_stub"),
        ("ftrace_regs_call", "call A.func"),
        ("A.tramp_call", "call ftrace_ops_assist_func"),
    ],
)
def test_every_site_shape_fits(func: str, state: str) -> None:
    assert shape(HEAD + f"timeline: []\nexpect:\n  - site: {{func: {func}, is: {state}}}\n") == []


def test_a_site_is_a_function_or_a_trampoline_call_site() -> None:
    found = one(HEAD + "timeline: []\nexpect:\n  - site: {func: A.tramp, is: nop}\n")
    assert (found.message, found.path) == ("'A.tramp' is not a call site", "$.expect[0].site.func")
    assert found.hint == (
        "name a traceable function, or a trampoline's call site: ftrace_call, "
        "ftrace_regs_call or OPS.tramp_call"
    )


def test_regs_on_a_whole_run_check_is_true_or_false() -> None:
    text = (
        HEAD + "ops: [{name: A}]\ntimeline: []\nexpect:\n  - called: {ops: A, regs: true}\n"
        "  - not_called: {ops: A, func: f, regs: false}\n"
    )
    assert shape(text) == []
    found = one(text.replace("regs: true", "regs: 1"))
    assert (found.message, found.path) == (
        "expected true or false, got the number 1",
        "$.expect[0].called.regs",
    )


def test_regs_belongs_inside_the_ops_mapping() -> None:
    found = shape(
        HEAD + "ops: [{name: A}]\ntimeline: []\nexpect:\n  - {called: {ops: A}, regs: false}\n"
    )
    assert "'regs' does not belong in a called assertion" in [f.message for f in found]


def test_a_glob_is_one_word() -> None:
    found = one(HEAD + "ops:\n  - name: A\n    filter: ['sched *']\ntimeline: []\n")
    assert found.message == "'sched *' is not a glob"


def test_a_flag_listed_twice_is_reported_at_the_second() -> None:
    found = one(HEAD + "ops:\n  - name: A\n    flags: [DYNAMIC, DYNAMIC]\ntimeline: []\n")
    assert (found.message, found.path) == ("'DYNAMIC' is listed twice", "$.ops[0].flags[1]")


def test_a_wrong_type_hides_the_other_complaints_about_the_same_value() -> None:
    found = one(HEAD + "timeline: []\nexpect:\n  - 5\n")
    assert found.message == "expected an assertion, got the number 5"


def test_an_empty_document_is_no_scenario() -> None:
    assert one("~\n").message == "the file holds no scenario (its document is empty)"


def test_a_list_with_thousands_of_repeats_is_reported_in_linear_time() -> None:
    flags = ", ".join(["SAVE_REGS"] * 30_000)
    found = shape(HEAD + f"ops:\n  - name: o\n    flags: [{flags}]\ntimeline: []\n")
    assert len(found) == 1  # one mistake: one error, with the count
    assert found[0].message == "'SAVE_REGS' is listed 30000 times"
    assert found[0].path == "$.ops[0].flags[1]"


@pytest.mark.parametrize(
    "text, path",
    [
        ('ops:\n  - name: "tracer\\n"\ntimeline: []\n', "$.ops[0].name"),
        ('ops:\n  - {name: o, filter: ["f\\n"]}\ntimeline: []\n', "$.ops[0].filter[0]"),
        ("timeline:\n  - call: |\n      f\n", "$.timeline[0].call"),
        ('timeline:\n  - {call: f, id: "x\\n"}\n', "$.timeline[0].id"),
        ('expect:\n  - site: {func: f, is: "nop\\n"}\ntimeline: []\n', "$.expect[0].site.is"),
    ],
)
def test_a_name_with_a_final_newline_does_not_match_its_pattern(text: str, path: str) -> None:
    # JSON Schema patterns are ECMA-262: `$` is the very end. Python's `$` also matches before
    # a final newline, which let "tracer\n" through to the assembler (an internal error).
    found = one(HEAD + text)
    assert found.path == path
    assert "\\n' is not " in found.message


# ---- the yes/no check agrees with jsonschema -------------------------------------------------


def both_ways(data: Any) -> tuple[bool, bool]:
    return fits(data), _validator().is_valid(data)


def _readable(path: Path) -> bool:
    """Files whose YAML loads (the invalid corpus also holds files that are not YAML)."""
    try:
        load_yaml(path.read_bytes(), path.name)
    except ScenarioInvalid:
        return False
    return True


READABLE = [p for p in FILES if _readable(p)]


def test_most_corpus_files_are_yaml_the_check_can_read() -> None:
    assert len(READABLE) > len(FILES) * 3 // 4


@pytest.mark.parametrize("path", READABLE, ids=[f"{p.parent.name}/{p.stem}" for p in READABLE])
def test_the_check_agrees_with_jsonschema_on_every_corpus_file(path: Path) -> None:
    data = load_yaml(path.read_bytes(), path.name).data
    fit, valid = both_ways(data)
    assert fit == valid


@EXAMPLES_RUN
@given(scenarios().flatmap(broken_data) | scenarios() | JSONISH)
def test_the_check_agrees_with_jsonschema(data: Any) -> None:
    fit, valid = both_ways(data)
    assert fit == valid


#: Characters the regex dialects disagree on: white space to one and not another (Python's
#: ``\s`` takes 0x1c-0x1f and 0x85, ECMA-262's takes 0xfeff), line ends before a final `$`.
EDGES = "\t\n\r\x0b\x1c\x1f\x85\xa0\u180e\u2028\u3000\ufeffa_0!.#-*"


def strings_in(node: Any) -> Iterator[tuple[Any, Any]]:
    """(container, key or index) of every string value in ``node``."""
    items = (
        node.items()
        if isinstance(node, dict)
        else enumerate(node)
        if isinstance(node, list)
        else ()
    )
    for key, value in items:
        if isinstance(value, str):
            yield node, key
        yield from strings_in(value)


@EXAMPLES_RUN
@given(scenarios(), st.text(alphabet=EDGES, max_size=5), st.integers(0, 10_000))
def test_the_check_agrees_with_jsonschema_on_odd_characters(
    data: Any, text: str, pick: int
) -> None:
    places = list(strings_in(data))
    container, key = places[pick % len(places)]
    container[key] = text
    fit, valid = both_ways(data)
    assert fit == valid


@pytest.mark.parametrize(
    "value, fit",
    [
        (1, True),
        (1.0, True),
        (True, False),
        ("1", False),
        (2, False),
        (2**70, False),
        (float("nan"), False),
    ],
)
def test_the_check_follows_json_schema_on_numbers_and_booleans(value: Any, fit: bool) -> None:
    # ``ftscen: 1.0`` is the integer 1 for JSON Schema; ``ftscen: true`` is not.
    data = {"ftscen": value, "functions": [{"name": "f"}], "timeline": []}
    assert both_ways(data) == (fit, fit)


@pytest.mark.parametrize(
    "glob, word",
    [
        ("sched\x1c_*", True),
        ("sched\x85_*", True),
        ("sched\ufeff_*", False),
        ("sched\u3000_*", False),
        ("sched\xa0_*", False),
    ],
)
def test_a_glob_is_one_word_by_ecma_262_white_space(glob: str, word: bool) -> None:
    found = shape(HEAD + f"ops:\n  - name: A\n    filter: [{json.dumps(glob)}]\ntimeline: []\n")
    assert [f.message for f in found] == ([] if word else [f"{glob!r} is not a glob"])


def test_a_lone_surrogate_is_judged_by_jsonschema() -> None:
    # jsonschema-rs cannot take in such a string; a YAML escape can make one.
    glob = HEAD + 'ops:\n  - name: A\n    filter: ["sched\\ud800"]\ntimeline: []\n'
    name = HEAD + 'ops:\n  - name: "A\\ud800"\ntimeline: []\n'
    assert not fits(load_yaml(glob.encode(), "t.yaml").data)
    assert shape(glob) == []
    assert one(name).message == "'A\\ud800' is not an ops name"
