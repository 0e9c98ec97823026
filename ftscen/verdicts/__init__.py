"""Stage 4: a RunResult -> verdicts (the scenario's assertions checked against the log)."""
