"""Hypothesis strategies: valid scenarios, and the many ways to break one.

:func:`scenarios` draws scenarios (as plain data) that pass validation: functions with
calls (never in a loop), ops with flags, filters, notrace hashes, redirects and handler
calls, a kernel block, a timeline of register, unregister, set_filter, set_notrace, sysctl
and call steps, and assertions. :func:`broken_texts` turns one into file bytes and then
breaks it: keys dropped or misspelt, values of the wrong type, random bytes, truncation,
duplicated lines, tags, anchors and aliases, merges and deep nesting.
"""

from __future__ import annotations

import copy
import os
from typing import Any

import yaml
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from ftscen.core.model import OPS_FLAGS
from ftscen.core.profile import flag_problem, parse_version

#: ``HYPOTHESIS_PROFILE=long`` runs many more examples, and different ones each time.
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
_QUIET = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]
EXAMPLES_RUN = settings(
    max_examples=3000 if PROFILE == "long" else 150,
    deadline=None,
    derandomize=PROFILE != "long",
    suppress_health_check=_QUIET,
)

FUNCS = ("do_IRQ", "schedule", "tick", "f", "g", "__migrate_task", "work_fn", "do_IRQ_v2")
OPS = ("livepatch", "tracer", "probe", "kp")
FLAGS = OPS_FLAGS  # every flag the format knows; draws keep those the kernel has
VERSIONS = ("3.5", "4.19", "5.1", "5.2", "5.3", "5.4", "5.5", "5.10", "6.6")
POINTS = (
    "start",
    "sites.int3",
    "sites.tail",
    "sites.done",
    "ftrace_call.int3",
    "ftrace_call.tail",
    "ftrace_call.done",
    "ftrace_regs_call.int3",
    "ftrace_regs_call.done",
    "ftrace_call.int3#2",
    "sites.int3#2",
)
ERRNOS = ("0", 0, "EBUSY", "EINVAL", "ENODEV")
SITES = ("nop", "call ftrace_caller", "call ftrace_regs_caller")
TRAMPOLINE_CALLEES = (
    "call ftrace_stub",
    "call ftrace_ops_list_func",
    "call ftrace_ops_assist_func",
)

Data = dict[str, Any]


def _globs_for(draw: Any, names: list[str]) -> list[str]:
    """Globs each matching at least one of ``names``: a name, or a prefix with '*'."""
    picked = draw(st.lists(st.sampled_from(names), min_size=1, max_size=3, unique=True))
    return [
        name if draw(st.booleans()) else name[: draw(st.integers(1, len(name)))] + "*"
        for name in picked
    ]


@st.composite
def functions(draw: Any) -> list[Data]:
    names = draw(st.lists(st.sampled_from(FUNCS), min_size=1, max_size=6, unique=True))
    table = []
    for i, name in enumerate(names):
        entry: Data = {"name": name}
        later = names[i + 1 :]  # calls go down the list only: no loops
        if later and draw(st.booleans()):
            entry["calls"] = draw(st.lists(st.sampled_from(later), max_size=3))
        if draw(st.integers(0, 4)) == 0:
            entry["notrace"] = True
        table.append(entry)
    return table


@st.composite
def ops_entry(draw: Any, name: str, funcs: list[Data]) -> Data:
    names = [f["name"] for f in funcs]
    traceable = [f["name"] for f in funcs if not f.get("notrace")]
    entry: Data = {"name": name}
    flags = draw(st.lists(st.sampled_from(FLAGS), max_size=3, unique=True))
    if flags:
        entry["flags"] = flags
    if traceable and draw(st.booleans()):
        entry["filter"] = _globs_for(draw, traceable)
    if traceable and "IPMODIFY" not in flags and draw(st.integers(0, 3)) == 0:
        entry["notrace"] = _globs_for(draw, traceable)
    if "SAVE_REGS" in flags and traceable and len(names) > 1 and draw(st.booleans()):
        source = draw(st.sampled_from(traceable))
        entry["redirect"] = {source: draw(st.sampled_from([n for n in names if n != source]))}
    if draw(st.integers(0, 3)) == 0:
        entry["calls"] = draw(st.lists(st.sampled_from(names), min_size=1, max_size=2))
    return entry


@st.composite
def steps(draw: Any, funcs: list[Data], ops: list[Data], cpus: int) -> list[Data]:
    names = [f["name"] for f in funcs]
    traceable = [f["name"] for f in funcs if not f.get("notrace")] or names
    kinds = ["call"] + (["register", "unregister", "set_filter", "set_notrace"] if ops else [])
    timeline: list[Data] = []
    for i in range(draw(st.integers(1, 8))):
        kind = draw(st.sampled_from(kinds + ["sysctl"]))
        step: Data
        if kind == "call":
            step = {"call": draw(st.sampled_from(names)), "id": f"c{i}"}
            if cpus > 2 and draw(st.booleans()):
                step["cpu"] = draw(st.integers(1, cpus - 1))
        elif kind == "sysctl":
            step = {"sysctl": {"ftrace_enabled": draw(st.booleans())}}
        elif kind in ("register", "unregister"):
            step = {kind: draw(st.sampled_from([o["name"] for o in ops]))}
        else:
            key = kind[len("set_") :]
            edit: Data = {
                "ops": draw(st.sampled_from([o["name"] for o in ops])),
                key: _globs_for(draw, traceable) if draw(st.booleans()) else [],
            }
            if draw(st.booleans()):
                edit["reset"] = draw(st.booleans())
            step = {kind: edit}
        if kind != "call" and draw(st.integers(0, 3)) == 0:
            step["expect"] = draw(st.sampled_from(ERRNOS))
        timeline.append(step)
    return timeline


@st.composite
def assertions(draw: Any, funcs: list[Data], ops: list[Data], ids: list[str]) -> list[Data]:
    names = [f["name"] for f in funcs]
    traceable = [f["name"] for f in funcs if not f.get("notrace")]
    ops_names = [o["name"] for o in ops]
    kinds = (
        ["call"] * bool(ids)
        + ["called", "not_called"] * bool(ops_names)
        + ["site"] * bool(traceable)
    )
    out: list[Data] = []
    for _ in range(draw(st.integers(0, 4)) if kinds else 0):
        kind = draw(st.sampled_from(kinds))
        if kind == "call":
            entry: Data = {"call": draw(st.sampled_from(ids))}
            entry["ran"] = draw(
                st.lists(st.sampled_from(names), min_size=1, max_size=2, unique=True)
            )
            if ops_names and draw(st.booleans()):
                entry["called"] = draw(
                    st.lists(st.sampled_from(ops_names), max_size=2, unique=True)
                )
        elif kind in ("called", "not_called"):
            target: Data = {"ops": draw(st.sampled_from(ops_names))}
            if draw(st.booleans()):
                target["func"] = draw(st.sampled_from(names))
            if draw(st.booleans()):
                target["regs"] = draw(st.booleans())
            entry = {kind: target}
            if kind == "called" and draw(st.booleans()):
                entry["count"] = draw(st.integers(0, 3))
        elif draw(st.booleans()):
            entry = {
                "site": {
                    "func": draw(st.sampled_from(traceable)),
                    "is": draw(st.sampled_from(SITES)),
                }
            }
        else:
            callees = TRAMPOLINE_CALLEES + tuple(f"call {name}.func" for name in ops_names)
            entry = {
                "site": {
                    "func": draw(st.sampled_from(("ftrace_call", "ftrace_regs_call"))),
                    "is": draw(st.sampled_from(callees)),
                }
            }
        out.append(entry)
    return out


@st.composite
def scenarios(draw: Any, durings: bool = True) -> Data:
    """A scenario that passes validation; with ``durings``, patcher steps may carry calls at
    points drawn from :data:`POINTS` (a step may not pass them: a run-time error)."""
    funcs = draw(functions())
    ops_names = draw(st.lists(st.sampled_from(OPS), max_size=3, unique=True))
    ops = [draw(ops_entry(name, funcs)) for name in ops_names]
    kernel: Data = {}
    if draw(st.booleans()):
        kernel["version"] = draw(st.sampled_from(VERSIONS))
    if draw(st.booleans()):
        kernel["dynamic_trampolines"] = draw(st.booleans())
    if draw(st.integers(0, 3)) == 0:
        kernel["int3"] = draw(st.sampled_from(("skip", "emulate-call", "emulate-new")))
    cpus = draw(st.integers(2, 8))
    if cpus != 2:
        kernel["cpus"] = cpus
    _drop_missing_flags(ops, str(kernel.get("version", "6.6")))
    timeline = draw(steps(funcs, ops, cpus))
    if durings:
        for i, step in enumerate(timeline):
            if "call" not in step and draw(st.integers(0, 2)) == 0:
                step["during"] = [
                    {
                        "at": draw(st.sampled_from(POINTS)),
                        "call": draw(st.sampled_from([f["name"] for f in funcs])),
                        "id": f"d{i}",
                    }
                ]
    data: Data = {"ftscen": 1, "functions": funcs}
    if kernel:
        data["kernel"] = kernel
    if ops:
        data["ops"] = ops
    data["timeline"] = timeline
    ids = [s["id"] for s in timeline if "id" in s] + [
        d["id"] for s in timeline for d in s.get("during", [])
    ]
    expect = draw(assertions(funcs, ops, ids))
    if expect:
        data["expect"] = expect
    return data


def _drop_missing_flags(ops: list[Data], version: str) -> None:
    """Keep only the flags the kernel has (RECURSION from 5.11, RECURSION_SAFE before)."""
    release = parse_version(version) or (6, 6)
    for entry in ops:
        if "flags" in entry:
            entry["flags"] = [f for f in entry["flags"] if flag_problem(f, release) is None]


def dump(data: Any) -> str:
    return str(yaml.safe_dump(data, sort_keys=False, default_flow_style=None, width=100))


# ---- breaking a scenario -------------------------------------------------------------------

JSONISH = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats()
    | st.text(max_size=12)
    | st.sampled_from(FUNCS + OPS + FLAGS),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)
TAGS = (
    "",
    "",
    "!!int ",
    "!!bool ",
    "!!float ",
    "!!int ",
    "!!bool ",
    "!!float ",
    "!!python/object/apply:os.system ",
    "!!python/name:os.system ",
    "!foo ",
    "!!null ",
    "!!str ",
    "!!binary ",
    "!!set ",
    "!!omap ",
    "!!seq ",
    "!!map ",
    "!!merge ",
    "!!timestamp ",
    "!<tag:yaml.org,2002:str> ",
    "!!value ",
    "&a ",
    "*a ",
)
#: Scalar texts that are hard on a YAML loader, and on whatever prints the value later.
SCALARS = (
    "",
    "''",
    "maybe",
    "yes",
    "on",
    "~",
    "null",
    ".nan",
    "-.inf",
    "0x",
    "0x" + "f" * 5000,
    "0b" + "1" * 70,
    "9" * 5000,
    "1" + ":59" * 2000,
    "1:",
    "_",
    "-0o777777777777777777777",
    "1e400",
    "2019-05-06",
    "2019-05-06 10:00:00",
    "=",
    "<<",
    "[]",
    "{}",
    "- x",
    "a: b",
    "*a",
    "&a",
    "|",
    ">-",
    "'unterminated",
    '"\\x07"',
    "x" * 300,
    '"do_IRQ\\n"',
    '"tracer\\n"',
    '"start\\n"',
    "|\n      do_IRQ",
)
#: Text inserted anywhere: YAML indicators, odd line breaks, control characters.
ODD_TEXT = (
    "&a ",
    "*a",
    "<<: *a\n",
    "? ",
    "- ",
    ": ",
    "{",
    "}",
    "[",
    "]",
    "#",
    "'",
    '"',
    "\t",
    "\r",
    "\r\n",
    "\x85",
    "\u2028",
    "\ufeff",
    "\x07",
    "\x00",
    "---\n",
    "...\n",
    "%YAML 1.1\n",
    "%TAG ! tag:x,2000:\n",
    "|\n",
    ">-\n",
    " ",
    "\n",
    "  ",
    "!!",
)


@st.composite
def odd_scalar(draw: Any) -> str:
    """A tag (or none) and an odd scalar text."""
    return str(draw(st.sampled_from(TAGS))) + draw(st.sampled_from(SCALARS) | st.text(max_size=6))


def _places(node: Any, out: list[tuple[Any, Any]]) -> list[tuple[Any, Any]]:
    """Every (container, key or index) in ``node``, containers first."""
    if isinstance(node, dict):
        for key, value in node.items():
            out.append((node, key))
            _places(value, out)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            out.append((node, index))
            _places(value, out)
    return out


@st.composite
def broken_data(draw: Any, data: Data) -> Any:
    """``data`` with a few edits to its structure."""
    data = copy.deepcopy(data)
    for _ in range(draw(st.integers(1, 3))):
        places = _places(data, [])
        if not places:
            break
        container, key = draw(st.sampled_from(places))
        edit = draw(st.sampled_from(("drop", "rename", "retype", "duplicate", "add")))
        if edit == "drop":
            del container[key]
        elif edit == "rename" and isinstance(container, dict):
            new = draw(st.sampled_from((key[:-1], key + "s", key.upper(), "fliter", "on", "1")))
            container[new if new else "x"] = container.pop(key)
        elif edit == "retype" or edit == "rename":
            container[key] = draw(JSONISH)
        elif edit == "duplicate" and isinstance(container, list):
            container.insert(key, copy.deepcopy(container[key]))
        elif isinstance(container, dict):
            container[draw(st.text(min_size=1, max_size=8))] = draw(JSONISH)
        else:
            container.append(draw(JSONISH))
    return data


@st.composite
def broken_text(draw: Any, text: str) -> bytes:
    """``text`` with a few edits to its bytes and YAML syntax."""
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(text)))
        edit = draw(
            st.sampled_from(
                ("insert", "scalar", "scalar", "truncate", "line", "nest", "alias", "merge", "bomb")
            )
        )
        if edit == "insert":
            text = text[:at] + draw(st.sampled_from(ODD_TEXT) | st.text(max_size=4)) + text[at:]
        elif edit == "scalar":  # a value replaced by an odd scalar, maybe tagged
            text = _replace_value(text, at, draw(odd_scalar()))
        elif edit == "truncate":
            text = text[:at]
        elif edit == "line":  # a line twice: duplicate keys, mostly
            lines = text.splitlines(keepends=True) or [""]
            i = draw(st.integers(0, len(lines) - 1))
            text = "".join(lines[: i + 1] + lines[i:])
        elif edit == "nest":
            depth = draw(st.integers(1, 200))
            text = _replace_value(text, at, "[" * depth + "x" + "]" * draw(st.integers(0, depth)))
        elif edit == "alias":
            text = "x: &a [1, 2]\n" + _replace_value(text, at, "*a")
        elif edit == "merge":
            text = "base: &a {flags: [SAVE_REGS]}\n" + text.replace(
                "- name:", "- <<: *a\n  name:", 1
            )
        else:
            text = _bomb(draw(st.integers(1, 40)), draw(st.booleans())) + text
    data = text.encode("utf-8", "surrogatepass")
    if draw(st.integers(0, 9)) == 0:  # raw bytes: NULs, Latin-1, invalid UTF-8
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.binary(min_size=1, max_size=4)) + data[at:]
    return data


def _bomb(levels: int, merge: bool) -> str:
    """Anchors that each use the one before twice: a list, or a mapping merging it."""
    lines = ["b0: &b0 {k: v}" if merge else "b0: &b0 [lol, lol]"]
    for i in range(1, levels):
        value = f"{{<<: [*b{i - 1}, *b{i - 1}]}}" if merge else f"[*b{i - 1}, *b{i - 1}]"
        lines.append(f"b{i}: &b{i} {value}")
    return "\n".join(lines) + "\n"


def _replace_value(text: str, at: int, value: str) -> str:
    """``text`` with the value after the first ': ' from ``at`` (to the end of its line)
    replaced by ``value``."""
    colon = text.find(": ", at)
    if colon < 0:
        return text + value
    end = text.find("\n", colon)
    end = len(text) if end < 0 else end
    return text[: colon + 2] + value + text[end:]


@st.composite
def odd_scalar_files(draw: Any) -> bytes:
    """A valid scenario with a few of its values replaced by odd scalars."""
    text = dump(draw(scenarios()))
    for _ in range(draw(st.integers(1, 3))):
        text = _replace_value(text, draw(st.integers(0, len(text))), draw(odd_scalar()))
    return text.encode("utf-8", "surrogatepass")


@st.composite
def broken_files(draw: Any) -> bytes:
    """A valid scenario broken in its data, its text, or both; sometimes left intact."""
    data = draw(scenarios())
    how = draw(st.sampled_from(("intact", "data", "text", "both")))
    if how in ("data", "both"):
        data = draw(broken_data(data))
    text = dump(data)
    if how in ("text", "both"):
        return draw(broken_text(text))
    return text.encode("utf-8")
