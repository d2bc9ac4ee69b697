r"""Effective steps: the part of an inexact LMO's effect that is only a rescaling of the radius.

Definitions (derived here [R], docs/theory.md §6).  For a step direction
:math:`D=\widetilde{\mathrm{lmo}}(M)` the *gain* is

.. math:: g(M)=\frac{\langle M,-D\rangle}{\|M\|_*}=1-\delta_{\rm align}(M)\qquad(=1\ \text{for the exact LMO}),

and a run with radius :math:`t` has *effective step* :math:`x=t\,\bar g`, :math:`\bar g` the mean
gain over the iterations (tracked every ``every`` iterations), seeds and layers.  An error that
only rescales, :math:`\widetilde{\mathrm{lmo}}=(1-\delta)\mathrm{lmo}` (the adversarial error of
:class:`methods.inexact.ControlledErrorLMO`), gives a run with radius :math:`t` that *is* the
exact run with radius :math:`(1-\delta)t`, iterate for iterate; so its best radius is
:math:`t_0^*/(1-\delta)` and its best effective step is exactly the exact LMO's.  A shift of the
best effective step (or of the best :math:`1-\beta`) that the seed intervals resolve is therefore a
*direction effect*; no resolved shift of either is "rescaling only".

The best parameters of a grid :math:`(t_i, h_j)` (:math:`h=1-\beta`, log grids) are the log-centre
of its near-optimal region (:func:`near_optimal_centre`), the best effective step the same centre
of :math:`t_i\bar g_{ij}` (so best radius x mean gain, the gain a weighted geometric mean over
the region).  Intervals: paired seed bootstrap (the same resampled seeds in
every level, common random numbers), 95 % percentile intervals.
"""
from __future__ import annotations

import numpy

from gluon_mvr.experiments.studies.lmo.error import MEASURES, lmo_deltas

#: relative band around 1 inside which a shift is not resolved, whatever the interval: about 3x the
#: estimator's own error, measured on the rescaling controls of the default coupling (their best
#: effective step moved by at most 0.3 %, interval ends within 0.7 %, on the default grid)
SHIFT_TOL = 0.02
#: temperature of the near-optimal region (:func:`near_optimal_centre`): cells within about 5 %
#: of the best G_K
TAU = 0.05
#: relative weight on a cut grid edge above which an optimum is "unresolved"
EDGE_WEIGHT = 0.05
VERDICTS = ("rescaling only", "direction effect", "unresolved")


class CellTracker:
    r"""``observe(k, M, D)`` callback keeping, per batch element, the mean gain and the max deltas.

    Per element :math:`e` (a grid cell x seed): :math:`\bar g_e` = mean over tracked iterations and
    layers of :math:`g=1-\delta_{\rm align}`; ``delta_eff`` = max over tracked iterations and layers
    of :math:`\max(\delta_{\rm align},\delta_{\rm over},0)`; ``delta_spec`` likewise of the spectral
    error.  Layers without a spectral LMO are measured in their own norm (exact: gain 1).
    """

    def __init__(self, layout, norm_names, every: int = 5):
        self.layout, self.norm_names, self.every = layout, tuple(norm_names), int(every)
        self._gain_sum = None
        self._n = 0
        self.delta_eff = self.delta_spec = None

    def __call__(self, k, M, D):
        if k % self.every:
            return
        p = self.layout.n_layers
        gains, effs, specs = [], [], []
        for i in range(p):
            spec, align, over = (numpy.asarray(v, dtype=float) for v in
                                 lmo_deltas(self.layout.layer(M, i), self.layout.layer(D, i), self.norm_names[i]))
            gains.append(1.0 - align)
            effs.append(numpy.maximum(numpy.maximum(align, over), 0.0))
            specs.append(spec)
        g = numpy.mean(gains, axis=0)
        e, s = numpy.max(effs, axis=0), numpy.max(specs, axis=0)
        if self._gain_sum is None:
            self._gain_sum = numpy.zeros_like(g)
            self.delta_eff = numpy.full_like(e, -numpy.inf)
            self.delta_spec = numpy.full_like(s, -numpy.inf)
        # M = 0 gives NaN deltas (no direction): such iterations carry no gain information
        self._gain_sum = self._gain_sum + numpy.where(numpy.isfinite(g), g, 1.0)
        self.delta_eff = numpy.fmax(self.delta_eff, e)
        self.delta_spec = numpy.fmax(self.delta_spec, s)
        self._n += 1

    def gain(self):
        """Mean gain per batch element (1 when nothing was tracked)."""
        return numpy.ones(0) if self._gain_sum is None else self._gain_sum / max(self._n, 1)


def _log_widths(v):
    """Quadrature weights of a log grid: half the gaps to the neighbours in log space (the
    trapezoid rule; equal weights on a uniform grid)."""
    lv = numpy.log(numpy.asarray(v, dtype=float))
    if lv.size < 2:
        return numpy.ones_like(lv)
    gaps = numpy.diff(lv)
    return numpy.concatenate([[gaps[0]], gaps[:-1] + gaps[1:], [gaps[-1]]]) / 2.0


def near_optimal_centre(G, t, h, gain=None, tau: float = TAU) -> dict:
    r"""Best radius, 1-beta and effective step of a grid ``G[i, j]`` over ``(t_i, h_j)``: the log-centre
    of the near-optimal region (defined here [R]).

    With weights :math:`w_{ij}=\exp(-(\log G_{ij}-\min\log G)/\tau)\,\Delta_i\Delta_j`
    (:math:`\Delta` the trapezoid widths of the log grids; cells within a factor :math:`e^{\tau}` of
    the minimum carry weight :math:`\ge e^{-1}`),

    .. math:: \log t^*=\frac{\sum w_{ij}\log t_i}{\sum w_{ij}},\quad
              \log x^*=\frac{\sum w_{ij}\log(t_ig_{ij})}{\sum w_{ij}},\quad
              \log h^*=\frac{\sum w_{ij}\log h_j}{\sum w_{ij}},

    and the mean gain :math:`\bar g=x^*/t^*` (a weighted geometric mean).  Why a centre and not
    the grid argmin or a local parabola: the :math:`G_K` landscape is a shallow diagonal valley
    (radius and :math:`1-\beta` trade off), where argmin-based estimates jump by grid steps; the
    weighted centre is a trapezoid-rule integral of a smooth bump, so a rescaled level (the same
    landscape shifted along :math:`\log t`) gives the same :math:`x^*` to quadrature accuracy.
    ``t_edge_weight`` / ``h_edge_weight``: the largest weight on the first/last radius and on the
    smallest 1-beta (relative to the largest weight): a large value means the region is cut by the
    grid (1-beta = 1 is the parameter's own bound, not a cut).  NaN cells weigh 0.
    """
    G = numpy.asarray(G, dtype=float)
    if not numpy.any(numpy.isfinite(G)):
        nan = float("nan")
        return {"t": nan, "h": nan, "x": nan, "gain": nan, "t_edge_weight": 1.0, "h_edge_weight": 1.0}
    with numpy.errstate(all="ignore"):
        L = numpy.log(G)
        w = numpy.exp(-(L - numpy.nanmin(L)) / float(tau))
    w = numpy.where(numpy.isfinite(w), w, 0.0)
    rel = w / w.max()
    w = w * _log_widths(t)[:, None] * _log_widths(h)[None, :]
    W = w.sum()
    lt = numpy.broadcast_to(numpy.log(t)[:, None], G.shape)
    lh = numpy.broadcast_to(numpy.log(h)[None, :], G.shape)
    g = numpy.ones_like(G) if gain is None else numpy.asarray(gain, dtype=float)
    lx = lt + numpy.log(numpy.where(numpy.isfinite(g) & (g > 0), g, 1.0))
    ts, xs, hs = (float(numpy.exp((w * a).sum() / W)) for a in (lt, lx, lh))
    t_edge = float(max(rel[0].max(), rel[-1].max())) if len(t) > 1 else 0.0
    h_edge = float(rel[:, 0].max()) if len(h) > 1 else 0.0
    if len(h) > 1 and h[-1] < 1.0:
        h_edge = max(h_edge, float(rel[:, -1].max()))
    return {"t": ts, "h": hs, "x": xs, "gain": xs / ts, "t_edge_weight": t_edge, "h_edge_weight": h_edge}


def level_optimum(G_seeds, gain_seeds, t, h, idx=None, tau: float = TAU) -> dict:
    r"""Best radius, 1-beta, mean gain and effective step of one level from per-seed grids.

    ``G_seeds``, ``gain_seeds``: ``(n_t, n_h, S)``; ``idx`` resamples the seed axis (bootstrap).
    A cell where any (resampled) seed diverged counts as diverged (NaN, weight 0).
    """
    Gs = G_seeds if idx is None else G_seeds[..., idx]
    gs = gain_seeds if idx is None else gain_seeds[..., idx]
    with numpy.errstate(all="ignore"):
        G = numpy.where(numpy.isnan(Gs).any(axis=-1), numpy.nan, Gs.mean(axis=-1))
        g = numpy.nanmean(numpy.where(numpy.isnan(Gs), numpy.nan, gs), axis=-1)
    out = near_optimal_centre(G, t, h, g, tau)
    out.update(G_mean=G, gain_mean=g)
    return out


def interval95(v):
    """``[2.5 %, 97.5 %]`` percentiles of the finite entries of ``v`` (``None`` when there are none)."""
    v = numpy.asarray(v, dtype=float)
    v = v[numpy.isfinite(v)]
    if v.size == 0:
        return None
    return [float(numpy.percentile(v, 2.5)), float(numpy.percentile(v, 97.5))]


def bootstrap_levels(G_list, gain_list, t, h, n_boot: int, seed: int = 0, tau: float = TAU):
    """Paired seed bootstrap: per level, arrays ``(n_boot,)`` of t*, h*, gain*, x* and their ratios
    to level 0 (the exact LMO) under the *same* resample."""
    S = G_list[0].shape[-1]
    rng = numpy.random.default_rng(seed)
    out = [{k: numpy.full(max(n_boot, 0), numpy.nan) for k in ("t", "h", "gain", "x")} for _ in G_list]
    if S < 2:
        return out
    for b in range(n_boot):
        idx = rng.integers(0, S, S)
        for k, (Gs, gs) in enumerate(zip(G_list, gain_list)):
            o = level_optimum(Gs, gs, t, h, idx, tau)
            for key in ("t", "h", "gain", "x"):
                out[k][key][b] = o[key]
    return out


def verdict(x_shift_ci, h_shift_ci, tol: float = SHIFT_TOL, edge: bool = False) -> dict:
    r"""``rescaling only`` / ``direction effect`` / ``unresolved`` from the 95 % intervals of the
    best-effective-step and best-(1-beta) shifts (relative to the exact LMO).

    A shift is *resolved* when its whole interval lies outside the band
    :math:`[1/(1+{\rm tol}),1+{\rm tol}]` (the refinement's interpolation error).  Any resolved
    shift: ``direction effect`` (with which parameter moved which way); none: ``rescaling only``
    (the radius shift is what the gain forces); no interval or an optimum at the grid edge:
    ``unresolved``.
    """
    lo_band, hi_band = 1.0 / (1.0 + tol), 1.0 + tol
    if edge or x_shift_ci is None or h_shift_ci is None:
        return {"verdict": "unresolved", "detail": "optimum at the grid edge or no interval"}
    moved = []
    for name, ci in (("effective step", x_shift_ci), ("1-beta", h_shift_ci)):
        if ci[1] < lo_band:
            moved.append(f"{name} smaller")
        elif ci[0] > hi_band:
            moved.append(f"{name} larger")
    if moved:
        return {"verdict": "direction effect", "detail": ", ".join(moved)}
    return {"verdict": "rescaling only", "detail": "no resolved shift of the effective step or 1-beta"}


__all__ = ["CellTracker", "near_optimal_centre", "interval95", "level_optimum", "bootstrap_levels", "verdict",
           "SHIFT_TOL", "TAU", "EDGE_WEIGHT", "VERDICTS", "MEASURES"]
