"""The validated scenario, named in the kernel's own words.

Every value here is frozen and carries a :class:`Mark` (file, line, column, JSON path) so that
later stages (the points check, the verdicts) can point back at what the user wrote.
Stage: loaded document -> **Scenario** -> image -> machine -> log -> verdicts -> report.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum

from ftscen.core.errno import ERRNO_NAMES
from ftscen.core.errors import Diagnostic
from ftscen.core.kernels import KernelSet, Release
from ftscen.core.klp import Busy, Disable, Enable, Transition

#: ``ftrace_ops`` flags a scenario may set (include/linux/ftrace.h, ``enum FTRACE_OPS_FL_*``).
OPS_FLAGS: tuple[str, ...] = (
    "SAVE_REGS",
    "SAVE_REGS_IF_SUPPORTED",
    "IPMODIFY",
    "DYNAMIC",
    "RECURSION",
    "RECURSION_SAFE",
    "PERMANENT",
)

#: Return values a patcher step may be expected to give.
ERRNOS: tuple[str, ...] = tuple(sorted(ERRNO_NAMES.values()))

#: How a CPU that hits a call site's int3 is handled (see ``profile.py``).
INT3_MODES: tuple[str, ...] = ("skip", "emulate-call", "emulate-new")


@dataclass(frozen=True)
class Mark:
    """Where a value stands in the scenario file (1-based line and column)."""

    file: str
    line: int
    col: int
    path: str = "$"
    #: the text of that line, kept from loading so later stages can quote it without
    #: reading the file again
    text: str | None = field(default=None, compare=False, repr=False)

    def at(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"

    def diagnostic(self, message: str, hint: str | None = None) -> Diagnostic:
        """An error at this place, quoting its line."""
        return Diagnostic(
            self.file, self.line, self.col, message, self.path, hint=hint, source_line=self.text
        )


NO_MARK = Mark("<scenario>", 0, 0, "$")


@dataclass(frozen=True)
class Function:
    """A traceable (or ``notrace``) function of the modelled kernel."""

    name: str
    calls: tuple[str, ...] = ()
    notrace: bool = False
    mark: Mark = NO_MARK


@dataclass(frozen=True)
class FtraceOps:
    """A ``struct ftrace_ops`` as the scenario defines it before registration.

    ``filter_hash``/``notrace_hash`` hold the globs as written; the patcher expands them over
    the function table (kernel/trace/ftrace.c ``ftrace_set_hash``).
    """

    name: str
    flags: frozenset[str] = frozenset()
    filter_hash: tuple[str, ...] = ()
    notrace_hash: tuple[str, ...] = ()
    redirect: tuple[tuple[str, str], ...] = ()
    calls: tuple[str, ...] = ()
    mark: Mark = NO_MARK
    #: the function whose ``klp_ops`` this is (an ops made from ``livepatches:``), or None
    klp_func: str | None = None

    def has(self, flag: str) -> bool:
        return flag in self.flags


@dataclass(frozen=True)
class KlpFunc:
    """A ``struct klp_func``: ``old`` is redirected to ``new``; ``new`` None is a ``nop``
    entry (``func->nop``: the handler leaves regs->ip alone, the original runs)."""

    old: str
    new: str | None


@dataclass(frozen=True)
class Livepatch:
    """A ``struct klp_patch`` (its module's name is ``name``)."""

    name: str
    funcs: tuple[KlpFunc, ...]
    replace: bool
    mark: Mark


@dataclass(frozen=True)
class Kernel:
    """The ``kernel:`` block; ``int3`` None means 'from the era of ``version``'."""

    version: str = "6.6"
    dynamic_trampolines: bool = False
    int3: str | None = None
    cpus: int = 2
    mark: Mark = NO_MARK
    #: CONFIG_PREEMPT(ION): a stopped call outside a preempt-disabled region is a preempted
    #: task, and the CPU it stopped on is free to schedule (docs/model.md, "Calls in flight")
    preempt: bool = False


# ---- timeline actions -------------------------------------------------------------------


@dataclass(frozen=True)
class Register:
    ops: str


@dataclass(frozen=True)
class Unregister:
    ops: str


@dataclass(frozen=True)
class SetFilter:
    ops: str
    globs: tuple[str, ...]
    reset: bool = True


@dataclass(frozen=True)
class SetNotrace:
    ops: str
    globs: tuple[str, ...]
    reset: bool = True


@dataclass(frozen=True)
class Sysctl:
    ftrace_enabled: bool


@dataclass(frozen=True)
class Stop:
    """Where a call stops before it finishes: at an instruction address (``at``, a symbol
    with an optional ``+0xN`` offset, resolved against the image when the scenario runs) or
    after ``insns`` instructions. Its CPU keeps its registers and stack until ``resume``.

    An explored stop (docs/explore.md, "Exploring stops"): ``stop: any`` (``explored``, no
    ``within``) tries every instruction boundary the call passes; ``stop: {any: SYMBOL}``
    (``within``) those inside one symbol."""

    at: str | None = None
    insns: int | None = None
    mark: Mark = NO_MARK
    explored: bool = False
    within: str | None = None

    def describe(self) -> str:
        if self.explored:
            return ANY if self.within is None else f"{{any: {self.within}}}"
        return self.at if self.at is not None else f"{self.insns} instructions"


@dataclass(frozen=True)
class Call:
    func: str
    cpu: int | None = None
    stop: Stop | None = None


@dataclass(frozen=True)
class Resume:
    """``resume: ID``: the stopped call ``ID`` runs on from where it stopped, to its end."""

    call: str
    mark: Mark = NO_MARK


Action = (
    (Register | Unregister | SetFilter | SetNotrace | Sysctl | Call | Enable | Disable | Transition)
    | Busy
    | Resume
)
PatcherAction = Register | Unregister | SetFilter | SetNotrace | Sysctl


#: ``at: any`` / ``cpu: any``: every point the step passes, every CPU that makes calls.
ANY = "any"


@dataclass(frozen=True)
class During:
    """A call (or, with ``resume`` set, the resumption of a stopped call) placed at a named
    point inside a patcher step's code modification.

    An explored call (docs/explore.md) has several placements: ``at`` is ``any`` (every
    point its step passes, in order) or ``points`` lists them (``at`` is then the first),
    and ``cpu_any`` tries it on each CPU that makes calls."""

    at: str
    call: Call | None
    id: str | None = None
    mark: Mark = NO_MARK
    resume: Resume | None = None
    #: the points of an ``at:`` list (empty: ``at`` alone, or ``any``)
    points: tuple[str, ...] = ()
    cpu_any: bool = False
    #: where ``cpu: any`` is written (diagnostics)
    cpu_mark: Mark = NO_MARK
    #: where each point of ``points`` is written
    point_marks: tuple[Mark, ...] = ()

    @property
    def explored(self) -> bool:
        """Whether the call has more than the one placement it names."""
        return self.call is not None and (
            self.at == ANY
            or bool(self.points)
            or self.cpu_any
            or (self.call.stop is not None and self.call.stop.explored)
        )


@dataclass(frozen=True)
class Step:
    """One timeline entry: exactly one action plus optional id, expect and during.

    ``expect`` is the errno for every kernel; ``expect_eras`` the per-era entries
    (``{errno, kernels}``), the first one covering the kernel winning."""

    index: int
    action: Action
    id: str | None = None
    expect: str | None = None
    during: tuple[During, ...] = ()
    mark: Mark = NO_MARK
    expect_eras: tuple[tuple[str, KernelSet], ...] = ()

    def expected(self, release: Release) -> str | None:
        """The errno this step must give on ``release`` (None: success, unchecked)."""
        return next((e for e, ks in self.expect_eras if release in ks), self.expect)


# ---- assertions -------------------------------------------------------------------------


@dataclass(frozen=True)
class ExpectCall:
    """``- call: ID`` with ``ran`` and/or ``called`` (a set, or a mapping ops -> count)."""

    call: str
    ran: tuple[str, ...] | None = None
    called: tuple[str, ...] | None = None
    called_counts: tuple[tuple[str, int], ...] | None = None
    mark: Mark = NO_MARK
    #: the kernels this assertion is about (None: every kernel)
    kernels: KernelSet | None = None


@dataclass(frozen=True)
class ExpectCalled:
    """``- called: {ops, func, regs}`` over the whole run; ``count`` None = at least once;
    ``regs`` None = with or without a pt_regs pointer."""

    ops: str
    func: str | None = None
    count: int | None = None
    regs: bool | None = None
    mark: Mark = NO_MARK
    #: the kernels this assertion is about (None: every kernel)
    kernels: KernelSet | None = None


@dataclass(frozen=True)
class ExpectNotCalled:
    """``- not_called: {ops, func, regs}``: no callback of that kind in the whole run."""

    ops: str
    func: str | None = None
    regs: bool | None = None
    mark: Mark = NO_MARK
    #: the kernels this assertion is about (None: every kernel)
    kernels: KernelSet | None = None


#: The trampolines' own call sites (arch/x86/kernel/ftrace_32.S), besides ``OPS.tramp_call``.
TRAMPOLINE_SITES: tuple[str, ...] = ("ftrace_call", "ftrace_regs_call")

#: What a trampoline's call site may call besides ``OPS.func`` (kernel/trace/ftrace.c
#: ``update_ftrace_function``, ``ftrace_ops_get_func``).
TRAMPOLINE_CALLEES: tuple[str, ...] = (
    "ftrace_stub",
    "ftrace_ops_list_func",
    "ftrace_ops_assist_func",
)


def is_trampoline_site(name: str) -> bool:
    """``ftrace_call``, ``ftrace_regs_call`` or ``OPS.tramp_call``, not a function's site."""
    return name in TRAMPOLINE_SITES or name.endswith(".tramp_call")


@dataclass(frozen=True)
class ExpectSite:
    """``- site: {func, is}``: the final text of a call site, ``nop`` or ``call SYMBOL``.

    ``func`` names a traceable function or a trampoline's own call site
    (:func:`is_trampoline_site`)."""

    func: str
    is_: str
    mark: Mark = NO_MARK
    #: the kernels this assertion is about (None: every kernel)
    kernels: KernelSet | None = None


@dataclass(frozen=True)
class ExpectRecord:
    """``- record: {func, count, flags, after}``: a function's ``struct dyn_ftrace`` after the
    step whose id is ``after`` (None: after the last step), as kernel/trace/ftrace.c keeps it:
    the exact reference count and/or exactly these FTRACE_FL_* flags (ftscen.core.recflags).
    The scenario's view of ``tracing/enabled_functions`` (which lists ENABLED records only)
    and, from 6.4, ``tracing/touched_functions``."""

    func: str
    count: int | None = None
    flags: tuple[str, ...] | None = None
    after: str | None = None
    mark: Mark = NO_MARK
    #: the kernels this assertion is about (None: every kernel)
    kernels: KernelSet | None = None


Expectation = ExpectCall | ExpectCalled | ExpectNotCalled | ExpectSite | ExpectRecord


class Quantifier(Enum):
    """How an assertion is quantified over the placements of the explored calls (as herd7
    quantifies a litmus test's final condition): unwrapped it must hold in every placement."""

    ALWAYS = "always"
    SOMETIMES = "sometimes"
    NEVER = "never"


#: The keys that wrap an assertion in a quantifier.
QUANTIFIER_KEYS: tuple[str, ...] = ("sometimes", "never")


@dataclass(frozen=True)
class Quantified:
    """``- sometimes: ASSERTION`` or ``- never: ASSERTION`` (``kernels`` beside the key)."""

    quantifier: Quantifier
    inner: Expectation
    mark: Mark = NO_MARK
    #: the kernels this assertion is about (None: every kernel)
    kernels: KernelSet | None = None
    #: its position in the file's ``expect`` list
    index: int = 0


@dataclass(frozen=True)
class Xfail:
    """``xfail:`` as a mapping: strict about the kernels and the assertions that fail.

    ``fails`` names call ids (their ``- call:`` assertions), step ids (their ``expect:``)
    or ``fault``; every one of them must fail and nothing else may."""

    reason: str
    fails: tuple[str, ...]
    kernels: KernelSet | None = None
    mark: Mark = NO_MARK


def assertion_name(exp: Expectation) -> str | None:
    """The name ``xfail.fails`` knows an assertion by (a call assertion's call id)."""
    return exp.call if isinstance(exp, ExpectCall) else None


@dataclass(frozen=True)
class Scenario:
    name: str
    path: str
    functions: tuple[Function, ...]
    ops: tuple[FtraceOps, ...]
    timeline: tuple[Step, ...]
    expect: tuple[Expectation, ...] = ()
    kernel: Kernel = field(default_factory=Kernel)
    description: str = ""
    xfail: str | None = None
    source_sha256: str = ""
    #: the strict form of ``xfail`` (a mapping); None for a plain reason or none
    xfail_strict: Xfail | None = None
    #: the ``sometimes:`` / ``never:`` assertions (docs/explore.md)
    quantified: tuple[Quantified, ...] = ()

    @property
    def explores(self) -> bool:
        """Whether a call has several placements (``at: any``, a list, ``cpu: any``,
        ``stop: any``)."""
        return any(d.explored for s in self.timeline for d in s.during) or any(
            isinstance(s.action, Call) and s.action.stop is not None and s.action.stop.explored
            for s in self.timeline
        )

    #: the ``livepatches:`` section (their ``klp_ops`` are at the end of ``ops``)
    livepatches: tuple[Livepatch, ...] = ()

    @property
    def era_aware(self) -> bool:
        """Whether the file says how several kernels behave (any ``kernels:`` key): then
        ``--kernel all`` runs it on every era, otherwise only on its own kernel."""
        return (
            any(e.kernels is not None for e in self.expect)
            or any(s.expect_eras for s in self.timeline)
            or any(q.kernels is not None for q in self.quantified)
            or (self.xfail_strict is not None and self.xfail_strict.kernels is not None)
        )

    @property
    def in_flight(self) -> bool:
        """Whether a call stops or is resumed: what it meets is known only by running it."""
        return any(
            isinstance(s.action, Resume)
            or (isinstance(s.action, Call) and s.action.stop is not None)
            or any(d.resume is not None or (d.call and d.call.stop) for d in s.during)
            for s in self.timeline
        )

    def xfail_on(self, release: Release) -> bool:
        """Whether the scenario is expected to fail on ``release``."""
        if self.xfail is None:
            return False
        strict = self.xfail_strict
        return strict is None or strict.kernels is None or release in strict.kernels

    def function(self, name: str) -> Function:
        return next(f for f in self.functions if f.name == name)

    def ops_named(self, name: str) -> FtraceOps:
        return next(o for o in self.ops if o.name == name)


#: Symbols of the fixed runtime image; a scenario function may not take these names.
RESERVED_SYMBOLS: frozenset[str] = frozenset(
    {
        "__fentry__",
        "ftrace_caller",
        "ftrace_call",
        "ftrace_regs_caller",
        "ftrace_regs_call",
        "ftrace_graph_call",
        "ftrace_stub",
        "ftrace_ops_list_func",
        "ftrace_ops_assist_func",
        "ftrace_lookup_ip",
        # the int3 entry code (ftscen/image/entry.py): its functions and labels
        "int3",
        "int3_no_fixup",
        "int3_restore",
        "int3_iret",
        "do_int3",
        "do_int3_jmp",
    }
)


def is_reserved(name: str) -> bool:
    """True for names the runtime image uses itself (including the ``caller_cpuN`` stubs)."""
    return name in RESERVED_SYMBOLS or re.fullmatch(r"caller_cpu[0-9]+", name) is not None


#: Documented limits on one scenario (docs/format.md, "Limits"); beyond them validation fails.
LIMITS: dict[str, int] = {
    "file_bytes": 8 << 20,
    "functions": 5_000,
    "ops": 256,
    "steps": 10_000,
    "calls": 100_000,
    "during_per_step": 32,
    "calls_per_function": 16,
    "calls_per_handler": 8,
    "globs_per_list": 64,
    "cpus": 8,
    "expect": 500,
    "livepatches": 64,
    "funcs_per_patch": 64,
    "klp_funcs": 4096,
}
