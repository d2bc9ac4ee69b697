r"""Figure 6: measured against the theory's bound, per method and problem family.

For every rate-check cell the figures use (the main check, the extra families of
:attr:`paper_figs.data.Settings.bound_families` and the star-convex gap check): the seed-mean
measured quantity (:math:`G_K`, or the gap for ``star``) and the bound :mod:`theory` states for
that cell (:func:`experiments.rate_check.bound_for_cell`, the number the rate check's
``meas/bound`` column uses; cells without a bound are left out).  (a) measured against bound, the diagonal is
measured = bound (points must lie under it; each axis spans its own data); (b) tightness =
measured/bound against ``K``, one small panel per family, methods as nested hollow markers so
that MVR-1/2/3 stay distinguishable where they coincide.
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


#: nested hollow markers: a method hidden behind another at the same point still shows its ring
NESTED_SIZE = {"gluon": 4.2, "mvr1": 6.6, "mvr2": 4.8, "mvr3": 3.0}


def build(ctx):
    import matplotlib.pyplot as plt
    rows = collect(ctx)
    style.apply()
    fams = list(dict.fromkeys((r["family"], r["criterion"]) for r in rows))
    ncol = max(1, math.ceil(len(fams) / 2))
    fig = plt.figure(figsize=(style.DOUBLE, 3.6))
    gs = fig.add_gridspec(2, 1 + ncol, width_ratios=[1.5] + [1] * ncol)
    a = fig.add_subplot(gs[:, 0])
    small = [fig.add_subplot(gs[i % 2, 1 + i // 2]) for i in range(len(fams))]
    groups = {}
    for r in rows:
        groups.setdefault((r["family"], r["criterion"], r["method"]), []).append(r)
    for (fam, crit, m), rs in groups.items():
        c = style.method_color(m)
        mk = style.FAMILY_MARKERS.get(fam, "o")
        size = NESTED_SIZE.get(m, 4.0)
        a.plot([r["bound"] for r in rs], [r["measured"] for r in rs], mk, color=c, markersize=size,
               markerfacecolor="none" if crit == "gap" else c, markeredgewidth=0.9, alpha=0.9,
               zorder=10 - size)      # smaller markers above larger ones: coinciding methods stay visible
        ax = small[fams.index((fam, crit))]
        ax.plot([r["K"] for r in rs], [r["ratio"] for r in rs], marker=style.method_marker(m),
                linestyle=style.method_linestyle(m), color=c, markersize=NESTED_SIZE.get(m, 4.0), linewidth=0.8,
                markerfacecolor="none", markeredgewidth=0.9, zorder=3 if m == "mvr3" else 2)
    if rows:
        # each axis spans its own data (a shared square range left half the panel empty); the
        # diagonal and the violation region are drawn where they fall inside it
        bx = [r["bound"] for r in rows]
        my = [r["measured"] for r in rows]
        xlim = (min(bx) / 1.6, max(bx) * 1.6)
        ylim = (min(my) / 1.6, max(my) * 1.6)
        d = numpy.geomspace(min(xlim[0], ylim[0]), max(xlim[1], ylim[1]), 50)
        a.fill_between(d, d, max(ylim[1], xlim[1]) * 10, color=style.OKABE_ITO["vermillion"], alpha=0.08,
                       linewidth=0)
        a.plot(d, d, "-", color="k", linewidth=0.8)
        a.set_xlim(*xlim)
        a.set_ylim(*ylim)
    a.set_xscale("log")
    a.set_yscale("log")
    a.set_xlabel(r"bound from theory (at the certified constants)")
    a.set_ylabel(r"measured $G_K$ (gap for star), seed mean")
    a.set_title("measured vs bound (shaded: violated)")
    style.log_ticks(a)
    for ax, (fam, crit) in zip(small, fams):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(f"tightness: {_family_label(fam, crit)}", fontsize=6.5)
        lo, hi = ax.get_ylim()
        if hi / lo < 4:              # at least a factor 4 visible: flat lines look flat
            mid = math.sqrt(lo * hi)
            ax.set_ylim(mid / 2, mid * 2)
        style.log_ticks(ax)
    for i, ax in enumerate(small):
        if i % 2 == 1 or i == len(small) - 1:
            ax.set_xlabel("horizon $K$")
        if i < 2:
            ax.set_ylabel("measured / bound")
    methods = list(dict.fromkeys(r["method"] for r in rows))
    mh = [Line2D([], [], color=style.method_color(m), linewidth=1.0, linestyle=style.method_linestyle(m),
                 marker=style.method_marker(m), markerfacecolor="none", markersize=NESTED_SIZE.get(m, 4.0),
                 label=style.method_label(m)) for m in methods]
    fh = [Line2D([], [], color="k", marker=style.FAMILY_MARKERS.get(f, "o"), linestyle="",
                 markerfacecolor="none" if c == "gap" else "k", label=_family_label(f, c)) for f, c in fams]
    fh.append(Line2D([], [], color="k", linewidth=0.8, label="measured = bound"))
    fig.legend(handles=mh + fh, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=max(4, (len(mh) + len(fh) + 1) // 2),
               title="(a) colour: method, marker: family; (b) one panel per family, marker: method; "
                     "marker sizes nest so that coinciding methods stay visible", title_fontsize=6.5)
    style.panel_label(a, "a", x=-0.14)
    if small:
        style.panel_label(small[0], "b", x=-0.3)
    fig.tight_layout(w_pad=1.0, h_pad=0.8)
    return {"data": {"rows": rows}, "paths": style.save(fig, ctx.out_dir, "fig6_bounds")}
