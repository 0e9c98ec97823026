"""What the livepatch transition sees of a task that holds a stopped call.

``klp_check_stack()`` (kernel/livepatch/transition.c) takes a task's stack from
``stack_trace_save_tsk_reliable()`` and ``klp_check_stack_func()`` looks for each address in
the range of the code the transition changes; ``klp_check_and_switch_task()`` checks no stack
of a task that runs on another CPU (``task_curr(task) && task != current``: -EBUSY, "is
running"). For the current task of a CPU with a stopped call (:mod:`ftscen.emu.inflight`),
the model answers (docs/model.md, "Live patches", "Stopped calls"):

* **running**: the kernel is not preemptible (``kernel.preempt: false``), or the call stopped
  where preemption is disabled, its PC or a return address on its stack (a callback the list
  function called) lying in ``__ftrace_ops_list_func()`` / ``ftrace_ops_assist_func()``,
  ``klp_ftrace_handler()`` or the int3 handler (the one definition of
  :data:`ftscen.emu.inflight.NO_PREEMPT`, :meth:`~ftscen.emu.inflight.InFlight.preempted`,
  which the ``cpus`` wait uses too). The task still owns its CPU, so no stack is walked.
  Calls run on CPUs 1 and up; CPU 0's task is ``current``, running the transition.
* **preempted**: otherwise. Its stack is the stopped PC (the ``ip`` of the interrupt frame
  that preempted it, which the ORC unwinder reports for a task preempted in the kernel,
  arch/x86/kernel/stacktrace.c ``arch_stack_walk_reliable()``) followed by every word from
  its stack pointer to the top of its CPU's stack that is an address of code in the image.
  The emulated functions keep no frame pointers and store on the stack, besides data, only
  return addresses and copies of them (the ``pt_regs`` ip and the handler's ``ip`` /
  ``parent_ip``, which name the function of the frame they come from, and the ip a handler
  redirects to, which ``ftrace_regs_caller`` then writes over the return address): the code
  words are the frames an unwinder that knows each frame's size (ORC) reports.
"""

from __future__ import annotations

from dataclasses import dataclass

from ftscen.core.profile import KernelProfile
from ftscen.emu.inflight import CODE_KINDS, InFlight
from ftscen.image.build import Image


@dataclass(frozen=True)
class TaskStack:
    """A task with a stopped call: ``running`` on its CPU, or preempted with this stack
    (``addrs``: the stopped PC first, then the return addresses, innermost first)."""

    call: str
    running: bool
    addrs: tuple[int, ...]


class StackWalker:
    """The stacks of the tasks that hold stopped calls, for ``klp_check_stack()``."""

    def __init__(self, image: Image, profile: KernelProfile, inflight: InFlight) -> None:
        self.profile, self.inflight = profile, inflight
        sym = image.symbols
        # the addresses a reliable stack trace can hold: inside sized code symbols
        code = [s for s in sym.symbols() if s.kind in CODE_KINDS and s.size]
        self._code = [(s.addr, s.addr + s.size) for s in code]

    def task_stack(self, cpu: int) -> TaskStack | None:
        """The stack of CPU ``cpu``'s task if it holds a stopped call, else None."""
        stopped = self.inflight.on_cpu(cpu)
        if stopped is None:
            return None
        held = stopped.held
        words = self.inflight.stack_words(held)
        if not self.inflight.preempted(held):
            return TaskStack(stopped.info.id, True, ())
        addrs = (held.pc, *(w for w in words[1:] if _inside(w, self._code)))
        return TaskStack(stopped.info.id, False, addrs)


def _inside(addr: int, ranges: list[tuple[int, int]]) -> bool:
    return any(lo <= addr < hi for lo, hi in ranges)
