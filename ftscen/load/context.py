"""What every semantic check reads: the document and its name tables."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ftscen.core.errors import Diagnostic
from ftscen.core.model import QUANTIFIER_KEYS
from ftscen.load.document import Document

ACTIONS = (
    "register",
    "unregister",
    "set_filter",
    "set_notrace",
    "sysctl",
    "call",
    "enable",
    "disable",
    "transition",
    "busy",
    "resume",
)


@dataclass
class Context:
    """The document plus the name tables every check needs."""

    doc: Document
    data: dict[str, Any]
    functions: dict[str, str] = field(default_factory=dict)  # name -> path of first entry
    notrace: set[str] = field(default_factory=set)
    ops: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for i, entry in enumerate(self.data["functions"]):
            self.functions.setdefault(entry["name"], f"$.functions[{i}]")
            if entry.get("notrace"):
                self.notrace.add(entry["name"])
        for entry in self.data.get("ops", []):
            self.ops.setdefault(entry["name"], entry)

    @property
    def traceable(self) -> list[str]:
        return [name for name in self.functions if name not in self.notrace]

    @property
    def klp_ops(self) -> list[str]:
        """The names of the ftrace ops of the live patches' ``klp_ops`` (one per function)."""
        from ftscen.core.klp import klp_ops_name

        olds = (old for p in self.data.get("livepatches", []) for old in p["funcs"])
        return list(dict.fromkeys(klp_ops_name(old) for old in olds))

    @property
    def cpus(self) -> int:
        return int(self.data.get("kernel", {}).get("cpus", 2))

    def error(
        self, path: str, message: str, hint: str | None = None, *, key: bool = False
    ) -> Diagnostic:
        return self.doc.diagnostic(path, message, hint, key=key)

    def steps(self) -> Iterator[tuple[str, dict[str, Any]]]:
        for i, step in enumerate(self.data["timeline"]):
            yield f"$.timeline[{i}]", step

    def durings(self) -> Iterator[tuple[str, dict[str, Any]]]:
        for path, step in self.steps():
            for j, entry in enumerate(step.get("during", [])):
                yield f"{path}.during[{j}]", entry

    def assertions(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """Every assertion, a quantified one (``sometimes:``, ``never:``) by its inner one."""
        for i, entry in enumerate(self.data.get("expect", [])):
            key = next((q for q in QUANTIFIER_KEYS if q in entry), None)
            if key is None:
                yield f"$.expect[{i}]", entry
            elif isinstance(entry[key], dict):
                yield f"$.expect[{i}].{key}", entry[key]

    @staticmethod
    def action(step: dict[str, Any]) -> str:
        """The action key of a (schema-valid) step."""
        return next(key for key in ACTIONS if key in step)

    @staticmethod
    def listing(names: list[str], limit: int = 8) -> str:
        """``a, b, c, ...``: a few names for a hint."""
        shown = ", ".join(names[:limit])
        return shown + (", ..." if len(names) > limit else "") if names else "none"
