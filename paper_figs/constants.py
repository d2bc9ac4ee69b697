r"""Figure 5: declared vs estimated :math:`(L_0, L_1)` per layer, with the feasible frontier.

Measured points as :func:`problems.certify.certify` makes them
(:func:`problems.certify.measure_smoothness`: the same sampler, seed, region filter, and a real
optimizer run's consecutive iterates): per layer, pairs
:math:`(g,\hat L)=(\|\nabla_i f(X)\|_*,\ \|\nabla_i f(X)-\nabla_i f(Y)\|_*/\|X_i-Y_i\|)`.

Top row (one column per layer): the points, the declared line :math:`L_0+L_1g` and the fitted
certified envelope (:func:`problems.constants_estimation.fit_envelope`, the LP's least-mean-height
feasible line).  Bottom row: the :math:`(L_1, L_0)` plane; shaded, the pairs feasible for the
data (every point on or under the line: :math:`L_0\ge\max_k(\hat L_k-L_1g_k)`), its lower edge
the frontier; the declared pair and the fitted one.  A declaration is certified (A1) when its
point lies in the shaded set.
"""
from __future__ import annotations

import numpy
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from gluon_mvr.paper_figs import style
from gluon_mvr.paper_figs.data import cached


def constants_data(ctx):
    c = dict(ctx.settings.constants)

    def compute():
        from gluon_mvr.problems import constants_estimation as est
        from gluon_mvr.problems import get_problem
        from gluon_mvr.problems.certify import measure_smoothness
        problem = get_problem(c["problem"], **c["params"])
        meas = measure_smoothness(problem, c["n_pairs"], c["seed"], trajectory="run", method=c["method"],
                                  steps=c["steps"], run_seeds=c["run_seeds"])
        sp, tp, allp = meas.sampled, meas.trajectory, meas.points
        layers = []
        for i in range(problem.layout.n_layers):
            fit = est.fit_envelope(allp.ratio[i], allp.grad_norm[i])
            L0d, L1d = problem.constants.L0[i], problem.constants.L1[i]
            layers.append({"layer": i, "norm": problem.constants.norms[i],
                           "L0_declared": float(L0d), "L1_declared": float(L1d),
                           "L0_fit": fit.L0, "L1_fit": fit.L1,
                           "sampled": {"g": sp.grad_norm[i], "L": sp.ratio[i], "slack": sp.slack[i]},
                           "trajectory": {"g": tp.grad_norm[i], "L": tp.ratio[i], "slack": tp.slack[i]},
                           "n_above_declared": est.count_above(L0d, L1d, allp.ratio[i], allp.grad_norm[i],
                                                               allp.slack[i]),
                           "n_outside_region": meas.n_outside_region})
        return {"problem": problem.name, "region": problem.constants.region, "layers": layers}
    return cached(ctx, "constants", c, compute)


def frontier(g, L, slack, L1):
    """Least feasible :math:`L_0` for each :math:`L_1` (the frontier of the feasible set)."""
    g, L, slack = (numpy.asarray(v, dtype=float) for v in (g, L, slack))
    L1 = numpy.asarray(L1, dtype=float)
    return numpy.maximum(numpy.max(L[None, :] - slack[None, :] - L1[:, None] * g[None, :], axis=1), 0.0)


def build(ctx):
    doc = constants_data(ctx)
    layers = doc["layers"]
    p = len(layers)
    fig, axes = style.figure(style.DOUBLE, 4.3, nrows=2, ncols=p, squeeze=False)
    plotted = []
    col_s, col_t = style.OKABE_ITO["skyblue"], style.OKABE_ITO["orange"]
    col_fit = style.OKABE_ITO["vermillion"]
    for i, ly in enumerate(layers):
        ax, pl = axes[0, i], axes[1, i]
        gs, Ls = numpy.asarray(ly["sampled"]["g"]), numpy.asarray(ly["sampled"]["L"])
        gt, Lt = numpy.asarray(ly["trajectory"]["g"]), numpy.asarray(ly["trajectory"]["L"])
        ax.scatter(gs, Ls, s=3, color=col_s, alpha=0.6, linewidths=0, zorder=2)
        ax.scatter(gt, Lt, s=3, color=col_t, alpha=0.6, linewidths=0, zorder=2)
        g_all = numpy.concatenate([gs, gt])
        g_pos = g_all[g_all > 0]
        gx = numpy.geomspace(float(g_pos.min()) / 1.5, float(g_pos.max()) * 1.5, 60)
        yd = ly["L0_declared"] + ly["L1_declared"] * gx
        yf = ly["L0_fit"] + ly["L1_fit"] * gx
        ax.plot(gx, yd, "-", color="k", linewidth=1.1, zorder=3)
        ax.plot(gx, yf, "--", color=col_fit, linewidth=1.1, zorder=3)
        ax.set_xlabel(rf"$g=\|\nabla_{i} f(X)\|_{{*}}$ (dual {ly['norm']} norm)")
        ax.set_ylabel(r"$\hat L=\|\nabla_{%d} f(X)-\nabla_{%d} f(Y)\|_*/\|X_{%d}-Y_{%d}\|$" % (i, i, i, i),
                      fontsize=6.5)
        ax.set_title(f"layer {i}: declared $(L_0, L_1)=({ly['L0_declared']:.3g}, {ly['L1_declared']:.3g})$, "
                     f"fit $({ly['L0_fit']:.3g}, {ly['L1_fit']:.3g})$", fontsize=6.8)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlim(gx[0], gx[-1])
        style.log_ticks(ax)
        # (L1, L0) plane
        g_cat = numpy.concatenate([gs, gt])
        L_cat = numpy.concatenate([Ls, Lt])
        s_cat = numpy.concatenate([ly["sampled"]["slack"], ly["trajectory"]["slack"]])
        L1_max = 1.6 * max(ly["L1_declared"], ly["L1_fit"], 1e-3)
        L1x = numpy.linspace(0, L1_max, 300)
        L0f = frontier(g_cat, L_cat, s_cat, L1x)
        top = 1.25 * max(float(L0f.max()), ly["L0_declared"], ly["L0_fit"])
        pl.fill_between(L1x, L0f, top, color=style.OKABE_ITO["green"], alpha=0.25, linewidth=0)
        pl.plot(L1x, L0f, "-", color=style.OKABE_ITO["green"], linewidth=1.1)
        pl.plot([ly["L1_declared"]], [ly["L0_declared"]], "*", color="k", markersize=8, zorder=4)
        pl.plot([ly["L1_fit"]], [ly["L0_fit"]], "o", color=col_fit, markersize=5, markeredgecolor="k", zorder=4)
        pl.set_xlim(0, L1_max)
        pl.set_ylim(0, top)
        pl.set_xlabel(r"$L_1$")
        pl.set_ylabel(r"$L_0$")
        above = ly["n_above_declared"]
        pl.set_title(f"layer {i}: {len(g_cat)} points, {above} above the declared line", fontsize=6.8)
        plotted.append({"sampled": (gs, Ls), "trajectory": (gt, Lt), "declared": (ly["L0_declared"], ly["L1_declared"]),
                        "fit": (ly["L0_fit"], ly["L1_fit"]), "frontier": (L1x, L0f)})
    handles = [Line2D([], [], marker="o", color=col_s, linestyle="", label="sampled pairs"),
               Line2D([], [], marker="o", color=col_t, linestyle="", label="consecutive iterates of a Gluon run"),
               Line2D([], [], color="k", label=r"declared $L_0+L_1 g$ / declared pair ($\star$)"),
               Line2D([], [], color=col_fit, linestyle="--", marker="o", markeredgecolor="k",
                      label="fitted certified envelope (LP)"),
               Patch(color=style.OKABE_ITO["green"], alpha=0.4, label="feasible $(L_1, L_0)$ for the data")]
    fig.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=3)
    style.panel_label(axes[0, 0], "a", x=-0.19)
    style.panel_label(axes[1, 0], "b", x=-0.19)
    fig.tight_layout(h_pad=1.0, w_pad=1.5)
    return {"data": {"layers": plotted, "doc": doc}, "paths": style.save(fig, ctx.out_dir, "fig5_constants")}
