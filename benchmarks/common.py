"""Shared pieces of the benchmarks: timing, figures with targets, environment, threads."""
from __future__ import annotations

import contextlib
import math
import os
import platform
import statistics
import time
from dataclasses import asdict, dataclass, field

import numpy


@dataclass
class Figure:
    """One measured number with its target (``target=None``: reported, not judged).

    ``op`` is ``'>='``, ``'<='`` or ``'<'``: the figure passes when ``value op target``.
    """

    bench: str
    name: str
    value: float
    unit: str = ""
    target: float | None = None
    op: str = ">="
    note: str = ""
    detail: dict = field(default_factory=dict)

    @property
    def passed(self):
        if self.target is None or self.value is None or not math.isfinite(self.value):
            return None
        return {">=": self.value >= self.target, "<=": self.value <= self.target,
                "<": self.value < self.target, ">": self.value > self.target}[self.op]

    @property
    def broken(self) -> bool:
        """The benchmark itself failed to run (its note says why)."""
        return self.note.startswith(("failed", "error"))

    def as_dict(self):
        d = asdict(self)
        d["passed"] = self.passed
        d["broken"] = self.broken
        return d


def skipped(bench: str, name: str, why: str, target=None, op=">=", unit="") -> Figure:
    return Figure(bench, name, float("nan"), unit, target, op, note=f"skipped ({why})")


def best_time(fn, repeats: int = 3, warmup: int = 1):
    """``(min, median)`` wall seconds of ``fn()`` over ``repeats`` calls after ``warmup`` calls."""
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(max(1, repeats)):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return min(ts), statistics.median(ts)


def interleaved_times(fns, repeats: int = 3, warmup: int = 1, min_total: float = 0.0, max_repeats: int = 30):
    """Best and median wall seconds (and the number of timings) of each of ``fns``, timed in turn within each repeat so that
    a change in machine load during the measurement hits all of them alike.  At least ``repeats``
    rounds; more (up to ``max_repeats``) until the slowest function has been timed for ``min_total`` s in all."""
    for _ in range(warmup):
        for fn in fns:
            fn()
    ts = [[] for _ in fns]
    rounds = 0
    while rounds < max(1, repeats) or (rounds < max_repeats and max(sum(t) for t in ts) < min_total):
        rounds += 1
        for j, fn in enumerate(fns):
            t = time.perf_counter()
            fn()
            ts[j].append(time.perf_counter() - t)
    return [(min(t), statistics.median(t), len(t)) for t in ts]


# --- threads -------------------------------------------------------------------------------

def blas_info():
    """BLAS libraries numpy uses, from threadpoolctl when installed (else numpy's build config)."""
    try:
        import threadpoolctl
    except ImportError:
        threadpoolctl = None
    if threadpoolctl is not None:
        return [{k: info.get(k) for k in ("internal_api", "prefix", "version", "num_threads",
                                            "threading_layer", "architecture")}
                for info in threadpoolctl.threadpool_info() if info.get("user_api") == "blas"]
    try:
        cfg = numpy.show_config(mode="dicts")
        blas = cfg.get("Build Dependencies", {}).get("blas", {})
        return [{"internal_api": blas.get("name"), "version": blas.get("version"),
                 "num_threads": None, "source": "numpy.show_config (threadpoolctl not installed)"}]
    except Exception:   # older numpy without mode='dicts'
        return [{"internal_api": "unknown"}]


def numpy_threads() -> int:
    """Threads numpy's BLAS uses now (threadpoolctl), else the process's thread budget (the
    usual environment variables, else the cores: :func:`methods.lapack_threads.thread_budget`)."""
    from gluon_mvr.methods.lapack_threads import thread_budget
    for info in blas_info():
        if info.get("num_threads"):
            return int(info["num_threads"])
    return thread_budget()


@contextlib.contextmanager
def numpy_thread_limit(n):
    """Limit numpy's BLAS to ``n`` threads (no-op when threadpoolctl is missing or ``n`` is None)."""
    if n is None:
        yield False
        return
    try:
        import threadpoolctl
    except ImportError:
        yield False
        return
    with threadpoolctl.threadpool_limits(limits=int(n), user_api="blas"):
        yield True


def torch_module():
    """``torch`` or ``None`` (torch is an optional extra)."""
    try:
        import torch
    except Exception:
        return None
    return torch


def load_average():
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def environment() -> dict:
    torch = torch_module()
    env = {"python": platform.python_version(), "platform": platform.platform(),
           "machine": platform.machine(), "processor": platform.processor() or None,
           "cores": os.cpu_count(), "numpy": numpy.__version__, "blas": blas_info(),
           "numpy_threads": numpy_threads(), "load_average_at_start": load_average(),
           "torch": getattr(torch, "__version__", None),
           "torch_threads": torch.get_num_threads() if torch is not None else None}
    try:
        import scipy
        env["scipy"] = scipy.__version__
    except ImportError:
        env["scipy"] = None
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    env["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return env


def fit_exponent(xs, ys):
    """Least-squares slope of ``log y`` against ``log x``."""
    lx, ly = numpy.log(numpy.asarray(xs, float)), numpy.log(numpy.asarray(ys, float))
    return float(numpy.polyfit(lx, ly, 1)[0])
