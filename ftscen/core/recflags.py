"""``dyn_ftrace.flags``: the per-record reference count and flag bits, era by era.

Each traceable function has one ``struct dyn_ftrace`` whose ``flags`` word holds a reference
count in its low bits and the record's flags in its high bits (include/linux/ftrace.h,
``enum { FTRACE_FL_* }``, ``FTRACE_REF_MAX_SHIFT``). The bit numbers are those of the 5.x and
6.x headers; flags join the enum in later eras and take the bits below the older ones:

==========  ====  ======  ===============================================================
flag        bit   from    source
==========  ====  ======  ===============================================================
ENABLED     31            the site calls into ftrace
REGS        30            an ops on the record wants regs (``FTRACE_OPS_FL_SAVE_REGS``)
REGS_EN     29            the site calls ``ftrace_regs_caller``
TRAMP       28            one ops with its own trampoline is on the record
TRAMP_EN    27            the site calls that trampoline
IPMODIFY    26            an IPMODIFY ops owns the record
DISABLED    25    4.9     the record may not be touched yet (module text being loaded)
DIRECT      24    5.5     a direct trampoline is attached
DIRECT_EN   23    5.5     the site calls it
CALL_OPS    22    6.3     (arm64 ``DYNAMIC_FTRACE_WITH_CALL_OPS``; never set on x86)
CALL_OPS_EN 21    6.3
TOUCHED     20    6.4     a callback was attached since boot (e11b521a7b69)
MODIFIED    19    6.4     an IPMODIFY or direct user was attached since boot (6ce2c04fcbca)
==========  ====  ======  ===============================================================

The model never sets DISABLED, DIRECT* or CALL_OPS* (it has no modules being loaded, no direct
calls, no arm64); they are listed so an assertion may name them and a decoded word is complete.
Kernels before 3.17 numbered ENABLED/REGS/REGS_EN differently (bits 29..31 in another order);
the model prints every era's words in the 3.17+ layout, a departure docs/model.md records.
"""

from __future__ import annotations

#: Flag name -> (bit, first release that has it).
FLAG_BITS: dict[str, tuple[int, tuple[int, int]]] = {
    "ENABLED": (31, (0, 0)),
    "REGS": (30, (0, 0)),
    "REGS_EN": (29, (0, 0)),
    "TRAMP": (28, (0, 0)),
    "TRAMP_EN": (27, (0, 0)),
    "IPMODIFY": (26, (0, 0)),
    "DISABLED": (25, (4, 9)),
    "DIRECT": (24, (5, 5)),
    "DIRECT_EN": (23, (5, 5)),
    "CALL_OPS": (22, (6, 3)),
    "CALL_OPS_EN": (21, (6, 3)),
    "TOUCHED": (20, (6, 4)),
    "MODIFIED": (19, (6, 4)),
}

#: Every flag name, in bit order (the order a decoded word lists them).
RECORD_FLAGS: tuple[str, ...] = tuple(FLAG_BITS)

#: The reference count's mask (``FTRACE_REF_MAX``): every bit below the lowest flag of 6.4+.
REF_MASK = (1 << 19) - 1


def bit(name: str) -> int:
    return 1 << FLAG_BITS[name][0]


def has_flag(release: tuple[int, int], name: str) -> bool:
    """Whether the era's ``enum FTRACE_FL_*`` has the flag."""
    return release >= FLAG_BITS[name][1]


def noclear_mask(release: tuple[int, int]) -> int:
    """The flags a record keeps when its last user goes and that the shutdown sanity check
    ignores: ``FTRACE_FL_DISABLED`` until 6.3, ``FTRACE_NOCLEAR_FLAGS`` (DISABLED | TOUCHED,
    then | MODIFIED) from 6.4 (e11b521a7b69, 6ce2c04fcbca)."""
    names = ("DISABLED", "TOUCHED", "MODIFIED")
    return sum(bit(n) for n in names if has_flag(release, n))


def count(flags: int) -> int:
    """``ftrace_rec_count()``."""
    return flags & REF_MASK


def names(flags: int) -> tuple[str, ...]:
    """The flags set in a record's word, high bit first."""
    return tuple(n for n in RECORD_FLAGS if flags & bit(n))


def decode(flags: int) -> str:
    """``0x40000000 (REGS)``: the word as the kernel's ``pr_warn("%lx")`` shows it, then the
    flags by name and, when non-zero, the reference count."""
    parts = list(names(flags))
    if count(flags):
        parts.append(f"count {count(flags)}")
    return f"{flags:#x} ({' '.join(parts) or 'none'})"
