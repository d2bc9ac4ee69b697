r"""Batched small-matrix LAPACK calls (``eigh``, ``eigvalsh``, ``svd``) split across threads.

NumPy runs a batched decomposition as a loop of per-matrix LAPACK calls on one core, and for
small matrices that loop is most of an iteration (``benchmarks/kernels.py``: ~90 us per 32x32
``eigh``, ~60% of a batched MVR-1 iteration).  The loop releases the GIL, so chunks of the batch
run in parallel on threads; OpenBLAS's own threads are held at 1 meanwhile (with them the chunks
contend: 0.7-0.9x).  Measured on 2 cores, S = 32 seeds of 4 layers 32x32: the decompositions of
an iteration 16.1 -> 11.3 ms, the whole iteration ~21 -> ~19.5 ms, and the CPU time of a batched
run drops by ~40% (OpenBLAS's second thread no longer spins).

Results are those of the unsplit call, bit for bit: every matrix is decomposed by the same
LAPACK routine, alone, whichever thread runs it, and the split is used only for sides
:math:`\le 64`, where OpenBLAS computes single-threaded anyway (checked in the tests: batch
and single-seed runs still agree bit for bit).

The number of threads is the BLAS thread budget of the process: ``OPENBLAS_NUM_THREADS``,
``OMP_NUM_THREADS`` or ``MKL_NUM_THREADS`` when set (joblib's workers get their share of the
cores, Dask's nanny sets 1: parallel executors are not oversubscribed, and under Dask nothing is
split), else the cores available.  CuPy arrays are passed through untouched.
"""
from __future__ import annotations

import functools
import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy

MAX_SIDE = 64          # larger matrices: OpenBLAS may thread inside LAPACK; leave them alone
# A split costs ~0.3 ms (waking threads, joining the parts): each thread must get at least this
# much work, estimated per matrix as 4 + 0.0024 m n min(m, n) microseconds (an eigh on this
# 2-core machine: 5 us at 8x8, 80 us at 32x32).  Measured: 8x8 gains only from ~400 matrices
# on, 32x32 from ~32 (benchmarks/kernels.py has the per-matrix costs).
MIN_WORK_PER_THREAD_US = 1000.0
_ENV = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def thread_budget() -> int:
    """Threads a batched LAPACK call may use (>= 1)."""
    for var in _ENV:
        v = os.environ.get(var, "").strip()
        if v.isdigit() and int(v) > 0:
            return int(v)
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


@functools.lru_cache(maxsize=None)
def worker_pool(n: int) -> ThreadPoolExecutor:
    """The process's shared pool of ``n`` threads for GIL-releasing batch work (these
    decompositions, the threaded noise draw of :mod:`problems.noise`)."""
    return ThreadPoolExecutor(max_workers=n, thread_name_prefix="gluon-mvr")


if hasattr(os, "register_at_fork"):   # a forked child inherits the pool but not its threads
    os.register_at_fork(after_in_child=worker_pool.cache_clear)


class _SingleThreadedBlas:
    """Hold the BLAS at one thread while any split call is running, from any number of threads:
    the first one in sets the limit, the last one out restores it (nested or overlapping
    ``controller.limit`` blocks would restore in the wrong order and leave BLAS at one thread)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._users = 0
        self._limiter = None

    def __enter__(self):
        with self._lock:
            if self._users == 0:
                self._limiter = _blas_controller().limit(limits=1, user_api="blas")
            self._users += 1

    def __exit__(self, *exc):
        with self._lock:
            self._users -= 1
            if self._users == 0:
                self._limiter.restore_original_limits()
                self._limiter = None


_single_threaded_blas = _SingleThreadedBlas()


@functools.lru_cache(maxsize=1)
def _blas_controller():
    """threadpoolctl's controller of the BLAS numpy loaded, or None without threadpoolctl."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return None
    return ThreadpoolController()


def estimated_work_us(shape) -> float:
    """Rough single-thread cost in microseconds of decomposing a batch of this ``shape``."""
    m, n = shape[-2:]
    return math.prod(shape[:-2]) * (4.0 + 0.0024 * m * n * min(m, n))


def _n_threads(A) -> int:
    # cheapest tests first: this runs for every decomposition of every iteration
    if type(A) is not numpy.ndarray or A.ndim < 3 or max(A.shape[-2:]) > MAX_SIDE:
        return 1
    shares = int(estimated_work_us(A.shape) // MIN_WORK_PER_THREAD_US)
    return 1 if shares < 2 else min(thread_budget(), shares)


def batched(fn, A, **kwargs):
    """``fn(A, **kwargs)`` for a batched decomposition ``fn`` (outputs with ``A``'s batch axes
    first), computed on chunks of the batch in parallel where that is faster."""
    T = _n_threads(A)
    controller = _blas_controller() if T > 1 else None
    if controller is None:
        return fn(A, **kwargs)
    lead = A.shape[:-2]
    chunks = numpy.array_split(A.reshape((-1,) + A.shape[-2:]), T)
    with _single_threaded_blas:
        parts = list(worker_pool(T).map(lambda c: fn(c, **kwargs), chunks))

    def join(arrays):
        out = numpy.concatenate(arrays, axis=0)
        return out.reshape(lead + out.shape[1:])

    first = parts[0]
    if isinstance(first, tuple):        # eigh -> (w, V); svd -> (U, s, Vh): keep the result type
        joined = [join([p[i] for p in parts]) for i in range(len(first))]
        return type(first)(*joined) if hasattr(first, "_fields") else tuple(joined)
    return join(parts)
