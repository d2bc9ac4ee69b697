r"""Layer norms, their duals and their linear minimization oracles (docs/theory.md §1).

Every norm acts on the last two axes of an array ``(..., m, n)`` (``m`` = d_out, ``n`` = d_in);
leading axes are a batch (seeds, stacked layers) handled without Python loops.  For each norm

.. math::  \mathrm{lmo}(G) = \arg\min_{\|S\|\le 1}\langle G, S\rangle, \qquad
           \langle G, \mathrm{lmo}(G)\rangle = -\|G\|_*,\quad \|\mathrm{lmo}(G)\| = 1
           \ (G\ne 0),\qquad \mathrm{lmo}(0) = 0,

so that ``X + t * lmo(M)`` is the Gluon step of radius ``t``.  ``rho(shape)`` is the
norm-equivalence constant :math:`\|Z\|_* \le \rho\,\|Z\|_F`; by duality it also gives
:math:`\|X\|_F \le \rho\,\|X\|`.  All closed forms are the standard ones of the catalogue
(docs/theory.md §1, tagged [C]/standard facts).
"""
from __future__ import annotations

import math

from gluon_mvr.methods.backend import array_namespace
from gluon_mvr.methods.lapack_threads import batched

_AX = (-2, -1)


def _svd(xp, G, compute_uv):
    """Batched SVD that survives non-finite matrices: LAPACK refuses a NaN anywhere in the batch
    (one diverged seed would end every seed's run), so on failure the non-finite matrices are
    replaced by zeros and their results by NaN, which the run loop then records as divergence."""
    try:
        return batched(xp.linalg.svd, G, full_matrices=False, compute_uv=compute_uv)
    except xp.linalg.LinAlgError:
        ok = xp.isfinite(G).all(axis=(-2, -1))
        out = xp.linalg.svd(xp.where(ok[..., None, None], G, 0.0), full_matrices=False, compute_uv=compute_uv)
        nan = float("nan")
        if not compute_uv:
            return xp.where(ok[..., None], out, nan)
        U, s, Vh = out
        return (xp.where(ok[..., None, None], U, nan), xp.where(ok[..., None], s, nan),
                xp.where(ok[..., None, None], Vh, nan))


# Fast path for small matrices: the eigen-decomposition of the smaller Gram matrix is ~1.5x
# cheaper than an SVD (benchmarks/kernels.py).  It squares the condition number, so it is used
# only where sigma_min / sigma_max >= 1e-3 (Gram eigenvalue ratio >= 1e-6): the relative error
# of the singular values and of the polar factor is then at most ~ eps * kappa^2 ~ 1e-10.
# Worse-conditioned (or zero, or non-finite) matrices go through the SVD.
_GRAM_RATIO = 1e-6


def _gram_eig(xp, G, vectors):
    """``(w, Q, ok, tall)``: eigenpairs of the smaller Gram matrix (``G G^T`` if ``m <= n``, else
    ``G^T G``), ascending, and the mask of matrices well enough conditioned for the fast path."""
    m, n = G.shape[-2:]
    tall = m > n
    A = xp.swapaxes(G, -1, -2) @ G if tall else G @ xp.swapaxes(G, -1, -2)
    def eig(B):
        return batched(xp.linalg.eigh, B) if vectors else (batched(xp.linalg.eigvalsh, B), None)

    try:
        w, Q = eig(A)
    except xp.linalg.LinAlgError:
        # a non-finite matrix in the batch: decompose the finite ones alone, so that every other
        # matrix takes the same path (and gets the same bits) as in a batch without it
        if A.ndim == 2:
            return None, None, xp.zeros((), dtype=bool), tall
        fin = xp.isfinite(A).all(axis=(-2, -1))
        w = xp.full(A.shape[:-1], xp.nan, dtype=A.dtype)
        Q = xp.full(A.shape, xp.nan, dtype=A.dtype) if vectors else None
        if bool(xp.any(fin)):
            wf, Qf = eig(A[fin])
            w[fin] = wf
            if vectors:
                Q[fin] = Qf
    ok = w[..., 0] > _GRAM_RATIO * w[..., -1]      # False for zero and NaN matrices too
    return w, Q, ok, tall


def _patch_with_svd(xp, G, fast, ok, fn):
    """Replace the entries of ``fast`` where ``ok`` is False by ``fn`` applied to those matrices."""
    if bool(xp.all(ok)):
        return fast
    if fast.ndim == 0 or ok.ndim == 0:     # a single matrix: no batch to patch
        return fn(G)
    bad = ~ok
    fast[bad] = fn(G[bad])
    return fast


def _polish(xp, P, tall):
    r"""One Newton–Schulz step :math:`P \leftarrow \tfrac32 P - \tfrac12 P P^\top P`, formed
    through the smaller Gram matrix.

    The Gram route leaves an orthogonality error :math:`\|P^\top P - I\| \sim
    \varepsilon\kappa^2` (up to ~2e-10 at the fast path's limit :math:`\kappa = 10^3`); the
    step maps singular values :math:`1+e \mapsto 1 - \tfrac32 e^2 - \tfrac12 e^3`, so the error
    drops to rounding level while :math:`P` keeps its singular vectors (the polar factor is
    unchanged).  Two products of :math:`2m^2n` flops (:math:`m \le n` the sides), as many as
    the route spends forming :math:`GG^\top` and the factor; measured ~4% of a batched MVR-1
    iteration at 4 layers of 32x32, where the eigendecomposition dominates.
    Overwrites and returns ``P``.
    """
    B = P @ (xp.swapaxes(P, -1, -2) @ P) if tall else (P @ xp.swapaxes(P, -1, -2)) @ P
    # in place (P is a fresh array of the caller's): no temporaries, the same bits as 1.5 P - 0.5 B
    P *= 1.5
    B *= 0.5
    P -= B
    return P


def _safe_div(xp, a, b):
    """``a / b`` with 0 where ``b == 0`` (the ``lmo(0) = 0`` convention)."""
    safe = xp.where(b == 0, 1.0, b)
    return xp.where(b == 0, 0.0, a / safe)


class Norm:
    """A layer norm with its dual and unit-ball LMO; subclasses give the closed forms."""

    name = "norm"

    def norm(self, X):
        raise NotImplementedError

    def dual_norm(self, G):
        raise NotImplementedError

    def lmo(self, G):
        raise NotImplementedError

    def rho(self, shape) -> float:
        """Constant with ``dual_norm(Z) <= rho * ||Z||_F`` (and ``||X||_F <= rho * norm(X)``)."""
        raise NotImplementedError

    def __repr__(self):
        return f"{type(self).__name__}()"


class FrobeniusNorm(Norm):
    r""":math:`\|X\|_F`; lmo :math:`-G/\|G\|_F`; self-dual.  Gluon with it is normalized SGD."""

    name = "frobenius"

    def norm(self, X):
        xp = array_namespace(X)
        return xp.sqrt(xp.sum(X * X, axis=_AX))

    dual_norm = norm

    def lmo(self, G):
        xp = array_namespace(G)
        return -_safe_div(xp, G, self.norm(G)[..., None, None])

    def rho(self, shape):
        return 1.0


class SpectralNorm(Norm):
    r"""Operator norm :math:`\sigma_{\max}(X)` scaled by ``scale(m, n)``.

    With :math:`G = U\Sigma V^\top` (reduced SVD), lmo :math:`= -U V^\top / c` and the dual is
    :math:`\|G\|_{\mathrm{nuc}} / c` for the scale ``c``.  Muon uses ``c = 1``.
    """

    name = "spectral"

    def scale(self, m, n):
        return 1.0

    def norm(self, X):
        xp = array_namespace(X)
        m, n = X.shape[-2:]
        return self.scale(m, n) * _svd(xp, X, False)[..., 0]

    def dual_norm(self, G):
        xp = array_namespace(G)
        m, n = G.shape[-2:]
        w, _, ok, _ = _gram_eig(xp, G, vectors=False)
        nuc = xp.asarray(xp.sum(xp.sqrt(xp.maximum(w, 0.0)), axis=-1) if w is not None
                         else xp.empty(G.shape[:-2]))
        nuc = _patch_with_svd(xp, G, nuc, ok, lambda B: xp.sum(_svd(xp, B, False), axis=-1))
        return nuc / self.scale(m, n)

    def polar(self, G):
        """Exact polar factor :math:`U V^\\top` (0 for ``G = 0``): from the Gram matrix's
        eigenpairs :math:`G G^\\top = Q W Q^\\top`, :math:`UV^\\top = Q W^{-1/2} Q^\\top G` where
        ``G`` is well conditioned, else from the SVD."""
        xp = array_namespace(G)
        w, Q, ok, tall = _gram_eig(xp, G, vectors=True)
        if w is None:
            return self._polar_svd(G)
        inv_sqrt = 1.0 / xp.sqrt(xp.where(ok[..., None], w, 1.0))
        QW = Q * inv_sqrt[..., None, :]
        Qt = xp.swapaxes(Q, -1, -2)
        P = G @ (QW @ Qt) if tall else QW @ (Qt @ G)
        return _patch_with_svd(xp, G, _polish(xp, P, tall), ok, self._polar_svd)

    def _polar_svd(self, G):
        xp = array_namespace(G)
        U, s, Vh = _svd(xp, G, True)
        P = U @ Vh
        keep = (s[..., :1] > 0) | ~xp.isfinite(s[..., :1])     # lmo(0) = 0; NaN stays NaN
        return xp.where(keep[..., None], P, 0.0)

    def lmo(self, G):
        m, n = G.shape[-2:]
        return -self.polar(G) / self.scale(m, n)

    def rho(self, shape):
        m, n = shape
        return math.sqrt(min(m, n)) / self.scale(m, n)


class ScaledSpectralNorm(SpectralNorm):
    r"""Scion's hidden-layer norm :math:`\sqrt{n/m}\,\sigma_{\max}(X)`: lmo
    :math:`-\sqrt{m/n}\,UV^\top`, dual :math:`\sqrt{m/n}\,\|G\|_{\mathrm{nuc}}`."""

    name = "scaled-spectral"

    def scale(self, m, n):
        return math.sqrt(n / m)


class SignNorm(Norm):
    r""":math:`\max|X_{jl}|`, scaled by ``scale(m, n)``: lmo :math:`-\mathrm{sign}(G)/c`,
    dual :math:`\sum|G_{jl}|/c`.  Gluon with it is signSGD."""

    name = "sign"

    def scale(self, m, n):
        return 1.0

    def norm(self, X):
        xp = array_namespace(X)
        m, n = X.shape[-2:]
        return self.scale(m, n) * xp.max(xp.abs(X), axis=_AX)

    def dual_norm(self, G):
        xp = array_namespace(G)
        m, n = G.shape[-2:]
        return xp.sum(xp.abs(G), axis=_AX) / self.scale(m, n)

    def lmo(self, G):
        xp = array_namespace(G)
        m, n = G.shape[-2:]
        return -xp.sign(G) / self.scale(m, n)

    def rho(self, shape):
        m, n = shape
        return math.sqrt(m * n) / self.scale(m, n)


class ScaledSignNorm(SignNorm):
    r"""Scion's head / tied-embedding norm :math:`n\max|X_{jl}|`: lmo :math:`-\mathrm{sign}(G)/n`,
    dual :math:`\sum|G_{jl}|/n`."""

    name = "scaled-sign"

    def scale(self, m, n):
        return float(n)


class ColumnNorm(Norm):
    r""":math:`\max_j \|X_{:,j}\|_2`: lmo column-wise :math:`-G_{:,j}/\|G_{:,j}\|_2`,
    dual :math:`\sum_j\|G_{:,j}\|_2`.  ``axis`` = -2 sums over rows (column norms)."""

    name = "colnorm"
    axis = -2

    def _vector_norms(self, X):
        xp = array_namespace(X)
        return xp.sqrt(xp.sum(X * X, axis=self.axis))

    def norm(self, X):
        xp = array_namespace(X)
        return xp.max(self._vector_norms(X), axis=-1)

    def dual_norm(self, G):
        xp = array_namespace(G)
        return xp.sum(self._vector_norms(G), axis=-1)

    def lmo(self, G):
        xp = array_namespace(G)
        v = xp.expand_dims(self._vector_norms(G), self.axis)
        return -_safe_div(xp, G, v)

    def rho(self, shape):
        m, n = shape
        return math.sqrt(n if self.axis == -2 else m)


class RowNorm(ColumnNorm):
    r""":math:`\max_j \|X_{j,:}\|_2`: lmo row-wise :math:`-G_{j,:}/\|G_{j,:}\|_2`,
    dual :math:`\sum_j\|G_{j,:}\|_2`."""

    name = "rownorm"
    axis = -1


class L1Norm(Norm):
    r""":math:`\sum|X_{jl}|`: lmo :math:`-\mathrm{sign}(G_{ab})e_{ab}` at a largest
    :math:`|G_{ab}|` (the first in row-major order), dual :math:`\max|G_{jl}|`."""

    name = "l1"

    def norm(self, X):
        xp = array_namespace(X)
        return xp.sum(xp.abs(X), axis=_AX)

    def dual_norm(self, G):
        xp = array_namespace(G)
        return xp.max(xp.abs(G), axis=_AX)

    def lmo(self, G):
        xp = array_namespace(G)
        m, n = G.shape[-2:]
        flat = G.reshape(G.shape[:-2] + (m * n,))
        idx = xp.argmax(xp.abs(flat), axis=-1)
        onehot = (xp.arange(m * n) == idx[..., None])
        out = -xp.sign(flat) * onehot
        return out.reshape(G.shape).astype(G.dtype, copy=False)

    def rho(self, shape):
        return 1.0


_REGISTRY = {cls.name: cls for cls in (FrobeniusNorm, SpectralNorm, ScaledSpectralNorm, SignNorm,
                                       ScaledSignNorm, ColumnNorm, RowNorm, L1Norm)}

NORM_NAMES = tuple(_REGISTRY)


def register_norm(name, factory):
    """Add a norm factory (a class or a callable taking keyword options) under ``name``."""
    _REGISTRY[name] = factory


def get_norm(name: str, **options) -> Norm:
    """The norm called ``name`` (see :data:`NORM_NAMES` and the inexact ones in
    :mod:`methods.inexact`), built with ``options``."""
    try:
        factory = _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown norm {name!r}; allowed: {', '.join(sorted(_REGISTRY))}") from None
    return factory(**options)


def available_norms() -> tuple:
    return tuple(sorted(_REGISTRY))
