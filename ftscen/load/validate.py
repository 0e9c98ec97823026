"""Stage 2b: semantic checks on a scenario that fits the schema.

:data:`CHECKS` is a table of small named checks; each reads the document through a
:class:`Context` and yields :class:`Diagnostic` s saying what is wrong and what to do. They
run only on a document that passed the shape check, so they may trust its shape.
Checks that model the kernel cite where it decides the same thing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from ftscen.core.errors import Diagnostic
from ftscen.load import check_eras as eras
from ftscen.load import check_explore as explore
from ftscen.load import check_klp as klp
from ftscen.load import check_names as names
from ftscen.load import check_records as records
from ftscen.load import check_rules as rules
from ftscen.load import check_stops as stops
from ftscen.load.context import Context
from ftscen.load.document import Document

__all__ = ["CHECKS", "Context", "check_semantics"]

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
    ("stop-id", stops.check_stop_ids),
    ("resume", stops.check_resumes),
    ("site-symbol", rules.check_sites),
    ("record-function", records.check_record_functions),
    ("record-step", records.check_record_steps),
    ("kernel-version", rules.check_kernel_version),
    ("format-version", rules.check_format_version),
    ("kernel-range", eras.check_kernel_ranges),
    ("xfail-fails", eras.check_xfail_names),
    ("era-flag", eras.check_era_flags),
    ("nested-quantifier", explore.check_nested_quantifiers),
    ("explored-in-flight", explore.check_explored_in_flight),
    ("livepatch", klp.check_livepatches),
    ("klp-ops-name", klp.check_klp_ops_names),
    ("livepatch-step", klp.check_klp_steps),
)


def check_semantics(doc: Document) -> list[Diagnostic]:
    """Run every check of :data:`CHECKS` on a document that fits the schema.

    The documented limits are checked first and alone: a scenario over them is refused for
    that, and the other checks (some quadratic in the number of functions) never see it.
    """
    ctx = Context(doc, doc.data)
    over = list(rules.check_limits(ctx)) + list(klp.check_klp_limits(ctx))
    if over:
        return over
    return [diag for _, check in CHECKS for diag in check(ctx)]
