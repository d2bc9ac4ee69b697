r"""Figure 6: measured against the theory's bound, per method and problem family.

For every rate-check cell the figures use (the main check, the extra families of
:attr:`paper_figs.data.Settings.bound_families` and the star-convex gap check): the seed-mean
measured quantity (:math:`G_K`, or the gap for ``star``) and the bound :mod:`theory` states for
that cell (:func:`experiments.rate_check.bound_for_cell`, the number the rate check's
``meas/bound`` column uses; cells without a bound are left out).  (a) measured against bound, the diagonal is
measured = bound (points must lie under it); (b) tightness = measured/bound against ``K``.
"""
from __future__ import annotations

import math

import numpy
from matplotlib.lines import Line2D

from gluon_mvr.paper_figs import style
from gluon_mvr.paper_figs.data import rate_data


def collect(ctx):
    """Rows ``{family, criterion, method, K, measured, bound, ratio}``."""
    from gluon_mvr.experiments.studies.rate_check import bound_for_cell
    s = ctx.settings
    rows = []
    for overrides in (s.rate, *s.bound_families, s.star):
        rd = rate_data(ctx, overrides)
        cfg = rd.cfg
        for r in rd.reports:
            instances = r.worst_instance or [None] * len(cfg.horizons)
            for K, v, measured in zip(cfg.horizons, instances, r.G):
                b = bound_for_cell(cfg, r.method, K, v)
                if b is None or not math.isfinite(measured):
                    continue
                rows.append({"family": cfg.problem, "criterion": cfg.criterion, "method": r.method, "K": int(K),
                             "measured": float(measured), "bound": float(b), "ratio": float(measured) / float(b)})
    return rows


def _family_label(fam, crit):
    return f"{fam} (gap)" if crit == "gap" else fam


def build(ctx):
    rows = collect(ctx)
    fig, (a, b) = style.figure(style.DOUBLE, 3.1, ncols=2)
    groups = {}
    for r in rows:
        groups.setdefault((r["family"], r["criterion"], r["method"]), []).append(r)
    for (fam, crit, m), rs in groups.items():
        c = style.method_color(m)
        mk = style.FAMILY_MARKERS.get(fam, "o")
        x = [r["bound"] for r in rs]
        y = [r["measured"] for r in rs]
        a.plot(x, y, mk, color=c, markersize=3.8, markerfacecolor="none" if crit == "gap" else c,
               markeredgewidth=0.9, alpha=0.9)
        K = [r["K"] for r in rs]
        b.plot(K, [r["ratio"] for r in rs], marker=mk, linestyle=style.method_linestyle(m), color=c, markersize=3.5, linewidth=0.8,
               markerfacecolor="none" if crit == "gap" else c, markeredgewidth=0.9, alpha=0.9)
    if rows:
        lo = min(min(r["bound"] for r in rows), min(r["measured"] for r in rows)) / 2
        hi = max(max(r["bound"] for r in rows), max(r["measured"] for r in rows)) * 2
        d = numpy.array([lo, hi])
        a.fill_between(d, d, hi, color=style.OKABE_ITO["vermillion"], alpha=0.08, linewidth=0)
        a.plot(d, d, "-", color="k", linewidth=0.8)
        a.set_xlim(lo, hi)
        a.set_ylim(lo, hi)
    a.set_xscale("log")
    a.set_yscale("log")
    a.set_xlabel(r"bound from theory (at the certified constants)")
    a.set_ylabel(r"measured $G_K$ (gap for star), seed mean")
    a.set_title("measured vs bound (shaded: bound violated)")
    b.set_xscale("log")
    b.set_yscale("log")
    b.set_xlabel("horizon $K$ (iterations)")
    b.set_ylabel("tightness = measured / bound")
    b.set_title("tightness (1 = the bound is attained)")
    style.log_ticks(a)
    style.log_ticks(b)
    methods = list(dict.fromkeys(r["method"] for r in rows))
    fams = list(dict.fromkeys((r["family"], r["criterion"]) for r in rows))
    mh = [Line2D([], [], color=style.method_color(m), linewidth=1.5, linestyle=style.method_linestyle(m),
                 label=style.method_label(m)) for m in methods]
    fh = [Line2D([], [], color="k", marker=style.FAMILY_MARKERS.get(f, "o"), linestyle="",
                 markerfacecolor="none" if c == "gap" else "k", label=_family_label(f, c)) for f, c in fams]
    fh.append(Line2D([], [], color="k", linewidth=0.8, label="measured = bound"))
    fig.legend(handles=mh + fh, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=max(4, (len(mh) + len(fh) + 1) // 2))
    style.panel_label(a, "a", x=-0.14)
    style.panel_label(b, "b", x=-0.14)
    fig.tight_layout(w_pad=2.0)
    return {"data": {"rows": rows}, "paths": style.save(fig, ctx.out_dir, "fig6_bounds")}
