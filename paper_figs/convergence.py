r"""Figure 1: the stationarity measure :math:`\sum_i\|\nabla_i f(X^k)\|_*` along the runs.

Columns: horizons ``K`` (each run uses its horizon-K schedule); top row against iterations
:math:`k`, bottom row against stochastic-gradient calls :math:`1 + c\,k` (``c`` = 1 for Gluon,
2 for the MVR variants, the estimator's ``calls_per_step``).  Lines: median over seeds; bands:
25–75 % quantiles.  The curves are the cells' stored ones (``curve``: <= 100 log-spaced
recorded iterations; ``k = 0`` is left out of the log axes).
"""
from __future__ import annotations

import numpy
from matplotlib.patches import Patch

from gluon_mvr.methods.presets import get_method

from gluon_mvr.paper_figs import style
from gluon_mvr.paper_figs.data import rate_data

QUANTILES = (0.25, 0.75)
YLABEL = r"$\Sigma_i\,\|\nabla_i f(X^k)\|_{(i)*}$"


def calls_per_step(method: str) -> int:
    spec = get_method(method)
    return 1 if spec.deterministic else spec.make_estimator().calls_per_step


def curve_stats(result: dict):
    """``k`` (>= 1), median and quantile band over seeds of a stored cell's curve."""
    k = numpy.asarray(result["curve_iterations"], dtype=float)
    C = numpy.array([[numpy.nan if v is None else v for v in row] for row in result["curve"]], dtype=float)
    keep = k >= 1
    k, C = k[keep], C[:, keep]
    with numpy.errstate(all="ignore"):
        med = numpy.nanmedian(C, axis=0)
        lo, hi = numpy.nanquantile(C, QUANTILES, axis=0)
    return k, med, lo, hi


def build(ctx):
    s = ctx.settings
    rd = rate_data(ctx, s.rate)
    horizons = [K for K in s.convergence_horizons if K in rd.cfg.horizons]
    fig, axes = style.figure(style.DOUBLE, 3.7, nrows=2, ncols=len(horizons), sharey=True, squeeze=False)
    plotted = {}
    for j, K in enumerate(horizons):
        for m in rd.cfg.methods:
            k, med, lo, hi = curve_stats(rd.cells[m, K])
            calls = 1 + calls_per_step(m) * k
            plotted[m, K] = {"k": k, "calls": calls, "median": med, "q25": lo, "q75": hi}
            c = style.method_color(m)
            for row, x in enumerate((k, calls)):
                ax = axes[row, j]
                ax.fill_between(x, lo, hi, color=c, alpha=0.22, linewidth=0)
                ax.plot(x, med, color=c, linestyle=style.method_linestyle(m), label=style.method_label(m))
        for row in range(2):
            ax = axes[row, j]
            ax.set_xscale("log")
            ax.set_yscale("log")
        axes[0, j].set_title(f"horizon $K={K}$")
        axes[0, j].set_xlabel("iteration $k$")
        axes[1, j].set_xlabel("stochastic gradient calls")
    for row in range(2):
        axes[row, 0].set_ylabel(YLABEL)
    for ax in axes.ravel():
        style.log_ticks(ax)
    style.panel_label(axes[0, 0], "a", x=-0.2)
    style.panel_label(axes[1, 0], "b", x=-0.2)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    band = Patch(color=style.REFERENCE, alpha=0.3, linewidth=0)
    cfg = rd.cfg
    fig.tight_layout(h_pad=0.8, w_pad=0.8)
    fig.legend(handles + [band], labels + ["25–75 % of seeds (line: median)"], loc="lower center",
               ncol=len(labels) + 1, bbox_to_anchor=(0.5, 0.99), title_fontsize=6.5,
               title=f"problem '{cfg.problem}' {_params(cfg.params)}, {cfg.seeds} seeds, horizon-K schedule; "
                     "gradient calls per iteration: Gluon 1, MVR 2")
    return {"data": plotted, "paths": style.save(fig, ctx.out_dir, "fig1_convergence")}


def _params(params):
    keep = {k: v for k, v in params.items() if k in ("layers", "dim", "sigma", "distance", "L0", "L1")}
    return "(" + ", ".join(f"{k}={v}" for k, v in keep.items()) + ")" if keep else ""
