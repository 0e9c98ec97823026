"""Run scenarios on the real kernel and on the model, and compare them step by step.

All eligible scenarios become units of one module, built once and loaded in one boot. A boot
that dies part way (an oops, with ``oops=panic``) is not the end: the unit it died in is
reported as an error with the console's last lines, and the units after it run in a new
boot. Nothing is silently left out: every scenario ends AGREE, DIFFER, SKIP (with why) or
ERROR.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ftscen.core.model import Scenario
from ftscen.kernel import boot
from ftscen.kernel.cmodule import Unit, describe, module_source
from ftscen.kernel.sides import KILLED, Item, Plan, kernel_steps, model_steps, plan

#: Guest seconds allowed per unit on top of the boot itself (an ops tracing the whole
#: kernel costs several seconds per update under TCG, more on a loaded machine).
BOOT_SECONDS, UNIT_SECONDS = 90.0, 30.0


@dataclass
class Outcome:
    shown: str
    status: str  # AGREE, DIFFER, SKIP, ERROR
    notes: tuple[str, ...] = ()
    reason: str = ""
    diffs: list[tuple[str, list[Item], list[Item]]] = field(default_factory=list)
    items: int = 0


@dataclass
class Batch:
    outcomes: list[Outcome]
    boots: int
    seconds: float

    def counts(self) -> dict[str, int]:
        out = {k: 0 for k in ("AGREE", "DIFFER", "SKIP", "ERROR")}
        for o in self.outcomes:
            out[o.status] += 1
        return out


def compare(shown: str, p: Plan, model: dict[int, list[Item]], kernel: dict[int, list[Item]],
            problems: list[str]) -> Outcome:  # fmt: skip
    """AGREE when every step shows the same items in the same order."""
    diffs, items = [], 0
    for step in p.scenario.timeline:
        want, got = model.get(step.index, []), kernel.get(step.index, [])
        items += max(len(want), len(got))
        if want != got:
            diffs.append((_label(step.index, p), want, got))
    notes = p.notes
    if KILLED in problems and not diffs:
        problems = [q for q in problems if q != KILLED]
        notes += (_kill_note(p),)
    status = "DIFFER" if diffs or problems else "AGREE"
    return Outcome(shown, status, notes, "; ".join(problems), diffs, items)


def _kill_note(p: Plan) -> str:
    """Every step agreed, so the kill was where the model has it (its -ENODEV results after the
    WARN matched), or, when the model has none, in the module's clean-up after the timeline
    (unregistering what the timeline left registered, which the model does not run)."""
    if p.model_kill is not None:
        return f"{KILLED}, at step {p.model_kill}, as the model's ftrace_shutdown() check does"
    return f"{KILLED}, after its timeline, when the module unregistered what was left"


def _label(index: int, p: Plan) -> str:
    step = p.scenario.timeline[index]
    return f"step {index}: {describe(step)}" + (f" ({step.id})" if step.id else "")


def run_batch(
    scenarios: Sequence[tuple[str, Scenario]],
    tools: boot.Tools,
    progress: Callable[[str], None] = lambda _: None,
) -> Batch:
    """Plan, build, boot (as often as crashes need), compare."""
    start = time.monotonic()
    outcomes: dict[int, Outcome] = {}
    eligible: list[tuple[int, Plan, dict[int, list[Item]]]] = []
    for i, (shown, sc) in enumerate(scenarios):
        p, result = plan(sc)
        if result is None:
            outcomes[i] = Outcome(shown, "SKIP", p.notes, p.skip or "")
        else:
            eligible.append((i, p, model_steps(result)))
    boots = 0
    if eligible:
        with tempfile.TemporaryDirectory(prefix="ftscen-kernel-") as tmp:
            boots = _run_units(Path(tmp), eligible, scenarios, tools, outcomes, progress)
    ordered = [outcomes[i] for i in range(len(scenarios))]
    return Batch(ordered, boots, time.monotonic() - start)


def _unit_progress(progress: Callable[[str], None]) -> Callable[[str], None]:
    def on_line(line: str) -> None:
        if line.startswith("ftscen: unit "):
            progress(line.removeprefix("ftscen: "))

    return on_line


def _run_units(
    tmp: Path,
    eligible: list[tuple[int, Plan, dict[int, list[Item]]]],
    scenarios: Sequence[tuple[str, Scenario]],
    tools: boot.Tools,
    outcomes: dict[int, Outcome],
    progress: Callable[[str], None],
) -> int:
    units = [Unit(p.scenario, u) for u, (_, p, _) in enumerate(eligible)]
    (tmp / "ftscen_mod.c").write_text(module_source(units))
    (tmp / "Kbuild").write_text("obj-m := ftscen_mod.o\n")
    progress(f"building one module with {len(units)} scenario(s)")
    boot.build_module(tmp, tools.build_dir)
    scripts = {u.u: "\n".join(u.script()) + "\n" for u in units}
    # A scenario whose timeline makes the kernel WARN and kill ftrace (the model says which)
    # ends its boot: such scenarios go last, so each costs one boot, not one per scenario after it.
    pending = sorted(range(len(units)), key=lambda u: eligible[u][1].model_kill is not None)
    boots = 0
    while pending:
        boots += 1
        progress(f"boot {boots}: {len(pending)} scenario(s) under QEMU")
        initrd = tmp / "initrd.gz"
        initrd.write_bytes(boot.initramfs(tmp / "ftscen_mod.ko", tools.busybox, scripts, pending))
        console, _ = boot.boot(
            tools, initrd, BOOT_SECONDS + UNIT_SECONDS * len(pending), _unit_progress(progress)
        )
        done = [u for u in pending if f"ftscen: unit {u} finished" in console]
        for u in done:
            i, p, model = eligible[u]
            kernel, problems = kernel_steps(console, p.scenario, u)
            outcomes[i] = compare(scenarios[i][0], p, model, kernel, problems)
        rest = [u for u in pending if u not in done]
        if rest and "ftscen: ftrace disabled" in console:
            pending = rest  # ftrace is off for the rest of that boot: a new one
            continue
        if rest:
            i = eligible[rest[0]][0]
            tail = " | ".join(console.strip().splitlines()[-6:])
            outcomes[i] = Outcome(
                scenarios[i][0], "ERROR", eligible[rest[0]][1].notes,
                f"the guest stopped in this scenario (oops, hang or timeout); console: {tail}",
            )  # fmt: skip
        pending = rest[1:]
    return boots
