"""Stage: the event ring -> the callback log (symbolized, deterministic events).

Bodies and handlers write ``EV_RAN`` / ``EV_CALLBACK`` records from emulated code; the host
writes steps, points, patches, int3 decisions, calls, results and faults into the same ring,
so the order of the log is the order things happened.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ftscen.core.errno import errno_name
from ftscen.image import layout as L
from ftscen.image.build import Image


@dataclass(frozen=True)
class CallInfo:
    """One call of the timeline (``during`` calls included); ``id`` is generated (``@3``,
    ``@3.1``) when the scenario gives none."""

    index: int
    id: str
    step: int
    cpu: int
    func: str
    at: str | None = None


@dataclass(frozen=True)
class Event:
    kind: str
    step: int
    cpu: int
    call: str | None
    fields: tuple[tuple[str, Any], ...] = ()

    def get(self, key: str, default: Any = None) -> Any:
        return dict(self.fields).get(key, default)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "step": self.step, "cpu": self.cpu,
                               "call": self.call}
        out.update(self.fields)
        return out


def decode(ring: list[tuple[int, ...]], strings: list[str], image: Image,
           calls: list[CallInfo]) -> list[Event]:
    """Turn raw ring records into events, tracking the current step and call."""
    label = image.symbols.label_for
    step, stack = -1, list[CallInfo]()  # the call being run, if any
    out: list[Event] = []
    for kind, a, b, c, d, e, _f, _g in ring:
        cur = stack[-1] if stack else None
        cpu, cid = (cur.cpu, cur.id) if cur else (0, None)
        if kind == L.EV_STEP:
            step = a
            out.append(Event("step", step, 0, None, (("index", a),)))
        elif kind == L.EV_CALL:
            info = calls[b]
            stack.append(info)
            out.append(Event("call", step, info.cpu, info.id,
                             (("func", info.func), ("at", info.at))))
        elif kind == L.EV_RETURN:
            info = stack.pop()
            out.append(Event("return", step, info.cpu, info.id, ()))
        elif kind == L.EV_RAN:
            out.append(Event("ran", step, cpu, cid, (("func", image.func_names[a]),)))
        elif kind == L.EV_CALLBACK:
            name = image.ops_names[a]
            out.append(Event("callback", step, cpu, cid, (
                ("ops", name), ("ip", label(b)), ("parent_ip", label(c)), ("regs", d != 0),
                ("op", label(e)))))
        elif kind == L.EV_INT3:
            action = "call" if b == L.INT3_CALL else "jmp"
            out.append(Event("int3", step, cpu, cid,
                             (("ip", label(a)), ("action", action), ("target", label(c)))))
        elif kind == L.EV_POINT:
            out.append(Event("point", step, 0, None, (("point", strings[a]),)))
        elif kind == L.EV_PATCH:
            out.append(Event("patch", step, 0, None, (("site", label(a)),
                                                      ("change", strings[b]))))
        elif kind == L.EV_RESULT:
            out.append(Event("result", step, 0, None, (("errno", errno_name(a)),)))
        elif kind == L.EV_FAULT:
            failed = calls[b] if b < len(calls) else None
            out.append(Event("fault", step, a, failed.id if failed else None,
                             (("fault", strings[d]), ("pc", label(c)), ("detail", strings[e]))))
    return out
