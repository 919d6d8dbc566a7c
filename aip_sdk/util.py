"""Small helpers shared by several layers: atomic JSON files, bootstrap intervals, usable CPUs,
SIGTERM handling for long-running commands."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["bootstrap_ci", "unwind_on_sigterm", "usable_cpus", "write_json_atomic"]


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON to ``path`` so that readers see the old file or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh, separators=(",", ":"))
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def bootstrap_ci(values: Sequence[float], *, n: int = 2000, seed: int = 0) -> list[float]:
    """95% percentile-bootstrap interval of the mean."""
    arr = np.asarray(values, dtype=float)
    if arr.size == 0:
        return [0.0, 0.0]
    rng = np.random.default_rng(seed)
    means = arr[rng.integers(0, arr.size, size=(n, arr.size))].mean(axis=1)
    return [float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))]


def usable_cpus() -> int:
    """The CPUs this process may run on: the default thread count of the CPU backends.

    Respects the affinity mask (``taskset``, container cpusets), unlike ``os.cpu_count()``,
    so that two processes pinned to one core each do not both start a thread per machine core
    and slow each other down.
    """
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


class _Terminated(SystemExit):
    """The SystemExit that a signal raises (see :func:`unwind_on_sigterm`)."""

    def __init__(self, signum: int) -> None:
        super().__init__(128 + signum)
        self.signum = signum


def _exit_on_term(signum: int, _frame: Any) -> None:
    raise _Terminated(signum)


def _redeliver_lost_term(unraisable: Any, *, previous: Callable[[Any], Any]) -> None:
    """``sys.unraisablehook``: SIGTERM's exit raised inside a callback from C (llama.cpp's log
    callback, through ctypes) is printed and dropped there, and the process would run on; send
    the signal again, from a timer thread, so that it lands once the callback has returned.
    Anything else goes to the hook that was installed before (``previous``)."""
    import threading

    if isinstance(unraisable.exc_value, _Terminated):
        term = unraisable.exc_value
        threading.Timer(0.05, os.kill, (os.getpid(), term.signum)).start()
        return
    previous(unraisable)


def unwind_on_sigterm() -> None:
    """Make SIGTERM unwind the main thread like Ctrl-C, exiting with status 143.

    Call it first in every long-running command (the CLI and the scripts in ``benchmarks/``):
    SIGTERM (``timeout``, ``kill``, Slurm, Kubernetes, ``docker stop``) otherwise ends Python
    at once, so ``finally`` blocks never close environments and their browsers, and benches do
    not rebuild their results. A SIGTERM that arrives while Python runs a callback from C code
    (where an exception cannot propagate) is sent again once the callback returns. Does nothing
    outside the main thread (signals can only be set there).
    """
    import functools
    import signal
    import sys
    import threading

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _exit_on_term)
        hook = sys.unraisablehook
        if getattr(hook, "func", None) is not _redeliver_lost_term:  # once, chained
            sys.unraisablehook = functools.partial(_redeliver_lost_term, previous=hook)
