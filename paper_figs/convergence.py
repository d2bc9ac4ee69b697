r"""Figure 1: the stationarity measure :math:`\sum_i\|\nabla_i f(X^k)\|_*` along the runs.

Columns: horizons ``K`` (each run uses its horizon-K schedule); top row against iterations
:math:`k`, bottom row against stochastic-gradient calls :math:`1 + c\,k` (``c`` = 1 for Gluon,
2 for the MVR variants, the estimator's ``calls_per_step``).  Lines: median over seeds; bands:
25–75 % quantiles, outlined so that overlapping curves do not hide them.  Row c (linear scale):
MVR-2's and MVR-3's curves divided by MVR-1's, seed by seed (paired), median and quartiles: it
separates MVR-1/2/3, whose curves coincide on rows a and b.  The curves are the cells' stored ones (``curve``: <= 100 log-spaced
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


def ratio_stats(result: dict, reference: dict):
    """``k`` (>= 1), median and quartile band over seeds of the per-seed ratio of two cells'
    curves (same seeds, same recorded iterations: a paired comparison)."""
    k, _, _, _ = curve_stats(result)
    kr = numpy.asarray(reference["curve_iterations"], dtype=float)
    if not numpy.array_equal(numpy.asarray(result["curve_iterations"], dtype=float), kr):
        raise ValueError("ratio of curves recorded at different iterations")
    C = numpy.array([[numpy.nan if v is None else v for v in row] for row in result["curve"]], dtype=float)
    R = numpy.array([[numpy.nan if v is None else v for v in row] for row in reference["curve"]], dtype=float)
    keep = kr >= 1
    with numpy.errstate(all="ignore"):
        Q = C[:, keep] / R[:, keep]
        med = numpy.nanmedian(Q, axis=0)
        lo, hi = numpy.nanquantile(Q, QUANTILES, axis=0)
    return k, med, lo, hi


def _band(ax, x, med, lo, hi, m):
    """Median line with its quartile band: the band is filled lightly AND outlined in the
    method's colour above every line, so no other curve hides it."""
    c = style.method_color(m)
    ax.fill_between(x, lo, hi, color=c, alpha=0.16, linewidth=0, zorder=1)
    for edge in (lo, hi):
        ax.plot(x, edge, color=c, linewidth=0.45, alpha=0.9, zorder=3)
    ax.plot(x, med, color=c, linestyle=style.method_linestyle(m), linewidth=1.1, zorder=2,
            label=style.method_label(m))


def build(ctx):
    s = ctx.settings
    rd = rate_data(ctx, s.rate)
    horizons = [K for K in s.convergence_horizons if K in rd.cfg.horizons]
    ref = "mvr1" if "mvr1" in rd.cfg.methods else rd.cfg.methods[0]
    # row c separates what rows a and b cannot: the other MVR variants (else every other method)
    in_ratio = [m for m in rd.cfg.methods if m != ref and m.startswith("mvr")] or \
        [m for m in rd.cfg.methods if m != ref]
    fig, axes = style.figure(style.DOUBLE, 5.2, nrows=3, ncols=len(horizons), squeeze=False,
                             gridspec_kw={"height_ratios": [2, 2, 1.3]})
    plotted = {}
    for j, K in enumerate(horizons):
        for m in rd.cfg.methods:
            k, med, lo, hi = curve_stats(rd.cells[m, K])
            calls = 1 + calls_per_step(m) * k
            plotted[m, K] = {"k": k, "calls": calls, "median": med, "q25": lo, "q75": hi}
            for row, x in enumerate((k, calls)):
                _band(axes[row, j], x, med, lo, hi, m)
            if m in in_ratio:
                kq, rmed, rlo, rhi = ratio_stats(rd.cells[m, K], rd.cells[ref, K])
                plotted[m, K]["ratio_to"] = ref
                plotted[m, K]["ratio_median"], plotted[m, K]["ratio_q25"], plotted[m, K]["ratio_q75"] = rmed, rlo, rhi
                _band(axes[2, j], kq, rmed, rlo, rhi, m)
        axes[2, j].axhline(1.0, color=style.method_color(ref), linestyle=style.method_linestyle(ref),
                           linewidth=1.0, zorder=2)
        for row in range(3):
            ax = axes[row, j]
            ax.set_xscale("log")
            if row < 2:
                ax.set_yscale("log")
        axes[0, j].set_title(f"horizon $K={K}$")
        axes[0, j].set_xlabel("iteration $k$")
        axes[1, j].set_xlabel("stochastic gradient calls")
        axes[2, j].set_xlabel("iteration $k$")
    # rows a and b share one y range (the panels compare horizons), row c its own
    for row in range(2):
        lo = min(ax.get_ylim()[0] for ax in axes[row])
        hi = max(ax.get_ylim()[1] for ax in axes[row])
        for ax in axes[row]:
            ax.set_ylim(lo, hi)
        axes[row, 0].set_ylabel(YLABEL)
    axes[2, 0].set_ylabel(f"ratio to {style.method_label(ref).replace('Gluon-', '')}\n(per seed)")
    for ax in axes.ravel():
        style.log_ticks(ax)
    if not in_ratio:
        for ax in axes[2]:
            ax.axis("off")
    for row, lab in enumerate("abc"):
        style.panel_label(axes[row, 0], lab, x=-0.2)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    band = Patch(facecolor=style.REFERENCE, alpha=0.3, edgecolor=style.REFERENCE, linewidth=0.45)
    cfg = rd.cfg
    fig.tight_layout(h_pad=0.6, w_pad=0.8)
    fig.legend(handles + [band], labels + ["25–75 % of seeds (line: median)"], loc="lower center",
               ncol=len(labels) + 1, bbox_to_anchor=(0.5, 0.99), title_fontsize=6.5,
               title=f"problem '{cfg.problem}' {_params(cfg.params)}, {cfg.seeds} seeds, horizon-K schedule; "
                     "gradient calls per iteration: Gluon 1, MVR 2\n(c): "
                     f"{', '.join(style.method_label(m) for m in in_ratio)} over {style.method_label(ref)}, "
                     "seed by seed (linear scale)")
    return {"data": plotted, "paths": style.save(fig, ctx.out_dir, "fig1_convergence")}


def _params(params):
    keep = {k: v for k, v in params.items() if k in ("layers", "dim", "sigma", "distance", "L0", "L1")}
    return "(" + ", ".join(f"{k}={v}" for k, v in keep.items()) + ")" if keep else ""
