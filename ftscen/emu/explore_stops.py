"""The stop addresses an explored stop may take (``stop: any``, ``stop: {any: SYMBOL}``).

A call stops the first time its CPU is about to execute the stop address
(:func:`ftscen.emu.inflight.resolve_stop`), so up to that moment it runs exactly as it does
without a stop: the addresses it may stop at are those it passes when it runs to its end,
each taken once, in the order it first reaches them. They are recorded from one run of the
scenario with that call's stop removed (:func:`ftscen.emu.explore.unstopped`); the run goes
on past the call only as far as the scenario allows (a later ``resume`` of a call that did
not stop ends it), which the call's own path does not depend on.

Each address is named ``SYMBOL+0xN`` by the code symbol (function, trampoline, stub) it is
in, so that the stops of one symbol read and group together (``D.tramp+0x0`` .. rather than
the labels inside it such as ``D.tramp_call``); ``SYMBOL+0x0`` is written ``SYMBOL``.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable

from ftscen.core.diagnostics import suggestion
from ftscen.core.errors import Diagnostic
from ftscen.core.model import Scenario, Stop
from ftscen.core.profile import KernelProfile
from ftscen.emu.explore import explored_entries, explored_stop, pin, unstopped
from ftscen.emu.run import traced_call
from ftscen.image.symbols import Symbol, SymbolTable

#: Symbols that hold code a stop may be inside (labels are points within them).
_HOLDERS = ("func", "tramp", "stub")


class _Names:
    """Addresses -> ``SYMBOL+0xN`` by the code symbol holding them."""

    def __init__(self, table: SymbolTable) -> None:
        self.code = [s for s in table.symbols() if s.kind in _HOLDERS and s.size > 0]
        self.starts = [s.addr for s in self.code]

    def holder(self, addr: int) -> Symbol | None:
        i = bisect.bisect_right(self.starts, addr) - 1
        if i >= 0 and addr < self.code[i].addr + self.code[i].size:
            return self.code[i]
        return None

    def name(self, addr: int) -> str | None:
        s = self.holder(addr)
        if s is None:
            return None
        return s.name if addr == s.addr else f"{s.name}+{addr - s.addr:#x}"


def stop_symbol(address: str) -> str:
    """The symbol of a stop address (``D.tramp+0x5`` -> ``D.tramp``)."""
    return address.partition("+")[0]


def stop_choices(
    path: tuple[int, ...],
    table: SymbolTable,
    stop: Stop,
    cid: str,
    version: str,
    in_record: Callable[[int], object] = lambda addr: None,
) -> tuple[str, ...] | Diagnostic:
    """The stop addresses, in the order the call first reaches them, inside ``stop.within``
    when it names a symbol; a located diagnostic when there is none. Addresses inside the
    code of an event record are not stops (``in_record``:
    :meth:`ftscen.image.build.Image.in_record`)."""
    names = _Names(table)
    first = dict.fromkeys(a for a in path if in_record(a) is None)
    if stop.within is None:
        got = tuple(n for n in map(names.name, first) if n is not None)
        if got:
            return got
        return stop.mark.diagnostic(
            f"call '{cid}' runs no instruction on kernel {version}: it has no stop to explore",
            "check that the call is made (the steps before it succeed)",
        )
    within = stop.within
    holder = next((s for s in names.code if s.name == within), None)
    if holder is None:
        return stop.mark.diagnostic(
            f"stop: {{any: {within}}}: no code symbol '{within}' on kernel {version}"
            f"{suggestion(within, [s.name for s in names.code])}",
            "name a function, ftrace_caller, ftrace_regs_caller, ftrace_ops_list_func, "
            "OPS.func or OPS.tramp (`ftscen build FILE --listing` lists them)",
        )
    inside = tuple(a for a in first if holder.addr <= a < holder.addr + holder.size)
    if not inside:
        passed = dict.fromkeys(s.name for s in map(names.holder, first) if s is not None)
        return stop.mark.diagnostic(
            f"call '{cid}' never passes {within} on kernel {version}: no stop to explore "
            f"there (it passes {', '.join(passed) or 'nothing'})",
            "name a symbol the call runs through, or write `stop: any` (every instruction "
            "of the call)",
        )
    return tuple(n for n in map(names.name, inside) if n is not None)


def stop_space(
    sc: Scenario, profile: KernelProfile
) -> tuple[dict[str, tuple[str, ...]], list[Diagnostic]]:
    """Per call whose stop is explored (by id): the stop addresses it may take on
    ``profile``; and the diagnostics of those that have none."""
    out: dict[str, tuple[str, ...]] = {}
    problems: list[Diagnostic] = []
    for _, cid, entry in explored_entries(sc):
        stop = explored_stop(entry.call)
        if stop is None:
            continue
        path, image = traced_call(unstopped(sc, cid), profile, cid)
        got = stop_choices(path, image.symbols, stop, cid, profile.version, image.in_record)
        if isinstance(got, Diagnostic):
            problems.append(got)
        else:
            out[cid] = got
    return out, problems


def first_stops(sc: Scenario, profile: KernelProfile) -> tuple[Scenario, list[Diagnostic]]:
    """``sc`` with every explored stop pinned at its first address on ``profile`` (what
    ``ftscen validate`` runs to check the rest of a file in flight), and the diagnostics of
    the stops that have none."""
    stops, problems = stop_space(sc, profile)
    place = {}
    for key, cid, entry in explored_entries(sc):
        if explored_stop(entry.call) is not None and stops.get(cid):
            cpu = entry.call.cpu if entry.call is not None and entry.call.cpu else 1
            place[key] = (stops[cid][0], cpu)
    return pin(sc, place), problems


__all__ = ["first_stops", "stop_choices", "stop_space", "stop_symbol"]
