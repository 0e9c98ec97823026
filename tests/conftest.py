from __future__ import annotations

import sys
from pathlib import Path

# The shared helpers (support, build, scenario_strategies) import from here, in every folder.
sys.path.insert(0, str(Path(__file__).resolve().parent))
