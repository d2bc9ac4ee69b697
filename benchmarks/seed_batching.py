"""Benchmark 1: one batched run of S seeds against S single-seed runs of the same problem.

The per-iteration cost of ``methods.run`` does not depend on ``k`` (every iteration does the
same work: two stochastic gradients, the estimator, the recorded exact norms, the LMO), and every
single-seed run does the same work, so the full comparison (S = 32, K = 2000) can be taken from
fewer timed iterations and fewer single runs; when it is, the output says so.
"""
from __future__ import annotations

import time

from gluon_mvr import methods
from gluon_mvr.problems import get_problem

from .common import Figure

BENCH = "1 seed batching"


def _timed_run(problem, method, K, seeds):
    """``(wall, cpu)`` seconds of one run (cpu: this process, all threads)."""
    t, c = time.perf_counter(), time.process_time()
    methods.run(problem, method, K=K, seeds=seeds)
    return time.perf_counter() - t, time.process_time() - c


def seed_batching(S: int = 32, K: int = 2000, K_timed: int | None = None, n_single: int | None = None,
                  layers: int = 4, dim: int = 32, method: str = "mvr1", target: float = 10.0):
    """Speed-up of one batched S-seed run over S single-seed runs (each of ``K`` iterations).

    ``K_timed`` < ``K`` times that many iterations per run and scales by ``K / K_timed``;
    ``n_single`` < ``S`` times that many single runs (seeds 0..n_single-1) and scales by
    ``S / n_single``.  Both extrapolations are linear and reported.
    """
    K_timed = K if K_timed is None else min(int(K_timed), K)
    n_single = S if n_single is None else min(int(n_single), S)
    problem = get_problem("quadratic", layers=layers, dim=dim)
    methods.run(problem, method, K=3, seeds=2)          # warm-up (imports, caches, BLAS threads)
    t_batch, c_batch = _timed_run(problem, method, K_timed, list(range(S)))
    t_single, c_single = zip(*[_timed_run(problem, method, K_timed, [s]) for s in range(n_single)])
    scale = K / K_timed
    batched = t_batch * scale
    singles = sum(t_single) * (S / n_single) * scale
    cpu_ratio = sum(c_single) * (S / n_single) / c_batch if c_batch > 0 else float("nan")
    exact = K_timed == K and n_single == S
    note = ("exact: all runs timed in full" if exact else
            f"extrapolated: timed {K_timed} of {K} iterations"
            + (f" and {n_single} of {S} single runs" if n_single < S else "") + ", scaled linearly")
    detail = {"S": S, "K": K, "K_timed": K_timed, "n_single_timed": n_single, "layers": layers,
              "shape": [dim, dim], "method": method, "batched_s": batched, "singles_s": singles,
              "batched_per_iter_ms": 1e3 * t_batch / K_timed,
              "single_per_iter_ms": 1e3 * sum(t_single) / (n_single * K_timed),
              "single_run_s_timed": list(t_single), "exact": exact, "cpu_time_ratio": cpu_ratio,
              "batched_cpu_s_timed": c_batch, "single_cpu_s_timed": list(c_single)}
    note += f"; {1e3 * t_batch / K_timed:.2f} ms/iteration batched, {detail['single_per_iter_ms']:.2f} single; " \
            f"ratio of CPU times {cpu_ratio:.2f}x"
    return [Figure(BENCH, f"S={S} batched vs {S} single runs ({layers}x{dim}x{dim}, {method}, K={K})",
                   singles / batched, "x faster", target, ">=", note, detail)]
