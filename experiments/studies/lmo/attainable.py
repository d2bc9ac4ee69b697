r"""Attainable worst cases of a Newton–Schulz LMO over unit-Frobenius spectra of a given dimension.

:func:`experiments.studies.lmo.error.worst_case` takes a *pointwise* supremum over normalised
singular values :math:`u\in[r,1]`.  That is attained for the max-type measures (spectral error,
overshoot: one singular value at the worst point, the rest completing :math:`\sum_ju_j^2=1`), but
not for the alignment, an :math:`s`-weighted *mean* of :math:`1-\varphi_T(u_j)`: in dimension
:math:`n` the squared normalised singular values sum to one, so a spectrum cannot sit entirely at
the worst point.  Here (derived here [R], docs/theory.md §6), for spectra of :math:`k\le n` nonzero
values with :math:`u_j\in[r,1]` and :math:`\sum_ju_j^2=1` (zeros allowed: a zero singular value
adds nothing to either sum),

.. math:: \delta_{\rm align}^{\rm att}(n,r)=\max_{w\in\Delta}\frac{\sum_j\sqrt{w_j}\,(1-\varphi_T(\sqrt{w_j}/c))}
          {\sum_j\sqrt{w_j}},\qquad w_j=u_j^2\in\{0\}\cup[r^2,1],\ \sum_jw_j=1,

an optimisation over the simplex of squared singular values: every two-level spectrum
(:math:`a` values :math:`x`, :math:`b` values :math:`y`, :math:`ax^2+by^2=1`, :math:`a+b\le n`) on a
fine grid of :math:`x`, then L-BFGS (:func:`scipy.optimize.minimize`, the simplex built into a softmax
parametrisation) from the best two-level spectrum and from seeded random points of the simplex,
with the :math:`k` nonzero values free.
The result is a value *attained* by the returned spectrum (a lower bound on the supremum that a
realised matrix reproduces; :func:`realise_spectrum`), never above the pointwise supremum.
Max-type measures: the pointwise supremum over :math:`u\in[r,\sqrt{1-r^2}]\cup\{1\}`, the values
that admit a completion (for :math:`n\ge2`).
"""
from __future__ import annotations

import numpy

from gluon_mvr.experiments.studies.lmo.error import DTYPES, coefficients, inexact_direction, lmo_deltas, phi
from gluon_mvr.methods.inexact import ns_coefficients, ns_input_scale

#: grid points per decade of x in the two-level enumeration
X_PER_DECADE = 400
N_RANDOM_STARTS = 3
POLISH_ITER = 200


def spectrum_deltas(name: str, steps: int, u) -> dict:
    r"""``(spectral, alignment, overshoot)`` of ``steps`` iterations on a normalised spectrum ``u``
    (nonzero entries; rescaled to :math:`\sum u_j^2=1`), from the scalar map alone:
    :math:`\max_j|\varphi-1|`, :math:`\sum_ju_j(1-\varphi(u_j))/\sum_ju_j`, :math:`\max_j\varphi-1`."""
    u = numpy.asarray(u, dtype=float)
    u = u[u > 0]
    u = u / numpy.sqrt(numpy.sum(u * u))
    p = phi(name, steps, u)
    return {"spectral": float(numpy.max(numpy.abs(p - 1.0))),
            "alignment": float(numpy.sum(u * (1.0 - p)) / numpy.sum(u)),
            "overshoot": float(numpy.max(p) - 1.0)}


def _alignment_w(name, steps, w):
    u = numpy.sqrt(numpy.maximum(w, 0.0))
    return float(numpy.sum(u * (1.0 - phi(name, steps, u))) / numpy.sum(u))


def phi_and_derivative(name: str, steps: int, u):
    r""":math:`\varphi_T(u/c)` and :math:`\frac{d}{du}\varphi_T(u/c)` (chain rule through the steps)."""
    coeff = coefficients(name)
    c = ns_input_scale(coeff)
    s = numpy.asarray(u, dtype=float) / c
    ds = numpy.full_like(s, 1.0 / c)
    for a, b, cc in ns_coefficients(coeff, steps):
        s2 = s * s
        ds = ds * (a + s2 * (3 * b + 5 * cc * s2))
        s = s * (a + s2 * (b + cc * s2))
    return s, ds


def _alignment_and_grad(name, steps, w):
    r"""Alignment :math:`A=N/D` of squared spectrum ``w`` and :math:`\partial A/\partial w_j
    =(1-\varphi_j-u_j\varphi_j'-A)/(2u_jD)`."""
    u = numpy.sqrt(numpy.maximum(w, 1e-300))
    p, dp = phi_and_derivative(name, steps, u)
    D = numpy.sum(u)
    A = numpy.sum(u * (1.0 - p)) / D
    return A, (1.0 - p - u * dp - A) / (2.0 * u * D)


def _two_level_candidates(name, steps, ratio, dim, per_decade=X_PER_DECADE, keep=4):
    """Best two-level spectra ``[(value, u)]`` (``a`` copies of ``x``, ``b`` of ``y``, ``a + b <= dim``),
    each ``a`` evaluated for every ``b`` at once."""
    r2 = ratio * ratio
    found = []
    for a in range(1, dim + 1):
        if a * r2 > 1.0 + 1e-12:
            break
        x0 = numpy.sqrt(1.0 / a)
        if ratio <= x0 <= 1.0:      # b = 0: a equal values
            found.append((float(1.0 - phi(name, steps, x0)), numpy.full(a, x0)))
        x_hi = min(1.0, x0)
        if x_hi <= ratio:
            continue
        n_x = max(50, int(per_decade * numpy.log10(x_hi / ratio)) + 1)
        xs = numpy.geomspace(ratio, x_hi, n_x)[None, :]
        bs = numpy.arange(1, dim - a + 1, dtype=float)[:, None]
        if bs.size == 0:
            continue
        rest = 1.0 - a * xs * xs
        y = numpy.sqrt(numpy.maximum(rest, 0.0) / bs)
        ok = (rest >= bs * r2 - 1e-15) & (y >= ratio * (1 - 1e-12)) & (y <= 1.0)
        if not ok.any():
            continue
        px, py = phi(name, steps, xs), phi(name, steps, y)
        val = (a * xs * (1.0 - px) + bs * y * (1.0 - py)) / (a * xs + bs * y)
        val = numpy.where(ok, val, -numpy.inf)
        for ib in range(bs.shape[0]):
            j = int(numpy.argmax(val[ib]))
            if numpy.isfinite(val[ib, j]):
                u = numpy.concatenate([numpy.full(a, xs[0, j]), numpy.full(int(bs[ib, 0]), y[ib, j])])
                found.append((float(val[ib, j]), u))
    found.sort(key=lambda c: -c[0])
    return found[:keep]


def _polish(name, steps, ratio, w0):
    r"""Local maximisation over ``k = len(w0)`` squared singular values on the simplex with
    :math:`w_j\ge r^2`: :math:`w=r^2+(1-kr^2)\,\mathrm{softmax}(z)` (every constraint built in),
    L-BFGS (:func:`scipy.optimize.minimize`) on :math:`z` with the analytic gradient."""
    from scipy.optimize import minimize
    k = len(w0)
    r2 = ratio * ratio
    c = 1.0 - k * r2
    if k == 1 or c <= 0:
        return _alignment_w(name, steps, w0), numpy.sqrt(w0)

    def w_of(z):
        e = numpy.exp(z - z.max())
        p = e / e.sum()
        return r2 + c * p, p

    def f(z):
        w, p = w_of(z)
        A, g = _alignment_and_grad(name, steps, w)
        g = c * g
        return -A, -(p * (g - numpy.dot(p, g)))
    z0 = numpy.log(numpy.maximum((numpy.asarray(w0, dtype=float) - r2) / c, 1e-12))
    res = minimize(f, z0, jac=True, method="L-BFGS-B", options={"maxiter": POLISH_ITER})
    w = w_of(res.x)[0]
    v0 = _alignment_w(name, steps, w0)
    v = _alignment_w(name, steps, w)
    return (v, numpy.sqrt(w)) if v >= v0 else (v0, numpy.sqrt(w0))


def attainable_alignment(name: str, steps: int, ratio: float, dim: int, seed: int = 0, starts=()) -> dict:
    r"""Attainable worst alignment over unit-Frobenius spectra of ``dim`` values in ``[ratio, 1]``
    (module docstring).  Returns ``{"alignment", "spectrum"}`` (the attaining normalised spectrum,
    descending, nonzero values only).  ``starts``: extra feasible spectra to start from (e.g. the
    optimum at a larger ``ratio``, whose domain is contained in this one: the result is then
    monotone in ``ratio``)."""
    if dim < 1:
        raise ValueError(f"dim must be >= 1; got {dim}")
    if not (0.0 < ratio <= 1.0):
        raise ValueError(f"ratio must lie in (0, 1]; got {ratio!r}")
    cands = _two_level_candidates(name, steps, ratio, dim)
    best_val, best_u = cands[0]
    extra = [numpy.asarray(u, dtype=float) for u in starts]
    extra = [u for u in extra if len(u) <= dim and numpy.all(u >= ratio * (1 - 1e-9))]
    for u in extra:
        v = _alignment_w(name, steps, u ** 2)
        if v > best_val:
            best_val, best_u = v, u
    starts = [best_u ** 2]
    rng = numpy.random.default_rng(seed)
    for _ in range(N_RANDOM_STARTS):
        k = int(rng.integers(1, dim + 1))
        if k * ratio * ratio > 1.0:
            k = int(1.0 / (ratio * ratio))
        w = rng.dirichlet(numpy.ones(k))
        w = numpy.maximum(w, ratio * ratio)
        starts.append(w / w.sum())
    for w0 in starts:
        if numpy.any(w0 < ratio * ratio * (1 - 1e-9)):
            continue
        v, u = _polish(name, steps, ratio, numpy.asarray(w0, dtype=float))
        if v > best_val and numpy.all(u >= ratio * (1 - 1e-9)):
            best_val, best_u = v, u
    # report the value of the returned spectrum itself (what a realised matrix reproduces)
    best_u = numpy.sort(best_u)[::-1]
    return {"alignment": spectrum_deltas(name, steps, best_u)["alignment"], "spectrum": best_u.tolist()}


def attainable_max_measures(name: str, steps: int, ratio: float, dim: int, n_grid: int = 20001) -> dict:
    r"""Spectral error and overshoot: the pointwise suprema over the completable values
    :math:`u\in[r,\sqrt{1-r^2}]\cup\{1\}` (all of :math:`[r,1]` minus a sliver; only :math:`u=1` when
    ``dim == 1``), with the worst point of each."""
    hi = numpy.sqrt(max(1.0 - ratio * ratio, 0.0))
    u = numpy.geomspace(ratio, hi, int(n_grid)) if (dim >= 2 and hi >= ratio) else numpy.empty(0)
    u = numpy.concatenate([u, [1.0]])
    err = phi(name, steps, u) - 1.0
    js, jo = int(numpy.argmax(numpy.abs(err))), int(numpy.argmax(err))
    return {"spectral": float(abs(err[js])), "u_spectral": float(u[js]),
            "overshoot": float(err[jo]), "u_overshoot": float(u[jo])}


def realise_spectrum(name: str, steps: int, u, shape=(48, 32), seed: int = 0, scale: float = 1.0) -> dict:
    r"""The three deltas of ``name`` measured on :math:`G=\mathrm{scale}\cdot U\,\mathrm{diag}(u)\,V^\top`
    (random orthonormal :math:`U,V`, ``len(u) <= min(shape)``) in float64 and float32.  Newton–Schulz
    divides by :math:`c\|G\|_F+10^{-7}`, so at ``scale = 1`` the measurement differs from the
    scalar map by about :math:`10^{-7}\varphi'`; a large ``scale`` removes that."""
    u = numpy.asarray(u, dtype=float)
    m, n = shape
    if len(u) > min(m, n):
        raise ValueError(f"spectrum of {len(u)} values does not fit shape {shape}")
    rng = numpy.random.default_rng(seed)

    def orth(d):
        Q, R = numpy.linalg.qr(rng.standard_normal((d, len(u))))
        return Q * numpy.sign(numpy.diag(R))
    G = float(scale) * ((orth(m) * u) @ orth(n).T)
    out = {}
    for dt in DTYPES:
        D = inexact_direction(G[None], name, steps, dt)
        spec, align, over = (float(v[0]) for v in lmo_deltas(G[None], D))
        out[dt] = {"spectral": spec, "alignment": align, "overshoot": over}
    return out
