"""Scenario -> C: one unit per scenario in one module, plus the step script that drives it.

A unit ``U`` holds, for each scenario function ``name``, a ``noinline`` function
``fsU_name`` (``notrace`` for ``notrace:`` ones) that records that its body ran, then calls its
``calls`` through a pointer table (so the compiler neither folds nor clones it); one
``ftrace_ops`` per scenario ops with its flags and a ``notrace`` handler; and ``fskU_step(S)``
carrying out timeline step ``S``. Helper symbols use the ``fskU_`` prefix, which no glob of
unit ``U`` (all translated to ``fsU_...``) can select.
"""

from __future__ import annotations

from collections.abc import Sequence

from ftscen.core.errors import InternalError
from ftscen.core.model import (
    Call,
    FtraceOps,
    Register,
    Scenario,
    SetFilter,
    SetNotrace,
    Step,
    Sysctl,
    Unregister,
)
from ftscen.kernel import runtime
from ftscen.kernel.names import c_string, check_ident, translate_glob, unit_prefix

#: Scenario flag -> the kernel's FTRACE_OPS_FL_* (include/linux/ftrace.h, 6.1).
FLAG_MACROS = {
    "SAVE_REGS": "FTRACE_OPS_FL_SAVE_REGS",
    "SAVE_REGS_IF_SUPPORTED": "FTRACE_OPS_FL_SAVE_REGS_IF_SUPPORTED",
    "IPMODIFY": "FTRACE_OPS_FL_IPMODIFY",
    "DYNAMIC": "FTRACE_OPS_FL_DYNAMIC",
    "RECURSION": "FTRACE_OPS_FL_RECURSION",
    "PERMANENT": "FTRACE_OPS_FL_PERMANENT",
}


class Unit:
    """One scenario's part of the module."""

    def __init__(self, sc: Scenario, index: int) -> None:
        self.sc, self.u = sc, index
        for f in sc.functions:
            check_ident(f.name, "function name", f.mark)
        for o in sc.ops:
            check_ident(o.name, "ops name", o.mark)
        self.fidx = {f.name: i for i, f in enumerate(sc.functions)}
        self.oidx = {o.name: i for i, o in enumerate(sc.ops)}
        self.k = f"fsk{index}_"

    def fn(self, name: str) -> str:
        return unit_prefix(self.u) + name

    def globs(self, globs: Sequence[str], step: Step | None, o: FtraceOps) -> str:
        mark = step.mark if step is not None else o.mark
        items = [c_string(translate_glob(g, self.u, mark)) for g in globs]
        return "{ " + ", ".join([*items, "NULL"]) + " }"

    def functions(self) -> list[str]:
        k, n = self.k, len(self.sc.functions)
        out = [f"/* ---- unit {self.u} ---- */"]
        out += [f"static void {self.fn(f.name)}(void);" for f in self.sc.functions]
        out.append(f"static ftscen_fn {k}tab[{n}] = {{")
        out += [f"\t{self.fn(f.name)}," for f in self.sc.functions]
        out.append("};")
        for i, f in enumerate(self.sc.functions):
            attrs = "noinline notrace" if f.notrace else "noinline"
            out.append(f"static {attrs} void {self.fn(f.name)}(void)\n{{")
            out.append(f"\tif (READ_ONCE(ftscen_recording))\n\t\tftscen_put(-1, {i}, 0, 0);")
            out += [f"\tftscen_invoke({k}tab, {self.fidx[c]});" for c in f.calls]
            out.append("}")
        return out

    def handlers(self) -> list[str]:
        k, out = self.k, []
        names = ", ".join(c_string(o.name) for o in self.sc.ops)
        out.append(f"static const char *const {k}ops_names[] = {{ {names}, NULL }};")
        for i, o in enumerate(self.sc.ops):
            out.append(
                f"static notrace void {k}h{i}(unsigned long ip, unsigned long parent_ip,\n"
                f"\t\tstruct ftrace_ops *op, struct ftrace_regs *fregs)\n{{"
            )
            out.append("\tint f;\n\tstruct pt_regs *regs;\n")
            out.append("\tif (!READ_ONCE(ftscen_recording))\n\t\treturn;")
            out.append(f"\tf = ftscen_lookup({k}tab, {len(self.sc.functions)}, ip);")
            out.append("\tif (f < 0)\n\t\treturn;\n\tregs = ftrace_get_regs(fregs);")
            out.append(f"\tftscen_put({i}, f, regs != NULL, parent_ip);")
            for old, new in o.redirect:
                out.append(
                    f"\tif (regs && f == {self.fidx[old]})\n\t\tftrace_instruction_pointer_set("
                    f"fregs, (unsigned long)READ_ONCE({k}tab[{self.fidx[new]}]));"
                )
            out += [f"\tftscen_invoke({k}tab, {self.fidx[c]});" for c in o.calls]
            out.append("}")
        return out

    def ops_table(self) -> list[str]:
        k, n = self.k, len(self.sc.functions)
        out = [f"static struct ftscen_ops {k}ops[] = {{"]
        for i, o in enumerate(self.sc.ops):
            flags = " | ".join(FLAG_MACROS[f] for f in sorted(o.flags)) or "0"
            ipmodify = int(o.has("IPMODIFY"))
            out.append(f"\t{{ .ops = {{ .func = {k}h{i}, .flags = {flags} }},")
            out.append(f"\t  .ipmodify = {ipmodify} }},")
        out.append("};")
        every = c_string(unit_prefix(self.u) + "*")
        out.append(f"static struct ftscen_unit {k}unit = {{ {k}tab, {n}, {every} }};")
        return out

    def init_body(self) -> list[str]:
        """Every ops gets its filter (an empty one at least) and notrace hash."""
        k = self.k
        out = ["\tcase FTSCEN_INIT: {", "\t\tint ret = 0, r;"]
        for i, o in enumerate(self.sc.ops):
            for j, (globs, filt) in enumerate(((o.filter_hash, 1), (o.notrace_hash, 0))):
                if filt == 0 and not globs:
                    continue
                arr = f"{k}init{i}_{j}"
                out.append(f"\t\tstatic const char *const {arr}[] = {self.globs(globs, None, o)};")
                out.append(
                    f"\t\tr = ftscen_set(&{k}unit, &{k}ops[{i}], {arr}, 1, {filt});"
                    "\n\t\tret = ret ? ret : r;"
                )
        out.append("\t\treturn ret;\n\t}")
        return out

    def step_case(self, step: Step) -> list[str]:
        k, a, s = self.k, step.action, step.index
        if isinstance(a, Call):
            call = f"ftscen_call({self.u}, {s}, {k}tab, {self.fidx[a.func]}, {k}ops_names)"
            return [f"\tcase {s}: /* call {a.func} */", f"\t\t{call};", "\t\treturn 0;"]
        if isinstance(a, Sysctl):
            return [
                f"\tcase {s}: /* sysctl */",
                f"\t\treturn ftscen_sysctl({int(a.ftrace_enabled)});",
            ]
        if not isinstance(a, Register | Unregister | SetFilter | SetNotrace):
            raise InternalError(f"no kernel module step for {a!r}")  # sides.plan skips them
        o = self.oidx[a.ops]
        if isinstance(a, Register | Unregister):
            verb = "register" if isinstance(a, Register) else "unregister"
            return [
                f"\tcase {s}: /* {verb} {a.ops} */",
                f"\t\treturn ftscen_{verb}(&{k}ops[{o}]);",
            ]
        filt = int(isinstance(a, SetFilter))
        assert isinstance(a, SetFilter | SetNotrace)
        globs = self.globs(a.globs, step, self.sc.ops[o])
        return [
            f"\tcase {s}: {{ /* set_{'filter' if filt else 'notrace'} {a.ops} */",
            f"\t\tstatic const char *const g[] = {globs};",
            f"\t\treturn ftscen_set(&{k}unit, &{k}ops[{o}], g, {int(a.reset)}, {filt});",
            "\t}",
        ]

    def stepper(self) -> list[str]:
        k = self.k
        out = [f"static notrace int {k}step(int step)\n{{", "\tswitch (step) {"]
        out += self.init_body()
        for step in self.sc.timeline:
            out += self.step_case(step)
        end = f"ftscen_end(&{k}unit, {k}ops, ARRAY_SIZE({k}ops))"
        out.append(f"\tcase FTSCEN_END:\n\t\treturn {end};")
        out.append("\tdefault:\n\t\treturn -ERANGE;\n\t}\n}")
        return out

    def c(self) -> str:
        if not self.sc.ops:
            return "\n".join(self.functions() + self.empty_stepper()) + "\n"
        parts = self.functions() + self.handlers() + self.ops_table() + self.stepper()
        return "\n".join(parts) + "\n"

    def empty_stepper(self) -> list[str]:
        """A scenario without ops: only calls (and sysctl) steps."""
        k = self.k
        out = [f"static const char *const {k}ops_names[] = {{ NULL }};"]
        out += [f"static notrace int {k}step(int step)\n{{", "\tswitch (step) {"]
        out.append("\tcase FTSCEN_INIT:\n\t\treturn 0;")
        for step in self.sc.timeline:
            out += self.step_case(step)
        out.append("\tcase FTSCEN_END:\n\t\treturn ftscen_sysctl(1);")
        out.append("\tdefault:\n\t\treturn -ERANGE;\n\t}\n}")
        return out

    def script(self) -> list[str]:
        """The unit's step script lines: init, each step, end (names are identifiers)."""
        out = [f"step {self.u} -1  # init: filters and notrace hashes"]
        for step in self.sc.timeline:
            out.append(f"step {self.u} {step.index}  # {describe(step)}")
        out.append(f"step {self.u} -2  # end: unregister what is left, ftrace_enabled=1")
        return out


def describe(step: Step) -> str:
    a = step.action
    if isinstance(a, Call):
        return f"call {a.func}"
    if isinstance(a, Sysctl):
        return f"sysctl ftrace_enabled={int(a.ftrace_enabled)}"
    if isinstance(a, Register | Unregister):
        return f"{'register' if isinstance(a, Register) else 'unregister'} {a.ops}"
    if not isinstance(a, SetFilter | SetNotrace):
        raise InternalError(f"no kernel module step for {a!r}")  # sides.plan skips them
    return f"{'set_filter' if isinstance(a, SetFilter) else 'set_notrace'} {a.ops}"


def module_source(units: Sequence[Unit]) -> str:
    """The whole module's C text."""
    table = ", ".join(f"{u.k}step" for u in units)
    body = "".join(u.c() for u in units)
    dispatch = f"\nstatic int (*const ftscen_units[])(int) = {{ {table} }};\n"
    return runtime.HEADER + "\n" + body + dispatch + runtime.FOOTER


SCRIPT_HEAD = """#!/bin/sh
# Generated by ftscen: runs the timeline in the loaded module, one step per line.
# Each step's results are in the kernel log (dmesg | grep 'ftscen: ').
step() { echo "$1 $2" > /proc/ftscen || echo "ftscen: step $1 $2 could not be written"; }
"""


def step_script(units: Sequence[Unit]) -> str:
    lines = [line for u in units for line in u.script()]
    return SCRIPT_HEAD + "\n".join(lines) + "\n"
