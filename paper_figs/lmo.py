r"""Figure 4: the inexact LMO.  (a) :math:`\delta` against Newton–Schulz steps; (b) which radius is
best at each precision, measured and predicted.

(a) For each approximation (:data:`experiments.lmo_error.APPROXIMATIONS`): lines, the worst case
of the spectral error :math:`\delta_{\rm spec}=\sup_u|\varphi_T(u)-1|` over normalised spectra in
``[ratio, 1]`` (:func:`experiments.lmo_error.worst_case`); markers, :math:`\delta_{\rm spec}`
measured on the momenta of a Gluon run (max over the stack and the layers, float64,
:func:`experiments.lmo_error.measure_stack` on :func:`experiments.lmo_momenta.collect_momenta`).

(b) :func:`experiments.lmo_coupling.coupling`: Gluon at horizon ``K`` on a radius grid, one row per
precision level (the exact LMO and the approximation at several step counts, :math:`\delta` =
:math:`\delta_{\rm eff}` measured on the run's own momenta), at the reference momentum.  Colour:
seed-mean :math:`G_K` divided by the row's best.  Circles: the best radius (log-centre of the
near-optimal cells, :func:`experiments.studies.lmo.effective.near_optimal_centre`) with its 95 %
paired seed-bootstrap interval; triangles: the theory's prediction
:math:`t^*(\delta)=t^*(0)\,(1+\delta)^{-1/4}`.
"""
from __future__ import annotations

import numpy
from matplotlib.colors import LogNorm
from matplotlib.lines import Line2D

from gluon_mvr.paper_figs import style
from gluon_mvr.paper_figs.data import as_float, cached

FLOOR = 1e-10   # panel a: smaller errors (round-off) are drawn at this level


def delta_data(ctx):
    s = ctx.settings
    mom = s.lmo_momenta
    config = {"steps": list(s.lmo_steps), "ratio": s.lmo_ratio, "momenta": mom}

    def compute():
        from gluon_mvr.experiments.studies.lmo.error import APPROXIMATIONS, measure_stack, worst_case
        from gluon_mvr.experiments.studies.lmo.momenta import collect_momenta
        from gluon_mvr.problems import get_problem
        worst = {a: [worst_case(a, T, s.lmo_ratio)["spectral"] for T in s.lmo_steps] for a in APPROXIMATIONS}
        problem = get_problem(mom["problem"], **mom["params"])
        stacks = collect_momenta(problem, mom["method"], mom["K"], list(range(mom["seeds"])), mom["snapshots"])
        measured = {a: [0.0] * len(s.lmo_steps) for a in APPROXIMATIONS}
        for M in stacks:
            for row in measure_stack(M, list(APPROXIMATIONS), list(s.lmo_steps), ("float64",)):
                j = list(s.lmo_steps).index(row["steps"])
                measured[row["approximation"]][j] = max(measured[row["approximation"]][j], row["spectral"])
        return {"steps": list(s.lmo_steps), "worst": worst, "measured": measured}
    return cached(ctx, "lmo-delta", config, compute)


def coupling_data(ctx):
    c = dict(ctx.settings.coupling)

    def compute():
        from gluon_mvr.experiments.studies.lmo.coupling import coupling
        a = c["approximation"]
        levels = [("exact", ("exact", "exact", 0))] + [(a, (a, "ns", int(T))) for T in c["steps"]]
        return coupling(c["problem"], c["params"], K=c["K"], seeds=tuple(range(c["seeds"])), levels=levels,
                        t_points=c["t_points"], t_range=(1.0 / c["t_span"], c["t_span"]),
                        h_factors=tuple(c["h_factors"]),
                        n_boot=c["n_boot"])
    return cached(ctx, "lmo-coupling", c, compute)


def heatmap_rows(doc):
    """Rows of panel b (sorted by delta): label, delta, relative G row, best t, its CI, theory t."""
    t = numpy.asarray(doc["t_grid"], dtype=float)
    h = numpy.asarray(doc["h_grid"], dtype=float)
    levels = doc["levels"]
    base = levels[0]
    j = int(numpy.argmin(numpy.abs(numpy.log(h / base["best_h"]))))
    t0 = base["best_t"]
    rows = []
    for lv in sorted(levels, key=lambda r: (r["delta"], r["lmo"] != "exact")):
        G = as_float(lv["G_grid"])[:, j]
        with numpy.errstate(all="ignore"):
            rel = G / numpy.nanmin(G)
        ci = lv.get("t_shift_ci")
        rows.append({"lmo": lv["lmo"], "delta": lv["delta"], "G": G, "rel": rel,
                     "best_t": lv["best_t"], "edge": lv["t_edge"],
                     "best_t_ci": None if ci is None else [t0 * ci[0], t0 * ci[1]],
                     "theory_t": t0 * (1 + lv["delta"]) ** -0.25})
    return t, h[j], rows


def _label(lmo, delta):
    if lmo == "exact":
        return r"exact ($\delta_{\rm eff}=0$)"
    steps = lmo.split(":")[-1]
    return f"{steps} step{'s' if steps != '1' else ''} ($\\delta_{{\\rm eff}}={delta:.2f}$)"


def build(ctx):
    dd = delta_data(ctx)
    doc = coupling_data(ctx)
    fig, (a, b) = style.figure(style.DOUBLE, 2.9, ncols=2, gridspec_kw={"width_ratios": [1, 1.25]})
    # (a) delta against steps
    steps = numpy.asarray(dd["steps"], dtype=float)
    for name, (c, mk, label) in style.APPROXIMATIONS.items():
        a.plot(steps, numpy.maximum(dd["worst"][name], FLOOR), "-", color=c, label=label)
        a.plot(steps, numpy.maximum(dd["measured"][name], FLOOR), ":", marker=mk, color=c, markersize=3.2,
               markerfacecolor="white", markeredgewidth=0.9, linewidth=0.8)
    a.set_yscale("log")
    a.set_ylim(FLOOR / 3, 3.0)
    a.set_xlabel("Newton–Schulz steps $T$")
    a.set_ylabel(r"spectral error $\delta=\|\widetilde{\rm lmo}-{\rm lmo}\|$")
    a.set_xticks(steps)
    mom = ctx.settings.lmo_momenta
    leg = a.legend(loc="lower left", fontsize=6, title="approximation", title_fontsize=6)
    a.add_artist(leg)
    kinds = [Line2D([], [], color="k", linestyle="-",
                    label=f"worst case over normalised spectra in [{ctx.settings.lmo_ratio:g}, 1]"),
             Line2D([], [], color="k", marker="o", linestyle=":", linewidth=0.8, markerfacecolor="white",
                    label=f"measured on {mom['method']} momenta ({mom['problem']}, $K={mom['K']}$)"),
             ]
    a.legend(handles=kinds, loc="upper center", bbox_to_anchor=(0.5, -0.24), ncol=1, fontsize=6,
             title=f"errors below {FLOOR:g} (round-off) drawn at {FLOOR:g}", title_fontsize=6)
    style.log_ticks(a, "y")
    a.set_title("error of the approximate LMO")
    # (b) heatmap
    t, h_ref, rows = heatmap_rows(doc)
    lt = numpy.log(t)
    edges = numpy.exp(numpy.concatenate([[lt[0] - (lt[1] - lt[0]) / 2], (lt[1:] + lt[:-1]) / 2,
                                         [lt[-1] + (lt[-1] - lt[-2]) / 2]]))
    R = numpy.array([r["rel"] for r in rows])
    y_edges = numpy.arange(len(rows) + 1) - 0.5
    finite = R[numpy.isfinite(R)]
    vmax = max(float(numpy.nanmax(finite)) if finite.size else 2.0, 1.01)
    mesh = b.pcolormesh(edges, y_edges, numpy.ma.masked_invalid(R), cmap="viridis_r",
                        norm=LogNorm(vmin=1.0, vmax=min(vmax, 10.0)), shading="flat")
    b.set_facecolor(style.OKABE_ITO["grey"])
    b.grid(False)
    b.set_xscale("log")
    y = numpy.arange(len(rows))
    best = numpy.array([r["best_t"] for r in rows])
    lo = numpy.array([r["best_t"] if r["best_t_ci"] is None else r["best_t_ci"][0] for r in rows])
    hi = numpy.array([r["best_t"] if r["best_t_ci"] is None else r["best_t_ci"][1] for r in rows])
    b.errorbar(best, y, xerr=[numpy.maximum(best - lo, 0), numpy.maximum(hi - best, 0)], fmt="o", color="white",
               markeredgecolor="k", markersize=4.5, ecolor="k", elinewidth=1.0, capsize=2, zorder=4)
    th = numpy.array([r["theory_t"] for r in rows])
    b.plot(th, y, "^", color=style.OKABE_ITO["orange"], markeredgecolor="k", markersize=4.5, zorder=5)
    b.set_yticks(y)
    b.set_yticklabels([_label(r["lmo"], r["delta"]) for r in rows])
    b.set_ylim(len(rows) - 0.5, -0.5)
    b.set_xlabel("radius $t$ (layer norm)")
    c = ctx.settings.coupling
    name = style.APPROXIMATIONS.get(c["approximation"], (None, None, c["approximation"]))[2]
    b.set_title(f"Gluon with {name}: best radius per precision\n"
                f"($K={c['K']}$, $1-\\beta={h_ref:.3g}$, {c['seeds']} seeds, {doc['problem']})")
    cb = fig.colorbar(mesh, ax=b, pad=0.02)
    cb.set_label(r"$G_K$ / row minimum")
    style.log_ticks(cb.ax, "y")
    handles = [Line2D([], [], marker="o", color="white", markeredgecolor="k", linestyle="",
                      label="measured best radius (95 % CI)"),
               Line2D([], [], marker="^", color=style.OKABE_ITO["orange"], markeredgecolor="k", linestyle="",
                      label=r"theory $t^*(0)\,(1+\delta_{\rm eff})^{-1/4}$")]
    style.log_ticks(b, "x")
    b.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.24), ncol=2, fontsize=6)
    style.panel_label(a, "a", x=-0.3)
    style.panel_label(b, "b", x=-0.3)
    fig.tight_layout(w_pad=1.5)
    return {"data": {"delta": dd, "t_grid": t, "h_ref": h_ref, "rows": rows},
            "paths": style.save(fig, ctx.out_dir, "fig4_inexact_lmo")}
