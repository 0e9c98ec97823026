"""Determinism under stress: every corpus scenario, under several kernels, run again and again
in one long process (shuffled, interleaved across kernels, with the garbage collector made to
run very often), in fresh processes, and under ``--jobs``, must give the very same report,
byte for byte. A wrong result that appears only after many runs in one process (state that
outlives a scenario, an emulator freed at the wrong moment) shows up here as a difference."""

from __future__ import annotations

import gc
import json
import random
from collections.abc import Iterator
from typing import Any

import pytest
from support import REPO, run_ftscen, runs_on

from ftscen.app import pipeline
from ftscen.report.text import report_dict

KERNELS = ("5.1", "5.3", "6.6")


#: plain files: an explored one is explored, not run (its --jobs determinism is tested in
#: tests/app/test_corpus_explore.py)
CORPUS = [
    p
    for p in sorted((REPO / "scenarios").glob("*.yaml"))
    if runs_on(p, KERNELS) and not pipeline.load(p).explores
]
ROUNDS = 4

pytestmark = pytest.mark.slow


def _ftscen(*args: str) -> dict[str, Any]:
    done = run_ftscen(
        ["run", *args, "--format", "json", "--kernel", ",".join(KERNELS)], REPO, timeout=600
    )
    assert done.returncode in (0, 1), done.stderr
    return json.loads(done.stdout)


def _key(doc: dict[str, Any]) -> tuple[str, str]:
    return doc["file"], doc["kernel"]["version"]


def _canonical(doc: dict[str, Any]) -> str:
    body = {k: v for k, v in doc.items() if k != "golden"}
    return json.dumps(body, sort_keys=True)


@pytest.fixture(scope="module")
def fresh() -> dict[tuple[str, str], str]:
    """The reference: each scenario in a process of its own."""
    out: dict[tuple[str, str], str] = {}
    for path in CORPUS:
        for doc in _ftscen(str(path))["results"]:
            out[_key(doc)] = _canonical(doc)
    assert len(out) == len(CORPUS) * len(KERNELS)
    return out


@pytest.fixture
def frequent_gc() -> Iterator[None]:
    old = gc.get_threshold()
    gc.set_threshold(1, 1, 1)
    try:
        yield
    finally:
        gc.set_threshold(*old)


@pytest.mark.usefixtures("frequent_gc")
def test_one_long_process_gives_the_fresh_process_reports(fresh: dict[tuple[str, str], str]):
    runs = [(path, k) for path in CORPUS for k in KERNELS]
    order = random.Random(20190501)
    differ = []
    for _ in range(ROUNDS):
        order.shuffle(runs)
        for path, kernel in runs:
            [rep] = pipeline.check_file(str(path), [kernel])
            doc = report_dict(rep)
            if _canonical(doc) != fresh[_key(doc)]:
                differ.append(_key(doc))
    assert differ == []


def test_worker_processes_give_the_fresh_process_reports(fresh: dict[tuple[str, str], str]):
    for _ in range(2):
        results = _ftscen(*map(str, CORPUS), "--jobs", "2")["results"]
        assert {_key(d): _canonical(d) for d in results} == fresh
