"""One run's callback log as swimlane rows, with the bytes of every call site at every point.

The HTML report (:mod:`ftscen.report.html`) draws these rows; nothing here is markup, so the
template alone decides how a value is escaped. Lanes: the patcher (steps, patches, points,
results) and one lane per CPU of the profile; a call of the timeline is one block on its
CPU's lane, with the callbacks, int3 decisions and bodies it ran nested in it.

The bytes are not in the log (it names instructions, ``nop`` or ``call X``), so they are
encoded again from the image, which is rebuilt from the scenario and profile (records that
crossed a process boundary no longer carry it; building is deterministic and takes
milliseconds). The breakpoint protocol gives the bytes at each of its points: after
``NAME.int3`` a site holds ``CC`` and the old tail, after ``NAME.tail`` ``CC`` and the new
tail, after ``NAME.done`` the new instruction. A per-ops trampoline is created and freed
without a patch: its call site shows what its patches say, ``allocated`` from the moment a
site is about to call it, and its true state in the last row (from the run's result).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from ftscen.core.model import TRAMPOLINE_SITES
from ftscen.emu.events import (
    CallbackEvent,
    CallEvent,
    Event,
    FaultEvent,
    Int3Event,
    PatchEvent,
    PointEvent,
    RanEvent,
    ResultEvent,
    ResumeEvent,
    ReturnEvent,
    StepEvent,
    StopEvent,
    UnresumedEvent,
    WaitEvent,
)
from ftscen.emu.run import RunResult
from ftscen.image import layout as L
from ftscen.image.build import Image, build_image
from ftscen.report.text import describe_action, event_text

NOT_ALLOCATED = "not allocated"
ALLOCATED = "allocated (callee: see the last row)"

_Make = Callable[[bytes, bytes], bytes]

#: protocol point suffix -> (phase shown, how the site's bytes are made from old and new)
_PHASES: dict[str, tuple[str, _Make]] = {
    "int3": ("int3", lambda old, new: bytes([L.INT3]) + old[1:]),
    "tail": ("tail", lambda old, new: bytes([L.INT3]) + new[1:]),
    "done": ("new", lambda old, new: new),
}
_POINT = re.compile(r"^(?P<name>.+)\.(?P<phase>int3|tail|done)(?:#\d+)?$")
_LABEL = re.compile(r"^(?P<sym>[^+]+)(?:\+0x(?P<off>[0-9a-f]+))?$")


@dataclass(frozen=True)
class Cell:
    """What one call site holds at one row: its bytes (``None`` when the site does not
    exist, e.g. a per-ops trampoline not allocated), the instruction, and the phase of the
    breakpoint protocol that put them there at this very point (``int3``: ``CC`` + old
    tail, ``tail``: ``CC`` + new tail, ``new``), or ``steady`` when the point did not move
    it."""

    hex: str | None
    text: str
    phase: str = "steady"


@dataclass(frozen=True)
class Item:
    """A line nested in a call block: ``callback``, ``int3``, ``ran`` or ``fault``."""

    kind: str
    text: str


@dataclass
class Block:
    """One call of the timeline on its CPU's lane."""

    id: str
    func: str
    cpu: int
    at: str | None
    items: list[Item] = field(default_factory=list)


@dataclass
class Row:
    """One row of the timeline: a patcher entry (lane 0) or a call block (lane 1 + cpu);
    point rows carry every site's cell."""

    kind: str
    lane: int
    text: str = ""
    step: int = -1
    block: Block | None = None
    cells: tuple[Cell, ...] = ()
    point: str = ""


@dataclass(frozen=True)
class Timeline:
    lanes: tuple[str, ...]
    sites: tuple[str, ...]
    rows: tuple[Row, ...]


class _Encoder:
    """Instruction text -> bytes at a site, through the rebuilt image's symbols."""

    def __init__(self, image: Image) -> None:
        self.symbols = image.symbols
        self.units = image.units

    def addr(self, label: str) -> int | None:
        if label.startswith("0x"):
            return int(label, 16)
        m = _LABEL.match(label)
        if m is None or m["sym"] not in self.symbols:
            return None
        return self.symbols.addr(m["sym"]) + int(m["off"] or "0", 16)

    def encode(self, site: str, text: str) -> bytes | None:
        ip = self.addr(site)
        if text == "nop":
            return L.NOP5
        if text.startswith("call ") and ip is not None:
            target = self.addr(text[5:])
            return None if target is None else L.call_insn(ip, target)
        try:
            return bytes.fromhex(text)
        except ValueError:
            return None

    def read(self, site: str) -> bytes | None:
        ip = self.addr(site)
        for unit in self.units:
            if ip is not None and unit.base <= ip and ip + 5 <= unit.base + len(unit.code):
                return unit.code[ip - unit.base : ip - unit.base + 5]
        return None


def _hex(code: bytes | None) -> str | None:
    return None if code is None else code.hex(" ")


class _Sites:
    """Every call site's bytes as the log goes: pending patches move through the phases."""

    def __init__(self, image: Image) -> None:
        self.enc = _Encoder(image)
        funcs = sorted(image.sites, key=lambda f: image.sites[f])
        tramps = tuple(f"{o}.tramp_call" for o in image.trampolines)
        self.names = tuple(funcs) + TRAMPOLINE_SITES + tramps
        self.now: dict[str, Cell] = {n: self._initial(n) for n in self.names}
        self.pending: dict[str, tuple[str, str]] = {}

    def _initial(self, name: str) -> Cell:
        if name.endswith(".tramp_call"):
            return Cell(None, NOT_ALLOCATED)
        code = self.enc.read(name)
        return Cell(_hex(code), _describe(code, self.enc, name))

    def patch(self, e: PatchEvent) -> None:
        old, _, new = e.change.partition(" -> ")
        self.pending[e.site] = (old, new)
        self._allocated(new)

    def _allocated(self, new: str) -> None:
        """A site about to call ``OPS.tramp``: that trampoline exists, though its creation
        (and its first callee, on text_poke kernels) is no event of the log."""
        if new.startswith("call ") and new.endswith(".tramp"):
            call_site = f"{new[5:]}_call"
            if self.now.get(call_site, Cell(None, "")).text == NOT_ALLOCATED:
                self.now[call_site] = Cell(None, ALLOCATED)

    def point(self, name: str) -> tuple[Cell, ...]:
        m = _POINT.match(name)
        changed: set[str] = set()
        if m is not None:
            phase, make = _PHASES[m["phase"]]
            for site, (old, new) in list(self.pending.items()):
                self._advance(site, old, new, phase, make)
                changed.add(site)
            if phase == "new":
                self.pending.clear()
        return self.cells(changed)

    def _advance(self, site: str, old: str, new: str, phase: str, make: _Make) -> None:
        o, n = self.enc.encode(site, old), self.enc.encode(site, new)
        code = make(o, n) if o is not None and n is not None else None
        text = new if phase == "new" else f"int3 ({old} -> {new})"
        self.now[site] = Cell(_hex(code), text, phase)

    def cells(self, changed: Iterable[str] = ()) -> tuple[Cell, ...]:
        moved = set(changed)
        return tuple(c if n in moved else Cell(c.hex, c.text) for n, c in self.now.items())

    def final(self, result: RunResult) -> tuple[Cell, ...]:
        """The text as the run left it, from the result itself (it also knows what the
        log does not say: a trampoline allocated without a patch, or freed)."""
        texts = {**result.sites, **result.trampoline_sites}
        out = []
        for name in self.names:
            text = texts.get(name, self.now[name].text)
            code = None if text == NOT_ALLOCATED else self.enc.encode(name, text)
            out.append(Cell(_hex(code), text))
        return tuple(out)


def _describe(code: bytes | None, enc: _Encoder, site: str) -> str:
    if code is None:
        return "?"
    if code == L.NOP5:
        return "nop"
    ip = enc.addr(site)
    if code[0] == L.CALL_OP and ip is not None:
        rel = int.from_bytes(code[1:5], "little", signed=True)
        return f"call {enc.symbols.label_for((ip + 5 + rel) & 0xFFFFFFFF)}"
    return code.hex(" ")


#: nested inside the call block that is running
_NESTED = (CallbackEvent, Int3Event, RanEvent, FaultEvent)


class _Builder:
    def __init__(self, result: RunResult) -> None:
        self.result = result
        self.sites = _Sites(build_image(result.scenario, result.profile))
        self.rows: list[Row] = []
        self.open: list[Block] = []
        self.steps = {s.index: s for s in result.scenario.timeline}

    def add(self, e: Event) -> None:
        if isinstance(e, _NESTED) and self.open:
            self.open[-1].items.append(Item(e.kind, event_text(e)))
        elif isinstance(e, CallEvent):
            block = Block(e.call or "", e.func, e.cpu, e.at)
            self.open.append(block)
            self.rows.append(Row("call", 1 + e.cpu, step=e.step, block=block))
        elif isinstance(e, ReturnEvent):
            self.open.pop()
        elif isinstance(e, StopEvent) and self.open:
            self.open.pop().items.append(Item(e.kind, event_text(e)))
        elif isinstance(e, ResumeEvent) and e.finished_in is None:
            block = Block(e.call or "", f"resume at {e.pc}", e.cpu, e.at)
            self.open.append(block)
            self.rows.append(Row("call", 1 + e.cpu, step=e.step, block=block))
        else:
            self._patcher(e)

    def _patcher(self, e: Event) -> None:
        if isinstance(e, StepEvent):
            step = self.steps[e.index]
            label = f" ({step.id})" if step.id else ""
            text = f"[{e.index}] {describe_action(step.action)}{label}"
            self.rows.append(Row("step", 0, text, e.index))
            return
        if isinstance(e, PatchEvent):
            self.sites.patch(e)
        if isinstance(e, PointEvent):
            cells = self.sites.point(e.point)
            self.rows.append(Row("point", 0, e.point, e.step, cells=cells, point=e.point))
            return
        kinds = {PatchEvent: "patch", ResultEvent: "result", StopEvent: "stop"}
        kinds.update({ResumeEvent: "resume", WaitEvent: "wait", UnresumedEvent: "unresumed"})
        kind = kinds.get(type(e), "fault")
        self.rows.append(Row(kind, 0, event_text(e), e.step))


def build(result: RunResult) -> Timeline:
    """The rows of one run, in the order things happened; a first row with the text as
    built and a last one with the text as the run left it."""
    b = _Builder(result)
    b.rows.append(Row("begin", 0, "text as built", cells=b.sites.cells()))
    for e in result.events:
        b.add(e)
    b.rows.append(Row("end", 0, "text at the end", cells=b.sites.final(result)))
    lanes = ("patcher",) + tuple(f"cpu{c}" for c in range(result.profile.cpus))
    return Timeline(lanes, b.sites.names, tuple(b.rows))
