"""Kernel ranges as scenario files write them."""

from __future__ import annotations

import pytest

from ftscen.core.kernels import RangeError, parse_kernel_set


@pytest.mark.parametrize(
    ("text", "inside", "outside"),
    [
        ("<5.3", [(3, 5), (5, 2)], [(5, 3), (6, 6)]),
        ("<=5.4", [(5, 4)], [(5, 5)]),
        (">=5.5", [(5, 5), (6, 6)], [(5, 4)]),
        (">5.4", [(5, 5)], [(5, 4)]),
        ("5.3..5.4", [(5, 3), (5, 4)], [(5, 2), (5, 5)]),
        ("5.3", [(5, 3)], [(5, 2), (5, 4)]),
        ("4.19..5.1", [(4, 19), (5, 0), (5, 1)], [(4, 18), (5, 2)]),
    ],
)
def test_a_range_holds_exactly_its_releases(text, inside, outside):
    ks = parse_kernel_set(text)
    assert all(r in ks for r in inside)
    assert not any(r in ks for r in outside)


def test_a_list_is_the_union():
    ks = parse_kernel_set(["<5.2", "5.5..5.9"])
    assert [r in ks for r in [(5, 1), (5, 3), (5, 7), (5, 10)]] == [True, False, True, False]
    assert ks.text == "<5.2, 5.5..5.9"


@pytest.mark.parametrize("text", ["<3.5", "5.4..5.3", "<=3.4"])
def test_a_range_without_a_modelled_kernel_is_refused(text):
    with pytest.raises(RangeError, match="holds no kernel"):
        parse_kernel_set(text)


@pytest.mark.parametrize("text", ["5", "=>5.3", "5.3.1", "five", "<5.3,>6"])
def test_a_range_that_cannot_be_read_is_refused(text):
    with pytest.raises(RangeError, match="is not a kernel range"):
        parse_kernel_set(text)
