r"""Coupling of the step size and momentum to the LMO precision (docs/theory.md §6).

Theory (derived here [R], :mod:`theory.inexact`; the direction is the paper's [C, abstract]): the
leading-order inexact Gluon bound
:math:`B=\frac{\Delta_0}{(1-\delta)tK}+\frac{\sqrt2\rho\sigma\sqrt h}{1-\delta}+\frac{2L_0(1+\delta)t}{(1-\delta)h}`
is minimised at

.. math:: t^*(\delta)\propto(1+\delta)^{-1/4}K^{-3/4},\qquad h^*(\delta)=1-\beta^*\propto(1+\delta)^{1/2}K^{-1/2},

and the deterministic bound at :math:`t^*\propto1/(1+\delta)`: lower precision (larger
:math:`\delta`) needs a smaller radius and a larger :math:`1-\beta`.

Experiment [R, defined here]: Gluon on one problem, a grid radius :math:`t` (log grid) x
:math:`h=1-\beta` (log grid) x precision levels (the exact LMO, Newton–Schulz with 1..6 Jordan
steps, the controlled-error oracle :math:`\mathrm{lmo}+\delta E` with ``random``,
``adversarial`` (:math:`E=-\mathrm{lmo}`) and ``overshoot`` (:math:`E=+\mathrm{lmo}`) errors), the
same seeds in every cell (common random numbers).  Per level: the best cell (lowest seed-mean
:math:`G_K`), the best radius at the reference momentum (the exact level's best :math:`h`) and the
best :math:`h` at the reference radius, each refined by a parabola through the three grid points
around the minimum in log-log coordinates.  The measured shifts :math:`t_{\rm best}(\delta)/
t_{\rm best}(0)` are compared with :math:`(1+\delta)^{-1/4}` and :math:`1/(1+\delta)`, and
:math:`h_{\rm best}(\delta)/h_{\rm best}(0)` with :math:`(1+\delta)^{1/2}`; the *direction* is tested
with the rank correlation of :math:`\delta` and the best parameters within each series.  For
Newton–Schulz, :math:`\delta` is measured on the momenta the level's runs meet
(:math:`\delta_{\rm eff}`, max over run; :math:`\delta_{\rm spec}` median).  The full bound of
:mod:`theory` is also minimised over the same grid (``bound_best_*``) and, for the
controlled levels, evaluated at the horizon-K reference cell (tightness = measured/bound).
"""
from __future__ import annotations

import math

import numpy

from gluon_mvr.methods.schedules import Schedule

from gluon_mvr.experiments.studies.lmo.bound import lmo_builder, lmo_name
from gluon_mvr.experiments.studies.lmo.momenta import DeltaTracker, build_family, layer_norm_names
from gluon_mvr.experiments.studies.lmo.replay import replay

CONTROLLED_DELTAS = (0.1, 0.2, 0.4, 0.6, 0.8)
CONTROLLED_MODES = ("random", "adversarial", "overshoot")
JORDAN_STEPS = (1, 2, 3, 4, 5, 6)


def default_levels(jordan_steps=JORDAN_STEPS, deltas=CONTROLLED_DELTAS, modes=CONTROLLED_MODES):
    """``[(series, (label, kind, option))]``: exact, Jordan NS steps, controlled deltas per mode."""
    out = [("exact", ("exact", "exact", 0))]
    out += [("ns-jordan", ("ns-jordan", "ns", int(T))) for T in sorted(jordan_steps, reverse=True)]
    out += [(f"controlled-{m}", (f"controlled-{m}", "controlled", float(d))) for m in modes for d in deltas]
    return out


def parameter_grid(K: int, t_points: int = 9, t_span: float = 8.0, h_factors=(0.5, 1, 2, 4, 8, 16)):
    r"""Radius grid :math:`t_H\cdot[t_{\rm span}^{-1},t_{\rm span}]` (``t_points`` log-spaced, odd so
    that :math:`t_H=2K^{-3/4}` is on it) and :math:`h=\min(1,h_H f)`, :math:`h_H=K^{-1/2}` (the
    horizon-K Gluon schedule of :mod:`methods.schedules` is the reference cell)."""
    tH, hH = 2.0 * K ** -0.75, K ** -0.5
    t = tH * numpy.geomspace(1.0 / t_span, t_span, int(t_points))
    h = numpy.unique(numpy.minimum(1.0, hH * numpy.asarray(h_factors, dtype=float)))
    return t, h, tH, hH


def _refine(x, y, j):
    """Vertex of the parabola through ``(log x, log y)`` at ``j-1, j, j+1`` (the grid point at an edge)."""
    if j <= 0 or j >= len(x) - 1 or not numpy.all(numpy.isfinite(y[j - 1:j + 2])):
        return float(x[j]), True
    lx, ly = numpy.log(x[j - 1:j + 2]), numpy.log(y[j - 1:j + 2])
    a, b, _ = numpy.polyfit(lx, ly, 2)
    if a <= 0:
        return float(x[j]), False
    return float(numpy.exp(numpy.clip(-b / (2 * a), lx[0], lx[2]))), False


def _safe_refine(x, y):
    """:func:`_refine` at the minimum of ``y``; ``(nan, True)`` when every entry is NaN."""
    if numpy.all(numpy.isnan(y)):
        return float("nan"), True
    return _refine(x, y, int(numpy.nanargmin(y)))


def _bound_grid(problem, K, t, h, delta):
    from gluon_mvr.theory import evaluate_bound
    p = problem.layout.n_layers
    out = numpy.full((len(t), len(h)), numpy.nan)
    if delta >= 1:
        return out
    for i, ti in enumerate(t):
        for j, hj in enumerate(h):
            sched = Schedule(radius=(float(ti),) * p, one_minus_beta=float(hj), label="grid")
            v = evaluate_bound("gluon", K, sched, problem.constants, problem.delta0(), delta=[delta] * p,
                               shapes=problem.layout.shapes)
            out[i, j] = numpy.nan if v is None else v
    return out


def _bound_value(problem, K, t, h, delta):
    from gluon_mvr.theory import evaluate_bound
    p = problem.layout.n_layers
    sched = Schedule(radius=(float(t),) * p, one_minus_beta=float(min(1.0, h)), label="grid")
    v = evaluate_bound("gluon", K, sched, problem.constants, problem.delta0(), delta=[delta] * p,
                       shapes=problem.layout.shapes)
    return math.inf if v is None else v


def bound_optimum(problem, K, delta, t_fixed=None, h_fixed=None):
    r"""Continuous minimiser of the theory bound (:mod:`theory`, [R]) in :math:`t` at fixed
    :math:`h` (``h_fixed``) or in :math:`h\in(0,1]` at fixed :math:`t` (``t_fixed``), on a log scale."""
    from scipy.optimize import minimize_scalar
    if delta >= 1:
        return float("nan")
    if h_fixed is not None:
        f = lambda x: _bound_value(problem, K, math.exp(x), h_fixed, delta)   # noqa: E731
        lo, hi = math.log(1e-6), math.log(10.0)
    else:
        f = lambda x: _bound_value(problem, K, t_fixed, math.exp(x), delta)   # noqa: E731
        lo, hi = math.log(1e-6), 0.0
    r = minimize_scalar(f, bounds=(lo, hi), method="bounded", options={"xatol": 1e-4})
    return float(math.exp(r.x)) if math.isfinite(r.fun) else float("nan")


def run_level(problem, K, seeds, t, h, lmo, method="gluon", track_every: int = 5) -> dict:
    """All grid cells of one precision level in one vectorised replay; seed-mean :math:`G_K` grid."""
    p = problem.layout.n_layers
    T, H, Sd = numpy.meshgrid(t, h, numpy.asarray(seeds), indexing="ij")
    tracker = DeltaTracker(problem.layout, layer_norm_names(problem, method), every=track_every)
    res = replay(problem, method, K, Sd.ravel().astype(int), numpy.repeat(T.ravel()[:, None], p, axis=1),
                 H.ravel(), lmo_build=lmo_builder(*lmo), observe=tracker)
    G = res.G.reshape(T.shape)
    with numpy.errstate(all="ignore"):
        Gm = numpy.where(numpy.isnan(G).any(axis=-1), numpy.nan, G.mean(axis=-1))
    return {"G": Gm, "G_seeds": G, "delta": tracker.deltas(), "wall_time": res.wall_time,
            "diverged": int(res.diverged.sum())}


def _spearman(x, y):
    x, y = numpy.asarray(x, float), numpy.asarray(y, float)
    ok = numpy.isfinite(x) & numpy.isfinite(y)
    if ok.sum() < 3:
        return None
    rx = numpy.argsort(numpy.argsort(x[ok])).astype(float)
    ry = numpy.argsort(numpy.argsort(y[ok])).astype(float)
    if rx.std() == 0 or ry.std() == 0:
        return 0.0
    return float(numpy.corrcoef(rx, ry)[0, 1])


def _profile_best(G, t, h, ref):
    """Refined best radius at the reference momentum and best momentum at the reference radius."""
    col, row = G[:, ref["j"]], G[ref["i"], :]
    if numpy.all(numpy.isnan(col)) or numpy.all(numpy.isnan(row)):
        return numpy.nan, numpy.nan
    return _safe_refine(t, col)[0], _safe_refine(h, row)[0]


def _bootstrap(levels, grids, t, h, ref, n_boot, seed=0):
    r"""Paired seed bootstrap (the same resample in every level) of the shifts
    :math:`t_{\rm best}(\delta)/t_{\rm best}(0)` and :math:`h_{\rm best}(\delta)/h_{\rm best}(0)`: 95% intervals."""
    S = grids[0].shape[-1]
    if n_boot <= 0 or S < 2:
        for row in levels:
            row["t_shift_ci"] = row["h_shift_ci"] = None
        return
    rng = numpy.random.default_rng(seed)
    draws = numpy.empty((len(levels), n_boot, 2))
    for b in range(n_boot):
        idx = rng.integers(0, S, S)
        for k, Gs in enumerate(grids):
            with numpy.errstate(all="ignore"):
                draws[k, b] = _profile_best(Gs[..., idx].mean(axis=-1), t, h, ref)
    for k, row in enumerate(levels):
        with numpy.errstate(all="ignore"):
            ts, hs = draws[k, :, 0] / draws[0, :, 0], draws[k, :, 1] / draws[0, :, 1]
        row["t_shift_ci"] = [float(numpy.nanpercentile(ts, 2.5)), float(numpy.nanpercentile(ts, 97.5))]
        row["h_shift_ci"] = [float(numpy.nanpercentile(hs, 2.5)), float(numpy.nanpercentile(hs, 97.5))]


def coupling(problem_name: str = "quadratic", params=None, K: int = 400, seeds=(0, 1, 2, 3), levels=None,
             t_points: int = 9, t_span: float = 8.0, h_factors=(0.5, 1, 2, 4, 8, 16), n_boot: int = 200,
             progress=None) -> dict:
    """Run the coupling experiment (module docstring) and return a JSON-able report."""
    params = {"sigma": 5.0} if params is None else dict(params)
    problem = build_family(problem_name, params)
    p = problem.layout.n_layers
    t, h, tH, hH = parameter_grid(K, t_points, t_span, h_factors)
    i_ref, j_ref = int(numpy.argmin(abs(numpy.log(t / tH)))), int(numpy.argmin(abs(numpy.log(h / hH))))
    levels = default_levels() if levels is None else levels
    out_levels, grids, ref = [], [], None
    for series, lmo in levels:
        lv = run_level(problem, K, seeds, t, h, lmo)
        G = lv["G"]
        label, kind, option = lmo
        d_eff = max(lv["delta"]["effective"]) if kind != "exact" else 0.0
        d_spec_med = max(lv["delta"]["spectral_median"]) if kind != "exact" else 0.0
        delta = float(option) if kind == "controlled" else (0.0 if kind == "exact" else min(d_eff, 0.999))
        if numpy.all(numpy.isnan(G)):
            bi = bj = 0
        else:
            bi, bj = numpy.unravel_index(int(numpy.nanargmin(G)), G.shape)
        row = {"series": series, "lmo": lmo_name(*lmo), "delta": delta, "delta_eff_max": d_eff,
               "delta_spec_median": d_spec_med, "delta_measured": lv["delta"],
               "best_t": float(t[bi]), "best_h": float(h[bj]), "best_G": float(G[bi, bj]),
               "G_grid": numpy.where(numpy.isnan(G), None, G).tolist(), "diverged": lv["diverged"],
               "wall_time": lv["wall_time"]}
        if ref is None:
            ref = {"i": int(bi), "j": int(bj)}
        # profiles through the exact level's best cell
        row["best_t_at_ref_h"], row["t_edge"] = _safe_refine(t, G[:, ref["j"]])
        row["best_h_at_ref_t"], row["h_edge"] = _safe_refine(h, G[ref["i"], :])
        row["t_edge"], row["h_edge"] = bool(row["t_edge"]), bool(row["h_edge"])
        B = _bound_grid(problem, K, t, h, delta)
        row["bound_best_t_at_ref_h"] = bound_optimum(problem, K, delta, h_fixed=float(h[ref["j"]]))
        row["bound_best_h_at_ref_t"] = bound_optimum(problem, K, delta, t_fixed=float(t[ref["i"]]))
        row["G_ref"], row["bound_ref"] = float(G[i_ref, j_ref]), (None if numpy.isnan(B[i_ref, j_ref]) else float(B[i_ref, j_ref]))
        row["tightness_ref"] = (row["G_ref"] / row["bound_ref"]) if row["bound_ref"] else None
        row["tightness_best"] = (float(numpy.nanmin(G / B)) if numpy.any(numpy.isfinite(B)) else None)
        row["tightness_max"] = (float(numpy.nanmax(G / B)) if numpy.any(numpy.isfinite(B)) else None)
        out_levels.append(row)
        grids.append(lv["G_seeds"])
        if progress:
            progress(1)
    base = out_levels[0]
    _bootstrap(out_levels, grids, t, h, ref, n_boot)
    for row in out_levels:
        d = row["delta"]
        row["measured_t_shift"] = row["best_t_at_ref_h"] / base["best_t_at_ref_h"]
        row["measured_h_shift"] = row["best_h_at_ref_t"] / base["best_h_at_ref_t"]
        row["joint_t_shift"] = row["best_t"] / base["best_t"]
        row["joint_h_shift"] = row["best_h"] / base["best_h"]
        row["theory_t_shift"] = (1 + d) ** -0.25
        row["theory_t_shift_det"] = 1.0 / (1 + d)
        row["theory_h_shift"] = (1 + d) ** 0.5
        row["bound_t_shift"] = row["bound_best_t_at_ref_h"] / base["bound_best_t_at_ref_h"]
        row["bound_h_shift"] = row["bound_best_h_at_ref_t"] / base["bound_best_h_at_ref_t"]
        row["G_ratio_ref"] = row["G_ref"] / base["G_ref"]
        row["bound_ratio_ref"] = (row["bound_ref"] / base["bound_ref"]) if (row["bound_ref"] and base["bound_ref"]) else None
    directions = []
    for series in dict.fromkeys(r["series"] for r in out_levels[1:]):
        rows = [base] + sorted((r for r in out_levels if r["series"] == series), key=lambda r: r["delta"])
        ds = [r["delta"] for r in rows]
        top = rows[-1]
        tci, hci = top.get("t_shift_ci"), top.get("h_shift_ci")
        ct = _spearman(ds, [r["best_t_at_ref_h"] for r in rows])
        ch = _spearman(ds, [r["best_h_at_ref_t"] for r in rows])
        directions.append({"series": series, "deltas": ds, "rank_corr_delta_t": ct, "rank_corr_delta_h": ch,
                           "t_direction_holds": None if ct is None else ct < 0,
                           "h_direction_holds": None if ch is None else ch > 0,
                           "max_delta": top["delta"],
                           "t_shift_at_max_delta": top["measured_t_shift"], "t_shift_ci": tci,
                           "h_shift_at_max_delta": top["measured_h_shift"], "h_shift_ci": hci,
                           "theory_t_shift_at_max_delta": top["theory_t_shift"],
                           "theory_h_shift_at_max_delta": top["theory_h_shift"],
                           # 95% interval of the shift at the largest delta entirely on one side of 1
                           "t_significant": None if tci is None else ("smaller" if tci[1] < 1 else
                                                                      "larger" if tci[0] > 1 else "no shift resolved"),
                           "h_significant": None if hci is None else ("larger" if hci[0] > 1 else
                                                                      "smaller" if hci[1] < 1 else "no shift resolved")})
    return {"problem": problem_name, "params": params, "K": int(K), "seeds": list(map(int, seeds)),
            "method": "gluon", "t_grid": t.tolist(), "h_grid": h.tolist(), "t_ref": tH, "h_ref": hH,
            "n_layers": p, "levels": out_levels, "directions": directions}
