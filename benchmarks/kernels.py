"""Kernel timings behind the hot path (reported with benchmark 5, no targets): the exact polar
factor and the nuclear norm by SVD against the eigendecomposition of the Gram matrix and
Newton–Schulz, per matrix, at numpy's default BLAS threads and at one thread."""
from __future__ import annotations

import numpy

from gluon_mvr.methods.inexact import newton_schulz

from .common import Figure, interleaved_times, numpy_thread_limit, numpy_threads

BENCH = "5 scaling: kernels"


def polar_svd(G):
    U, _, Vh = numpy.linalg.svd(G, full_matrices=False)
    return U @ Vh


def polar_eigh(G):
    """Polar factor from the eigendecomposition of the smaller Gram matrix (wide: ``G G^T``)."""
    tall = G.shape[-2] > G.shape[-1]
    if tall:
        G = numpy.swapaxes(G, -1, -2)
    w, U = numpy.linalg.eigh(G @ numpy.swapaxes(G, -1, -2))
    inv = numpy.where(w > 0, 1.0 / numpy.sqrt(numpy.maximum(w, 1e-300)), 0.0)
    P = (U * inv[..., None, :]) @ (numpy.swapaxes(U, -1, -2) @ G)
    return numpy.swapaxes(P, -1, -2) if tall else P


def nuclear_svdvals(G):
    return numpy.linalg.svd(G, compute_uv=False).sum(-1)


def nuclear_eigvalsh(G):
    H = G @ numpy.swapaxes(G, -1, -2) if G.shape[-2] <= G.shape[-1] else numpy.swapaxes(G, -1, -2) @ G
    return numpy.sqrt(numpy.maximum(numpy.linalg.eigvalsh(H), 0.0)).sum(-1)


KERNELS = {"polar via svd": polar_svd, "polar via eigh(G G^T)": polar_eigh,
           "polar via Newton-Schulz-5": lambda G: newton_schulz(G, 5),
           "nuclear norm via svdvals": nuclear_svdvals, "nuclear norm via eigvalsh(G G^T)": nuclear_eigvalsh}


def kernels(shapes=((64, 32, 32), (64, 8, 8), (16, 128, 128)), repeats: int = 5, dtype="float64", seed: int = 0,
            one_thread_too: bool = False):
    rng = numpy.random.default_rng(seed)
    default = numpy_threads()
    out = []
    for batch, m, n in shapes:
        G = rng.standard_normal((batch, m, n)).astype(dtype)
        for threads in dict.fromkeys([default, 1] if one_thread_too else [default]):
            with numpy_thread_limit(None if threads == default else threads) as limited:
                if threads != default and not limited:
                    continue
                names = list(KERNELS)
                times = interleaved_times([lambda f=KERNELS[k]: f(G) for k in names], repeats)
            for k, (best, med, _) in zip(names, times):
                out.append(Figure(BENCH, f"{k}: {batch}x{m}x{n} {dtype}, {threads} thread(s)",
                                  1e6 * best / batch, "us/matrix", None, ">=", "",
                                  {"batch": batch, "m": m, "n": n, "threads": threads, "best_s": best,
                                   "median_s": med}))
    return out
