r"""Coupling of the step size and momentum to the LMO precision, in effective-step terms (docs/theory.md §6).

Claim [C, abstract of INEXACT]: lower precision needs a smaller step and a larger momentum
parameter; the optimal learning rate shifts with Newton–Schulz precision.  Theory derived here
[R, :mod:`theory.inexact`]: the leading-order inexact Gluon bound is minimised at
:math:`t^*(\delta)\propto(1+\delta)^{-1/4}K^{-3/4}`, :math:`1-\beta^*\propto(1+\delta)^{1/2}K^{-1/2}`.

Why effective steps [R, :mod:`experiments.studies.lmo.effective`]: an inexact direction with gain
:math:`g=\langle M,-\widetilde{\mathrm{lmo}}\rangle/\|M\|_*<1` moves the iterate less along the
momentum, so its best *radius* grows by :math:`1/g` even when nothing else changes — the
rescaling error :math:`(1-\delta)\mathrm{lmo}` is exactly the exact LMO at radius
:math:`(1-\delta)t`.  The question the claim poses is whether the best *effective step*
:math:`x^*=t^*\bar g` (or the best :math:`1-\beta`) moves with the precision.

Experiment [R, defined here]: Gluon on one problem, a log grid of radii :math:`t` x a log grid of
:math:`h=1-\beta`, per precision level, with the same seeds in every cell and level (common random
numbers).  Levels: the exact LMO; Newton–Schulz with 1..6 Jordan steps (the realistic error: it
keeps the singular vectors and reweights the singular values); the controlled-error oracle's
``adversarial`` error :math:`(1-\delta)\mathrm{lmo}` and ``overshoot`` error :math:`(1+\delta)\mathrm{lmo}`
(rescaling controls: their verdict must be "rescaling only"); and the rotation oracle
:class:`methods.inexact.RotationErrorLMO` (gain exactly :math:`1-\delta`, norm 1, a pure direction
error at the same gain as the adversarial control: the test of the claim).  Per level: the
refined best cell :math:`(t^*,h^*)`, the mean gain there, :math:`x^*=t^*\bar g`, the measured
:math:`\delta` at the best cell (:math:`\delta_{\rm eff}`, max over iterations, seeds and layers;
levels are ordered by it, not by step count), paired-bootstrap 95 % intervals, shifts relative
to the exact LMO and a verdict (:func:`experiments.studies.lmo.effective.verdict`).
"""
from __future__ import annotations

import numpy

from gluon_mvr.experiments.studies.lmo.bound import lmo_builder, lmo_name
from gluon_mvr.experiments.studies.lmo.effective import (EDGE_WEIGHT, SHIFT_TOL, TAU, CellTracker, interval95,
                                                         bootstrap_levels, level_optimum, verdict)
from gluon_mvr.experiments.studies.lmo.momenta import build_family, layer_norm_names
from gluon_mvr.experiments.studies.lmo.replay import replay

#: the rescaling controls: (1 - delta) lmo at three deltas, (1 + delta) lmo at one (mode -> deltas)
CONTROLLED = {"adversarial": (0.2, 0.4, 0.6), "overshoot": (0.4,)}
ROTATION_DELTAS = (0.2, 0.4, 0.6)
JORDAN_STEPS = (1, 2, 3, 4, 5, 6)
#: the series whose error only rescales the exact LMO (controls: verdict "rescaling only")
RESCALING_SERIES = ("controlled-adversarial", "controlled-overshoot")


def default_levels(jordan_steps=JORDAN_STEPS, controlled=None, rotation_deltas=ROTATION_DELTAS):
    """``[(series, (label, kind, option))]``: exact, Jordan NS steps, the controlled (rescaling)
    errors per mode and delta, the rotations (direction errors at equal gain)."""
    controlled = CONTROLLED if controlled is None else controlled
    out = [("exact", ("exact", "exact", 0))]
    out += [("ns-jordan", ("ns-jordan", "ns", int(T))) for T in sorted(jordan_steps, reverse=True)]
    out += [(f"controlled-{m}", (f"controlled-{m}", "controlled", float(d))) for m, ds in controlled.items()
            for d in ds]
    out += [("rotation", ("rotation", "rotation", float(d))) for d in rotation_deltas]
    return out


#: default grid (relative to the horizon-K schedule t_H = 2 K^(-3/4), h_H = K^(-1/2)): radii
#: t_H x [2^-5, 4] (15 points, ratio sqrt 2) and 1-beta = min(1, h_H f); on the default problem the
#: near-optimal region of every default level (rescaled by up to 1/0.4 and 1/1.6) lies inside it
T_RANGE = (2.0 ** -5, 4.0)
T_POINTS = 15
H_FACTORS = (0.25, 0.5, 1, 2, 4, 8, 16, 20)


def parameter_grid(K: int, t_points: int = T_POINTS, t_range=T_RANGE, h_factors=H_FACTORS):
    r"""Radius grid :math:`t_H\cdot[t_{\rm lo},t_{\rm hi}]` (``t_points`` log-spaced) and
    :math:`h=\min(1,h_Hf)` for the factors ``h_factors``, with :math:`t_H=2K^{-3/4}`,
    :math:`h_H=K^{-1/2}` (the horizon-K Gluon schedule of :mod:`methods.schedules`)."""
    tH, hH = 2.0 * K ** -0.75, K ** -0.5
    t = tH * numpy.geomspace(float(t_range[0]), float(t_range[1]), int(t_points))
    h = numpy.unique(numpy.minimum(1.0, hH * numpy.asarray(h_factors, dtype=float)))
    return t, h, tH, hH


def run_level(problem, K, seeds, t, h, lmo, method="gluon", track_every: int = 20) -> dict:
    """All grid cells of one precision level in one vectorised replay: per-seed grids of
    :math:`G_K`, mean gain, :math:`\\delta_{\\rm eff}` and :math:`\\delta_{\\rm spec}` ``(n_t, n_h, S)``."""
    p = problem.layout.n_layers
    T, H, Sd = numpy.meshgrid(t, h, numpy.asarray(seeds), indexing="ij")
    tracker = CellTracker(problem.layout, layer_norm_names(problem, method), every=track_every)
    res = replay(problem, method, K, Sd.ravel().astype(int), numpy.repeat(T.ravel()[:, None], p, axis=1),
                 H.ravel(), lmo_build=lmo_builder(*lmo), observe=tracker)
    shape = T.shape
    return {"G_seeds": res.G.reshape(shape), "gain_seeds": tracker.gain().reshape(shape),
            "delta_eff": tracker.delta_eff.reshape(shape), "delta_spec": tracker.delta_spec.reshape(shape),
            "wall_time": res.wall_time, "diverged": int(res.diverged.sum())}


def _ratio_ci(a, b):
    with numpy.errstate(all="ignore"):
        return interval95(numpy.asarray(a) / numpy.asarray(b))


def _nan_to_none(G):
    return numpy.where(numpy.isnan(G), None, G).tolist()


def coupling(problem_name: str = "quadratic", params=None, K: int = 400, seeds=(0, 1, 2, 3), levels=None,
             t_points: int = T_POINTS, t_range=T_RANGE, h_factors=H_FACTORS, n_boot: int = 200,
             tol: float = SHIFT_TOL, tau: float = TAU, track_every: int = 20, progress=None) -> dict:
    """Run the coupling experiment (module docstring) and return a JSON-able report.

    ``levels[0]`` must be the exact LMO (the reference of every shift).
    """
    params = {"sigma": 5.0} if params is None else dict(params)
    problem = build_family(problem_name, params)
    t, h, tH, hH = parameter_grid(K, t_points, t_range, h_factors)
    levels = default_levels() if levels is None else list(levels)
    if levels[0][1][1] != "exact":
        raise ValueError("coupling: the first level must be the exact LMO (the reference)")
    raw = []
    for series, lmo in levels:
        raw.append(run_level(problem, K, seeds, t, h, lmo, track_every=track_every))
        if progress:
            progress(1)
    G_list = [r["G_seeds"] for r in raw]
    gain_list = [r["gain_seeds"] for r in raw]
    boot = bootstrap_levels(G_list, gain_list, t, h, n_boot, tau=tau)
    base_boot = boot[0]
    out_levels = []
    for (series, lmo), lv, bt in zip(levels, raw, boot):
        opt = level_optimum(lv["G_seeds"], lv["gain_seeds"], t, h, tau=tau)
        G = opt["G_mean"]
        if numpy.all(numpy.isnan(G)):
            bi = bj = 0
        else:
            bi, bj = numpy.unravel_index(int(numpy.nanargmin(G)), G.shape)
        exact = lmo[1] == "exact"
        d_eff = 0.0 if exact else float(numpy.nanmax(lv["delta_eff"][bi, bj]))
        d_spec = 0.0 if exact else float(numpy.nanmax(lv["delta_spec"][bi, bj]))
        row = {"series": series, "lmo": lmo_name(*lmo), "kind": lmo[1], "option": lmo[2],
               "delta": d_eff, "delta_eff": d_eff, "delta_spec": d_spec,
               "delta_eff_grid_max": 0.0 if exact else float(numpy.nanmax(lv["delta_eff"])),
               "best_t": opt["t"], "best_t_ci": interval95(bt["t"]),
               "best_h": opt["h"], "best_h_ci": interval95(bt["h"]),
               "gain": opt["gain"], "gain_ci": interval95(bt["gain"]),
               "best_x": opt["x"], "best_x_ci": interval95(bt["x"]),
               "t_edge_weight": opt["t_edge_weight"], "h_edge_weight": opt["h_edge_weight"],
               "t_edge": opt["t_edge_weight"] > EDGE_WEIGHT, "h_edge": opt["h_edge_weight"] > EDGE_WEIGHT,
               "grid_best_t": float(t[bi]), "grid_best_h": float(h[bj]),
               "best_G": float(G[bi, bj]) if numpy.isfinite(G[bi, bj]) else None,
               "G_grid": _nan_to_none(G), "gain_grid": opt["gain_mean"].tolist(),
               "diverged": lv["diverged"], "wall_time": lv["wall_time"],
               "t_shift_ci": _ratio_ci(bt["t"], base_boot["t"]),
               "x_shift_ci": _ratio_ci(bt["x"], base_boot["x"]),
               "h_shift_ci": _ratio_ci(bt["h"], base_boot["h"])}
        out_levels.append(row)
    base = out_levels[0]
    for row in out_levels:
        d = row["delta_eff"]
        row["t_shift"] = row["best_t"] / base["best_t"]
        row["x_shift"] = row["best_x"] / base["best_x"]
        row["h_shift"] = row["best_h"] / base["best_h"]
        row["rescaling_t_shift"] = base["gain"] / row["gain"]   # what the gain alone forces
        row["theory_t_shift"] = (1 + d) ** -0.25
        row["theory_h_shift"] = (1 + d) ** 0.5
        if row is base:
            row.update(verdict="reference", verdict_detail="exact LMO")
        else:
            v = verdict(row["x_shift_ci"], row["h_shift_ci"], tol,
                        edge=row["t_edge"] or row["h_edge"] or base["t_edge"] or base["h_edge"])
            row.update(verdict=v["verdict"], verdict_detail=v["detail"])
    ordered = [base] + sorted(out_levels[1:], key=lambda r: (r["delta_eff"], r["series"], str(r["option"])))
    controls = [r for r in ordered if r["series"] in RESCALING_SERIES]
    return {"problem": problem_name, "params": params, "K": int(K), "seeds": list(map(int, seeds)),
            "method": "gluon", "t_grid": t.tolist(), "h_grid": h.tolist(), "t_ref": tH, "h_ref": hH,
            "n_layers": problem.layout.n_layers, "tol": tol, "tau": tau, "n_boot": int(n_boot),
            "levels": ordered,
            "controls_rescaling_only": all(r["verdict"] == "rescaling only" for r in controls) if controls else None}
