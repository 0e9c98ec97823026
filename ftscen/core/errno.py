"""The errno values the modelled ftrace core returns (include/uapi/asm-generic/errno-base.h)."""

from __future__ import annotations

EBUSY, ENODEV, EINVAL = 16, 19, 22

#: errno -> the name scenarios, logs and reports use ("0" for success).
ERRNO_NAMES = {0: "0", EBUSY: "EBUSY", ENODEV: "ENODEV", EINVAL: "EINVAL"}


def errno_name(value: int) -> str:
    """A positive errno (or 0) by name; an unknown one as its number."""
    return ERRNO_NAMES.get(value, str(value))
