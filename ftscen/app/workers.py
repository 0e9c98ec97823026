"""Worker processes for ``--jobs N``: a bounded number of them, and none outliving the run.

* ``--jobs`` is capped at :data:`PER_CPU` processes per usable CPU (and :data:`HARD_CAP` in
  all); more only cost memory (each worker holds an emulator) and start-up time. A cap is
  said on stderr. There are never more workers than files, which needs no saying.
* A worker dies with its parent: on Linux each one asks the kernel for SIGKILL when its
  parent goes (``prctl(PR_SET_PDEATHSIG)``), then checks the parent is still the one that
  started it (it may have died before the request), so even ``kill -9`` of the parent leaves
  no worker behind.
* When the run stops early (Ctrl-C, SIGTERM, a closed output), :func:`stop_pool` ends the
  workers at once instead of letting them finish the files they hold.
* Golden files are written with SIGINT and SIGTERM held (:func:`signals_held`), so a stop
  lands before or after a write, never in the middle of one.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:  # imported when a pool starts: --jobs 1 runs without them (start-up time)
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing.process import BaseProcess

PER_CPU = 4
HARD_CAP = 64
_PR_SET_PDEATHSIG = 1
_HELD = {signal.SIGINT, signal.SIGTERM}


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask, as a container limits it)."""
    affinity = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) if affinity is not None else (os.cpu_count() or 1)


def worker_count(asked: int, files: int, err: IO[str] | None = None) -> int:
    """How many processes to run ``files`` jobs in: ``asked`` (0: one per CPU), capped."""
    cpus = usable_cpus()
    want = asked if asked > 0 else cpus
    cap = min(PER_CPU * cpus, HARD_CAP)
    if want > cap and files > cap and err is not None:
        err.write(
            f"ftscen: note: --jobs {asked} capped at {cap} ({PER_CPU} per CPU, "
            f"{cpus} CPU{'s' if cpus != 1 else ''})\n"
        )
    return max(1, min(want, cap, files))


def start_pool(workers: int) -> ProcessPoolExecutor:
    """A pool whose workers die with this process and leave Ctrl-C to it."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # fork: the worker's parent is this process, which the death signal is tied to
    context = multiprocessing.get_context("fork" if sys.platform == "linux" else None)
    return ProcessPoolExecutor(
        max_workers=workers, mp_context=context, initializer=_init_worker, initargs=(os.getpid(),)
    )


def stop_pool(pool: ProcessPoolExecutor) -> None:
    """End the workers now (their unfinished files are dropped) and the pool with them."""
    held: dict[int, BaseProcess] = getattr(pool, "_processes", None) or {}  # pid -> process
    procs = list(held.values())
    manager: threading.Thread | None = getattr(pool, "_executor_manager_thread", None)
    results = getattr(pool, "_result_queue", None)
    if manager is not None:
        _STOPPED.add(manager)
        threading.excepthook = _quiet_stopped_managers
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in procs:
        proc.terminate()
    for proc in procs:
        proc.join(timeout=2)
        if proc.is_alive():
            proc.kill()
            proc.join()
    # A worker killed while sending a result leaves half a message in the result pipe, and the
    # manager thread blocks reading the rest for ever (at exit, Python joins that thread: the
    # process hangs). With the workers gone, this process holds the pipe's last write end:
    # closing it turns that read into end-of-file, which the manager treats as a broken pool.
    writer = getattr(results, "_writer", None)
    if writer is not None:
        writer.close()
    # The pool's manager thread closes its wake-up pipe as it ends; if it is still ending at
    # interpreter exit, concurrent.futures' exit hook can write to that pipe just after it is
    # closed (CPython 3.11 checks and writes without a lock) and print "Exception ignored ...
    # Bad file descriptor". With its workers gone the thread ends at once: wait for it here.
    if manager is not None:
        manager.join(timeout=5)


#: Manager threads of pools stopped on purpose (:func:`stop_pool`).
_STOPPED: weakref.WeakSet[threading.Thread] = weakref.WeakSet()
_EXCEPTHOOK = threading.excepthook


def _quiet_stopped_managers(args: threading.ExceptHookArgs) -> None:
    """What the manager thread of a pool stopped on purpose raises while it notices (CPython
    3.11 fails the futures the stop cancelled again, with InvalidStateError) is not news;
    every other thread's exception is reported as usual."""
    if args.thread is not None and args.thread in _STOPPED:
        return
    _EXCEPTHOOK(args)


def _init_worker(parent: int) -> None:
    # Ctrl-C reaches the whole process group; the parent alone reports it and stops the pool.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # not the parent's handler: just end
    _die_with_parent(parent)


def _die_with_parent(parent: int) -> None:
    if sys.platform == "linux":
        import ctypes

        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):  # no usable libc: the parent's stop_pool remains
            pass
    if os.getppid() != parent:  # the parent died before the request: nobody to work for
        os._exit(1)


@contextmanager
def signals_held() -> Iterator[None]:
    """Hold SIGINT and SIGTERM for the duration (delivered when it ends)."""
    mask = getattr(signal, "pthread_sigmask", None)
    if mask is None:
        yield
        return
    old = mask(signal.SIG_BLOCK, _HELD)
    try:
        yield
    finally:
        mask(signal.SIG_SETMASK, old)
