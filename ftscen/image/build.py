"""Stage: Scenario -> i386 image (bytes at addresses, call sites, trampolines, symbols).

Keystone lives in this module only. Each unit of assembly is assembled once at its final
address; a trailing ``.long`` table of its labels gives their addresses back, so the
symbol table comes from the assembler itself. The shared runtime depends only on the
profile's frame layout and recursion rule and is cached per ``KernelProfile.runtime_key``.
"""

from __future__ import annotations

import bisect
import functools
import re
import struct
from dataclasses import dataclass

from ftscen.core.errors import InternalError
from ftscen.core.model import FtraceOps, Scenario
from ftscen.core.profile import KernelProfile
from ftscen.image import asm, cache, entry
from ftscen.image import layout as L
from ftscen.image.symbols import Symbol, SymbolTable

_LABEL = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*):", re.MULTILINE)


@dataclass(frozen=True)
class Unit:
    """Assembled bytes at ``base`` and the address of every label in the source."""

    base: int
    code: bytes
    labels: dict[str, int]


@dataclass(frozen=True)
class Trampoline:
    """A per-ops trampoline's bytes, written when the patcher creates it."""

    ops: str
    addr: int
    code: bytes
    call_site: int
    op_slot: int


@dataclass(frozen=True)
class Image:
    """Everything the machine loads and the patcher needs to know about the text."""

    units: tuple[Unit, ...]
    symbols: SymbolTable
    sites: dict[str, int]  # traceable function -> call site address
    functions: dict[str, int]  # every function -> entry address
    handlers: dict[str, int]  # ops -> callback address
    trampolines: dict[str, Trampoline]
    callers: tuple[int, ...]  # caller stub per CPU (index = cpu)
    func_names: tuple[str, ...]  # by index (EV_RAN)
    ops_names: tuple[str, ...]  # by index (EV_CALLBACK)
    #: (first, end) of the code that writes each event record (:func:`record_spans`)
    records: tuple[tuple[int, int], ...] = ()

    def in_record(self, addr: int) -> tuple[int, int] | None:
        """The record whose code ``addr`` is strictly inside (past its first instruction,
        before its end), or None: where a call must not stop."""
        i = bisect.bisect_right(self.records, (addr, addr)) - 1
        if i >= 0 and self.records[i][0] < addr < self.records[i][1]:
            return self.records[i]
        return None


def assemble(source: str, base: int, unit: str) -> Unit:
    """Assemble ``source`` at ``base``; KsError becomes an InternalError naming the unit.

    The same source at the same address assembles once per process (the runtime, a
    trampoline, a scenario run under several kernels or again), and once per user when the
    on-disk cache is on (:mod:`ftscen.image.cache`)."""
    code, labels = _assembled(source, base, unit)
    return Unit(base, code, dict(labels))


@functools.lru_cache(maxsize=512)
def _assembled(source: str, base: int, unit: str) -> tuple[bytes, dict[str, int]]:
    folder = cache.directory()
    name = cache.key(source, base, _assembler_version()) if folder else ""
    found = cache.load(folder, name) if folder else None
    if found is not None:
        return found
    code, labels = _keystone(source, base, unit)
    if folder:
        cache.store(folder, name, code, labels)
    return code, labels


@functools.lru_cache(maxsize=1)
def _assembler_version() -> str:
    from keystone import ks_version

    return ".".join(map(str, ks_version()))


def _keystone(source: str, base: int, unit: str) -> tuple[bytes, dict[str, int]]:
    from keystone import KS_ARCH_X86, KS_MODE_32, Ks, KsError

    labels = _LABEL.findall(source)
    table = "__symtab:\n" + "".join(f"  .long {name}\n" for name in labels)
    try:
        encoding, _ = Ks(KS_ARCH_X86, KS_MODE_32).asm(source + table, base)
    except KsError as exc:
        raise InternalError(f"assembling {unit} at {base:#x}: {exc}") from exc
    blob = bytes(encoding or b"")
    size = len(blob) - 4 * len(labels)
    addrs = struct.unpack(f"<{len(labels)}I", blob[size:])
    return blob[:size], dict(zip(labels, addrs))


@functools.lru_cache(maxsize=8)
def runtime_unit(frame: str, transition: bool) -> Unit:
    """The shared runtime, with ftrace_call/ftrace_regs_call starting as ``call ftrace_stub``."""
    unit = assemble(asm.runtime_asm(frame, transition), L.RUNTIME_BASE, "runtime")
    code = bytearray(unit.code)
    stub = unit.labels["ftrace_stub"]
    for label in ("ftrace_call", "ftrace_regs_call"):
        at = unit.labels[label]
        code[at - unit.base : at - unit.base + 5] = L.call_insn(at, stub)
    return Unit(unit.base, bytes(code), unit.labels)


@functools.lru_cache(maxsize=4)
def entry_unit(kind: str) -> Unit:
    """The era's int3 entry code and ``do_int3`` (:mod:`ftscen.image.entry`)."""
    return assemble(entry.entry_asm(kind), entry.ENTRY_BASE, "int3 entry")


def _entry_symbols(unit: Unit) -> list[Symbol]:
    """``int3`` up to ``do_int3``, ``do_int3`` to the end; the other labels are labels."""
    do_int3, end = unit.labels["do_int3"], unit.base + len(unit.code)
    out = [
        Symbol("int3", unit.base, do_int3 - unit.base, "func"),
        Symbol("do_int3", do_int3, end - do_int3, "func"),
    ]
    return out + [
        Symbol(n, a, 0, "label") for n, a in unit.labels.items() if n not in ("int3", "do_int3")
    ]


_RUNTIME_FUNCS = (
    "ftrace_caller",
    "ftrace_stub",
    "ftrace_regs_caller",
    "ftrace_ops_list_func",
    "ftrace_ops_assist_func",
    "ftrace_lookup_ip",
)


def _runtime_symbols(unit: Unit) -> list[Symbol]:
    starts = sorted((a, n) for n, a in unit.labels.items() if not n.startswith("L_"))
    end = unit.base + len(unit.code)
    out = []
    for i, (addr, name) in enumerate(starts):
        nxt = starts[i + 1][0] if i + 1 < len(starts) else end
        kind = "func" if name in _RUNTIME_FUNCS else "label"
        size = nxt - addr if kind == "func" else 0
        if name == "ftrace_caller":  # ftrace_call and ftrace_graph_call lie inside it
            size = unit.labels["ftrace_stub"] - addr
        if name == "ftrace_regs_caller":
            size = unit.labels["ftrace_ops_list_func"] - addr
        out.append(Symbol(name, addr, size, kind))
    return out


def _scenario_source(sc: Scenario, cpus: int) -> str:
    parts = []
    for i, fn in enumerate(sc.functions):
        parts.append(asm.body_asm(f"F_{fn.name}", i, not fn.notrace, [f"F_{c}" for c in fn.calls]))
    for i, ops in enumerate(sc.ops):
        if ops.klp_func is not None:
            continue  # every klp_ops calls klp_ftrace_handler
        redirects = [(f"F_{a}", f"F_{b}") for a, b in ops.redirect]
        parts.append(asm.handler_asm(f"H_{ops.name}", i, redirects, [f"F_{c}" for c in ops.calls]))
    if sc.livepatches:
        parts.append(asm.klp_handler_asm(KLP_HANDLER))
    for cpu in range(cpus):
        parts.append(asm.caller_stub_asm(f"C_{cpu}"))
    return "".join(parts)


def _unit_symbols(unit: Unit, sc: Scenario, cpus: int) -> list[Symbol]:
    starts = sorted((a, n) for n, a in unit.labels.items() if n[:2] in ("F_", "H_", "C_", "K_"))
    end = unit.base + len(unit.code)
    out = []
    for i, (addr, label) in enumerate(starts):
        size = (starts[i + 1][0] if i + 1 < len(starts) else end) - addr
        kind, name = {
            "F": ("func", label[2:]),
            "H": ("func", label[2:] + ".func"),
            "C": ("stub", f"caller_cpu{label[2:]}"),
            "K": ("func", label[2:]),
        }[label[0]]
        out.append(Symbol(name, addr, size, kind))
    return out


def _trampolines(sc: Scenario, profile: KernelProfile) -> list[Trampoline]:
    if not profile.dynamic_trampolines:
        return []
    out = []
    for i, ops in enumerate(sc.ops):
        base = L.TRAMP_BASE + i * L.TRAMP_SLOT
        regs = ops.has("SAVE_REGS")
        unit = assemble(asm.trampoline_asm("T", regs, profile.frame), base, f"{ops.name}.tramp")
        slot = unit.labels["T_op"]
        code = bytearray(unit.code)
        code[slot - base : slot - base + 4] = struct.pack("<I", L.ops_struct(i))
        if len(code) > L.TRAMP_SLOT:
            raise InternalError(f"trampoline of {ops.name} is {len(code)} bytes")
        out.append(Trampoline(ops.name, base, bytes(code), unit.labels["T_call"], slot))
    return out


_IMAGES: dict[tuple[str, KernelProfile], Image] = {}


def build_image(sc: Scenario, profile: KernelProfile) -> Image:
    """Stage entry point: assemble the runtime (cached), the scenario text and trampolines.

    Images are kept per (hash of the scenario's source, kernel profile): the same file run
    again in this process is not assembled again. An image is never changed once built."""
    if not sc.source_sha256:
        return _build(sc, profile)
    found = _IMAGES.get((sc.source_sha256, profile))
    if found is None:
        if len(_IMAGES) >= 64:
            del _IMAGES[next(iter(_IMAGES))]  # the oldest
        found = _IMAGES[(sc.source_sha256, profile)] = _build(sc, profile)
    return found


def _build(sc: Scenario, profile: KernelProfile) -> Image:
    runtime = runtime_unit(*profile.runtime_key())
    if runtime.base + len(runtime.code) > entry.ENTRY_BASE:
        raise InternalError("the runtime overlaps the int3 entry code")
    trap = entry_unit(entry.entry_kind(profile))
    cpus = profile.cpus
    text = assemble(_scenario_source(sc, cpus), L.TEXT_BASE, "scenario text")
    if len(text.code) > L.TEXT_SIZE:
        raise InternalError("scenario text does not fit its region")
    tramps = _trampolines(sc, profile)
    symbols = _runtime_symbols(runtime) + _unit_symbols(text, sc, cpus) + _entry_symbols(trap)
    for t in tramps:
        symbols.append(Symbol(f"{t.ops}.tramp", t.addr, len(t.code), "tramp"))
        symbols.append(Symbol(f"{t.ops}.tramp_call", t.call_site, 0, "label"))
    symbols += _data_symbols(sc)
    functions = {f.name: text.labels[f"F_{f.name}"] for f in sc.functions}
    return Image(
        units=(runtime, text, trap),
        symbols=SymbolTable(symbols),
        sites={f.name: functions[f.name] for f in sc.functions if not f.notrace},
        functions=functions,
        handlers={o.name: text.labels[_handler_label(o)] for o in sc.ops},
        trampolines={t.ops: t for t in tramps},
        callers=tuple(text.labels[f"C_{c}"] for c in range(cpus)),
        func_names=tuple(f.name for f in sc.functions),
        ops_names=tuple(o.name for o in sc.ops),
        records=record_spans(text),
    )


def record_spans(unit: Unit) -> tuple[tuple[int, int], ...]:
    """Where ``unit`` writes event records: from the load of ``RING_PTR`` to just after its
    increment (labels :data:`asm.RECORD_START` .. :data:`asm.RECORD_END`), sorted. A call
    stopped in there would hold a ring slot that the log moves on from while it is stopped:
    the model's instrumentation is one indivisible step, as a kernel tracer's record is to
    the code it traces."""
    spans = []
    for name, addr in unit.labels.items():
        if name.startswith("L_") and name.endswith(asm.RECORD_START):
            end = unit.labels[name[: -len(asm.RECORD_START)] + asm.RECORD_END]
            spans.append((addr, end))
    return tuple(sorted(spans))


#: The label of the livepatch handler shared by every ``klp_ops`` (symbol ``klp_ftrace_handler``).
KLP_HANDLER = "K_klp_ftrace_handler"


def _handler_label(ops: FtraceOps) -> str:
    return KLP_HANDLER if ops.klp_func is not None else f"H_{ops.name}"


def _data_symbols(sc: Scenario) -> list[Symbol]:
    out = [
        Symbol("event_ring_ptr", L.RING_PTR, 4, "data"),
        Symbol("event_ring", L.RING_BASE, L.RING_SIZE, "data"),
        Symbol("ftrace_ops_list", L.FTRACE_OPS_LIST, 4, "data"),
        Symbol("function_trace_op", L.FUNCTION_TRACE_OP, 4, "data"),
        Symbol("current_task", L.CURRENT_TASK, 4, "data"),
        Symbol("ftrace_list_end", L.FTRACE_LIST_END, L.OPS_SIZE, "data"),
    ]
    out += [
        Symbol(f"{o.name}.ops", L.ops_struct(i), L.OPS_SIZE, "data") for i, o in enumerate(sc.ops)
    ]
    return out
