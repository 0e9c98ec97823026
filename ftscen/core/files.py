"""Reading the files ftscen is given: regular files only, never blocking, never unbounded.

Scenario files and goldens are named by users and found by walking folders, so a name can be
a FIFO (opening it for reading would wait for a writer forever), a device (``/dev/zero``
never ends), a folder, or a huge file. :func:`read_bounded` is the one place that reads
them: it opens without blocking, asks the *opened* descriptor what it is (no stat-then-open
race), refuses anything but a regular file and reads at most ``limit + 1`` bytes, so the
memory a read takes is bounded whatever the file is.
"""

from __future__ import annotations

import os
import stat

_OPEN_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_NOCTTY", 0)
    | getattr(os, "O_CLOEXEC", 0)
)
_CHUNK = 1 << 20

#: What a file that is not a regular file is, for messages (``stat.S_IFMT`` -> words).
_KINDS = {
    stat.S_IFDIR: "a folder",
    stat.S_IFIFO: "a FIFO (named pipe)",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
}


class FileRefused(Exception):
    """A file that was not read: what went wrong (``reason``) and what to do (``hint``).
    ``size`` is set when the file is over the limit (its size, or at least ``limit + 1``)."""

    def __init__(self, path: str, reason: str, hint: str, size: int | None = None) -> None:
        super().__init__(path, reason, hint, size)
        self.path, self.reason, self.hint, self.size = path, reason, hint, size

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


def read_bounded(path: str | os.PathLike[str], limit: int, what: str) -> bytes:
    """The bytes of the regular file ``path`` if it holds at most ``limit`` bytes.

    ``what`` names the file's role in messages ("scenario", "golden"). Raises
    :class:`FileRefused` for a file that cannot be opened (the OS's reason), is not a regular
    file, or is over the limit; ``FileNotFoundError`` passes through as itself.
    """
    shown = os.fspath(path)
    fd = _open_regular(shown, what)
    try:
        data = _read_at_most(fd, limit + 1, shown, what)
    finally:
        os.close(fd)
    if len(data) > limit:
        size = max(len(data), _size_of(shown))
        raise FileRefused(
            shown,
            f"the {what} file is over the limit of {limit} bytes",
            f"a {what} is a short text file; check it is the right file",
            size,
        )
    return data


def read_head(path: str | os.PathLike[str], count: int, what: str) -> bytes:
    """The first ``count`` bytes of the regular file ``path`` (to sniff what it holds);
    refuses as :func:`read_bounded` does, except for the size."""
    shown = os.fspath(path)
    fd = _open_regular(shown, what)
    try:
        return _read_at_most(fd, count, shown, what)
    finally:
        os.close(fd)


def _open_regular(shown: str, what: str) -> int:
    """A descriptor on ``shown``, opened without blocking, if it is a regular file."""
    try:
        fd = os.open(shown, _OPEN_FLAGS)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise FileRefused(
            shown,
            f"cannot open the {what} file: {exc.strerror or exc}",
            "check the path and its permissions",
        ) from None
    try:
        mode = os.fstat(fd).st_mode
    except OSError as exc:
        os.close(fd)
        raise FileRefused(
            shown,
            f"cannot read the {what} file: {exc.strerror or exc}",
            "check the file and the device it is on",
        ) from None
    if not stat.S_ISREG(mode):
        os.close(fd)
        kind = _KINDS.get(stat.S_IFMT(mode), "not a regular file")
        raise FileRefused(
            shown,
            f"this is {kind}, not a regular file",
            f"give ftscen the {what} as a regular file",
        )
    return fd


def _read_at_most(fd: int, count: int, shown: str, what: str) -> bytes:
    parts: list[bytes] = []
    left = count
    while left > 0:
        try:
            chunk = os.read(fd, min(left, _CHUNK))
        except OSError as exc:
            raise FileRefused(
                shown,
                f"cannot read the {what} file: {exc.strerror or exc}",
                "check the file and the device it is on",
            ) from None
        if not chunk:
            break
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)


def _size_of(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


#: Byte order marks of the wide Unicode encodings (UTF-32 first: its LE mark starts with
#: UTF-16's).
_BOMS = (
    (b"\xff\xfe\x00\x00", "UTF-32 (little-endian)"),
    (b"\x00\x00\xfe\xff", "UTF-32 (big-endian)"),
    (b"\xff\xfe", "UTF-16 (little-endian)"),
    (b"\xfe\xff", "UTF-16 (big-endian)"),
)
#: Which bytes of each group of four are NUL in ASCII text -> the encoding.
_NUL_PATTERNS: dict[tuple[bool, ...], str] = {
    (False, True, True, True): "UTF-32 (little-endian)",
    (True, True, True, False): "UTF-32 (big-endian)",
    (False, True, False, True): "UTF-16 (little-endian)",
    (True, False, True, False): "UTF-16 (big-endian)",
}


def wide_encoding(data: bytes) -> str | None:
    """The UTF-16 or UTF-32 encoding ``data`` is in, by its byte order mark or, without
    one, by where the NULs of its first characters fall (text starts with ASCII keys);
    None for anything else. Such text is full of NULs and would be called binary."""
    for bom, name in _BOMS:
        if data.startswith(bom):
            return name
    head = data[: len(data[:64]) // 4 * 4]
    if not head:
        return None
    zeros = tuple(not any(head[k::4]) for k in range(4))
    return _NUL_PATTERNS.get(zeros)
