"""The symbol table shared by the image, the listing, the event log and the reports."""

from __future__ import annotations

import bisect
from dataclasses import dataclass


@dataclass(frozen=True)
class Symbol:
    name: str
    addr: int
    size: int
    kind: str  # "func", "label", "tramp", "data", "stub"


class SymbolTable:
    """Addresses to names: ``label_for(addr)`` gives ``do_IRQ`` or ``caller_cpu1+0x5``."""

    def __init__(self, symbols: list[Symbol]) -> None:
        # Labels inside a function (ftrace_call) are preferred for exact matches only.
        self._by_name = {s.name: s for s in symbols}
        self._ranges = sorted((s for s in symbols if s.kind != "label"), key=lambda s: s.addr)
        self._starts = [s.addr for s in self._ranges]
        self._exact = {s.addr: s.name for s in sorted(symbols, key=lambda s: s.kind != "label")}
        #: every label given so far: the event log names the same few addresses thousands of
        #: times per run, and the table never changes
        self._labels: dict[int, str] = {}

    def __contains__(self, name: str) -> bool:
        return name in self._by_name

    def addr(self, name: str) -> int:
        return self._by_name[name].addr

    def get(self, name: str) -> Symbol:
        return self._by_name[name]

    def symbols(self) -> list[Symbol]:
        return sorted(self._by_name.values(), key=lambda s: (s.addr, s.name))

    def label_for(self, addr: int) -> str:
        label = self._labels.get(addr)
        if label is None:
            if len(self._labels) > 65_536:  # an image reused by many runs stays bounded
                self._labels.clear()
            label = self._labels[addr] = self._label(addr)
        return label

    def _label(self, addr: int) -> str:
        if addr == 0:
            return "NULL"
        if addr in self._exact:
            return self._exact[addr]
        i = bisect.bisect_right(self._starts, addr) - 1
        if i >= 0:
            s = self._ranges[i]
            if addr < s.addr + max(s.size, 1):
                return f"{s.name}+{addr - s.addr:#x}"
        return f"{addr:#x}"
