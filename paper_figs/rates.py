r"""Figure 2: :math:`G_K` against ``K`` (log-log), theory schedule (a) and tuned schedule (b).

Points: seed mean of :math:`G_K` at its horizon (no offsets), error bars: 95 % percentile
bootstrap interval of that mean over seeds (hollow markers, drawn above the lines, so the bars
stay visible).  Bottom panels (linear scale): MVR-2's and MVR-3's seed means divided by MVR-1's (Gluon's when
no other MVR variant is shown), with a paired bootstrap interval: they separate MVR-1/2/3
where their points coincide.  Lines: the rate check's fit :math:`e^c K^s` on the fitted horizons (the
grid's tail), with the slope and its 95 % seed-bootstrap interval in the legend.  Grey lines:
the theory slopes :math:`K^{-1/4}` (Gluon) and :math:`K^{-1/3}` (MVR), anchored at the methods
they belong to (shifted up by :data:`REF_OFFSET` so as not to cover the data).  Panel b: the
same with the radius and momentum searched per ``K`` (:func:`experiments.tuning.tune`).
"""
from __future__ import annotations

import numpy
from matplotlib.lines import Line2D

from gluon_mvr.experiments.studies.rate_check import theory_exponent

from gluon_mvr.paper_figs import style
from gluon_mvr.paper_figs.data import bootstrap_mean_ci, bootstrap_ratio_ci, rate_data, tuned_data

REF_OFFSET = 1.6
REF_STYLE = {-0.25: ("--", r"theory $K^{-1/4}$"), -1 / 3: (":", r"theory $K^{-1/3}$")}


def points(cells, methods, horizons, field="G", n_boot=2000):
    """Per method: horizons, seed means and bootstrap intervals of ``field``."""
    out = {}
    for m in methods:
        stats = [bootstrap_mean_ci(cells[m, K][field], n_boot=n_boot) for K in horizons]
        mean, lo, hi = (numpy.array(v) for v in zip(*stats))
        out[m] = {"K": numpy.asarray(horizons, dtype=float), "mean": mean, "lo": lo, "hi": hi}
    return out


def fit_line(slope, intercept, fit_horizons, log_power=None):
    """Fitted curve on the fit horizons (``log_power``: the (ln K)^p divided out before the fit)."""
    K = numpy.geomspace(min(fit_horizons), max(fit_horizons), 30)
    y = numpy.exp(intercept) * K ** slope
    if log_power:
        y = y * numpy.log(K) ** log_power
    return K, y


def reference_lines(ax, pts, methods, horizons, criterion="stationarity"):
    """Theory slopes of the methods shown, drawn clear of the data: the shallowest one
    REF_OFFSET above the highest first point, the steeper ones REF_OFFSET below the lowest
    (a method decaying at its theory rate then runs parallel to its line, without crossing)."""
    K = numpy.geomspace(min(horizons), max(horizons), 20)
    slopes = sorted({s for s in REF_STYLE for m in methods
                     if theory_exponent(m, criterion) is not None and abs(theory_exponent(m, criterion) - s) < 1e-9},
                    reverse=True)
    first = [pts[m]["mean"][0] for m in methods if numpy.isfinite(pts[m]["mean"][0])]
    drawn = {}
    for i, s in enumerate(slopes):
        y0 = REF_OFFSET * max(first) if i == 0 else min(first) / REF_OFFSET
        y = y0 * (K / K[0]) ** s
        ax.plot(K, y, REF_STYLE[s][0], color=style.REFERENCE, linewidth=1.0, zorder=1)
        drawn[s] = (K, y)
    return drawn


def errorbars(ax, x, p, color, marker, zorder=4):
    """Seed means with their 95 % intervals, drawn so that the interval stays visible: hollow
    markers (the bar shows through), caps wider than the marker, above every line."""
    ax.errorbar(x, p["mean"], yerr=[p["mean"] - p["lo"], p["hi"] - p["mean"]], fmt=marker, color=color,
                markerfacecolor="none", markeredgewidth=0.9, markersize=4.0, capsize=2.8, capthick=0.9,
                elinewidth=1.0, zorder=zorder)


def reference_method(methods):
    """The method the ratio panels divide by: MVR-1 when shown, else the first method."""
    return "mvr1" if "mvr1" in methods else methods[0]


def ratio_methods(methods):
    """Methods of the ratio panel: the other MVR variants when there are any (what the main
    panel cannot separate), else every other method."""
    ref = reference_method(methods)
    mvr = [m for m in methods if m != ref and m.startswith("mvr")]
    return mvr or [m for m in methods if m != ref]


def ratios(cells, methods, horizons, field="G", n_boot=2000):
    """Per method of :func:`ratio_methods`: seed-mean ratio to the reference method per horizon,
    with its paired bootstrap interval (:func:`paper_figs.data.bootstrap_ratio_ci`)."""
    ref = reference_method(methods)
    out = {}
    for m in ratio_methods(methods):
        stats = [bootstrap_ratio_ci(cells[m, K][field], cells[ref, K][field], n_boot=n_boot) for K in horizons]
        mean, lo, hi = (numpy.array(v) for v in zip(*stats))
        out[m] = {"K": numpy.asarray(horizons, dtype=float), "mean": mean, "lo": lo, "hi": hi, "ref": ref}
    return out


def draw_ratio_panel(ax, rat, methods, horizons):
    """Ratio of each method's seed mean to the reference method's (1 = the same), with paired
    95 % intervals: separates methods whose points coincide on the main panel."""
    ref = reference_method(methods)
    if len(methods) < 2:
        ax.axis("off")
        ax.text(0.5, 0.5, "one method: no ratio to show", transform=ax.transAxes, ha="center", fontsize=6.5)
        return
    ax.axhline(1.0, color=style.method_color(ref), linestyle=style.method_linestyle(ref), linewidth=1.0, zorder=1)
    for m in rat:
        r = rat[m]
        ax.plot(r["K"], r["mean"], color=style.method_color(m), linestyle=style.method_linestyle(m),
                linewidth=0.8, zorder=2)
        errorbars(ax, r["K"], r, style.method_color(m), style.method_marker(m))
    ax.set_xscale("log")
    ax.set_xlim(right=max(horizons) * 2.0)
    ax.set_xlabel("horizon $K$ (iterations)")
    ax.set_ylabel(f"$G_K$ / $G_K$({style.method_label(ref).replace('Gluon-', '')})")
    style.log_ticks(ax, "x")


def draw_panel(ax, pts, reports, methods, horizons, title):
    handles = []
    for m in methods:
        c, mk, ls = style.method_color(m), style.method_marker(m), style.method_linestyle(m)
        p = pts[m]
        errorbars(ax, p["K"], p, c, mk)           # at their own K: no offsets
        r = reports[m]
        K, y = fit_line(r["slope"], r["intercept"], r["fit_horizons"])
        ax.plot(K, y, linestyle=ls, color=c, linewidth=1.0, zorder=2)
        handles.append(Line2D([], [], color=c, marker=mk, markerfacecolor="none", markersize=4.0, linestyle=ls,
                              label=f"{style.method_label(m)}: {r['slope']:.3f} "
                                    f"[{r['ci'][0]:.3f}, {r['ci'][1]:.3f}]"))
    refs = reference_lines(ax, pts, methods, horizons)
    ax.set_xscale("log")
    ax.set_yscale("log")
    for s, (K, y) in refs.items():
        ax.annotate(REF_STYLE[s][1].replace("theory ", ""), (K[-1], y[-1]), xytext=(3, 0),
                    textcoords="offset points", va="center", ha="left", fontsize=6.5, color=style.REFERENCE)
    ax.set_xlim(right=max(horizons) * 2.0)
    ax.set_ylabel(r"$G_K$ = mean over $k<K$ of $\Sigma_i\,\|\nabla_i f(X^k)\|_{(i)*}$")
    ax.set_title(title)
    style.log_ticks(ax)
    lo, hi = ax.get_ylim()
    ax.set_ylim(lo / 2.8, hi)              # room for the legend under the data
    style.log_ticks(ax)
    ax.legend(handles=handles, loc="lower left", ncol=1, framealpha=0.85, frameon=True, edgecolor="none", title="fitted slope [95 % CI]; grey: theory slopes",
              title_fontsize=6.0, fontsize=6.0)
    return refs


def build(ctx):
    s = ctx.settings
    rd = rate_data(ctx, s.rate)
    td = tuned_data(ctx)
    style.apply()
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(2, 2, figsize=(style.DOUBLE, 4.6), sharex="col",
                             gridspec_kw={"height_ratios": [3, 1.25]})
    (a, b), (ra, rb) = axes
    cfg = rd.cfg
    pa = points(rd.cells, cfg.methods, cfg.horizons, n_boot=s.bootstrap)
    rep_a = {r.method: {"slope": r.fit.slope, "intercept": r.fit.intercept, "ci": r.fit.ci,
                        "fit_horizons": r.fit.horizons} for r in rd.reports}
    refs_a = draw_panel(a, pa, rep_a, cfg.methods, cfg.horizons,
                        f"theory schedule ({cfg.problem}, {cfg.seeds} seeds)")
    rat_a = ratios(rd.cells, cfg.methods, cfg.horizons, n_boot=s.bootstrap)
    draw_ratio_panel(ra, rat_a, cfg.methods, cfg.horizons)
    tc = td.cfg
    pb = points(td.cells, tc.methods, tc.horizons, n_boot=s.bootstrap)
    rep_b = {r["method"]: {"slope": r["slope"], "intercept": r["fit"]["intercept"], "ci": r["ci"],
                           "fit_horizons": r["fit"]["fit_horizons"]} for r in td.results}
    refs_b = draw_panel(b, pb, rep_b, tc.methods, tc.horizons,
                        f"tuned radius and momentum per $K$ ({tc.seeds} seeds)")
    rat_b = ratios(td.cells, tc.methods, tc.horizons, n_boot=s.bootstrap)
    draw_ratio_panel(rb, rat_b, tc.methods, tc.horizons)
    for ax in (a, b):
        ax.tick_params(labelbottom=True)
    style.panel_label(a, "a", x=-0.16)
    style.panel_label(b, "b", x=-0.16)
    fig.text(0.5, -0.01, "points: seed mean at its horizon K, bars: 95 % bootstrap interval over seeds "
             "(bottom: ratio of seed means, paired bootstrap)", ha="center", va="top", fontsize=6.5)
    fig.tight_layout(w_pad=2.0, h_pad=0.6)
    return {"data": {"theory": pa, "tuned": pb, "fits_theory": rep_a, "fits_tuned": rep_b,
                     "ratios_theory": rat_a, "ratios_tuned": rat_b, "refs": (refs_a, refs_b)},
            "paths": style.save(fig, ctx.out_dir, "fig2_rates")}
