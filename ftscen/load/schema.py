"""Stage 2a: the shape check against ``schema/scenario.schema.json``.

The JSON Schema (draft 2020-12) is the contract for the shape of a scenario; this module runs
it and turns each ``jsonschema`` error into a :class:`Diagnostic` a person can act on
("unknown key 'fliter' in an ops (did you mean 'filter'?)"), located by the document's marks.
Messages use the ``title`` of the schema that failed ("a list of globs") and hints use the
``description`` of a missing key. Whether a document fits is first asked of ``jsonschema-rs``
(compiled; on a typical scenario a hundredth of the time ``jsonschema`` takes, or less): only
a document that does not fit goes through ``jsonschema``, which words the diagnostics. Both
read patterns as ECMA-262 regexes, so they agree on which documents fit.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from ftscen.core.diagnostics import did_you_mean, suggestion
from ftscen.core.errors import Diagnostic
from ftscen.load.document import Document, child_path

if TYPE_CHECKING:  # jsonschema is imported only when a document does not fit
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError

Schema = dict[str, Any]


@cache
def scenario_schema() -> Schema:
    """The scenario schema shipped in the package (``ftscen/scenario.schema.json``)."""
    text = (resources.files("ftscen") / "scenario.schema.json").read_text(encoding="utf-8")
    loaded: Schema = json.loads(text)
    return loaded


@cache
def _gate() -> Callable[[Any], bool]:
    """``jsonschema-rs``'s yes/no check of the schema, compiled once per process."""
    import jsonschema_rs

    return jsonschema_rs.Draft202012Validator(scenario_schema()).is_valid


def fits(data: Any) -> bool:
    """Whether ``data`` fits the schema, by ``jsonschema-rs``. Data it cannot take in (a
    string with a lone surrogate, which a YAML escape can make) counts as not known to fit."""
    try:
        return _gate()(data)
    except ValueError:
        return False


@cache
def _validator() -> Draft202012Validator:
    """Draft 2020-12, with patterns read as ECMA-262 regexes, as JSON Schema defines them and
    ``jsonschema-rs`` reads them: ``jsonschema`` would use Python's, where ``$`` also matches
    before a final newline (which let ``"do_IRQ\\n"`` through as a name) and ``\\s`` is
    another set of characters."""
    from jsonschema import Draft202012Validator, validators

    checker = validators.extend(  # type: ignore[no-untyped-call]
        Draft202012Validator, {"pattern": _ecma_pattern}
    )
    validator: Draft202012Validator = checker(scenario_schema())
    return validator


def _ecma_pattern(
    validator: Draft202012Validator, pattern: str, instance: Any, schema: Schema
) -> Iterator[ValidationError]:
    from jsonschema.exceptions import ValidationError

    if validator.is_type(instance, "string") and not _matches(pattern, instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


@cache
def _pattern_check(pattern: str) -> Callable[[str], bool]:
    import jsonschema_rs

    return jsonschema_rs.Draft202012Validator({"pattern": pattern}).is_valid


def _matches(pattern: str, text: str) -> bool:
    """Whether ``text`` matches ``pattern``, by the regex engine of the yes/no check."""
    try:
        return _pattern_check(pattern)(text)
    except ValueError:  # a lone surrogate; U+FFFD, like it, is no letter, digit or space
        return _pattern_check(pattern)(_SURROGATE.sub("\ufffd", text))


_SURROGATE = re.compile("[\ud800-\udfff]")


def _same_value(value: Any) -> Any:
    """A hashable key equal for two values exactly when JSON Schema deems them equal:
    ``true`` is not ``1``, ``1`` is ``1.0``, lists and mappings compare item by item."""
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, (int, float)):
        return ("number", value)
    if isinstance(value, list):
        return ("list", tuple(_same_value(item) for item in value))
    if isinstance(value, dict):
        return ("map", frozenset((k, _same_value(v)) for k, v in value.items()))
    return (type(value).__name__, value)


def check_shape(doc: Document) -> list[Diagnostic]:
    """All shape errors of ``doc``, translated; empty when the document fits the schema.

    A document that :func:`fits` needs no more work; any other goes through ``jsonschema``,
    which words the diagnostics (and finds none, should the two ever disagree).
    """
    if fits(doc.data):
        return []
    errors = list(_validator().iter_errors(doc.data))
    found: list[Diagnostic] = []
    for error in _relevant(errors):
        found.extend(_translate(doc, error))
    return list(dict.fromkeys(found))


def _relevant(errors: list[ValidationError]) -> Iterator[ValidationError]:
    """Drop errors that only repeat a better one at the same place: anything beside a type
    error, and the per-kind key checks beside a 'which kind is this' (oneOf) error."""
    typed = {_path(e) for e in errors if e.validator == "type"}
    kinds = {_path(e) for e in errors if e.validator == "oneOf"}
    seen_type: set[str] = set()
    for error in errors:
        path = _path(error)
        if path in typed:
            if error.validator != "type" or path in seen_type:
                continue
            seen_type.add(path)
        elif path in kinds and error.validator != "oneOf" and "then" in error.schema_path:
            continue
        yield error


def _schema(error: ValidationError) -> Schema:
    return error.schema if isinstance(error.schema, dict) else {}


def _instance(error: ValidationError) -> Any:
    return error.instance


def _expected(error: ValidationError) -> Any:
    return error.validator_value


def _path(error: ValidationError) -> str:
    path = "$"
    for part in error.absolute_path:
        path = child_path(path, part)
    return path


def _translate(doc: Document, error: ValidationError) -> list[Diagnostic]:
    handler = _HANDLERS.get(str(error.validator), _fallback)
    return handler(doc, error)


# ---- wording helpers -----------------------------------------------------------------------

_TYPE_NOUNS = {
    "string": "a string",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "array": "a list",
    "object": "a mapping",
    "null": "nothing",
}


def _title(schema: Any, fallback: str = "this value") -> str:
    if isinstance(schema, dict):
        if "title" in schema:
            return str(schema["title"])
        kind = schema.get("type")
        if isinstance(kind, str):
            return _TYPE_NOUNS.get(kind, fallback)
    return fallback


def _show(value: Any) -> str:
    if isinstance(value, str):
        text = value if len(value) <= 40 else value[:37] + "..."
        return repr(text)
    return json.dumps(value) if value is None or isinstance(value, bool) else repr(value)


def _describe(doc: Document, path: str, value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return f"the number {doc.raw.get(path, repr(value))}"
    if isinstance(value, str):
        return f"a string ({_show(value)})"
    return "a list" if isinstance(value, list) else "a mapping"


def _keys(schema: Schema) -> list[str]:
    return list(schema.get("properties", {}))


def _here(
    doc: Document,
    error: ValidationError,
    message: str,
    hint: str | None,
    *,
    path: str | None = None,
    key: bool = False,
) -> list[Diagnostic]:
    return [doc.diagnostic(path or _path(error), message, hint, key=key)]


# ---- one handler per JSON Schema keyword -----------------------------------------------------


def _type(doc: Document, error: ValidationError) -> list[Diagnostic]:
    path, value, schema = _path(error), _instance(error), _schema(error)
    if path == "$" and value is None:
        return _here(
            doc,
            error,
            "the file holds no scenario (its document is empty)",
            "a scenario needs at least `ftscen: 1`, `functions:` and `timeline:`",
        )
    expected = _title(schema)
    wanted = schema.get("type") if isinstance(schema, dict) else None
    return _here(
        doc,
        error,
        f"expected {expected}, got {_describe(doc, path, value)}",
        _type_hint(doc, path, value, wanted, schema),
    )


def _type_hint(doc: Document, path: str, value: Any, wanted: Any, schema: Any) -> str | None:
    wanted_types = wanted if isinstance(wanted, list) else [wanted]
    raw = doc.raw.get(path)
    if value is None:
        return "an empty value is null in YAML: write [] for an empty list, or drop the key"
    if "string" in wanted_types and raw is not None and _could_be(schema, raw):
        if isinstance(value, float) and raw != repr(value):
            return f'YAML reads {raw} as the number {value!r}: quote it, "{raw}"'
        return f'quote it: "{raw}"'
    if wanted_types == ["array"] and not isinstance(value, (list, dict)):
        return f'write a list: ["{value}"]'
    if "object" in wanted_types and isinstance(schema, dict) and _keys(schema):
        return f"{_title(schema)} takes the keys: {', '.join(_keys(schema))}"
    return None


def _could_be(schema: Any, raw: str) -> bool:
    """Whether quoting ``raw`` would satisfy a name's pattern (quoting 3 gives no name)."""
    naming = "name" in _title(schema)
    return not naming or raw[:1].isalpha() or raw[:1] == "_"


def _required(doc: Document, error: ValidationError) -> list[Diagnostic]:
    schema, instance = _schema(error), _instance(error)
    title = _title(schema)
    out: list[Diagnostic] = []
    for key in _expected(error):
        if isinstance(instance, dict) and key not in instance:
            described = schema.get("properties", {}).get(key, {}).get("description", "")
            described = described.rstrip(".")
            hint = (
                f"add `{key}: 1` at the top of the file"
                if key == "ftscen"
                else (
                    f"add `{key}:` ({described[:1].lower()}{described[1:]})" if described else None
                )
            )
            out += _here(doc, error, f"{title} needs the key '{key}'", hint)
    return out


def _additional(doc: Document, error: ValidationError) -> list[Diagnostic]:
    schema, instance = _schema(error), _instance(error)
    allowed = _keys(schema)
    title = _title(schema)
    out: list[Diagnostic] = []
    for key in instance:
        if key in allowed:
            continue
        close = did_you_mean(key, allowed)
        if close:
            message = f"unknown key '{key}' in {title} (did you mean '{close}'?)"
        elif key in _all_keys():
            message = f"'{key}' does not belong in {title}"
        else:
            message = f"unknown key '{key}' in {title}"
        out += _here(
            doc,
            error,
            message,
            f"{title} takes the keys: {', '.join(allowed)}",
            path=child_path(_path(error), key),
            key=True,
        )
    return out


@cache
def _all_keys() -> frozenset[str]:
    keys: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            keys.update(node.get("properties", {}))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(scenario_schema())
    return frozenset(keys)


def _enum(doc: Document, error: ValidationError) -> list[Diagnostic]:
    choices = list(dict.fromkeys(str(v) for v in _expected(error)))
    value = _instance(error)
    near = suggestion(value, choices) if isinstance(value, str) else ""
    return _here(
        doc,
        error,
        f"{_show(value)} is not {_title(_schema(error))}{near}",
        f"expected one of: {', '.join(choices)}",
    )


def _const(doc: Document, error: ValidationError) -> list[Diagnostic]:
    if _path(error) == "$.ftscen":
        return _here(
            doc,
            error,
            f"unsupported format version {_show(_instance(error))}: this "
            "ftscen reads format version 1",
            "write `ftscen: 1` (see docs/format.md)",
        )
    return _here(
        doc, error, f"expected {_show(_expected(error))}, got {_show(_instance(error))}", None
    )


_PATTERN_HINTS = {
    "^[A-Za-z_][A-Za-z0-9_]*$": "names are C identifiers: letters, digits and '_', not starting with a digit",
    "^[A-Za-z0-9_][A-Za-z0-9_.-]*$": "an id is one word of letters, digits, '_', '.' and '-'",
    "^!?[^\\s!0-9]\\S*$": "a glob is one word in the kernel's syntax (* ? [...], a leading ! "
    "removes); put each glob in its own list entry",
    "^(nop|call [A-Za-z_][A-Za-z0-9_]*(\\.(tramp|func))?)$": "write `nop` or `call SYMBOL` (at a function's site ftrace_caller, ftrace_regs_caller or "
    "OPS.tramp; at a trampoline's site ftrace_stub, ftrace_ops_list_func, "
    "ftrace_ops_assist_func or OPS.func)",
    "^[A-Za-z_][A-Za-z0-9_]*(\\.tramp_call)?$": "name a traceable function, or a trampoline's call site: ftrace_call, ftrace_regs_call "
    "or OPS.tramp_call",
}

_POINTS = ["start"] + [
    f"{site}.{phase}"
    for site in ("sites", "ftrace_call", "ftrace_regs_call")
    for phase in ("int3", "tail", "done")
]


def _pattern(doc: Document, error: ValidationError) -> list[Diagnostic]:
    value, pattern = str(_instance(error)), str(_expected(error))
    as_key = "propertyNames" in error.schema_path
    path = child_path(_path(error), value) if as_key else _path(error)
    hint = _PATTERN_HINTS.get(pattern)
    near = ""
    if _schema(error).get("title") == "a point":
        near = suggestion(value, _POINTS)
        hint = (
            "points: start, sites.int3|tail|done, ftrace_call.*, ftrace_regs_call.*, "
            "OPS.tramp_call.*, optionally with #N; `ftscen points FILE` lists them"
        )
    return _here(
        doc,
        error,
        f"{_show(value)} is not {_title(_schema(error))}{near}",
        hint,
        path=path,
        key=as_key,
    )


def _min_items(doc: Document, error: ValidationError) -> list[Diagnostic]:
    if _path(error) == "$.functions":
        return _here(
            doc,
            error,
            "the function table is empty",
            "list at least one function, e.g. `- name: f`",
        )
    path, least, items = _path(error), _expected(error), _instance(error)
    last = path.rsplit(".", 1)[-1]
    what = f"`{last}`" if path != "$" and not last.endswith("]") else _title(_schema(error))
    need = "one entry" if least == 1 else f"{least} entries"
    if not items:
        return _here(doc, error, f"{what} is an empty list; it needs at least {need}", None)
    has = f"{len(items)} entr{'y' if len(items) == 1 else 'ies'}"
    return _here(doc, error, f"{what} has {has}; it needs at least {need}", None)


def _unique(doc: Document, error: ValidationError) -> list[Diagnostic]:
    """One diagnostic per value listed more than once (at its second listing, with the
    count), not one per repeat: a list of 5,000 copies is one mistake."""
    first: dict[Any, int] = {}
    repeats: dict[Any, list[int]] = {}
    items = _instance(error)
    for index, item in enumerate(items):
        key = _same_value(item)
        if key in first:
            repeats.setdefault(key, []).append(index)
        else:
            first[key] = index
    out: list[Diagnostic] = []
    for key, where in repeats.items():
        count = len(where) + 1
        times = "twice" if count == 2 else f"{count} times"
        out += _here(
            doc,
            error,
            f"{_show(items[first[key]])} is listed {times}",
            "list each one once",
            path=child_path(_path(error), where[0]),
        )
    return out


def _range(doc: Document, error: ValidationError) -> list[Diagnostic]:
    schema = _schema(error)
    low, high = schema.get("minimum"), schema.get("maximum")
    bounds = (
        f"from {low} to {high}"
        if low is not None and high is not None
        else (f"at least {low}" if low is not None else f"at most {high}")
    )
    return _here(
        doc, error, f"{_show(_instance(error))} is out of range: {_title(schema)} is {bounds}", None
    )


def _min_length(doc: Document, error: ValidationError) -> list[Diagnostic]:
    return _here(
        doc, error, f"{_title(_schema(error))} cannot be empty", _schema(error).get("description")
    )


# title -> (no kind: message, hint prefix; several: message prefix, hint)
_KIND_WORDS = {
    "a timeline step": (
        "this step has no action",
        "add one of",
        "this step has several actions",
        "a step does one thing: split it into one step per action",
    ),
    "a stop": (
        "this stop says neither where nor when",
        "add one of",
        "this stop has several forms",
        "a call stops once: keep one of at, insns or any",
    ),
    "an assertion": (
        "this assertion checks nothing",
        "start it with one of",
        "this assertion mixes several checks",
        "an assertion checks one thing: split it into one assertion per check",
    ),
}


def _one_of(doc: Document, error: ValidationError) -> list[Diagnostic]:
    instance, options = _instance(error), _expected(error)
    kinds = [option["required"][0] for option in options]
    words = _KIND_WORDS.get(_title(_schema(error)))
    if words is None or not isinstance(instance, dict):
        return _fallback(doc, error)
    none_msg, none_hint, many_msg, many_hint = words
    present = [
        kinds[i]
        for i, option in enumerate(options)
        if _validator().evolve(schema=option).is_valid(instance)
    ]
    if not present:
        return _here(doc, error, none_msg, f"{none_hint}: {', '.join(kinds)}")
    shown = " and ".join(f"'{k}'" for k in present)
    return _here(
        doc,
        error,
        f"{many_msg}: {shown}",
        many_hint,
        path=child_path(_path(error), present[1]),
        key=True,
    )


def _any_of(doc: Document, error: ValidationError) -> list[Diagnostic]:
    options = _expected(error)
    if all(set(option) == {"required"} for option in options):
        keys = " or ".join(f"'{option['required'][0]}'" for option in options)
        return _here(
            doc, error, f"{_title(_schema(error))} needs {keys}", "add at least one of them"
        )
    chosen = _fitting_option(error)
    if chosen:
        return [d for sub in _relevant(chosen) for d in _translate(doc, sub)]
    return _fallback(doc, error)


def _fitting_option(error: ValidationError) -> list[ValidationError]:
    """The errors of the one alternative whose type the value has (an errno string against
    ``EBUSY | {errno, kernels} | [...]``), so they are worded as that alternative's; none
    when the value's type fits several or none of them."""
    by_option: dict[Any, list[ValidationError]] = {}
    for sub in error.context or []:
        by_option.setdefault(sub.relative_schema_path[0], []).append(sub)
    fitting = [
        subs
        for subs in by_option.values()
        if not any(s.validator == "type" and s.absolute_path == error.absolute_path for s in subs)
    ]
    return fitting[0] if len(fitting) == 1 else []


def _fallback(doc: Document, error: ValidationError) -> list[Diagnostic]:
    return _here(doc, error, error.message, None)


Handler = Callable[[Document, "ValidationError"], list[Diagnostic]]

_HANDLERS: dict[str, Handler] = {
    "type": _type,
    "required": _required,
    "additionalProperties": _additional,
    "enum": _enum,
    "const": _const,
    "pattern": _pattern,
    "minItems": _min_items,
    "uniqueItems": _unique,
    "minimum": _range,
    "maximum": _range,
    "minLength": _min_length,
    "oneOf": _one_of,
    "anyOf": _any_of,
}
