"""What a corpus run keeps of each scenario: a summary that still says everything the
end-of-run reporters print, without the callback log."""

from __future__ import annotations

from support import FIXTURES

from ftscen.app.corpus import Job, run_job
from ftscen.report import junit
from ftscen.report.corpus import Tally, failure_lines, kernel_rows
from ftscen.report.text import summary_line

KERNELS = ("5.1", "5.3")


def failing_job():
    return run_job(Job(str(FIXTURES / "seed-livepatch-tracer-window.yaml"), KERNELS))


def test_a_summary_drops_the_log_and_keeps_the_failing_verdicts_events():
    full = failing_job()
    short = full.summary()
    for big, small in zip(full.runs, short.runs, strict=True):
        assert big.report.result.events and small.report.result.events == ()
        assert small.report.result.sites == {}
        assert failure_lines(small) == failure_lines(big)
        assert summary_line(small.report) == summary_line(big.report)
    assert any(failure_lines(r) for r in full.runs)  # 5.1 fails: the check compares something


def test_the_end_of_run_reporters_print_the_same_from_summaries():
    full = failing_job()
    short = full.summary()
    assert junit.render([short], KERNELS) == junit.render([full], KERNELS)
    assert kernel_rows([short], KERNELS) == kernel_rows([full], KERNELS)
    a, b = Tally(), Tally()
    a.add(full)
    b.add(short)
    assert a.line() == b.line()
