"""ftscen: deterministic scenarios for races in Linux ftrace's dynamic code patching."""

from __future__ import annotations

__version__ = "0.1.0"
