r"""How inexact is an inexact spectral LMO?  :math:`\delta` measured three ways (docs/theory.md §6).

Error model [R, docs/theory.md §6]: :math:`\|\widetilde{\mathrm{lmo}}(M)-\mathrm{lmo}(M)\|\le\delta<1` in
the layer's (primal) norm, with the two consequences the bounds of :mod:`theory` actually use,
:math:`\langle M,\widetilde{\mathrm{lmo}}(M)\rangle\le-(1-\delta)\|M\|_*` and
:math:`\|\widetilde{\mathrm{lmo}}(M)\|\le1+\delta`.  Sign convention: the LMO is
:math:`\mathrm{lmo}(M)=-UV^\top` while :func:`methods.inexact.newton_schulz` returns
:math:`P\approx+UV^\top`, so :math:`\widetilde{\mathrm{lmo}}(M)=-P` (divided by the norm's scale).

For one momentum :math:`M` and its inexact direction :math:`D=\widetilde{\mathrm{lmo}}(M)`,
:func:`lmo_deltas` returns (defined here [R]; the three names are docs/theory.md §6's)

- spectral error :math:`\delta_{\rm spec}=\|D-\mathrm{lmo}(M)\|` against the float64 SVD; for
  Newton–Schulz, which keeps the singular vectors, this is :math:`\max_j|\varphi_T(u_j)-1|` with
  :math:`\varphi_T` the composed scalar polynomial and :math:`u_j` the normalised singular values;
- alignment :math:`\delta_{\rm align}=1-\langle M,-D\rangle/\|M\|_*`
  :math:`=\sum_js_j(1-\varphi_T(u_j))/\sum_js_j` for Newton–Schulz (negative when it overshoots);
- overshoot :math:`\delta_{\rm over}=\|D\|-1=\max_j\varphi_T(u_j)-1` for Newton–Schulz.

:math:`\delta_{\rm spec}\ge\max(\delta_{\rm align},\delta_{\rm over})` always (triangle and Hölder
inequalities), and :math:`\delta_{\rm eff}=\max(\delta_{\rm align},\delta_{\rm over},0)` is the
smallest :math:`\delta` for which both consequences hold, hence enough for the bounds.

Worst cases over spectra [R]: with :math:`u_j=s_j/\|G\|_F\in[r,1]` (the normalised singular values;
Newton–Schulz feeds :math:`u_j/c` to the polynomial, :math:`c=1.01` for Polar Express, 1 otherwise),

.. math:: \delta_{\rm spec}^{\rm worst}(r)=\sup_{u\in[r,1]}|\varphi_T(u/c)-1|,\quad
          \delta_{\rm align}^{\rm worst}=\sup_u(1-\varphi_T(u/c))_+,\quad
          \delta_{\rm over}^{\rm worst}=\sup_u(\varphi_T(u/c)-1)_+

(the alignment supremum is pointwise: an upper bound that spectra of a given dimension do not attain
in general, since :math:`\sum_ju_j^2=1`; :mod:`experiments.studies.lmo.attainable` computes the
attainable one, which the table reports), evaluated on a fine logarithmic grid with
:func:`methods.inexact.singular_value_map` and confirmed on an actual matrix whose normalised
spectrum contains the worst point (:func:`realise_worst_case`), in float64 and float32.
"""
from __future__ import annotations

import numpy

from gluon_mvr.methods.inexact import ns_input_scale, singular_value_map
from gluon_mvr.methods.norms import SpectralNorm
from gluon_mvr.methods.presets import build_norm

#: approximations by CLI name -> coefficient set of :mod:`methods.inexact`
APPROXIMATIONS = {"ns-jordan": "jordan", "ns-cubic": "cubic", "ns-quintic": "quintic",
                  "polar-express": "polar-express"}
DTYPES = ("float64", "float32")
RATIOS = (1e-1, 1e-2, 1e-3, 1e-4)
GRID_POINTS = 20001
MEASURES = ("spectral", "alignment", "overshoot")


def coefficients(name: str) -> str:
    """Coefficient set of approximation ``name`` (``ns-jordan`` -> ``jordan``), validated."""
    try:
        return APPROXIMATIONS[name]
    except KeyError:
        raise ValueError(f"unknown approximation {name!r}; allowed: {', '.join(APPROXIMATIONS)}") from None


def phi(name: str, steps: int, u):
    r"""Composed scalar map :math:`u\mapsto\varphi_T(u/c)` of ``steps`` iterations on normalised
    singular values :math:`u=s/\|G\|_F` (the input scale :math:`c` included)."""
    coeff = coefficients(name)
    return singular_value_map(numpy.asarray(u, dtype=float) / ns_input_scale(coeff), steps, coeff)


def worst_case(name: str, steps: int, ratio: float, n_grid: int = GRID_POINTS) -> dict:
    r"""Worst-case :math:`\delta` over normalised spectra in ``[ratio, 1]`` (module docstring).

    Returns ``{"spectral", "alignment", "overshoot", "u_worst"}``; ``u_worst`` is the grid point
    attaining the spectral supremum.
    """
    if not (0.0 < ratio <= 1.0):
        raise ValueError(f"ratio must lie in (0, 1]; got {ratio!r}")
    u = numpy.geomspace(ratio, 1.0, int(n_grid))
    err = phi(name, steps, u) - 1.0
    j = int(numpy.argmax(numpy.abs(err)))
    return {"spectral": float(abs(err[j])), "alignment": float(max(0.0, -err.min())),
            "overshoot": float(max(0.0, err.max())), "u_worst": float(u[j])}


def inexact_direction(M, name: str, steps: int, dtype: str = "float64", norm: str = "spectral"):
    r""":math:`\widetilde{\mathrm{lmo}}(M)` of approximation ``name`` (``-newton_schulz/scale``)
    for a layer in ``norm`` (``spectral`` or ``scaled-spectral``), working in ``dtype``."""
    coefficients(name)
    return build_norm(norm, lmo=name, ns_steps=int(steps), ns_dtype=dtype).lmo(M)


def exact_lmo(M, norm: str = "spectral"):
    r"""Float64 reference LMO of ``norm``.  Spectral norms: :math:`-U_rV_r^\top/c` on the numerical
    range only (singular values above ``max(m, n) * eps * s_max``, NumPy's rank tolerance).

    For a rank-deficient :math:`M` every :math:`-(U_rV_r^\top+W)` with :math:`W` on the null
    spaces, :math:`\|W\|\le1`, is an LMO; Newton–Schulz maps the null space to 0, so the
    range-only factor is the LMO it approximates, and :math:`\delta_{\rm spec}` is then
    :math:`\max_j|\varphi_T(u_j)-1|` over the nonzero singular values, as in docs/theory.md §6.
    """
    base = build_norm(norm)
    M = numpy.asarray(M, dtype="float64")
    if not isinstance(base, SpectralNorm):
        return base.lmo(M)
    U, s, Vh = numpy.linalg.svd(M, full_matrices=False)
    m, n = M.shape[-2:]
    keep = s > (max(m, n) * numpy.finfo(float).eps) * s[..., :1]
    return -((U * keep[..., None, :]) @ Vh) / base.scale(m, n)


def lmo_deltas(M, D, norm: str = "spectral"):
    r"""``(spectral, alignment, overshoot)`` arrays over the batch axes of ``M`` (module docstring).

    ``D`` is the inexact direction :math:`\widetilde{\mathrm{lmo}}(M)`; the reference LMO is the
    exact one of ``norm`` computed in float64.  Entries with :math:`M=0` are NaN.
    """
    base = build_norm(norm)
    M64 = numpy.asarray(M, dtype="float64")
    D64 = numpy.asarray(D, dtype="float64")
    exact = exact_lmo(M64, norm)
    dual = base.dual_norm(M64)
    with numpy.errstate(all="ignore"):
        spec = base.norm(D64 - exact)
        align = 1.0 - numpy.sum(M64 * (-D64), axis=(-2, -1)) / dual
        over = base.norm(D64) - 1.0
    zero = ~(dual > 0)
    return tuple(numpy.where(zero, numpy.nan, a) for a in (spec, align, over))


def _orthonormal(rng, m, k):
    Q, R = numpy.linalg.qr(rng.standard_normal((m, k)))
    return Q * numpy.sign(numpy.diag(R))


def worst_case_spectrum(u_star: float, ratio: float, n_values: int):
    r"""A normalised spectrum (:math:`\sum_ju_j^2=1`) containing ``u_star``, the other values equal
    and inside ``[ratio, 1]`` whenever possible (as many as fit, at most ``n_values - 1``)."""
    rest = 1.0 - u_star ** 2
    if rest <= 1e-15:
        return numpy.array([1.0])
    k = int(min(n_values - 1, numpy.floor(rest / ratio ** 2)))
    k = max(k, 1)
    return numpy.concatenate([[u_star], numpy.full(k, numpy.sqrt(rest / k))])


def realise_worst_case(name: str, steps: int, ratio: float, u_star: float, shape=(48, 32),
                       seed: int = 0) -> dict:
    r"""Confirm a grid worst case on an actual matrix :math:`G=U\,\mathrm{diag}(u)\,V^\top`.

    The spectrum (:func:`worst_case_spectrum`) contains ``u_star``; random orthonormal
    :math:`U, V`.  Returns the three deltas measured with :func:`newton_schulz` in float64 and
    float32, and ``predicted``: :math:`\max_j|\varphi_T(u_j)-1|` on that spectrum (equal to the
    float64 measurement up to rounding).
    """
    m, n = shape
    u = worst_case_spectrum(u_star, ratio, min(m, n))
    rng = numpy.random.default_rng(seed)
    G = (_orthonormal(rng, m, len(u)) * u) @ _orthonormal(rng, n, len(u)).T
    out = {"spectrum_min": float(u.min()), "spectrum_size": int(len(u)),
           "predicted": float(numpy.max(numpy.abs(phi(name, steps, u) - 1.0)))}
    for dt in DTYPES:
        D = inexact_direction(G[None], name, steps, dt)
        spec, align, over = (float(v[0]) for v in lmo_deltas(G[None], D))
        out[dt] = {"spectral": spec, "alignment": align, "overshoot": over}
    return out


#: dimension of the worst-case spectra (the realised matrices are 48 x 32)
WORST_DIM = 32


def worst_case_table(names, steps_list, ratios=RATIOS, n_grid: int = GRID_POINTS, progress=None,
                     dim: int = WORST_DIM) -> list:
    r"""One row per (approximation, steps, ratio): worst cases over normalised spectra of ``dim``
    values in ``[ratio, 1]`` and their confirmation on actual matrices.

    ``spectral`` / ``overshoot``: pointwise suprema over the completable values (attained:
    :func:`experiments.studies.lmo.attainable.attainable_max_measures`); ``alignment``: the
    attainable worst case over unit-Frobenius spectra of dimension ``dim``
    (:func:`experiments.studies.lmo.attainable.attainable_alignment`, attained by
    ``alignment_spectrum``); ``alignment_pointwise``: the pointwise supremum of
    :func:`worst_case`, an upper bound that a spectrum of ``dim`` values does not attain in
    general.  ``matrix``: the spectral-error check of :func:`realise_worst_case`, plus
    ``alignment_float64`` / ``alignment_float32`` measured on a matrix with ``alignment_spectrum``.
    Ratios are visited from the largest down, each optimum a start for the next (monotone).
    """
    from gluon_mvr.experiments.studies.lmo.attainable import (attainable_alignment, attainable_max_measures,
                                                              realise_spectrum)
    rows = []
    for name in names:
        for T in steps_list:
            prev = []
            for r in sorted(ratios, reverse=True):
                wc = worst_case(name, T, r, n_grid)
                mx = attainable_max_measures(name, T, r, dim, n_grid)
                al = attainable_alignment(name, T, r, dim, starts=prev)
                prev = [al["spectrum"]]
                real = realise_worst_case(name, T, r, wc["u_worst"])
                ra = realise_spectrum(name, T, al["spectrum"], shape=(max(48, dim + 16), max(32, dim)))
                real["alignment_float64"] = ra["float64"]["alignment"]
                real["alignment_float32"] = ra["float32"]["alignment"]
                rows.append({"approximation": name, "steps": int(T), "ratio": float(r), "dim": int(dim),
                             "spectral": mx["spectral"], "overshoot": mx["overshoot"],
                             "alignment": al["alignment"], "alignment_spectrum": al["spectrum"],
                             "alignment_pointwise": wc["alignment"], "spectral_pointwise": wc["spectral"],
                             "u_worst": wc["u_worst"], "matrix": real})
                if progress:
                    progress(1)
    order = {float(r): k for k, r in enumerate(ratios)}
    rows.sort(key=lambda row: (list(names).index(row["approximation"]), list(steps_list).index(row["steps"]),
                               order.get(row["ratio"], 0)))
    return rows


def measure_stack(M, names, steps_list, dtypes=DTYPES, norm: str = "spectral") -> list:
    r"""Deltas of every (approximation, steps, dtype) on a stack of momenta ``M`` ``(N, m, n)``.

    Returns rows with ``max``, ``median`` of each measure over the stack (NaN entries ignored)
    and ``effective`` :math:`=\max(\delta_{\rm align},\delta_{\rm over},0)` (max over the stack).
    """
    rows = []
    for name in names:
        for T in steps_list:
            for dt in dtypes:
                D = inexact_direction(M, name, T, dt, norm)
                spec, align, over = lmo_deltas(M, D, norm)
                row = {"approximation": name, "steps": int(T), "dtype": dt}
                for key, v in zip(MEASURES, (spec, align, over)):
                    row[key] = float(numpy.nanmax(v))
                    row[key + "_median"] = float(numpy.nanmedian(v))
                row["effective"] = max(0.0, row["alignment"], row["overshoot"])
                rows.append(row)
    return rows
