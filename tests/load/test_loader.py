"""The loader turns YAML bytes into plain data with marks, and every bad file into
diagnostics (never an exception from PyYAML, never a constructed object)."""

from __future__ import annotations

import os

import pytest

from ftscen.core.errors import Diagnostic, ScenarioInvalid
from ftscen.core.model import LIMITS
from ftscen.load.document import Document, child_path, parent_path
from ftscen.load.loader import ALIAS_BUDGET, MAX_DEPTH, load_yaml


def load(text: str | bytes) -> Document:
    data = text.encode() if isinstance(text, str) else text
    return load_yaml(data, "t.yaml")


def problems(text: str | bytes) -> list[Diagnostic]:
    with pytest.raises(ScenarioInvalid) as caught:
        load(text)
    return caught.value.diagnostics


def only_problem(text: str | bytes) -> Diagnostic:
    found = problems(text)
    assert len(found) == 1, found
    return found[0]


# ---- data and marks -----------------------------------------------------------------------


def test_yaml_becomes_plain_python_data() -> None:
    doc = load("ftscen: 1\nops:\n  - name: A\n    filter: [f, 'g*']\n    flags: []\n")
    assert doc.data == {"ftscen": 1, "ops": [{"name": "A", "filter": ["f", "g*"], "flags": []}]}


def test_values_are_marked_by_json_path_with_one_based_line_and_column() -> None:
    doc = load("ops:\n  - name: A\n    filter: [f, do_irq]\n")
    assert doc.mark("$.ops[0].filter[1]") == (3, 17)
    assert doc.mark("$.ops[0]") == (2, 5)


def test_keys_have_their_own_marks() -> None:
    doc = load("ops:\n  - name: A\n    fliter: [f]\n")
    assert doc.mark("$.ops[0].fliter", key=True) == (3, 5)
    assert doc.mark("$.ops[0].fliter") == (3, 13)


def test_a_missing_path_is_marked_at_its_nearest_ancestor() -> None:
    doc = load("kernel:\n  cpus: 2\n")
    assert doc.mark("$.kernel.version") == doc.mark("$.kernel") == (2, 3)


def test_source_lines_are_kept_for_diagnostics() -> None:
    doc = load("a: 1\nb: 2\n")
    assert doc.line(2) == "b: 2"
    assert doc.diagnostic("$.b", "msg").source_line == "b: 2"


def test_plain_scalars_keep_their_source_text() -> None:
    doc = load("version: 5.10\n")
    assert doc.data["version"] == 5.1
    assert doc.raw["$.version"] == "5.10"


def test_dates_stay_the_text_they_were_written_as() -> None:
    assert load("name: 2019-05-06\n").data == {"name": "2019-05-06"}


def test_a_byte_order_mark_is_ignored() -> None:
    assert load(b"\xef\xbb\xbfa: 1\n").data == {"a": 1}


def test_json_paths_quote_keys_that_are_not_identifiers() -> None:
    assert child_path("$.ops", 0) == "$.ops[0]"
    assert child_path("$", "ops") == "$.ops"
    assert child_path("$.x", "a b") == "$.x['a b']"
    assert parent_path("$.x['a b']") == "$.x"
    assert parent_path("$.ops[0].filter[1]") == "$.ops[0].filter"


# ---- anchors, aliases and merges ------------------------------------------------------------


def test_aliases_within_the_budget_expand() -> None:
    doc = load("a: &flags [SAVE_REGS, IPMODIFY]\nb: *flags\n")
    assert doc.data["b"] == ["SAVE_REGS", "IPMODIFY"]


def test_merge_keys_merge_and_keys_written_in_the_mapping_win() -> None:
    doc = load("base: &b {flags: [SAVE_REGS], filter: [f]}\nops:\n  - <<: *b\n    filter: [g]\n")
    assert doc.data["ops"] == [{"filter": ["g"], "flags": ["SAVE_REGS"]}]


def test_an_alias_bomb_is_stopped_at_the_expansion_budget() -> None:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi"):
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    found = only_problem("\n".join(lines) + "\n")
    assert f"aliases expand to more than {ALIAS_BUDGET} values" in found.message
    assert found.line > 1 and found.source_line is not None


def test_an_alias_inside_its_own_anchor_is_reported() -> None:
    found = only_problem("a: &a [1, *a]\n")
    assert found.message == "alias *a is used inside its own anchor"
    assert (found.line, found.col) == (1, 11)


def test_an_alias_without_anchor_is_reported() -> None:
    assert only_problem("a: *nope\n").message == "alias *nope names no anchor"


def test_an_anchor_defined_twice_is_reported() -> None:
    found = only_problem("a: &x 1\nb: &x 2\n")
    assert found.message == "anchor &x is defined twice (first on line 1)"


# ---- refused keys and tags -----------------------------------------------------------------


def test_a_duplicate_key_is_reported_at_the_second_one() -> None:
    found = only_problem("ops:\n  - name: A\n    filter: [a]\n    filter: [b]\n")
    assert found.message == "duplicate key 'filter' (first on line 3)"
    assert (found.line, found.col, found.path) == (4, 5, "$.ops[0].filter")


@pytest.mark.parametrize(
    "key, kind", [("1", "an integer"), ("on", "a boolean"), ("~", "null"), ("1.5", "a number")]
)
def test_keys_must_be_strings(key: str, kind: str) -> None:
    found = only_problem(f"a:\n  {key}: x\n")
    assert found.message == f"keys must be strings; '{key}' is read as {kind}"
    assert found.hint is not None and found.hint.startswith(f"quote it: '{key}'")


def test_a_list_as_key_is_refused() -> None:
    assert only_problem("? [a]\n: 1\n").message == "keys must be strings, not lists or mappings"


def test_a_python_tag_is_refused_and_never_run(monkeypatch: pytest.MonkeyPatch) -> None:
    ran: list[str] = []
    monkeypatch.setattr(os, "system", ran.append)
    found = only_problem("call: !!python/object/apply:os.system ['echo pwned']\n")
    assert found.message == "the tag !!python/object/apply:os.system is not allowed"
    assert ran == []


def test_a_local_tag_is_refused() -> None:
    assert only_problem("a: !secret x\n").message == "the tag !secret is not allowed"


def test_a_plain_tag_is_allowed() -> None:
    assert load("a: !!str 5.10\n").data == {"a": "5.10"}


def test_a_bad_value_for_its_tag_is_reported() -> None:
    assert only_problem("a: !!int abc\n").message == "'abc' is not a valid !!int"


def test_every_problem_in_the_tree_is_reported_together() -> None:
    found = problems("a: 1\na: 2\nb: !x y\n")
    assert [f.line for f in found] == [2, 3]


# ---- refused files -------------------------------------------------------------------------


def test_an_empty_file_is_refused() -> None:
    found = only_problem(b"")
    assert (found.message, found.line) == ("the file is empty", 0)


def test_a_file_of_only_comments_is_refused() -> None:
    assert only_problem("# nothing\n").message == "the file is empty (it holds only comments)"


def test_a_binary_file_is_refused() -> None:
    found = only_problem(b"ftscen: 1\n\x00\x01ELF")
    assert found.message.startswith("this is a binary file")
    assert (found.line, found.col) == (2, 1)


@pytest.mark.parametrize(
    ("codec", "named"),
    [
        ("utf-16", "UTF-16 (little-endian)"),
        ("utf-16-le", "UTF-16 (little-endian)"),
        ("utf-16-be", "UTF-16 (big-endian)"),
        ("utf-32", "UTF-32 (little-endian)"),
        ("utf-32-be", "UTF-32 (big-endian)"),
    ],
)
def test_a_utf16_or_utf32_file_is_named_as_such_not_binary(codec: str, named: str) -> None:
    found = only_problem("ftscen: 1\nfunctions: [{name: f}]\n".encode(codec))
    assert found.message == f"the file is {named} text; ftscen reads UTF-8"
    assert found.hint == "save the file as UTF-8"


def test_a_file_that_is_not_utf8_is_refused() -> None:
    found = only_problem(b"a: caf\xe9\n")
    assert found.message == "the file is not UTF-8 text (byte 0xe9 at offset 6)"
    assert (found.line, found.col) == (1, 7)


def test_a_file_over_the_size_limit_is_refused() -> None:
    found = only_problem(b"#" * (LIMITS["file_bytes"] + 1))
    assert found.message.startswith(f"the file is {LIMITS['file_bytes'] + 1} bytes")


def test_a_syntax_error_points_at_the_problem() -> None:
    found = only_problem("ftscen: 1\ndescription: calls f: twice\n")
    assert found.message == "YAML syntax error: mapping values are not allowed here"
    assert (found.line, found.col) == (2, 21)
    assert found.source_line == "description: calls f: twice"


def test_a_tab_in_the_indentation_gets_a_hint() -> None:
    found = only_problem("a:\n\tb: 1\n")
    assert found.hint == "indent with spaces: YAML does not allow tabs"


def test_a_control_character_is_refused() -> None:
    found = only_problem("a: b\x07\n")
    assert found.message.startswith("the file holds the control character U+0007")
    assert (found.line, found.col) == (1, 5)


def test_a_second_document_is_refused() -> None:
    found = only_problem("a: 1\n---\nb: 2\n")
    assert (found.message, found.line) == ("the file holds a second YAML document", 2)


def test_deep_nesting_is_refused_without_a_recursion_error() -> None:
    found = only_problem("a: " + "[" * 5000 + "]" * 5000 + "\n")
    assert found.message == f"values are nested more than {MAX_DEPTH} levels deep"


# ---- values that used to escape as Python errors, or take forever --------------------------


@pytest.mark.parametrize(
    "text, message",
    [
        ("a: !!bool maybe\n", "'maybe' is not a valid !!bool"),  # was a KeyError
        ("a: !!int ''\n", "'' is not a valid !!int"),  # was an IndexError
        ("a: !!float ''\n", "'' is not a valid !!float"),
        ("a: !!seq x\n", "'x' is not a valid !!seq"),
        (
            "a: !!float 1" + ":59" * 200 + "\n",  # was an OverflowError
            "'1:59:59:59:59:59:59:59:59:59:59:59:59...' is not a valid !!float",
        ),
    ],
)
def test_a_value_that_does_not_fit_its_tag_is_a_diagnostic(text: str, message: str) -> None:
    found = only_problem(text)
    assert (found.message, found.hint) == (message, "remove the tag or fix the value")
    assert (found.line, found.col, found.path) == (1, 4, "$.a")


@pytest.mark.parametrize(
    "number", ["0x" + "f" * 4000, "9" * 30, "-0b1" + "0" * 64, "1" + ":59" * 2000]
)
def test_an_integer_beyond_64_bits_is_refused(number: str) -> None:
    # Python cannot even print integers past 4300 digits, which hex and 1:2:3 forms reach.
    found = only_problem(f"count: {number}\n")
    assert (
        found.message.startswith("the number '")
        and "is too large (more than 64 bits)" in found.message
    )
    assert len(found.message) < 100


def test_the_largest_64_bit_integers_load() -> None:
    assert load(f"a: {2**64 - 1}\nb: -{2**64 - 1}\n").data == {"a": 2**64 - 1, "b": -(2**64 - 1)}


def test_merges_that_each_merge_the_one_before_twice_load_at_once() -> None:
    # Each level merged the level below twice: 2**40 merges before sources were deduplicated.
    lines = ["b0: &b0 {k: v}"] + [
        f"b{i}: &b{i} {{<<: [*b{i - 1}, *b{i - 1}]}}" for i in range(1, 40)
    ]
    doc = load("\n".join(lines) + "\n")
    assert doc.data["b39"] == {"k": "v"}


def test_merged_keys_count_against_the_alias_budget() -> None:
    keys = ", ".join(f"k{i}: 1" for i in range(200))
    lines = [f"base: &base {{{keys}}}"] + [f"m{i}: {{<<: *base}}" for i in range(60)]
    found = only_problem("\n".join(lines) + "\n")
    assert found.message.startswith(f"aliases expand to more than {ALIAS_BUDGET} values")


def test_thousands_of_duplicate_keys_are_reported_in_linear_time() -> None:
    # Each new problem was compared with every earlier one.
    found = problems("".join(f"a: {i}\n" for i in range(30_000)))
    assert len(found) == 29_999
    assert found[-1].message == "duplicate key 'a' (first on line 1)"


def test_a_long_key_that_is_not_a_string_is_shortened_in_the_message() -> None:
    found = only_problem(f"a:\n  {'9' * 500}: x\n")
    assert (
        found.message == "keys must be strings; '9999999999999999999999999999999999999...' "
        "is read as an integer"
    )


def test_a_question_mark_in_a_flow_list_gets_a_hint_to_quote_it() -> None:
    # PyYAML's pure-Python parser ends a plain scalar at '?' inside [ ... ]; libyaml does not,
    # so the fast path leaves such files to it, and the user is told to quote the glob.
    found = only_problem("filter: [sched_?]\n")
    assert found.message == "YAML syntax error: expected ',' or ']', but got '?'"
    assert found.hint is not None and found.hint.startswith(
        "inside [ ... ] or { ... } a '?' ends the entry: quote globs that hold one"
    )
