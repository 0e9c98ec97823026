"""The run-time records of the modelled livepatch core (:mod:`ftscen.emu.livepatch`): a
``struct klp_func``, a ``struct klp_patch``, a task's transition state, and the ``klp_func``
slots of the image (kernel/livepatch/core.c, transition.c)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ftscen.core.model import Livepatch, Scenario
from ftscen.image import layout as L

PATCHED, UNPATCHED, UNDEFINED = L.KLP_PATCHED, L.KLP_UNPATCHED, L.KLP_UNDEFINED


@dataclass
class Func:
    """A ``struct klp_func`` at run time; ``new`` None is a nop."""

    patch: str
    old: str
    new: str | None
    slot: int
    patched: bool = False
    transition: bool = False

    @property
    def nop(self) -> bool:
        return self.new is None


@dataclass
class Patch:
    """A ``struct klp_patch`` at run time."""

    defn: Livepatch
    funcs: list[Func] = field(default_factory=list)
    enabled: bool = False

    @property
    def name(self) -> str:
        return self.defn.name


@dataclass
class Task:
    """A task: its ``patch_state``, ``TIF_PATCH_PENDING`` and what its stack holds."""

    cpu: int
    state: int = UNDEFINED
    pending: bool = False
    stack: tuple[str, ...] = ()

    @property
    def comm(self) -> str:
        return f"cpu{self.cpu}"


def slots(sc: Scenario) -> dict[tuple[str, str], int]:
    """A ``klp_func`` slot for every (patch, function) a run can need: each patch's own
    funcs, and for a replace patch a nop for every function another patch patches."""
    olds = list(dict.fromkeys(f.old for p in sc.livepatches for f in p.funcs))
    out: dict[tuple[str, str], int] = {}
    for patch in sc.livepatches:
        for old in [f.old for f in patch.funcs] + (olds if patch.replace else []):
            out.setdefault((patch.name, old), len(out))
    return out
