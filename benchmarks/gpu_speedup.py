"""Benchmark 6: the same code on a GPU (CuPy) against the CPU (NumPy) on a large problem
(8 layers of 1024 x 1024, S = 8 seeds, Gluon-MVR-1, float64), and the parity of the two.

Time per iteration is taken from two run lengths,
:math:`(T(K_2) - T(K_1)) / (K_2 - K_1)`, which removes the fixed costs of a run (initial point,
final exact norms, the one device-to-host copy of the records).  The GPU is warmed up first
(CUDA context, cuSOLVER handles, kernel compilation).  Stochastic gradients are drawn on the host
(one stream per seed, the same numbers on both devices) and copied to the device each
iteration; that copy is part of the GPU time.

Parity: the recorded values and exact gradient norms of a run of ``K_cpu[1]`` iterations, GPU
against CPU, as the largest relative difference; the target (1e-8) is the one of the ``gpu``
tests.

Without CuPy and a CUDA device both figures are reported as skipped.
"""
from __future__ import annotations

import time

import numpy

from gluon_mvr import methods
from gluon_mvr.methods.backend import gpu_available
from gluon_mvr.problems import get_problem

from .common import Figure, skipped

BENCH = "6 gpu speed-up"


def _timed(problem, method, K, S, device, dtype):
    t = time.perf_counter()
    traj = methods.run(problem, method, K=K, seeds=S, device=device, dtype=dtype)
    return time.perf_counter() - t, traj


def _per_iteration(problem, method, Ks, S, device, dtype):
    """Seconds per iteration from runs of ``Ks = (K1, K2)`` iterations, and the runs by ``K``."""
    (t1, run1), (t2, run2) = (_timed(problem, method, K, S, device, dtype) for K in Ks)
    return max(t2 - t1, 0.0) / (Ks[1] - Ks[0]), {Ks[0]: run1, Ks[1]: run2}


def _max_rel_diff(a, b):
    a, b = numpy.asarray(a, float), numpy.asarray(b, float)
    return float(numpy.max(numpy.abs(a - b) / numpy.maximum(numpy.abs(b), 1e-300)))


def gpu_speedup(layers: int = 8, dim: int = 1024, S: int = 8, method: str = "mvr1",
                K_cpu=(1, 3), K_gpu=(1, 12), dtype: str = "float64", parity_target: float = 1e-8):
    """GPU speed-up over the CPU per iteration, and GPU/CPU parity (two figures).

    Parity compares the longer CPU run (``K_cpu[1]`` iterations: every recorded value and norm,
    and the final norms) with a GPU run of the same length."""
    name = f"{layers}x{dim}x{dim}, S={S}, {method}, {dtype}: CPU time / GPU time per iteration"
    parity_name = "GPU vs CPU: max relative difference of recorded values and norms"
    if not gpu_available():
        why = "no GPU: needs CuPy and a CUDA device (pip install -e .[gpu])"
        return [skipped(BENCH, name, why, unit="x faster"),
                skipped(BENCH, parity_name, why, parity_target, "<=")]
    for label, Ks in (("K_cpu", K_cpu), ("K_gpu", K_gpu)):
        if not (len(Ks) == 2 and 1 <= Ks[0] < Ks[1]):
            raise ValueError(f"{label} must be two horizons 1 <= K1 < K2; got {Ks}")
    problem = get_problem("quadratic", layers=layers, dim=dim)
    methods.run(problem, method, K=2, seeds=S, device="gpu", dtype=dtype)     # warm-up
    gpu_s, gpu_runs = _per_iteration(problem, method, K_gpu, S, "gpu", dtype)
    cpu_s, cpu_runs = _per_iteration(problem, method, K_cpu, S, "cpu", dtype)
    K_par = K_cpu[1]
    cpu_run = cpu_runs[K_par]
    gpu_run = gpu_runs.get(K_par) or _timed(problem, method, K_par, S, "gpu", dtype)[1]
    diff = max(_max_rel_diff(gpu_run.values, cpu_run.values),
               _max_rel_diff(gpu_run.grad_norms, cpu_run.grad_norms),
               _max_rel_diff(gpu_run.final_grad_norms, cpu_run.final_grad_norms))
    detail = {"layers": layers, "shape": [dim, dim], "S": S, "method": method, "dtype": dtype,
              "cpu_s_per_iter": cpu_s, "gpu_s_per_iter": gpu_s, "K_cpu": list(K_cpu), "K_gpu": list(K_gpu)}
    speed = cpu_s / gpu_s if gpu_s > 0 else float("nan")
    note = (f"{1e3 * cpu_s:.1f} ms/iteration CPU, {1e3 * gpu_s:.2f} ms GPU "
            f"(from runs of {K_cpu} and {K_gpu} iterations)")
    return [Figure(BENCH, name, speed, "x faster", None, ">=", note, detail),
            Figure(BENCH, parity_name, diff, "", parity_target, "<=",
                   f"runs of {K_par} iterations, {S} seeds", {"max_rel_diff": diff, "K": K_par})]
