"""``ftscen export-module``: one scenario as a module directory a kernel developer can build.

The directory gets ``ftscen_mod.c``, ``Kbuild`` and ``steps.sh``. Files already there are
never overwritten unless asked (``force``): a user's edits to an exported reproducer stay.
"""

from __future__ import annotations

from pathlib import Path

from ftscen.core.errors import UsageError
from ftscen.core.model import Scenario
from ftscen.kernel.cmodule import Unit, module_source, step_script

FILES = ("ftscen_mod.c", "Kbuild", "steps.sh")
KBUILD = "obj-m := ftscen_mod.o\n"


def export_module(sc: Scenario, out: Path, force: bool = False) -> list[Path]:
    """Write the module's files into ``out``; refuses a non-empty directory unless ``force``."""
    if sc.livepatches:
        raise UsageError(
            f"{sc.path}: the kernel module registers ftrace ops; it does not build live "
            "patches (write a livepatch module for those, see samples/livepatch/ in the kernel)"
        )
    if out.exists() and not out.is_dir():
        raise UsageError(f"-o {out}: exists and is not a directory")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise UsageError(
            f"-o {out}: the directory is not empty; choose a new one, or pass --force to "
            f"overwrite {', '.join(FILES)} there"
        )
    units = [Unit(sc, 0)]
    texts = {"ftscen_mod.c": module_source(units), "Kbuild": KBUILD}
    texts["steps.sh"] = step_script(units)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in texts.items():
        path = out / name
        path.write_text(text)
        written.append(path)
    (out / "steps.sh").chmod(0o755)
    return written
