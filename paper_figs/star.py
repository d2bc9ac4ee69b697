r"""Figure 3: star-convex gap :math:`f(X^K)-f^*` against ``K``, momentum (Gluon) vs MVR.

Problem ``star`` with the star-convex Frank–Wolfe schedule (criterion ``gap`` of the rate
check).  Points: seed mean and 95 % bootstrap interval; solid lines: the rate check's fit
:math:`e^c K^s(\ln K)^p` on the tail (the bound's log factor :math:`(\ln K)^p` divided out
before fitting, :data:`experiments.rate_check.LOG_POWER`); dotted lines in the method's colour:
the theory rate :math:`(\ln K/K)^{1/3}` (momentum) and :math:`(\ln K/K)^{1/2}` (MVR), anchored
:data:`paper_figs.rates.REF_OFFSET` above the method's first point.
"""
from __future__ import annotations

import numpy
from matplotlib.lines import Line2D

from gluon_mvr.methods.presets import get_method

from gluon_mvr.paper_figs import style
from gluon_mvr.paper_figs.data import rate_data
from gluon_mvr.paper_figs.rates import REF_OFFSET, errorbars, fit_line, points


def log_power(method):
    claim = get_method(method).claim
    return None if claim is None else claim.log_power("gap")


def theory_curve(K, y0, p):
    K = numpy.asarray(K, dtype=float)
    return y0 * (numpy.log(K) / K) ** p / (numpy.log(K[0]) / K[0]) ** p


def build(ctx):
    rd = rate_data(ctx, ctx.settings.star)
    cfg = rd.cfg
    pts = points(rd.cells, cfg.methods, cfg.horizons, field="gap", n_boot=ctx.settings.bootstrap)
    fig, ax = style.figure(style.SINGLE, 3.0)
    handles, fits, theory = [], {}, {}
    Kd = numpy.geomspace(min(cfg.horizons), max(cfg.horizons), 30)
    for m in cfg.methods:
        c, mk = style.method_color(m), style.method_marker(m)
        p = pts[m]
        errorbars(ax, p["K"], p, c, mk)          # at their own K, bars visible (hollow markers)
        r = rd.report(m)
        lp = log_power(m)
        K, y = fit_line(r.fit.slope, r.fit.intercept, r.fit.horizons, lp)
        ax.plot(K, y, linestyle=style.method_linestyle(m), color=c, linewidth=1.0, zorder=2)
        fits[m] = {"slope": r.fit.slope, "ci": r.fit.ci, "intercept": r.fit.intercept, "log_power": lp,
                   "K": K, "y": y}
        if lp is not None:
            ty = theory_curve(Kd, REF_OFFSET * p["mean"][0], lp)
            ax.plot(Kd, ty, ":", color=c, linewidth=1.1, zorder=1)
            theory[m] = (Kd, ty)
        th = "" if r.theory is None else f" (theory {r.theory:.2f})"
        handles.append(Line2D([], [], color=c, marker=mk, markerfacecolor="none", label=f"{style.method_label(m)}: "
                              f"{r.fit.slope:.2f} [{r.fit.ci[0]:.2f}, {r.fit.ci[1]:.2f}]{th}"))
    handles.append(Line2D([], [], color=style.REFERENCE, linestyle=":",
                          label=r"theory $(\ln K/K)^{1/3}$ momentum, $(\ln K/K)^{1/2}$ MVR"))
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("horizon $K$ (iterations)")
    ax.set_ylabel(r"gap $f(X^K)-f^*$ (mean over seeds)")
    style.log_ticks(ax)
    ax.set_title(f"problem '{cfg.problem}' (star-convex), Frank–Wolfe schedule, {cfg.seeds} seeds", fontsize=7)
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.2),
              title=r"fitted exponent of gap$/(\ln K)^p$ [95 % CI]", title_fontsize=6.5)
    fig.tight_layout()
    return {"data": {"points": pts, "fits": fits, "theory": theory},
            "paths": style.save(fig, ctx.out_dir, "fig3_star_gap")}
