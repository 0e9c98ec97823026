"""The stop addresses an explored stop takes, from a call's path (ftscen.emu.explore_stops)."""

from __future__ import annotations

from ftscen.core.errors import Diagnostic
from ftscen.core.model import Stop
from ftscen.emu.explore_stops import stop_choices, stop_symbol
from ftscen.image.symbols import Symbol, SymbolTable

TABLE = SymbolTable(
    [
        Symbol("f", 0x100, 0x10, "func"),
        Symbol("D.tramp", 0x200, 0x20, "tramp"),
        Symbol("D.tramp_call", 0x210, 0, "label"),
        Symbol("D.func", 0x300, 0x8, "func"),
        Symbol("ring", 0x400, 0x100, "data"),
    ]
)
# f calls D.tramp, which calls D.func twice (a loop), returns to f
PATH = (0x100, 0x200, 0x205, 0x210, 0x300, 0x304, 0x215, 0x210, 0x300, 0x304, 0x215, 0x105)


def test_every_address_once_in_the_order_first_reached_by_holding_symbol() -> None:
    got = stop_choices(PATH, TABLE, Stop(explored=True), "c", "6.1")
    assert got == (
        "f",
        "D.tramp",
        "D.tramp+0x5",
        "D.tramp+0x10",  # the label D.tramp_call is named by its trampoline
        "D.func",
        "D.func+0x4",
        "D.tramp+0x15",
        "f+0x5",
    )


def test_within_one_symbol() -> None:
    got = stop_choices(PATH, TABLE, Stop(explored=True, within="D.func"), "c", "6.1")
    assert got == ("D.func", "D.func+0x4")
    assert stop_symbol("D.tramp+0x15") == "D.tramp" and stop_symbol("f") == "f"


def test_a_symbol_not_passed_or_not_code_is_a_diagnostic() -> None:
    table = SymbolTable([*TABLE.symbols(), Symbol("g", 0x500, 0x10, "func")])
    got = stop_choices(PATH, table, Stop(explored=True, within="g"), "c", "6.1")
    assert isinstance(got, Diagnostic)
    assert "call 'c' never passes g on kernel 6.1" in got.message
    assert "(it passes f, D.tramp, D.func)" in got.message
    got = stop_choices(PATH, TABLE, Stop(explored=True, within="ring"), "c", "6.1")
    assert isinstance(got, Diagnostic) and "no code symbol 'ring'" in got.message
    got = stop_choices((), TABLE, Stop(explored=True), "c", "6.1")
    assert isinstance(got, Diagnostic) and "runs no instruction" in got.message
