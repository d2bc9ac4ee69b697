r"""Torch linear minimisation oracles, their norms and dual norms (docs/theory.md §1, §6).

Every geometry ``norm`` here is a row of the norm catalogue of docs/theory.md §1 [C], applied
to a parameter tensor as PyTorch stores it (``nn.Linear.weight`` is ``(d_out, d_in) = (m, n)``;
``nn.Embedding.weight`` is ``(vocab, d)``).  :func:`direction` returns
:math:`D = -\mathrm{lmo}(G)`, so a Gluon step with radius :math:`t` is :math:`X \leftarrow X - t D`.

=================  ===============================  ====================================  ==========================
norm               :math:`\|X\|`                    :math:`D = -\mathrm{lmo}(G)`          :math:`\|G\|_*`
=================  ===============================  ====================================  ==========================
spectral           :math:`\sigma_{\max}(X)`         :math:`U V^\top`                      :math:`\sum_j \sigma_j(G)`
scaled-spectral    :math:`\sqrt{n/m}\,\sigma_{\max}` :math:`\sqrt{m/n}\, U V^\top`         :math:`\sqrt{m/n}\|G\|_{nuc}`
sign               :math:`\max|X_{jl}|`             :math:`\mathrm{sign}(G)`              :math:`\sum|G_{jl}|`
scaled-sign        :math:`n \max|X_{jl}|`           :math:`\mathrm{sign}(G)/n`            :math:`\sum|G_{jl}|/n`
rownorm            :math:`\max_j\|X_{j,:}\|/\sqrt n` row j: :math:`\sqrt n\, G_j/\|G_j\|`  :math:`\sqrt n\sum_j\|G_j\|`
colnorm            :math:`\max_l\|X_{:,l}\|/\sqrt m` col l: :math:`\sqrt m\, G_l/\|G_l\|`  :math:`\sqrt m\sum_l\|G_l\|`
frobenius          :math:`\|X\|_F`                  :math:`G/\|G\|_F`                     :math:`\|G\|_F`
=================  ===============================  ====================================  ==========================

``rownorm``/``colnorm`` carry Scion's scaling [C, Scion]: a unit-norm row (an embedding vector
of an ``nn.Embedding``, whose rows are the mathematical columns) has RMS 1.  For every row the
identities :math:`\langle G, \mathrm{lmo}(G)\rangle = -\|G\|_*` and
:math:`\|\mathrm{lmo}(G)\| = 1` hold (tested).  Convention: :math:`\mathrm{lmo}(0) = 0`.

The spectral rows accept an inexact oracle: Newton–Schulz with the coefficient tables of
:mod:`gluon_mvr.methods.inexact` (Muon's ``jordan``, ``cubic``, ``quintic``, ``polar-express``)
[C], in a chosen dtype, iterating :math:`X \leftarrow aX + b(XX^\top)X + c(XX^\top)^2X` on
:math:`X_0 = G/\max(c_0\|G\|_F, \epsilon)` in the wide orientation — the same operations,
in the same order, as ``torch.optim.Muon`` so that the ``muon`` preset reproduces it bit for bit.
"""
from __future__ import annotations

import math

import torch

from gluon_mvr.methods.inexact import ns_coefficients, ns_input_scale

NORMS = ("spectral", "scaled-spectral", "sign", "scaled-sign", "rownorm", "colnorm", "frobenius")
SPECTRAL = ("spectral", "scaled-spectral")
LMOS = ("exact", "ns")
NS_COEFFS = ("jordan", "cubic", "quintic", "polar-express")
NS_DTYPES = {"float32": torch.float32, "float64": torch.float64, "bfloat16": torch.bfloat16,
             "float16": torch.float16}
EPS = 1e-7


def newton_schulz(G: torch.Tensor, steps: int = 5, coeffs: str = "jordan", dtype: str = "bfloat16",
                  eps: float = EPS) -> torch.Tensor:
    r"""Approximate polar factor :math:`U V^\top` of a matrix ``G`` by ``steps`` Newton–Schulz steps.

    Returns a tensor of ``dtype`` (the caller casts); each step maps every singular value by
    :math:`p(s) = a s + b s^3 + c s^5` [C].  ``steps = 0`` returns the normalised input.
    """
    if G.ndim != 2:
        raise ValueError(f"newton_schulz: a matrix is required; got shape {tuple(G.shape)}")
    X = G.to(NS_DTYPES[dtype])
    tall = G.size(0) > G.size(1)
    if tall:
        X = X.T
    X = X.div(X.norm().mul(ns_input_scale(coeffs)).clamp(min=eps))
    for a, b, c in ns_coefficients(coeffs, steps):
        gram = X @ X.T
        update = torch.addmm(gram, gram, gram, beta=b, alpha=c)
        X = torch.addmm(X, update, X, beta=a)
    return X.T if tall else X


def polar(G: torch.Tensor) -> torch.Tensor:
    r"""Exact polar factor :math:`U V^\top` (reduced SVD, computed in float64)."""
    U, _, Vh = torch.linalg.svd(G.double(), full_matrices=False)
    return (U @ Vh).to(G.dtype)


def _safe_unit(G, dim):
    n = G.norm(dim=dim, keepdim=True)
    return torch.where(n > 0, G / torch.where(n > 0, n, torch.ones_like(n)), torch.zeros_like(G))


def direction(G: torch.Tensor, norm: str, lmo: str = "exact", ns_steps: int = 5, ns_coeffs: str = "jordan",
              ns_dtype: str = "float32") -> torch.Tensor:
    r""":math:`D = -\mathrm{lmo}(G)` for the unit ball of ``norm`` (table above); same dtype as ``G``."""
    if norm in SPECTRAL:
        if G.ndim != 2:
            raise ValueError(f"norm {norm!r} needs a matrix; got shape {tuple(G.shape)}")
        if not torch.any(G != 0):
            return torch.zeros_like(G)
        D = polar(G) if lmo == "exact" else newton_schulz(G, ns_steps, ns_coeffs, ns_dtype).to(G.dtype)
        if norm == "scaled-spectral":
            D = D * math.sqrt(G.size(0) / G.size(1))
        return D
    if norm == "sign":
        return torch.sign(G)
    if norm == "scaled-sign":
        return torch.sign(G) / _fan_in(G)
    if norm == "rownorm":
        return _safe_unit(G, -1) * math.sqrt(G.size(-1))
    if norm == "colnorm":
        return _safe_unit(G, 0) * math.sqrt(G.size(0))
    if norm == "frobenius":
        n = G.norm()
        return G / n if n > 0 else torch.zeros_like(G)
    raise ValueError(f"norm: allowed values {', '.join(NORMS)}; got {norm!r}")


def _fan_in(G):
    return G.size(1) if G.ndim == 2 else 1


def primal_norm(X: torch.Tensor, norm: str) -> float:
    """:math:`\\|X\\|` of the table above (float64)."""
    X = X.detach().double()
    if norm == "spectral":
        return float(torch.linalg.matrix_norm(X, ord=2))
    if norm == "scaled-spectral":
        return math.sqrt(X.size(1) / X.size(0)) * float(torch.linalg.matrix_norm(X, ord=2))
    if norm == "sign":
        return float(X.abs().max())
    if norm == "scaled-sign":
        return _fan_in(X) * float(X.abs().max())
    if norm == "rownorm":
        return float(X.norm(dim=-1).max()) / math.sqrt(X.size(-1))
    if norm == "colnorm":
        return float(X.norm(dim=0).max()) / math.sqrt(X.size(0))
    if norm == "frobenius":
        return float(X.norm())
    raise ValueError(f"norm: allowed values {', '.join(NORMS)}; got {norm!r}")


def dual_norm(G: torch.Tensor, norm: str) -> float:
    """:math:`\\|G\\|_*` of the table above (float64)."""
    G = G.detach().double()
    if norm == "spectral":
        return float(torch.linalg.matrix_norm(G, ord="nuc"))
    if norm == "scaled-spectral":
        return math.sqrt(G.size(0) / G.size(1)) * float(torch.linalg.matrix_norm(G, ord="nuc"))
    if norm == "sign":
        return float(G.abs().sum())
    if norm == "scaled-sign":
        return float(G.abs().sum()) / _fan_in(G)
    if norm == "rownorm":
        return math.sqrt(G.size(-1)) * float(G.norm(dim=-1).sum())
    if norm == "colnorm":
        return math.sqrt(G.size(0)) * float(G.norm(dim=0).sum())
    if norm == "frobenius":
        return float(G.norm())
    raise ValueError(f"norm: allowed values {', '.join(NORMS)}; got {norm!r}")


def lmo_error(M: torch.Tensor, steps: int, coeffs: str = "jordan", dtype: str = "float32") -> dict:
    r"""Inexactness of Newton–Schulz on a real momentum ``M`` (docs/theory.md §6) [R: measures].

    ``rel_frobenius`` :math:`= \|\tilde D - U V^\top\|_F / \|U V^\top\|_F`;
    ``alignment`` :math:`= 1 - \langle M, \tilde D\rangle / \|M\|_{nuc}` (0 when exact);
    ``spectral`` :math:`= \|\tilde D - U V^\top\|_2` (about 1 on ill-conditioned momenta);
    ``rms_ratio`` :math:`= \|\tilde D\|_F / \|U V^\top\|_F`.
    """
    M64 = M.detach().double()
    exact = polar(M64)
    approx = exact if steps is None else newton_schulz(M64, steps, coeffs, dtype).double()
    err = approx - exact
    nuc = float(torch.linalg.matrix_norm(M64, ord="nuc"))
    return {"rel_frobenius": float(err.norm() / exact.norm()),
            "alignment": 1.0 - float((M64 * approx).sum()) / nuc if nuc > 0 else 0.0,
            "spectral": float(torch.linalg.matrix_norm(err, ord=2)),
            "rms_ratio": float(approx.norm() / exact.norm())}
