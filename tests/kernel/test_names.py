"""Scenario text in generated C: globs keep their meaning under the prefix, and a C string
literal holds exactly the glob's bytes whatever they are."""

from __future__ import annotations

import ast

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ftscen.core.errors import ScenarioInvalid
from ftscen.core.globs import glob_matches
from ftscen.core.model import NO_MARK
from ftscen.kernel.names import c_string, check_ident, translate_glob

NAMES = ("f", "g", "do_IRQ", "do_IRQ_v2", "__migrate_task", "schedule", "tick", "fs0_f")
GLOB_CHARS = st.sampled_from(list("fgdo_IRQv2s*?[]!ch\\"))


@given(st.text(GLOB_CHARS, min_size=1, max_size=8), st.sampled_from(NAMES))
def test_a_translated_glob_selects_the_prefixed_name_exactly_when_the_glob_selects_it(
    glob: str, name: str
) -> None:
    if glob.startswith("!") or glob[0].isdigit():
        return
    translated = translate_glob(glob, 3, NO_MARK)
    assert glob_matches(translated, "fs3_" + name) == glob_matches(glob, name)


def test_a_negated_glob_keeps_its_bang_in_front() -> None:
    assert translate_glob("!do_*", 0, NO_MARK) == "!fs0_do_*"
    assert translate_glob("*irq*", 12, NO_MARK) == "fs12_*irq*"


def _c_literal_bytes(literal: str) -> bytes:
    """What a C compiler makes of the literal (only octal escapes are used)."""
    assert literal[0] == literal[-1] == '"'
    return ast.literal_eval("b" + literal)


HOSTILE = ['*/ system("x"); /*', "$(reboot)", "a\nb", "`reboot`", "??=", 'f\\"', "é*", "\x00x"]


@pytest.mark.parametrize("text", HOSTILE)
def test_a_c_string_holds_the_bytes_and_no_quote_backslash_or_line_break(text: str) -> None:
    literal = c_string(text)
    inner = literal[1:-1]
    assert '"' not in inner and "\n" not in inner and "?" not in inner
    assert all(ch.isascii() and ch.isprintable() for ch in inner)
    assert _c_literal_bytes(literal) == text.encode()


@pytest.mark.parametrize("name", ["a b", "x;y", "1f", "", "a" * 65, "ü"])
def test_a_name_that_is_no_c_identifier_is_refused_with_its_place(name: str) -> None:
    with pytest.raises(ScenarioInvalid) as info:
        check_ident(name, "function name", NO_MARK)
    assert "cannot be a C identifier" in info.value.diagnostics[0].message
