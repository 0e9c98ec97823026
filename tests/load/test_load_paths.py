"""Loading gives the same result whichever parser reads the text: libyaml with the walker's
plain-data fast mode, or PyYAML's pure-Python parser (as on a machine without libyaml). The
same document and marks, the same scenario, or the same diagnostics, word for word.

Checked on every file of the corpus, the invalid corpus and the contract examples, and on
generated files, valid and broken.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from scenario_strategies import EXAMPLES_RUN, broken_files, odd_scalar_files
from support import PASSING, REPO

from ftscen.core.errors import ScenarioInvalid
from ftscen.core.model import Scenario
from ftscen.load.document import Document, split_lines
from ftscen.load.loader import MAX_DEPTH, load_yaml, plain_document
from ftscen.load.scenario import load_scenario
from ftscen.load.schema import fits

FIXTURES = REPO / "tests" / "fixtures"
FILES = sorted(
    [
        *REPO.glob("scenarios/*.yaml"),
        *REPO.glob("scenarios/invalid/*.yaml"),
        *FIXTURES.glob("*.yaml"),
    ]
)
CONTRACT = [FIXTURES / name for name in PASSING]


needs_libyaml = pytest.mark.skipif(not yaml.__with_libyaml__, reason="PyYAML without libyaml")


def document(doc: Document) -> tuple[Any, ...]:
    """Everything in a document; ``repr`` tells ``1`` from ``True`` and ``1.0``."""
    return (
        doc.file,
        repr(doc.data),
        doc.lines,
        dict(doc.marks),
        dict(doc.key_marks),
        dict(doc.raw),
    )


def yaml_result(data: bytes, fast: bool) -> Any:
    try:
        return document(load_yaml(data, "t.yaml", fast=fast))
    except ScenarioInvalid as invalid:
        return invalid.diagnostics


def scenario_result(data: bytes, fast: bool) -> Scenario | list[Any]:
    try:
        return load_scenario("t.yaml", data, fast=fast)
    except ScenarioInvalid as invalid:
        return invalid.diagnostics


def assert_same(data: bytes) -> None:
    assert yaml_result(data, True) == yaml_result(data, False)
    assert scenario_result(data, True) == scenario_result(data, False)


# ---- the files -----------------------------------------------------------------------------


def test_there_are_files_to_compare() -> None:
    assert len(FILES) >= 40 and CONTRACT


@pytest.mark.parametrize("path", FILES, ids=[f"{p.parent.name}/{p.stem}" for p in FILES])
def test_either_parser_gives_the_same_result_on_every_corpus_file(path: Path) -> None:
    assert_same(path.read_bytes())


@needs_libyaml
@pytest.mark.parametrize("path", CONTRACT, ids=[p.stem for p in CONTRACT])
def test_the_contract_examples_take_the_fast_paths(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    doc = plain_document(text, path.name, split_lines(text))
    assert doc is not None, "libyaml and the fast mode gave up"
    assert fits(doc.data), "the shape check's yes/no gate refused it"


# Texts libyaml and the pure-Python parser read differently (one refuses, or the data or marks
# differ), found by the tests below; each must be left to the pure-Python parser.
DISAGREEMENTS = [
    "0\t",
    "a: 1\t\n",
    ">#{#3|9=b",
    "\n\n!",
    "? !",
    "{a:\n}",
    "x: {a:\n }",
    "[a: \n]",
    "{\xa0?\x85*\u3000b}",
    "[34\ufeff@?57a]",
    "!\t<\té",
    "a: b\u2028c",
    "%YAML 1.1\n---\na: 1\n",
    "a: &x\u3000 1\n",
    "filter: [sched_?]\n",
    "k: {a: b?}\n",
    "a: !t x  # ok\n",
    "a: |x\n  b\n",
    "- {name: g, n? otrace: true}\n",
]


@pytest.mark.parametrize("text", DISAGREEMENTS)
def test_the_result_is_the_same_where_the_parsers_disagree(text: str) -> None:
    data = text.encode("utf-8")
    if yaml.__with_libyaml__:
        assert plain_document(text, "t.yaml", split_lines(text)) is None
    assert_same(data)


# Indicators inside a scalar (descriptions quote C code) or a comment are only text: such
# files keep the fast path.
PLAIN_TEXT = [
    "description: >\n  if (ops->flags & FL_X) *p = !q | r;\n",
    "description: see ftrace_ops_list_func's @op and *new* callee\n  &more\n",
    "a: 1  # see *foo, &bar, !baz, ?x, |y and >z\n# | a comment line\n",
    "a: 'x # y *z'\nb: \"!q\"\n",
    "filter: ['sched_?', \"!do_*\"]\n",
]


@needs_libyaml
@pytest.mark.parametrize("text", PLAIN_TEXT)
def test_indicators_inside_text_keep_the_fast_path(text: str) -> None:
    assert plain_document(text, "t.yaml", split_lines(text)) is not None
    assert_same(text.encode("utf-8"))


# Plain for libyaml, but problems: the fast mode leaves each to the pure-Python parser's graph,
# where the walker words it. Nesting up to the limit is plain; one level more is not.
def nested(levels: int) -> str:
    return "a: " + "[" * (levels - 1) + "]" * (levels - 1) + "\n"


FAST_MODE_PROBLEMS = [
    "a: 1\na: 2\n",
    "a:\n  1: x\n",
    "a: {[b]: c}\n",
    "count: 99999999999999999999999\n",
    nested(MAX_DEPTH + 1),
]


@needs_libyaml
@pytest.mark.parametrize("text", FAST_MODE_PROBLEMS)
def test_the_fast_mode_leaves_problems_to_be_worded(text: str) -> None:
    assert plain_document(text, "t.yaml", split_lines(text)) is None
    assert isinstance(yaml_result(text.encode(), True), list)
    assert_same(text.encode())


@needs_libyaml
def test_nesting_up_to_the_limit_keeps_the_fast_path() -> None:
    text = nested(MAX_DEPTH)
    assert plain_document(text, "t.yaml", split_lines(text)) is not None
    assert_same(text.encode())


# ---- generated files -----------------------------------------------------------------------


@EXAMPLES_RUN
@given(broken_files() | odd_scalar_files())
def test_either_parser_gives_the_same_result_on_generated_files(data: bytes) -> None:
    assert_same(data)


@EXAMPLES_RUN
@given(
    st.text(
        alphabet=st.sampled_from(list("ab:-[]{}&*!<>|'\"#, \n\t\r?%@`~=.0123456789"))
        | st.characters(),
        max_size=60,
    )
)
def test_either_parser_gives_the_same_result_on_yaml_shaped_noise(text: str) -> None:
    assert_same(text.encode("utf-8", "surrogatepass"))
