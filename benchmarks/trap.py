"""A trapped call: microseconds per call whose traced site holds int3, before and after.

"before" is the int3 path as it was until the trap was delivered on a frame: Unicorn's
interrupt hook asks the int3 policy and applies the emulated call on the host (push site + 5
on the interrupted stack, set EIP), with no trap frame, entry code or ``iret``. "after" is
the path that ships (:mod:`ftscen.emu.trap`): the CPU's frame pushed, the era's entry code,
``do_int3`` with its two callouts, ``IRET_FRAME`` and ``iret``. Both run in this process on
the same image (kernel 5.3, full pt_regs; ``--kernel 5.2`` gives the short entry, run with
``--action jmp`` since an emulated call faults there), with a plain call (the site a NOP)
as the floor. Figures: the best of ``--rounds`` rounds of ``--calls`` calls each.

    python benchmarks/trap.py [--rounds 5] [--calls 2000] [--kernel 5.3] [--action call]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from ftscen.core.model import Call, Function, Kernel, Scenario, Step
from ftscen.core.profile import profile_for
from ftscen.emu.machine import Fault, Machine
from ftscen.emu.trap import Int3Trap
from ftscen.image import layout as L
from ftscen.image.build import Image, build_image


class HostSideTrap(Int3Trap):
    """The int3 hook before trap delivery: decision and effect on the host, no frame."""

    def _deliver(self, cpu: int) -> Fault | None:
        ip = self._reg("EIP") - 1
        decision = self.policy(ip)
        if decision is None:
            return Fault("unhandled-int3", cpu, ip, None, "int3 with no text modification")
        action, target = decision
        self.host.emit(L.EV_INT3, ip, action, target)
        if action == L.INT3_CALL:
            sp = self._reg("ESP") - 4
            self.host.write_u32(sp, ip + 5)
            self._set("ESP", sp)
        self._set("EIP", target)
        return None


def image(kernel: str) -> Image:
    sc = Scenario(
        name="trap-bench",
        path="<benchmark>",
        functions=(Function("f", calls=("g",)), Function("g")),
        ops=(),
        timeline=(Step(0, Call("f")),),
        kernel=Kernel(version=kernel),
    )
    return build_image(sc, profile_for(sc.kernel))


def machine(img: Image, action: int, trapped: bool, before: bool) -> tuple[Machine, int]:
    site = img.sites["g"]
    target = img.symbols.addr("ftrace_stub") if action == L.INT3_CALL else site + 5
    m = Machine(img, 2, lambda ip: (action, target), 10_000_000, 1 << 60)
    if before:
        m.trap = HostSideTrap(m, m.trap.policy, img)
    if trapped:
        m.poke(site, bytes([L.INT3]))
    return m, img.functions["f"]


def per_call_us(make: Callable[[], tuple[Machine, int]], calls: int, rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        m, f = make()
        start = time.perf_counter()
        for _ in range(calls):
            m.write_u32(L.RING_PTR, L.RING_BASE)  # the ring holds a few thousand calls
            if m.run_call(1, f) is not None:
                raise SystemExit("a benchmark call faulted: use --action jmp on this kernel")
        best = min(best, (time.perf_counter() - start) / calls)
        m.stop_running()
    return best * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--calls", type=int, default=2000)
    ap.add_argument("--kernel", default="5.3")
    ap.add_argument("--action", choices=("call", "jmp"), default="call")
    args = ap.parse_args()
    img = image(args.kernel)
    action = L.INT3_CALL if args.action == "call" else L.INT3_JMP
    rows = {
        "plain call (site is a NOP)": (False, False),
        "trapped call, before (host-side int3)": (True, True),
        "trapped call, after (frame, entry, iret)": (True, False),
    }
    figures = {
        name: per_call_us(lambda t=t, b=b: machine(img, action, t, b), args.calls, args.rounds)
        for name, (t, b) in rows.items()
    }
    print(f"kernel {args.kernel}, int3 action {args.action}, best of {args.rounds} x {args.calls}")
    for name, us in figures.items():
        print(f"  {name:<42} {us:8.1f} us/call")
    before, after = list(figures.values())[1:]
    print(f"  trap cost after / before: {after / before:.2f}x (+{after - before:.1f} us/call)")


if __name__ == "__main__":
    main()
