"""Kernel eras: what a ``kernel.version`` (or ``--kernel``) means for the model.

The eras, their kernel sources and the model's departures are described in docs/model.md
("Kernel eras"); the defaults users see are in docs/format.md:

=========  ====================================  ======================  ==========
versions   int3 hit on a site being modified     ftrace_regs_caller      patching
=========  ====================================  ======================  ==========
3.5-5.1    skip (ftrace_int3_handler, ip += 4)    short pt_regs           ftrace's own
5.2        skip; emulate-call with per-ops        short pt_regs           ftrace's own
           trampolines (x86_64 logic, 9e298e860460)
5.3, 5.4   emulate-call (i386 int3_emulate_push)  full pt_regs (3c88c6)   ftrace's own
>= 5.5     emulate-new (poke_int3_handler)        full pt_regs            text_poke_bp
=========  ====================================  ======================  ==========

Kernels before 3.5 patched under stop_machine (no breakpoint window) and are refused by
validation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ftscen.core.model import Kernel

# At most 2 digits for major and minor, 3 for the patch level (4.19.325), as kernels go:
# a version is echoed in messages, and 20 digits are no kernel.
_VERSION = re.compile(r"([0-9]{1,2})\.([0-9]{1,2})(?:\.([0-9]{1,3}))?(?:-rc[0-9]{1,2})?\Z")

#: Kernels before 3.5 patched under stop_machine: no breakpoint window to model.
OLDEST_RELEASE = (3, 5)


def parse_version(text: str) -> tuple[int, int] | None:
    """``"5.3"``, ``"4.19.12"``, ``"6.6-rc1"`` -> (major, minor); None when not a version."""
    m = _VERSION.match(text)
    if not m:
        return None
    return int(m.group(1)), int(m.group(2))


@dataclass(frozen=True)
class KernelProfile:
    """Everything the image, the machine and the patcher switch on."""

    version: str
    release: tuple[int, int]
    int3: str
    frame: str
    dynamic_trampolines: bool
    cpus: int
    #: CONFIG_PREEMPT(ION) (``kernel.preempt``): see :mod:`ftscen.emu.inflight`
    preempt: bool = False

    @property
    def text_poke(self) -> bool:
        """E3 (>= 5.5): ftrace patches through text_poke_bp (768ae4406a5c)."""
        return self.release >= (5, 5)

    @property
    def has_permanent(self) -> bool:
        """FTRACE_OPS_FL_PERMANENT exists from 5.5 ("ftrace: Introduce PERMANENT ftrace_ops
        flag", Miroslav Benes, trace-v5.5 pull); before it the flag means nothing."""
        return self.release >= (5, 5)

    @property
    def recursion_transition(self) -> bool:
        """One extra nested call tolerated by the recursion guard (TRACE_TRANSITION_BIT,
        "ftrace: Handle tracing when switching between context", Oct 2020, v5.10 cycle)."""
        return self.release >= (5, 10)

    @property
    def recursion_safe_era(self) -> bool:
        """Before 5.11 the recursion flag had the opposite sense: ``FTRACE_OPS_FL_RECURSION_SAFE``
        said a callback protects itself, and ``ftrace_ops_get_func()`` sent every ops without
        it through ``ftrace_ops_assist_func``; a25d036d939a "ftrace: Reverse what the
        RECURSION flag means" (v5.11) made direct calls the default and RECURSION the opt-in."""
        return self.release < (5, 11)

    @property
    def frees_rolled_back_trampoline(self) -> bool:
        """From 5.9 a registration rolled back in ``ftrace_startup()`` frees the DYNAMIC ops'
        trampoline (d5e47505e026 "ftrace: Free the trampoline when ftrace_startup() fails")."""
        return self.release >= (5, 9)

    @property
    def skips_same_func(self) -> bool:
        """From 6.2 ``update_ftrace_func()`` returns early when the callee is the one it last
        wrote ("ftrace: Avoid needless updates of the ftrace function call", Nov 2022)."""
        return self.release >= (6, 2)

    @property
    def rude_wait(self) -> str:
        """The wait of ``ftrace_shutdown()`` for every CPU to schedule before a DYNAMIC ops is
        freed: ``schedule_on_each_cpu(ftrace_sync)``, replaced by ``synchronize_rcu_tasks_rude()`` in
        e5a971d76d70 "ftrace: Use synchronize_rcu_tasks_rude() instead of ftrace_sync()"
        (5.8). Before 3.13, ``__unregister_ftrace_function()`` called ``synchronize_sched()``
        for a DYNAMIC ops (a4c35ed24112 "ftrace: Fix synchronization location disabling and
        freeing ftrace_ops" brought in ``ftrace_sync``). All wait until every CPU has passed
        a point where it could schedule (a preempt-disabled region holds up
        ``synchronize_sched()`` as well); the model tells them apart by name."""
        if self.release >= (5, 8):
            return "synchronize_rcu_tasks_rude()"
        if self.release < (3, 13):
            return "synchronize_sched()"
        return "schedule_on_each_cpu(ftrace_sync)"

    @property
    def waits_for_preempted_tasks(self) -> bool:
        """``synchronize_rcu_tasks()`` in ``ftrace_shutdown()`` on a preemptible kernel
        ("ftrace: Add use of synchronize_rcu_tasks() with dynamic trampolines", 4.12): a task
        preempted on a trampoline is waited for. Before it, such kernels gave DYNAMIC ops no
        trampoline at all (:attr:`dynamic_ops_trampolines`)."""
        return self.preempt and self.release >= (4, 12)

    @property
    def dynamic_ops_trampolines(self) -> bool:
        """Whether a DYNAMIC ops gets a per-ops trampoline: before 4.12 a preemptible kernel
        gave it none (``ftrace_update_trampoline()``'s ``#ifdef CONFIG_PREEMPT`` block:
        nothing knew when a preempted task had left a trampoline, so none could be freed)."""
        return not self.preempt or self.release >= (4, 12)

    @property
    def waits_without_update(self) -> bool:
        """From 6.1 ``ftrace_shutdown()`` waits before freeing a DYNAMIC ops even when it ran
        no code update (no command, or ``ftrace_enabled == 0``): 0e792b89e680 "ftrace: Fix
        use-after-free for dynamic ftrace_ops" (v6.1-rc4) sent that path to the waits
        instead of straight to ``ftrace_trampoline_free()``."""
        return self.release >= (6, 1)

    def runtime_key(self) -> tuple[str, bool]:
        """What the shared runtime code depends on (for caching its assembly)."""
        return self.frame, self.recursion_transition


#: Flags that exist only in some kernels: the flag -> (first release, last release + 1, why).
FLAG_ERAS: dict[str, tuple[tuple[int, int], tuple[int, int], str]] = {
    "RECURSION": (
        (5, 11),
        (100, 0),
        (
            "RECURSION exists from 5.11 (a25d036d939a); before, every ops without "
            "RECURSION_SAFE is called through ftrace_ops_assist_func: drop the flag, or pin "
            "kernel.version (or limit --kernel) to 5.11 or later"
        ),
    ),
    "RECURSION_SAFE": (
        (3, 5),
        (5, 11),
        (
            "RECURSION_SAFE was replaced by the opposite RECURSION in 5.11 (a25d036d939a): "
            "from 5.11 drop it (direct calls are the default), or pin an older kernel.version"
        ),
    ),
}


def flag_problem(flag: str, release: tuple[int, int]) -> str | None:
    """Why ``flag`` does not exist in ``release`` (a hint), or None when it does."""
    era = FLAG_ERAS.get(flag)
    if era is None or era[0] <= release < era[1]:
        return None
    return era[2]


def era_int3(release: tuple[int, int], dynamic_trampolines: bool) -> str:
    """The era default for how an int3 on a site being modified is handled."""
    if release >= (5, 5):
        return "emulate-new"
    if release >= (5, 3):
        return "emulate-call"
    if release == (5, 2) and dynamic_trampolines:
        return "emulate-call"
    return "skip"


def profile_for(kernel: Kernel, version: str | None = None) -> KernelProfile:
    """Resolve the scenario's ``kernel:`` block (optionally with a ``--kernel`` override)."""
    text = version if version is not None else kernel.version
    release = parse_version(text)
    if release is None:
        raise ValueError(f"not a kernel version: {text!r}")
    int3 = kernel.int3 if kernel.int3 is not None else era_int3(release, kernel.dynamic_trampolines)
    return KernelProfile(
        version=text,
        release=release,
        int3=int3,
        frame="full" if release >= (5, 3) else "short",
        dynamic_trampolines=kernel.dynamic_trampolines,
        cpus=kernel.cpus,
        preempt=kernel.preempt,
    )
