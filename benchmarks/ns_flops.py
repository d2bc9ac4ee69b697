"""Benchmark 2: floating-point rate of the Newton–Schulz LMO against numpy's own matmul rate.

Flops of :func:`methods.inexact.newton_schulz` on a batch of ``m x n`` matrices (``m <= n``
after its wide orientation), per matrix:

- normalisation: ``X * X``, its sum, the division: ``3 m n``;
- per step: ``A = X X^T`` (``2 m^2 n``), ``A @ A`` (``2 m^3``), ``B @ X`` (``2 m^2 n``), and the
  elementwise ``b A + c (A A)`` (``3 m^2``) and ``a X + B X`` (``2 m n``).

The reference is numpy's rate on the same batch, dtype and threads for one ``(m x n) @ (n x m)``
product (``2 m^2 n`` flops), the most favourable of the shapes the iteration multiplies.
"""
from __future__ import annotations

import numpy

from gluon_mvr.methods.inexact import newton_schulz

from .common import Figure, interleaved_times

BENCH = "2 Newton-Schulz flop rate"


def ns_flops(m: int, n: int, steps: int) -> float:
    m, n = min(m, n), max(m, n)
    per_step = 2 * m * m * n + 2 * m ** 3 + 2 * m * m * n + 3 * m * m + 2 * m * n
    return 3 * m * n + steps * per_step


def ns_rate(cases=((8, 256, "float32"), (8, 256, "float64"), (1, 1024, "float32"), (1, 1024, "float64")),
            steps: int = 5, coefficients: str = "jordan", repeats: int = 3, target: float = 0.7, seed: int = 0,
            min_total: float = 1.0):
    """One figure per ``(batch, side, dtype)``: NS flop rate / numpy matmul flop rate."""
    rng = numpy.random.default_rng(seed)
    out = []
    for batch, side, dtype in cases:
        m = n = side
        G = rng.standard_normal((batch, m, n)).astype(dtype)
        Xa = rng.standard_normal((batch, m, n)).astype(dtype)
        Xb = rng.standard_normal((batch, n, m)).astype(dtype)
        (t_ns, t_ns_med, rounds), (t_mm, t_mm_med, _) = interleaved_times(
            [lambda: newton_schulz(G, steps, coefficients), lambda: Xa @ Xb], repeats, min_total=min_total)
        f_ns = batch * ns_flops(m, n, steps)
        f_mm = batch * 2.0 * m * m * n
        r_ns, r_mm = f_ns / t_ns / 1e9, f_mm / t_mm / 1e9
        out.append(Figure(BENCH, f"NS-{steps} ({coefficients}) {batch}x{m}x{n} {dtype}: rate / matmul rate",
                          r_ns / r_mm, "ratio", target, ">=",
                          f"NS {r_ns:.1f} GFLOP/s, matmul {r_mm:.1f} GFLOP/s (best of {rounds})",
                          {"batch": batch, "m": m, "n": n, "dtype": dtype, "steps": steps,
                           "ns_gflop": f_ns / 1e9, "ns_s_best": t_ns, "ns_s_median": t_ns_med,
                           "ns_gflops": r_ns, "matmul_s_best": t_mm, "matmul_s_median": t_mm_med,
                           "matmul_gflops": r_mm}))
    return out
