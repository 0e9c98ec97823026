"""Stage 2b: semantic checks on a scenario that fits the schema.

:data:`CHECKS` is a table of small named checks; each reads the document through a
:class:`Context` and yields :class:`Diagnostic` s saying what is wrong and what to do. They
run only on a document that passed the shape check, so they may trust its shape.
Checks that model the kernel cite where it decides the same thing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ftscen.load import check_names as names
from ftscen.load import check_rules as rules
from ftscen.load.document import Document
from ftscen.core.errors import Diagnostic

__all__ = ["CHECKS", "Context", "check_semantics"]

ACTIONS = ("register", "unregister", "set_filter", "set_notrace", "sysctl", "call")


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
    def cpus(self) -> int:
        return int(self.data.get("kernel", {}).get("cpus", 2))

    def error(self, path: str, message: str, hint: str | None = None, *,
              key: bool = False) -> Diagnostic:
        return self.doc.diagnostic(path, message, hint, key=key)

    def steps(self) -> Iterator[tuple[str, dict[str, Any]]]:
        for i, step in enumerate(self.data["timeline"]):
            yield f"$.timeline[{i}]", step

    def durings(self) -> Iterator[tuple[str, dict[str, Any]]]:
        for path, step in self.steps():
            for j, entry in enumerate(step.get("during", [])):
                yield f"{path}.during[{j}]", entry

    def assertions(self) -> Iterator[tuple[str, dict[str, Any]]]:
        for i, entry in enumerate(self.data.get("expect", [])):
            yield f"$.expect[{i}]", entry

    @staticmethod
    def action(step: dict[str, Any]) -> str:
        """The action key of a (schema-valid) step."""
        return next(key for key in ACTIONS if key in step)

    @staticmethod
    def listing(names: list[str], limit: int = 8) -> str:
        """``a, b, c, ...``: a few names for a hint."""
        shown = ", ".join(names[:limit])
        return shown + (", ..." if len(names) > limit else "") if names else "none"


Check = Callable[[Context], Iterator[Diagnostic]]


#: The semantic checks, in the order their diagnostics are produced (they are sorted later).
CHECKS: tuple[tuple[str, Check], ...] = (
    ("duplicate-function", names.check_duplicate_functions),
    ("duplicate-ops", names.check_duplicate_ops),
    ("duplicate-id", names.check_duplicate_ids),
    ("reserved-name", names.check_reserved_names),
    ("unknown-function", names.check_unknown_functions),
    ("unknown-ops", names.check_unknown_ops),
    ("call-loop", names.check_call_loops),
    ("unmatched-glob", rules.check_unmatched_globs),
    ("ipmodify-notrace", rules.check_ipmodify_notrace),
    ("redirect", rules.check_redirects),
    ("cpu-range", rules.check_cpus),
    ("step-keys", rules.check_step_keys),
    ("call-id", rules.check_call_ids),
    ("site-symbol", rules.check_sites),
    ("kernel-version", rules.check_kernel_version),
)


def check_semantics(doc: Document) -> list[Diagnostic]:
    """Run every check of :data:`CHECKS` on a document that fits the schema.

    The documented limits are checked first and alone: a scenario over them is refused for
    that, and the other checks (some quadratic in the number of functions) never see it.
    """
    ctx = Context(doc, doc.data)
    over = list(rules.check_limits(ctx))
    if over:
        return over
    return [diag for _, check in CHECKS for diag in check(ctx)]


