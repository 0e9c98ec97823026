"""An optional on-disk cache of assembled units, shared by every run of this user.

Keystone takes a millisecond or more per scenario; a run of the same corpus again (another
``ftscen run``, a ``--jobs`` worker, a CI re-run) finds the bytes here instead. It is off
unless ``FTSCEN_CACHE`` is set: ``1`` for the user's cache directory
(``$XDG_CACHE_HOME/ftscen``, else ``~/.cache/ftscen``), or the directory to use.

Entries are addressed by a hash of everything the bytes depend on (the assembly source, the
address, Keystone's version and this format's version), so an entry is never stale: a
changed scenario or a new ftscen looks up a different name. An entry that does not read
back whole and consistent (a crash mid-write, a full disk, a hand edit) is ignored. Writers
publish with an atomic rename, so concurrent runs never see half an entry.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path

FORMAT = b"ftscen-unit 1\n"


def directory(environ: dict[str, str] | None = None) -> Path | None:
    """Where the cache lives, or None when it is off."""
    env = os.environ if environ is None else environ
    value = env.get("FTSCEN_CACHE", "")
    if value in ("", "0"):
        return None
    if value != "1":
        return Path(value)
    base = env.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base, "ftscen")


def key(source: str, base: int, assembler: str) -> str:
    data = b"%s%d\n%s\n%s" % (FORMAT, base, assembler.encode(), source.encode())
    return hashlib.sha256(data).hexdigest()


def load(folder: Path, name: str) -> tuple[bytes, dict[str, int]] | None:
    """The code and labels stored under ``name``; None if absent or not whole."""
    try:
        blob = (folder / f"{name}.unit").read_bytes()
        head, _, rest = blob[len(FORMAT) :].partition(b"\n")
        meta = json.loads(head)
        code = rest[: meta["size"]]
        if not blob.startswith(FORMAT) or meta["key"] != name or len(rest) != meta["size"]:
            return None
        if hashlib.sha256(code).hexdigest() != meta["sha256"]:
            return None
        labels = {str(k): int(v) for k, v in meta["labels"].items()}
        return code, labels
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def store(folder: Path, name: str, code: bytes, labels: dict[str, int]) -> None:
    """Publish an entry atomically; a cache that cannot be written is simply not used."""
    meta = {"key": name, "size": len(code), "sha256": hashlib.sha256(code).hexdigest()}
    head = json.dumps({**meta, "labels": labels}, separators=(",", ":")).encode()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".unit")
    except OSError:
        return
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(FORMAT + head + b"\n" + code)
        os.replace(tmp, folder / f"{name}.unit")
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
