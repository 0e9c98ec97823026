"""The image as text: memory map, symbols, call sites, and a Capstone disassembly.

Capstone lives in this module only, and is imported only when a disassembly is printed.
The listing reads memory through a ``Reader``: the built image (before the timeline runs,
the default of ``ftscen build``) or the machine after the timeline ran (``--after``), so the
same code shows both the text as compiled and the text as the patcher left it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from ftscen.core.errors import InternalError
from ftscen.core.model import Scenario
from ftscen.core.profile import KernelProfile
from ftscen.image import layout as L
from ftscen.image.build import Image, Trampoline
from ftscen.image.symbols import SymbolTable

Reader = Callable[[int, int], bytes]

#: What each patchable call inside the runtime decides (comments in the listing).
PATCH_LABELS = {
    "ftrace_call": "what ftrace_caller calls (update_ftrace_func)",
    "ftrace_regs_call": "what ftrace_regs_caller calls (update_ftrace_func)",
    "ftrace_graph_call": "function graph hook (not modelled: always jmp ftrace_stub)",
}
SHARED = ("ftrace_caller", "ftrace_stub", "ftrace_regs_caller")
LIST_FUNCS = ("ftrace_ops_list_func", "ftrace_ops_assist_func", "ftrace_lookup_ip")
_HEX = re.compile(r"0x[0-9a-f]+")


@dataclass(frozen=True)
class View:
    """What the listing shows: an image, read through ``read``, before or after a run."""

    scenario: Scenario
    profile: KernelProfile
    image: Image
    read: Reader
    after: bool
    note: str = ""


def image_reader(image: Image) -> Reader:
    """Memory as built: the image's units (per-ops trampolines are not allocated yet)."""

    def read(addr: int, size: int) -> bytes:
        for unit in image.units:
            if unit.base <= addr and addr + size <= unit.base + len(unit.code):
                return unit.code[addr - unit.base : addr - unit.base + size]
        raise InternalError(f"listing: {addr:#x}+{size} is not in the built image")

    return read


def describe_site(code: bytes, ip: int, symbols: SymbolTable) -> str:
    """A call site's 5 bytes in words: ``nop``, ``call ftrace_caller``, ``int3 ...``."""
    if code == L.NOP5:
        return "nop"
    if code[0] == L.CALL_OP:
        rel = int.from_bytes(code[1:5], "little", signed=True)
        return f"call {symbols.label_for((ip + 5 + rel) & 0xFFFFFFFF)}"
    if code[0] == L.INT3:
        return "int3 (a modification was under way)"
    return "unknown bytes"


def _hex(code: bytes) -> str:
    return " ".join(f"{b:02x}" for b in code)


# ---- the parts without disassembly (ftscen build) -------------------------------------------
def title_lines(view: View) -> list[str]:
    p = view.profile
    extra = ", dynamic trampolines" if p.dynamic_trampolines else ""
    when = (
        "the text after the timeline ran"
        if view.after
        else "the text as built, before the timeline runs (--after: as the run leaves it)"
    )
    out = [
        (
            f"# image of {view.scenario.name} for kernel {p.version} "
            f"(int3: {p.int3}, pt_regs: {p.frame}{extra}, {p.cpus} CPUs)"
        ),
        f"# {when}",
    ]
    return out + ([f"# {view.note}"] if view.note else [])


def map_lines(view: View) -> list[str]:
    runtime, text, trap = view.image.units
    n_tramp = len(view.image.trampolines)
    rows = [
        (
            "runtime",
            L.RUNTIME_BASE,
            len(runtime.code),
            "shared trampolines, ftrace_stub, list and assist functions",
        ),
        ("text", L.TEXT_BASE, len(text.code), "scenario functions, ops handlers, callers"),
        ("entry", trap.base, len(trap.code), "the int3 entry code (entry_32.S) and do_int3"),
    ]
    if n_tramp:
        rows.append(
            (
                "trampolines",
                L.TRAMP_BASE,
                n_tramp * L.TRAMP_SLOT,
                f"{n_tramp} per-ops trampolines, {L.TRAMP_SLOT:#x} bytes each",
            )
        )
    rows += [
        ("data", L.DATA_BASE, L.DATA_SIZE, "ftrace_ops_list, ops structs"),
        ("ring", L.RING_BASE, L.RING_SIZE, "the event ring (the callback log)"),
        (
            "stacks",
            L.STACK_BASE,
            view.profile.cpus * L.STACK_STRIDE,
            f"{view.profile.cpus} CPUs, {L.STACK_SIZE:#x} bytes each",
        ),
        ("hashes", L.HASHES, L.HASHES_SIZE, f"filter and notrace per ops, {L.HASH_SLOT:#x} each"),
    ]
    return ["sections:"] + [
        f"  {name:<12} {base:#010x}  {size:#8x} bytes  {what}" for name, base, size, what in rows
    ]


def symbol_lines(view: View) -> list[str]:
    out = ["symbols:"]
    for s in view.image.symbols.symbols():
        size = f"{s.size:#6x}" if s.size else "      "
        out.append(f"  {s.addr:#010x}  {size}  {s.kind:<5}  {s.name}")
    return out


def site_lines(view: View) -> list[str]:
    out = ["call sites (the 5 bytes at each traceable function's entry):"]
    width = max((len(f) for f in view.image.sites), default=0)
    for func, ip in view.image.sites.items():
        code = view.read(ip, 5)
        meaning = describe_site(code, ip, view.image.symbols)
        out.append(f"  {func:<{width}}  {ip:#010x}  {_hex(code)}  {meaning}")
    if len(out) == 1:
        out.append("  (none: every function is notrace)")
    return out


def summary_lines(view: View) -> list[str]:
    """``ftscen build`` without ``--listing``: map, symbols and call sites."""
    return (
        title_lines(view)
        + [""]
        + map_lines(view)
        + [""]
        + symbol_lines(view)
        + [""]
        + site_lines(view)
    )


# ---- disassembly ----------------------------------------------------------------------------
class Disassembler:
    """Capstone over the image's memory, annotated with symbols and patch sites."""

    def __init__(self, view: View) -> None:
        try:
            from capstone import CS_ARCH_X86, CS_MODE_32, Cs
        except ImportError as exc:  # a broken install, not a scenario problem
            raise InternalError(f"capstone is needed for --listing: {exc}") from exc
        self.view, self.cs = view, Cs(CS_ARCH_X86, CS_MODE_32)
        self.symbols = view.image.symbols
        self.labels: dict[int, list[str]] = {}
        for s in self.symbols.symbols():
            self.labels.setdefault(s.addr, []).append(s.name)

    def _annotate(self, op_str: str) -> str:
        def label(m: re.Match[str]) -> str:
            addr = int(m.group(0), 16)
            name = self.symbols.label_for(addr) if addr >= L.PAGE else ""
            return m.group(0) + (f" <{name}>" if name and not name.startswith("0x") else "")

        return _HEX.sub(label, op_str)

    def _comment(self, addr: int) -> str:
        for name in self.labels.get(addr, []):
            if name in PATCH_LABELS:
                return f"  ; <== {name}: {PATCH_LABELS[name]}"
            if name.endswith(".tramp_call"):
                what = (
                    "what this trampoline calls"
                    if self.view.after
                    else "unset in the template: written when the trampoline is allocated"
                )
                return f"  ; <== {name}: {what}"
            if name in self.view.image.sites:
                meaning = describe_site(self.view.read(addr, 5), addr, self.symbols)
                return f"  ; <== call site: {meaning}"
        return ""

    def range(self, start: int, end: int) -> list[str]:
        """``start``..``end`` disassembled, with ``name:`` lines at every symbol."""
        code = self.view.read(start, end - start)
        out: list[str] = []
        addr = start
        while addr < end:
            insns = list(self.cs.disasm(code[addr - start :], addr, 1))
            if insns:
                size, text = insns[0].size, f"{insns[0].mnemonic} {insns[0].op_str}".strip()
            else:
                size, text = 1, f".byte {code[addr - start]:#04x}"
            out += [f"{n}:" for n in self.labels.get(addr, [])]
            raw = _hex(code[addr - start : addr - start + size])
            out.append(f"  {addr:#010x}  {raw:<21} {self._annotate(text)}{self._comment(addr)}")
            addr += size
        return out

    def symbol(self, name: str) -> list[str]:
        s = self.symbols.get(name)
        return self.range(s.addr, s.addr + max(s.size, 1))


def _runtime_parts(dis: Disassembler) -> list[str]:
    out = ["shared trampolines (every call site calls one of these, or a per-ops trampoline):"]
    for name in SHARED:
        out += dis.symbol(name)
    out += ["", "list function (ftrace_ops_list_func walks ftrace_ops_list, newest first):"]
    for name in LIST_FUNCS:
        out += dis.symbol(name)
    return out


def _trampoline_parts(view: View, dis: Disassembler) -> list[str]:
    out = ["per-ops trampolines (dynamic_trampolines: x86_64 logic):"]
    for ops, t in view.image.trampolines.items():
        read = view.read
        if not view.after:

            def read(a: int, n: int, t: Trampoline = t) -> bytes:
                return t.code[a - t.addr : a - t.addr + n]

            out.append(
                f"{ops}.tramp: allocated at registration; its template, with "
                f"{ops}.tramp_call still unset:"
            )
            template = View(view.scenario, view.profile, view.image, read, False)
            out += Disassembler(template).range(t.addr, t.op_slot)[1:]
        elif read(t.addr, 2) == L.UD2:
            out.append(f"{ops}.tramp: not allocated (never registered, or freed)")
            continue
        else:
            out += dis.range(t.addr, t.op_slot)
        slot = int.from_bytes(read(t.op_slot, 4), "little")
        out.append(
            f"  {t.op_slot:#010x}  {_hex(read(t.op_slot, 4)):<21} .long {slot:#x} "
            f"<{view.image.symbols.label_for(slot)}>  ; the ops this trampoline passes"
        )
    return out


def _text_parts(view: View, dis: Disassembler) -> list[str]:
    out = ["functions, ops handlers and caller stubs:"]
    text = view.image.units[1]
    return out + dis.range(text.base, text.base + len(text.code))


def _entry_parts(view: View, dis: Disassembler) -> list[str]:
    trap = view.image.units[2]
    frame = "full pt_regs: FIXUP_FRAME" if "int3_no_fixup" in trap.labels else "short pt_regs"
    out = [f"int3 entry ({frame}) and do_int3, where a CPU goes when it hits an int3:"]
    return out + dis.range(trap.base, trap.base + len(trap.code))


def listing_lines(view: View) -> list[str]:
    """The full listing: summary, then the disassembly of every part of the text."""
    dis = Disassembler(view)
    out = summary_lines(view) + [""] + _runtime_parts(dis)
    if view.image.trampolines:
        out += [""] + _trampoline_parts(view, dis)
    return out + [""] + _text_parts(view, dis) + [""] + _entry_parts(view, dis)


def image_view(sc: Scenario, profile: KernelProfile) -> View:
    """The built image, before any step of the timeline has run."""
    from ftscen.image.build import build_image

    image = build_image(sc, profile)
    return View(sc, profile, image, image_reader(image), False)


def instruction_starts(image: Image, name: str) -> list[int] | None:
    """The offsets of the instructions of symbol ``name`` as built (Capstone), or None when
    its bytes are not in the built image (a per-ops trampoline is allocated at run time)."""
    s = image.symbols.get(name)
    try:
        code = image_reader(image)(s.addr, s.size)
    except InternalError:
        return None
    from capstone import CS_ARCH_X86, CS_MODE_32, Cs

    starts, off = [], 0
    for insn in Cs(CS_ARCH_X86, CS_MODE_32).disasm(code, s.addr):
        starts.append(insn.address - s.addr)
        off = insn.address - s.addr + insn.size
    return starts if off == s.size else None
