"""Small builders for scenarios written in Python (unit tests that bypass YAML)."""

from __future__ import annotations

from ftscen.core.model import Call, During, FtraceOps, Function, Kernel, Scenario, Step


def fn(name: str, *calls: str, notrace: bool = False) -> Function:
    return Function(name, tuple(calls), notrace)


def ops(
    name: str,
    *flags: str,
    filter: tuple[str, ...] = (),
    notrace: tuple[str, ...] = (),
    redirect: dict[str, str] | None = None,
    calls: tuple[str, ...] = (),
) -> FtraceOps:
    return FtraceOps(
        name, frozenset(flags), filter, notrace, tuple((redirect or {}).items()), calls
    )


def steps(*actions: object) -> tuple[Step, ...]:
    """Each item is an action, or (action, id), or (action, id, expect, during)."""
    out = []
    for i, a in enumerate(actions):
        if isinstance(a, tuple):
            action, sid, *rest = a
            expect = rest[0] if rest else None
            during = rest[1] if len(rest) > 1 else ()
            out.append(Step(i, action, sid, expect, tuple(during)))  # type: ignore[arg-type]
        else:
            out.append(Step(i, a))  # type: ignore[arg-type]
    return tuple(out)


def during(at: str, func: str, cid: str | None = None, cpu: int | None = None) -> During:
    return During(at, Call(func, cpu), cid)


def scenario(
    functions: list,
    ops_: list,
    timeline: tuple[Step, ...],
    version: str = "6.6",
    dynamic: bool = False,
    expect: tuple = (),
    int3: str | None = None,
) -> Scenario:
    return Scenario(
        "t",
        "t.yaml",
        tuple(functions),
        tuple(ops_),
        timeline,
        tuple(expect),
        Kernel(version, dynamic, int3),
    )
