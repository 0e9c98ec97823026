"""The modelled livepatch core (kernel/livepatch/core.c, patch.c, transition.c).

It runs on the host as CPU 0, beside the ftrace core (:class:`~ftscen.emu.patcher.Patcher`),
and mirrors into emulated memory what ``klp_ftrace_handler`` reads: each ``klp_ops``'
``func_stack`` (in its ftrace ops struct), each ``klp_func``'s ``new_func``, ``nop`` and
``transition``, and each task's ``patch_state``. Every ftrace ops it registers goes through
the patcher's ``register_ftrace_function``, so the breakpoint protocol, the points and the
int3 windows are those of any other ops.

Model choices (docs/model.md, "Live patches"):

* One object (vmlinux) per patch; the patch's module name is the patch's name.
* The tasks are the current tasks of the scenario's CPUs, named ``cpuN``; CPU 0's runs the
  patcher (it is ``current`` in ``klp_try_complete_transition``), the others sleep between
  calls. A task switches only in ``klp_try_complete_transition`` (when a step enables or
  disables a patch, or the transition work runs: ``transition: complete``), never at kernel
  exit or in the idle loop; its stack holds what a ``busy`` step put on it and, when its CPU
  holds a stopped call, that call's stack (:mod:`ftscen.emu.klpstack`); such a task may also
  be running on its CPU, and then is not checked at all.
* The patch list (``klp_patches``) keeps the patches enabled or in transition, in the order
  they were enabled. Before 5.1 a patch could be disabled only when no patch enabled after
  it still was (the stacking rule of ``__klp_disable_patch`` before 5.1), and there was no
  atomic replace (validation refuses ``replace`` there).
"""

from __future__ import annotations

from collections.abc import Callable

from ftscen.core.errno import EBUSY, EINVAL
from ftscen.core.errors import InternalError
from ftscen.core.klp import Busy, Disable, Enable, KlpAction, Transition, klp_ops_name
from ftscen.core.model import Livepatch, Scenario
from ftscen.emu.klpstack import StackWalker, TaskStack
from ftscen.emu.klpstate import PATCHED, UNDEFINED, UNPATCHED, Func, Patch, Task, slots
from ftscen.emu.patcher import Patcher
from ftscen.image import layout as L

_STATE = {PATCHED: "patched", UNPATCHED: "unpatched"}
#: The mark of a log line the model makes, where the kernel prints nothing (the rest are the
#: kernel's pr_notice / pr_debug messages, printed after ``livepatch:`` as the kernel does).
MODEL = "(model) "
#: The kernel function of the livepatch core's wait for every CPU (transition.c, from 4.12).
SYNCHRONIZE = "klp_synchronize_transition()"


class Livepatching:
    """The livepatch core; one instance per run (only for scenarios with live patches)."""

    def __init__(
        self,
        sc: Scenario,
        patcher: Patcher,
        log: Callable[[str], None],
        wait: Callable[[str, str], None] = lambda kind, name: None,
    ) -> None:
        self.patcher, self.m, self.log = patcher, patcher.m, log
        #: the kernel waits for every CPU to schedule (the runner's wait, as for ftrace's)
        self.wait = wait
        self.release = patcher.profile.release
        self.defs = {p.name: p for p in sc.livepatches}
        self.slots = slots(sc)
        self.stacks: dict[str, list[Func]] = {}  # old function -> func_stack, newest first
        self.klp_patches: list[Patch] = []  # enabled or in transition, oldest first
        self.transition_patch: Patch | None = None
        self.target = UNDEFINED
        self.tasks = [Task(cpu) for cpu in range(patcher.profile.cpus)]
        self.functions = patcher.image.functions
        self.symbols = patcher.image.symbols
        #: the stacks of tasks with a stopped call (set by the runner; None: no calls run)
        self.walker: StackWalker | None = None
        for task in self.tasks:
            self._write_state(task)

    # ---- memory mirrors ---------------------------------------------------------------------
    def _write_state(self, task: Task) -> None:
        self.m.write_u32(L.task_struct(task.cpu) + L.TASK_PATCH_STATE, task.state)

    def _write_func(self, func: Func) -> None:
        at = L.klp_func_struct(func.slot)
        new = self.functions[func.new or func.old]  # a nop's new_func is its old_func
        self.m.write_u32(at + L.KLP_NEW_FUNC, new)
        self.m.write_u32(at + L.KLP_NOP, int(func.nop))
        self.m.write_u32(at + L.KLP_TRANSITION, int(func.transition))

    def _write_stack(self, old: str) -> None:
        """``ops->func_stack`` after a ``list_add_rcu`` / ``list_del_rcu``."""
        stack = self.stacks.get(old, [])
        addrs = [L.klp_func_struct(f.slot) for f in stack]
        for here, nxt in zip(addrs, [*addrs[1:], 0], strict=False):
            self.m.write_u32(here + L.KLP_NEXT, nxt)
        ops = self.patcher.ops[klp_ops_name(old)]
        self.m.write_u32(ops.struct + L.OPS_KLP_STACK, addrs[0] if addrs else 0)

    def _set_transition(self, patch: Patch, value: bool) -> None:
        for func in patch.funcs:
            func.transition = value
            self._write_func(func)

    # ---- the steps --------------------------------------------------------------------------
    def run(self, action: KlpAction) -> int:
        """Carry out one livepatch step; returns 0 or a negative errno."""
        self.patcher.begin_step()
        if isinstance(action, Enable):
            return self.enable(action.patch)
        if isinstance(action, Disable):
            return self.disable(action.patch)
        if isinstance(action, Transition):
            return self.transition(action.what)
        raise InternalError(f"not a livepatch action: {action!r}")

    def busy(self, action: Busy) -> None:
        self.tasks[action.cpu].stack = action.funcs

    def _active(self, name: str) -> Patch | None:
        return next((p for p in self.klp_patches if p.name == name), None)

    def enable(self, name: str) -> int:
        """``klp_enable_patch`` (the module loads), or ``enabled_store(1)`` on a patch being
        disabled: ``klp_reverse_transition``."""
        tp = self.transition_patch
        if tp is not None and tp.name == name:
            if tp.enabled:
                return -EINVAL  # enabled_store: already in the requested state
            self.reverse_transition()
            return 0
        if self._active(name) is not None:
            return -EINVAL
        patch = self._init_patch(self.defs[name])
        ret = self._enable_patch(patch)
        if ret:
            self.klp_patches.remove(patch)  # klp_free_patch_start
        return ret

    def _init_patch(self, defn: Livepatch) -> Patch:
        """``klp_init_patch``: the patch's funcs, nops for a replace patch (``klp_add_nops``:
        every function an active patch patches that this one does not), then
        ``list_add_tail(&patch->list, &klp_patches)``. Only ``klp_add_nops`` makes nops in
        the kernel, so a ``nop`` the scenario writes counts only where it would make one."""
        patch = Patch(defn)
        active = {f.old for p in self.klp_patches for f in p.funcs}
        for entry in defn.funcs:
            if entry.new is None and entry.old not in active:
                continue  # a nop the kernel would not make: no active patch patches it
            slot = self.slots[(defn.name, entry.old)]
            patch.funcs.append(Func(defn.name, entry.old, entry.new, slot))
        if defn.replace:
            have = {f.old for f in defn.funcs}
            for old_patch in self.klp_patches:
                for f in old_patch.funcs:
                    if f.old not in have:
                        have.add(f.old)
                        patch.funcs.append(
                            Func(defn.name, f.old, None, self.slots[(defn.name, f.old)])
                        )
        self.klp_patches.append(patch)
        return patch

    def _enable_patch(self, patch: Patch) -> int:
        """``__klp_enable_patch``."""
        if self.transition_patch is not None:
            return -EBUSY
        self.log(f"enabling patch '{patch.name}'")
        self.init_transition(patch, PATCHED)
        for func in patch.funcs:
            ret = self.patch_func(func)
            if ret:
                for done in patch.funcs:  # klp_patch_object -> klp_unpatch_object
                    if done.patched:
                        self.unpatch_func(done)
                self.log("failed to patch object 'vmlinux'")
                self.log(f"failed to enable patch '{patch.name}'")
                self.cancel_transition()
                return ret
        self.start_transition()
        patch.enabled = True
        self.try_complete_transition()
        return 0

    def disable(self, name: str) -> int:
        """``enabled_store(0)``: reverse a patch's enabling transition, or
        ``__klp_disable_patch``."""
        patch = self._active(name)
        if patch is None or not patch.enabled:
            return -EINVAL
        if patch is self.transition_patch:
            self.reverse_transition()
            return 0
        if self.transition_patch is not None:
            return -EBUSY
        if self.release < (5, 1) and self.klp_patches[-1] is not patch:
            return -EBUSY  # before 5.1: only the last enabled patch can be disabled
        self.init_transition(patch, UNPATCHED)
        self.start_transition()
        patch.enabled = False
        self.try_complete_transition()
        return 0

    def transition(self, what: str) -> int:
        """``transition: complete``: ``klp_transition_work_fn``; ``force``: ``force_store``
        (-EINVAL with no transition), ``klp_force_transition``, then the work."""
        if what == "force":
            if self.transition_patch is None:
                return -EINVAL
            self.log("forcing remaining tasks to the patched state")
            for task in self.tasks:
                self.update_patch_state(task)
        if self.transition_patch is not None:
            self.try_complete_transition()
        return 0

    # ---- patch.c ----------------------------------------------------------------------------
    def patch_func(self, func: Func) -> int:
        """``klp_patch_func``: push ``func`` on its klp_ops' func_stack; on first use, set the
        fops filter to the one function and ``register_ftrace_function``."""
        stack = self.stacks.setdefault(func.old, [])
        stack.insert(0, func)
        self._write_func(func)
        self._write_stack(func.old)
        if len(stack) == 1:
            ops = self.patcher.ops[klp_ops_name(func.old)]
            ret = self.patcher.ftrace_startup(ops)
            if ret:
                self.log(f"failed to register ftrace handler for function '{func.old}' ({ret})")
                stack.remove(func)
                self._write_stack(func.old)
                return ret
        func.patched = True
        return 0

    def unpatch_func(self, func: Func) -> None:
        """``klp_unpatch_func``: the last func of a stack unregisters the fops first."""
        stack = self.stacks[func.old]
        if len(stack) == 1:
            self.patcher.ftrace_shutdown(self.patcher.ops[klp_ops_name(func.old)])
        stack.remove(func)
        self._write_stack(func.old)
        func.patched = False

    # ---- transition.c -----------------------------------------------------------------------
    def _state_word(self, state: int) -> str:
        return "patching" if state == PATCHED else "unpatching"

    def init_transition(self, patch: Patch, state: int) -> None:
        """``klp_init_transition``: every task to the initial state, then func->transition."""
        self.transition_patch, self.target = patch, state
        self.log(f"'{patch.name}': initializing {self._state_word(state)} transition")
        for task in self.tasks:
            task.state = UNPATCHED if state == PATCHED else PATCHED
            self._write_state(task)
        self._set_transition(patch, True)

    def start_transition(self) -> None:
        """``klp_start_transition``: TIF_PATCH_PENDING on every task not in the target."""
        patch = self._current()
        self.log(f"'{patch.name}': starting {self._state_word(self.target)} transition")
        for task in self.tasks:
            task.pending = task.state != self.target

    def _current(self) -> Patch:
        if self.transition_patch is None:
            raise InternalError("no livepatch transition in progress")
        return self.transition_patch

    def try_complete_transition(self) -> None:
        """``klp_try_complete_transition``: try to switch every task; complete when all did
        (otherwise the delayed work retries later: a ``transition:`` step)."""
        patch = self._current()
        stuck = [task for task in self.tasks if not self.try_switch_task(task)]
        if stuck:
            names = ", ".join(t.comm for t in stuck)
            self.log(f"{MODEL}'{patch.name}': transition not complete: {names} not switched")
            return
        self.complete_transition()
        if not patch.enabled:
            self.klp_patches.remove(patch)  # klp_free_patch_async

    def try_switch_task(self, task: Task) -> bool:
        """``klp_try_switch_task`` -> ``klp_check_and_switch_task``."""
        if task.state == self.target:
            return True
        walked = self.walker.task_stack(task.cpu) if self.walker is not None else None
        if walked is not None and walked.running:
            self.log(f"klp_try_switch_task: {task.comm} is running")
            return False
        found = self._on_stack(task, walked)
        if found is not None:
            self.log(f"klp_try_switch_task: {task.comm} is sleeping on function {found}")
            return False
        task.pending = False
        task.state = self.target
        self._write_state(task)
        self.log(f"{MODEL}{task.comm} switched to the {_STATE[self.target]} state")
        return True

    def _on_stack(self, task: Task, walked: TaskStack | None) -> str | None:
        """``klp_check_stack``: the old name of the first func (in the patch's order) whose
        to-be-patched code (the previous func's new function, or the original) or
        to-be-unpatched code (its own new function; a nop's is the original) lies on the
        task's stack, as ``klp_check_stack_func`` chooses it: a function a ``busy`` step put
        there, or an address of the stopped call's stack inside that function."""
        addrs = walked.addrs if walked is not None else ()
        for func in self._current().funcs:
            if not func.patched:
                continue
            code = self._checked_code(func)
            if code in task.stack:
                return func.old
            sym = self.symbols.get(code)
            if any(sym.addr <= a < sym.addr + sym.size for a in addrs):
                return func.old
        return None

    def _checked_code(self, func: Func) -> str:
        """The function ``klp_check_stack_func`` looks for: when unpatching, ``func->new_func``
        (a nop's is its old function); when patching, the original if ``func`` is alone on
        its ``func_stack`` (``list_is_singular``), else the next-older func's new function."""
        if self.target == UNPATCHED:
            return func.new or func.old
        stack = self.stacks[func.old]
        i = stack.index(func)
        prev = stack[i + 1] if i + 1 < len(stack) else None
        return func.old if prev is None else (prev.new or prev.old)

    def complete_transition(self) -> None:
        """``klp_complete_transition``, in the kernel's order of state changes: when
        unpatching, ``klp_synchronize_transition()`` after ``klp_unpatch_objects``; when
        patching, after clearing ``func->transition`` and before every task goes back to
        KLP_UNDEFINED (kernel/livepatch/transition.c, every era from 4.12)."""
        patch = self._current()
        word = self._state_word(self.target)
        self.log(f"'{patch.name}': completing {word} transition")
        if patch.defn.replace and self.target == PATCHED:
            for old_patch in [p for p in self.klp_patches if p is not patch]:
                old_patch.enabled = False  # klp_unpatch_replaced_patches
                for func in old_patch.funcs:
                    if func.patched:
                        self.unpatch_func(func)
                self.klp_patches.remove(old_patch)
            for func in [f for f in patch.funcs if f.nop]:  # klp_discard_nops
                if func.patched:
                    self.unpatch_func(func)
                patch.funcs.remove(func)
        if self.target == UNPATCHED:
            for func in patch.funcs:
                if func.patched:
                    self.unpatch_func(func)
            self.synchronize_transition()  # no handler sees this patch's funcs any more
        self._set_transition(patch, False)
        if self.target == PATCHED:
            self.synchronize_transition()  # no handler sees KLP_UNDEFINED with transition
        for task in self.tasks:
            task.state, task.pending = UNDEFINED, False
            self._write_state(task)
        self.log(f"'{patch.name}': {word} complete")
        self.target, self.transition_patch = UNDEFINED, None

    def cancel_transition(self) -> None:
        """``klp_cancel_transition``: complete an enabling transition that never started as
        an unpatching one."""
        patch = self._current()
        self.log(f"'{patch.name}': canceling patching transition, going to unpatch")
        self.target = UNPATCHED
        self.complete_transition()

    def reverse_transition(self) -> None:
        """``klp_reverse_transition``: flip the patch's enabled state and the target, clear
        every TIF_PATCH_PENDING, ``klp_synchronize_transition()``, start again; the tasks
        switch when the work runs next. (From 6.4, e3ff7c609f39, the flip comes after the
        wait; no handler reads either, so the order does not show.)"""
        patch = self._current()
        way = "patching to unpatching" if self.target == PATCHED else "unpatching to patching"
        self.log(f"'{patch.name}': reversing transition from {way}")
        patch.enabled = not patch.enabled
        self.target = UNPATCHED if self.target == PATCHED else PATCHED
        for task in self.tasks:
            task.pending = False
        self.synchronize_transition()  # pending klp_update_patch_state() calls complete
        self.start_transition()

    def synchronize_transition(self) -> None:
        """``klp_synchronize_transition``: ``schedule_on_each_cpu(klp_sync)`` returns once
        every CPU has scheduled; a CPU holding a stopped call that cannot schedule holds it
        up (the ``cpus`` wait of :mod:`ftscen.emu.inflight`, point ``wait.cpus``)."""
        self.wait("cpus", SYNCHRONIZE)

    def update_patch_state(self, task: Task) -> None:
        """``klp_update_patch_state``: a pending task takes the target state."""
        if task.pending:
            task.pending = False
            task.state = self.target
            self._write_state(task)
            self.log(f"{MODEL}{task.comm} switched to the {_STATE[self.target]} state")
