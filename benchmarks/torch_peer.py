"""Benchmark 3: one Gluon-MVR-1 iteration of ``methods.run`` against a straightforward PyTorch
CPU implementation of the same iteration.

Both run the isotropic quadratic ``f(X) = sum_i ||X_i - A_i||_F^2 / 2`` with additive Gaussian
noise (``quadratic`` family, spectral norm), the same shapes, dtype, seed batch, horizon-K
schedule and record (exact dual gradient norms and ``f`` every iteration), with the exact polar
factor from an SVD (``torch.linalg.svd``) and the nuclear norm from ``torch.linalg.svdvals``.
The peer draws its noise with one ``torch.randn`` per iteration; ours draws one sample per seed
from the seed's own generator (the reproducibility contract of :func:`methods.run`).
Threads: torch gets ``torch.set_num_threads`` equal to numpy's BLAS threads.
"""
from __future__ import annotations

import math
import time

import numpy

from gluon_mvr import methods
from gluon_mvr.methods.schedules import horizon_schedule
from gluon_mvr.problems import get_problem

from .common import Figure, numpy_thread_limit, numpy_threads, skipped, torch_module

BENCH = "3 MVR-1 iteration vs PyTorch"


def torch_mvr1(torch, problem, K: int, S: int, dtype: str = "float64", seed: int = 0):
    """Gluon-MVR-1 on ``problem`` (a ``QuadraticProblem``) in plain PyTorch; returns seconds
    (wall, cpu) for ``K`` iterations and the records (norms ``(K, S, p)``, values ``(K, S)``)."""
    tdt = getattr(torch, dtype)
    layout = problem.layout
    assert layout.n_groups == 1, "the peer handles one group of equal-shaped layers"
    (m, n), p = layout.group_shapes[0], layout.n_layers
    sched = horizon_schedule("mvr1", K, problem.constants.L1)
    factor, betas, _ = sched.tables(K)
    radius = torch.tensor(sched.radius, dtype=tdt)[None, :, None, None]
    A = torch.tensor(numpy.stack(problem._A), dtype=tdt)[None]
    X = torch.tensor(numpy.stack(problem._X0), dtype=tdt)[None].repeat(S, 1, 1, 1)
    h = float(problem.curvature)
    noise = problem.constants.sigma[0] / math.sqrt(m * n)
    gen = torch.Generator().manual_seed(seed)
    norms = torch.empty((K, S, p), dtype=tdt)
    values = torch.empty((K, S), dtype=tdt)

    start, cpu = time.perf_counter(), time.process_time()
    Z = noise * torch.randn((S, p, m, n), generator=gen, dtype=tdt)
    M = h * (X - A) + Z
    X_prev = X
    for k in range(K):
        if k > 0:
            Z = noise * torch.randn((S, p, m, n), generator=gen, dtype=tdt)
            g = h * (X - A) + Z
            g_prev = h * (X_prev - A) + Z
            M = g + float(betas[k]) * (M - g_prev)
        D = X - A                                        # exact gradient / h: the record
        norms[k] = h * torch.linalg.svdvals(D).sum(-1)
        values[k] = 0.5 * h * (D * D).sum((1, 2, 3))
        U, _, Vh = torch.linalg.svd(M, full_matrices=False)
        X_prev = X
        X = X - (float(factor[k]) * radius) * (U @ Vh)
    final = torch.linalg.svdvals(h * (X - A)).sum(-1)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    return wall, cpu, norms.numpy(), values.numpy(), final.numpy()


def torch_peer(S: int = 32, layers: int = 4, dim: int = 32, K: int = 20, dtype: str = "float64",
               repeats: int = 3, single_thread_too: bool = True, target: float = 1.0):
    """Ratio ours / torch of the time per iteration (best of ``repeats``, interleaved)."""
    name = f"MVR-1 iteration, S={S}, {layers}x{dim}x{dim} {dtype}: ours / torch time"
    torch = torch_module()
    if torch is None:
        return [skipped(BENCH, name, "torch not installed", target, "<=", "ratio")]
    problem = get_problem("quadratic", layers=layers, dim=dim)
    seeds = list(range(S))
    default_threads = numpy_threads()
    old_torch_threads = torch.get_num_threads()
    settings = [default_threads] + ([1] if single_thread_too and default_threads != 1 else [])
    out = []
    try:
        for threads in settings:
            torch.set_num_threads(threads)
            limit = None if threads == default_threads else threads
            with numpy_thread_limit(limit) as limited:
                if limit is not None and not limited:
                    continue                          # cannot pin numpy's threads: skip the variant
                methods.run(problem, "mvr1", K=2, seeds=seeds, dtype=dtype)   # warm-up
                torch_mvr1(torch, problem, 2, S, dtype)
                ours, peer, ours_cpu, peer_cpu = [], [], [], []
                for _ in range(max(1, repeats)):
                    c = time.process_time()
                    ours.append(methods.run(problem, "mvr1", K=K, seeds=seeds, dtype=dtype).wall_time / K)
                    ours_cpu.append((time.process_time() - c) / K)
                    w, c, *_ = torch_mvr1(torch, problem, K, S, dtype)
                    peer.append(w / K)
                    peer_cpu.append(c / K)
            o, t = min(ours), min(peer)
            cpu_ratio = min(ours_cpu) / min(peer_cpu)
            label = name if threads == default_threads else name + f" [{threads} thread]"
            out.append(Figure(BENCH, label, o / t, "ratio", target if threads == default_threads else None,
                              "<=", f"ours {1e3 * o:.2f} ms, torch {1e3 * t:.2f} ms per iteration, "
                              f"{threads} thread(s) each; ratio of CPU times {cpu_ratio:.2f}",
                              {"S": S, "layers": layers, "shape": [dim, dim], "dtype": dtype, "K_timed": K,
                               "threads": threads, "ours_ms": 1e3 * o, "torch_ms": 1e3 * t,
                               "ours_ms_all": [1e3 * v for v in ours], "torch_ms_all": [1e3 * v for v in peer],
                               "ours_cpu_ms": 1e3 * min(ours_cpu), "torch_cpu_ms": 1e3 * min(peer_cpu),
                               "cpu_time_ratio": cpu_ratio, "torch": torch.__version__}))
    finally:
        torch.set_num_threads(old_torch_threads)
    return out
