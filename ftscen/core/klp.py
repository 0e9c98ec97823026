"""Live patches as the kernel builds them (kernel/livepatch/): the ``livepatches:`` section
and the timeline actions that drive it.

A ``Livepatch`` (:mod:`ftscen.core.model`) is one ``struct klp_patch`` with one object (vmlinux): its functions
(``KlpFunc``, ``struct klp_func``, old -> new or a ``nop``) and whether it is an atomic
replace patch (``patch->replace``). The modelled kernel keeps one ``struct klp_ops`` per
patched function (kernel/livepatch/patch.c ``klp_patch_func``), whose ``ftrace_ops`` is the
scenario ops named :func:`klp_ops_name` of that function.
"""

from __future__ import annotations

from dataclasses import dataclass

#: ``klp_ops.fops.flags`` (kernel/livepatch/patch.c ``klp_patch_func``): PERMANENT from 5.5
#: (7162431dcf72 "ftrace: Introduce PERMANENT ftrace_ops flag"); the patcher drops it before.
KLP_OPS_FLAGS: frozenset[str] = frozenset({"SAVE_REGS", "DYNAMIC", "IPMODIFY", "PERMANENT"})

#: What a ``transition:`` step does.
TRANSITION_ACTIONS: tuple[str, ...] = ("complete", "force")


def klp_ops_name(func: str) -> str:
    """The name of the ftrace ops of the ``klp_ops`` that patches ``func``."""
    return f"klp_ops_{func}"


# ---- timeline actions -----------------------------------------------------------------------


@dataclass(frozen=True)
class Enable:
    """Load the patch module (``klp_enable_patch``), or, while the patch is being disabled,
    write 1 to its ``enabled`` attribute (``klp_reverse_transition``)."""

    patch: str


@dataclass(frozen=True)
class Disable:
    """Write 0 to ``/sys/kernel/livepatch/PATCH/enabled`` (``__klp_disable_patch``, or
    ``klp_reverse_transition`` while the patch is being enabled)."""

    patch: str


@dataclass(frozen=True)
class Transition:
    """``complete``: the delayed work ``klp_transition_work_fn`` runs
    ``klp_try_complete_transition`` again; ``force``: write 1 to the patch's ``force``
    attribute (``klp_force_transition``), then the work runs."""

    what: str


@dataclass(frozen=True)
class Busy:
    """The task of ``cpu`` sleeps inside ``funcs`` (its stack holds them; empty: none), as a
    reliable stack trace would show them to ``klp_check_stack``."""

    cpu: int
    funcs: tuple[str, ...]


KlpAction = Enable | Disable | Transition
