"""A crosscheck batch as text: one line per scenario, differences side by side per step."""

from __future__ import annotations

from ftscen.kernel.crosscheck import Batch, Outcome
from ftscen.kernel.sides import KILLED, Item

WIDTH = 44


def _item(item: Item | None) -> str:
    if item is None:
        return "-"
    kind = item[0]
    if kind == "ran":
        return f"ran {item[1]}"
    if kind == "cb":
        return f"callback {item[1]} ip={item[2]} {item[3]}"
    return f"result {item[1]}"


def _side_by_side(model: list[Item], kernel: list[Item]) -> list[str]:
    out = [f"      {'model (6.1 profile)':<{WIDTH}} | real kernel"]
    for k in range(max(len(model), len(kernel))):
        a = model[k] if k < len(model) else None
        b = kernel[k] if k < len(kernel) else None
        mark = " " if a == b else "*"
        out.append(f"    {mark} {_item(a):<{WIDTH}} | {_item(b)}")
    return out


def outcome_lines(o: Outcome, verbose: bool = False) -> list[str]:
    head = f"{o.status:<6} {o.shown}"
    if o.status == "AGREE":
        head += f" ({o.items} items)"
    if o.reason:
        head += f": {o.reason}"
    out = [head]
    out += [f"  note: {n}" for n in o.notes if verbose or o.status != "AGREE" or KILLED in n]
    for label, model, kernel in o.diffs:
        out.append(f"  {label}")
        out += _side_by_side(model, kernel)
    return out


def render(batch: Batch, verbose: bool = False) -> str:
    lines = [line for o in batch.outcomes for line in outcome_lines(o, verbose)]
    c = batch.counts()
    eligible = c["AGREE"] + c["DIFFER"] + c["ERROR"]
    lines.append(
        f"crosscheck: {c['AGREE']} of {eligible} eligible scenario(s) agree with the real "
        f"kernel, {c['DIFFER']} differ, {c['ERROR']} error(s), {c['SKIP']} skipped "
        f"({batch.boots} boot(s), {batch.seconds:.1f} s)"
    )
    return "\n".join(lines) + "\n"
