r"""Norm-equivalence constants used to move Frobenius statements into a layer norm.

For a layer norm :math:`\|\cdot\|` with dual :math:`\|\cdot\|_*` on :math:`m\times n` matrices:

.. math::  \|Z\|_* \le \rho\,\|Z\|_F,\quad \|X\|_F \le \rho\,\|X\|, \qquad
           \|X\| \le \kappa\,\|X\|_F,\quad \|Z\|_F \le \kappa\,\|Z\|_*.

``rho`` comes from :meth:`methods.norms.Norm.rho`; ``kappa`` (derived here) is the operator
norm of the identity from Frobenius to the layer norm; the dual pair of each inequality follows
by duality (:math:`\|Z\|_F = \sup_{\|X\|_F\le1}\langle Z,X\rangle \le \sup_{\|X\|\le\kappa}
\langle Z, X\rangle = \kappa\|Z\|_*`).

==================  ===================  ===========================================
norm                kappa                why
==================  ===================  ===========================================
frobenius           1                    identity
spectral (scale c)  c                    :math:`\sigma_{\max}\le\|X\|_F`
sign (scale c)      c                    :math:`\max|X_{jl}|\le\|X\|_F`
colnorm, rownorm    1                    a column (row) norm is at most :math:`\|X\|_F`
l1                  :math:`\sqrt{mn}`    Cauchy-Schwarz
==================  ===================  ===========================================
"""
from __future__ import annotations

import math

from gluon_mvr.methods.norms import ColumnNorm, FrobeniusNorm, L1Norm, SignNorm, SpectralNorm, get_norm


def kappa(norm_name: str, shape) -> float:
    """:math:`\\kappa` with :math:`\\|X\\| \\le \\kappa \\|X\\|_F` for the norm ``norm_name``."""
    norm = get_norm(norm_name)
    m, n = shape
    if isinstance(norm, (SpectralNorm, SignNorm)):
        return float(norm.scale(m, n))
    if isinstance(norm, (FrobeniusNorm, ColumnNorm)):
        return 1.0
    if isinstance(norm, L1Norm):
        return math.sqrt(m * n)
    raise ValueError(f"param 'norm': no Frobenius equivalence constant known for {norm_name!r}; "
                     f"allowed: frobenius, spectral, scaled-spectral, sign, scaled-sign, colnorm, "
                     f"rownorm, l1")


def rho(norm_name: str, shape) -> float:
    """:math:`\\rho` with :math:`\\|Z\\|_* \\le \\rho\\|Z\\|_F` (from :mod:`methods.norms`)."""
    return float(get_norm(norm_name).rho(shape))
