"""``ftscen new`` and ``ftscen schema``: starting a scenario, and pointing an editor at the
schema that checks it as it is typed.

``new`` writes a commented template that passes ``ftscen run`` as it is, so the first run
of a new file shows what a passing log looks like before anything is changed. It never
replaces a file: the template is created with ``O_EXCL``, so even a file that appears
between a check and the write is left alone.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from ftscen.core.errors import UsageError

TEMPLATE = """\
# {name}: a new ftscen scenario. Run it with:   ftscen run {file}
# Every key is described in docs/format.md. Editors check the file as it is typed with the
# JSON Schema that `ftscen schema --path` names, given on a line like this one:
#   # yaml-language-server: $schema=PATH
ftscen: 1
description: >
  What this scenario shows, and why it matters (shown in the log header).
kernel:
  version: "6.6"          # the kernel whose patching rules apply (-K 5.1 runs it as 5.1)
functions:                # the functions of the modelled kernel (each gets an mcount site)
  - name: do_work
  - name: helper
ops:                      # struct ftrace_ops to register; flags: SAVE_REGS, IPMODIFY, ...
  - name: tracer
    filter: [do_work]     # an empty or missing filter traces every function
timeline:                 # patcher steps and calls, in order
  - call: do_work
    id: before            # ids name calls for the assertions below
  - register: tracer
    during:               # calls made while the patcher is in the middle of this step
      - at: sites.int3    # `ftscen points {file}` lists the points each step passes
        call: do_work
        id: window
  - call: helper
    id: other
expect:                   # what the callback log must show
  - {{call: before, called: []}}
  - {{call: window, called: [tracer]}}
  - {{call: other, called: []}}
  - site: {{func: do_work, is: "call ftrace_caller"}}
"""

_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.@-]*$")


def target(name: str) -> Path:
    """``NAME`` -> ``NAME.yaml`` (a name already ending in .yaml/.yml is kept)."""
    path = Path(name)
    if not _NAME.match(path.name) or path.name in (".", ".."):
        raise UsageError(
            f"new: '{name}' is not a scenario name; use letters, digits, '_', '.', '-' "
            "(e.g. ftscen new my-race)"
        )
    return path if path.suffix in (".yaml", ".yml") else path.with_name(path.name + ".yaml")


def create(name: str) -> Path:
    """Write the template to a new file; a usage error if the file exists or cannot be made."""
    path = target(name)
    text = TEMPLATE.format(name=path.stem, file=path.as_posix())
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except FileExistsError:
        raise UsageError(
            f"new: {path.as_posix()} already exists; it was left as it is "
            "(choose another name, or remove it first)"
        ) from None
    except OSError as exc:
        raise UsageError(f"new: cannot create {path.as_posix()}: {exc.strerror or exc}") from None
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    return path


def schema_text() -> str:
    from importlib import resources

    return (resources.files("ftscen") / "scenario.schema.json").read_text(encoding="utf-8")


def schema_path() -> str:
    """Where the installed schema is, for an editor's ``$schema=`` line."""
    from importlib import resources

    return str(resources.files("ftscen") / "scenario.schema.json")
