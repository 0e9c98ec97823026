"""The memory map of the emulated i386 image and the layouts shared by code and host.

Every number the assembly, the machine and the event decoder must agree on lives here.
Each region is sized for the largest scenario the documented limits allow
(:data:`ftscen.core.model.LIMITS`; :func:`check_layout` proves they fit without overlapping),
so the limits come from budgets, not from regions running into each other. Unicorn backs
mapped memory lazily: a region costs only the pages a scenario touches.
"""

from __future__ import annotations

import itertools

PAGE = 0x1000

# ---- memory map ---------------------------------------------------------------------------
GDT_BASE = 0x0000_1000
RUNTIME_BASE = 0x0010_0000  # ftrace_caller, ftrace_regs_caller, list function, ...
RUNTIME_SIZE = 0x0001_0000
TEXT_BASE = 0x0011_0000  # scenario functions, handlers, caller stubs
TEXT_SIZE = 0x000F_0000
TRAMP_BASE = 0x0020_0000  # per-ops trampolines (module_alloc'ed on x86_64)
TRAMP_SLOT = 0x100
TRAMP_SIZE = 0x0001_0000
DATA_BASE = 0x0030_0000
DATA_SIZE = 0x0004_0000
RING_BASE = 0x0040_0000  # the event ring; an unmapped page follows it
RING_SIZE = 0x0010_0000  # drained by the host after every call: a budget per call
STACK_BASE = 0x0080_0000
STACK_SIZE = 0x0001_0000  # per CPU; an unmapped guard page lies below each stack
STACK_STRIDE = 0x0002_0000
MAX_CPUS = 8  # LIMITS["cpus"]: stacks are mapped for this many
HASHES = 0x0100_0000  # per ops: filter then notrace, each HASH_SLOT bytes
HASH_SLOT = 0x5000  # a count and up to 5,119 addresses: every traceable function
MAX_OPS = 256  # LIMITS["ops"]: ops structs, hash slots and trampoline slots
HASHES_SIZE = MAX_OPS * 2 * HASH_SLOT

# ---- GDT (arch/x86/include/asm/segment.h, i386) ---------------------------------------------
KERNEL_CS = 0x60  # GDT_ENTRY_KERNEL_CS 12
KERNEL_DS = 0x68  # GDT_ENTRY_KERNEL_DS 13

# ---- data area ------------------------------------------------------------------------------
RING_PTR = DATA_BASE + 0x00  # next free event slot
FTRACE_OPS_LIST = DATA_BASE + 0x04  # head of ftrace_ops_list
FUNCTION_TRACE_OP = DATA_BASE + 0x08  # what ftrace_caller passes as op
CURRENT_TASK = DATA_BASE + 0x0C  # 'current' of the running CPU
FTRACE_LIST_END = DATA_BASE + 0x40  # struct ftrace_ops ftrace_list_end
TASKS = DATA_BASE + 0x100  # one task struct per CPU
TASK_SIZE = 0x20
TASK_TRACE_RECURSION = 0x00
TASK_PATCH_STATE = 0x04  # task->patch_state (KLP_UNDEFINED, KLP_UNPATCHED, KLP_PATCHED)
OPS_STRUCTS = DATA_BASE + 0x1000
OPS_SIZE = 0x40

# struct ftrace_ops (the fields the list function reads)
OPS_NEXT = 0x00
OPS_FUNC = 0x04
OPS_FLAGS = 0x08
OPS_FILTER = 0x0C
OPS_NOTRACE = 0x10
OPS_INDEX = 0x14
OPS_KLP_STACK = 0x20  # a klp_ops' func_stack: the first klp_func, 0 when empty

# struct klp_func (the fields klp_ftrace_handler reads), one per patch and function
KLP_FUNCS = DATA_BASE + 0x10000
KLP_FUNC_SIZE = 0x10
MAX_KLP_FUNCS = 0x1000  # LIMITS["klp_funcs"]: every patch's funcs, nops included
KLP_NEXT = 0x00  # stack_node.next: the next-older klp_func, 0 at the end of the stack
KLP_NEW_FUNC = 0x04
KLP_NOP = 0x08
KLP_TRANSITION = 0x0C

# include/linux/livepatch.h
KLP_UNDEFINED = -1
KLP_UNPATCHED = 0
KLP_PATCHED = 1

# FTRACE_OPS_FL_* bit numbers (include/linux/ftrace.h, v5.10 numbering)
OPS_FL_BITS: dict[str, int] = {
    "ENABLED": 0,
    "DYNAMIC": 1,
    "SAVE_REGS": 2,
    "SAVE_REGS_IF_SUPPORTED": 3,
    "RECURSION": 4,
    "STUB": 5,
    "INITIALIZED": 6,
    "DELETED": 7,
    "ADDING": 8,
    "REMOVING": 9,
    "MODIFYING": 10,
    "ALLOC_TRAMP": 11,
    "IPMODIFY": 12,
    "PERMANENT": 16,
}

# trace_recursion bits (kernel/trace/trace.h / include/linux/trace_recursion.h, normal context)
TRACE_LIST_BIT = 3  # TRACE_LIST_START + normal context
TRACE_FTRACE_BIT = 7  # TRACE_FTRACE_START + normal context
TRACE_TRANSITION_BIT = 11

# i386 pt_regs offsets (arch/x86/include/asm/ptrace.h)
PT_REGS = (
    "bx",
    "cx",
    "dx",
    "si",
    "di",
    "bp",
    "ax",
    "ds",
    "es",
    "fs",
    "gs",
    "orig_ax",
    "ip",
    "cs",
    "flags",
    "sp",
    "ss",
)
PT_IP = 48
PT_SP = 60

# ---- the event ring -------------------------------------------------------------------------
EVENT_SIZE = 32  # 8 dwords: kind, then up to 7 arguments
RING_CAPACITY = RING_SIZE // EVENT_SIZE  # events one call may write

EV_RAN = 1  # body ran: func index
EV_CALLBACK = 2  # handler ran: ops index, ip, parent_ip, regs pointer
EV_CALL = 3  # host: a call starts: cpu, call index, function index
EV_RETURN = 4  # host: the call returned: cpu, call index
EV_INT3 = 5  # host: int3 handled: ip, action, target, regs, regs->ip, regs->sp, pushed
EV_STEP = 6  # host: step starts: step index
EV_POINT = 7  # host: a named point: string index
EV_PATCH = 8  # host: a site changes: ip, string index (old -> new)
EV_RESULT = 9  # host: a patcher step returned: errno (0 or positive)
EV_FAULT = 10  # host: emulation fault: cpu, call index, pc, string index
EV_WARN = 11  # host: a kernel WARN about a record: ip, flags word, string index (where)
EV_KLP = 12  # host: a livepatch core message: string index

INT3_JMP = 1
INT3_CALL = 2

NOP5 = bytes.fromhex("3e8d742600")  # leal %ds:0x0(%esi,%eiz,1),%esi: the i386 ideal nop
CALL_OP = 0xE8
JMP_OP = 0xE9
INT3 = 0xCC
UD2 = b"\x0f\x0b"


def cpu_stack_top(cpu: int) -> int:
    return STACK_BASE + cpu * STACK_STRIDE + STACK_SIZE


def cpu_stack_bottom(cpu: int) -> int:
    return STACK_BASE + cpu * STACK_STRIDE


def ops_struct(index: int) -> int:
    return OPS_STRUCTS + index * OPS_SIZE


def klp_func_struct(index: int) -> int:
    return KLP_FUNCS + index * KLP_FUNC_SIZE


def task_struct(cpu: int) -> int:
    return TASKS + cpu * TASK_SIZE


def call_insn(site: int, target: int) -> bytes:
    """``E8 rel32`` with rel32 = target - (site + 5) (ftrace_call_replace / text_gen_insn)."""
    return bytes([CALL_OP]) + ((target - (site + 5)) & 0xFFFFFFFF).to_bytes(4, "little")


def check_layout(functions: int, ops: int, cpus: int) -> None:
    """Raise AssertionError unless the largest scenario of these counts fits the map."""
    regions = sorted(
        [
            (GDT_BASE, PAGE),
            (RUNTIME_BASE, RUNTIME_SIZE),
            (TEXT_BASE, TEXT_SIZE),
            (TRAMP_BASE, TRAMP_SIZE),
            (DATA_BASE, DATA_SIZE),
            (RING_BASE, RING_SIZE + PAGE),  # the guard page after the ring
            (STACK_BASE, cpus * STACK_STRIDE),
            (HASHES, HASHES_SIZE),
        ]
    )
    for (a, size), (b, _) in itertools.pairwise(regions):
        assert a + size <= b, f"region at {a:#x} runs into {b:#x}"
    assert cpus <= MAX_CPUS and ops <= MAX_OPS
    assert ops_struct(ops) <= KLP_FUNCS, "ops structs run into the klp_funcs"
    assert klp_func_struct(MAX_KLP_FUNCS) <= DATA_BASE + DATA_SIZE, "klp_funcs overflow"
    assert ops * TRAMP_SLOT <= TRAMP_SIZE, "trampolines overflow their region"
    assert (functions + 1) * 4 <= HASH_SLOT, "a hash of every function overflows its slot"
