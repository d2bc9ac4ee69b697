"""One look for every figure: the palette, the method colours, sizes at paper column width.

Colours are the Okabe–Ito palette (distinguishable under the common colour-vision
deficiencies); every figure takes a method's colour, marker and label from :data:`METHODS`, so a
method looks the same everywhere.  Widths are those of a two-column paper: :data:`SINGLE`
(3.3 in) and :data:`DOUBLE` (6.8 in); fonts are 7–8 pt so that the figures are readable printed
at that width.  The backend is Agg (no display); PDFs keep text as text (Type 42 fonts).
"""
from __future__ import annotations

import math
import os

import matplotlib
import numpy

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import FuncFormatter, NullFormatter  # noqa: E402

#: Okabe & Ito (2008), "Color Universal Design"
OKABE_ITO = {"black": "#000000", "orange": "#E69F00", "skyblue": "#56B4E9", "green": "#009E73",
             "yellow": "#F0E442", "blue": "#0072B2", "vermillion": "#D55E00", "purple": "#CC79A7",
             "grey": "#7F7F7F"}

SINGLE = 3.3   # in, one column
DOUBLE = 6.8   # in, both columns

#: method -> (colour, marker, label): the one mapping every figure uses
METHODS = {
    "gluon": (OKABE_ITO["vermillion"], "o", "Gluon (momentum)"),
    "mvr1": (OKABE_ITO["blue"], "s", "Gluon-MVR-1"),
    "mvr2": (OKABE_ITO["green"], "^", "Gluon-MVR-2"),
    "mvr3": (OKABE_ITO["purple"], "D", "Gluon-MVR-3"),
    "mvr3-storm": (OKABE_ITO["purple"], "d", "Gluon-MVR-3 (STORM form)"),
    "mvr1-prev": (OKABE_ITO["skyblue"], "v", "MVR-1, previous sample"),
    "muon": (OKABE_ITO["orange"], "P", "Muon"),
    "scion": (OKABE_ITO["skyblue"], "X", "Scion"),
    "normalized-sgd": (OKABE_ITO["grey"], "<", "normalized SGD"),
    "sign-sgd": (OKABE_ITO["yellow"], ">", "signSGD"),
    "gluon-det": (OKABE_ITO["black"], "*", "Gluon, deterministic"),
}

#: inexact-LMO approximation -> (colour, marker, label)
APPROXIMATIONS = {
    "ns-jordan": (OKABE_ITO["orange"], "o", "NS Jordan (Muon)"),
    "ns-cubic": (OKABE_ITO["skyblue"], "s", "NS cubic"),
    "ns-quintic": (OKABE_ITO["green"], "^", "NS quintic"),
    "polar-express": (OKABE_ITO["purple"], "D", "Polar Express"),
}

#: problem family -> marker (figures that mix families)
FAMILY_MARKERS = {"quadratic": "o", "l0l1": "s", "nonconvex": "^", "star": "D", "twolayer": "v"}

REFERENCE = OKABE_ITO["grey"]


def method_color(m):
    return METHODS.get(m, (OKABE_ITO["black"], "o", m))[0]


def method_marker(m):
    return METHODS.get(m, (OKABE_ITO["black"], "o", m))[1]


def method_label(m):
    return METHODS.get(m, (OKABE_ITO["black"], "o", m))[2]


#: method -> line style (the MVR variants often coincide; the style keeps each one visible)
LINESTYLES = {"mvr2": (0, (5, 2)), "mvr3": (0, (1.2, 1.2)), "mvr3-storm": (0, (3, 1, 1, 1))}


def method_linestyle(m):
    return LINESTYLES.get(m, "-")


def dodge(x, j, n, width=0.025):
    """Shift ``x`` on a log axis by a small factor so that the ``n`` series do not hide each
    other (series ``j``); only the drawing moves, the data do not."""
    return numpy.asarray(x, dtype=float) * 10 ** (width * (j - (n - 1) / 2))


RC = {
    "font.size": 7.5, "axes.labelsize": 7.5, "axes.titlesize": 7.5, "legend.fontsize": 6.5,
    "xtick.labelsize": 6.5, "ytick.labelsize": 6.5, "lines.linewidth": 1.2, "lines.markersize": 3.5,
    "axes.linewidth": 0.6, "xtick.major.width": 0.6, "ytick.major.width": 0.6,
    "xtick.minor.width": 0.4, "ytick.minor.width": 0.4, "grid.linewidth": 0.4, "grid.alpha": 0.35,
    "axes.grid": True, "axes.grid.which": "major", "legend.frameon": False,
    "legend.handlelength": 1.8, "axes.spines.top": False, "axes.spines.right": False,
    "pdf.fonttype": 42, "ps.fonttype": 42, "savefig.bbox": "tight", "savefig.pad_inches": 0.02,
    "figure.dpi": 100, "mathtext.fontset": "dejavusans",
}


def apply():
    plt.rcParams.update(RC)


def figure(width=SINGLE, height=2.3, **kw):
    apply()
    return plt.subplots(figsize=(width, height), **kw)


#: provenance written into every saved figure's metadata (set by :func:`paper_figs.build.build_all`
#: per figure: config hash, package version, code fingerprint, git commit, figure name)
PROVENANCE: dict = {}


def metadata(ext):
    """File metadata carrying :data:`PROVENANCE`: PNG text chunks (one per key, plus the whole
    block as JSON under ``gluon-mvr``), PDF Info entries (Subject and Keywords)."""
    import json
    prov = {k: ("" if v is None else str(v)) for k, v in PROVENANCE.items()}
    text = json.dumps(prov, sort_keys=True)
    if ext == "png":
        return {"Software": f"gluon-mvr {prov.get('package_version', '')}".strip(), "gluon-mvr": text,
                **{f"gluon-mvr {k}": v for k, v in prov.items()}}
    return {"Creator": f"gluon-mvr {prov.get('package_version', '')}".strip(), "Subject": text,
            "Keywords": " ".join(f"{k}={v}" for k, v in sorted(prov.items()))}


def save(fig, out_dir, name, dpi=250):
    """Write ``name.png`` and ``name.pdf`` (vector) into ``out_dir`` with the provenance
    metadata (:func:`metadata`); returns both paths."""
    os.makedirs(out_dir, exist_ok=True)
    paths = []
    for ext in ("png", "pdf"):
        p = os.path.join(out_dir, f"{name}.{ext}")
        fig.savefig(p, dpi=dpi if ext == "png" else None, metadata=metadata(ext))
        paths.append(p)
    plt.close(fig)
    return paths


def panel_label(ax, text, x=-0.02, y=1.02):
    ax.text(x, y, text, transform=ax.transAxes, ha="right", va="bottom", fontweight="bold", fontsize=8)


def _tick(v, _pos=None):
    """Plain numbers between 1e-3 and 1e4 (``0.2``, ``300``), powers of ten outside."""
    if not (v > 0) or not math.isfinite(v):
        return ""
    e = math.floor(math.log10(v) + 1e-9)
    if -3 <= e <= 4:
        return f"{v:g}"
    m = v / 10 ** e
    return f"$10^{{{e}}}$" if abs(m - 1) < 1e-6 else f"${m:.2g}\\times10^{{{e}}}$"


def _minor(keep):
    def fmt(v, _pos=None):
        if not (v > 0):
            return ""
        m = v / 10 ** math.floor(math.log10(v) + 1e-9)
        return _tick(v) if any(abs(m - k) < 1e-6 for k in keep) else ""
    return FuncFormatter(fmt)


def log_ticks(ax, axis="both"):
    """Readable labels on log axes: plain numbers, and minor labels (2, 3, 5 or 3) only when the
    axis spans too few decades to carry enough major labels.  Call after the limits are final."""
    for name in (("x", "y") if axis == "both" else (axis,)):
        a = getattr(ax, name + "axis")
        if a.get_scale() != "log":
            continue
        lo, hi = getattr(ax, f"get_{name}lim")()
        span = math.log10(hi / lo) if lo > 0 and hi > 0 else 10.0
        a.set_major_formatter(FuncFormatter(_tick))
        if span < 0.6:
            a.set_minor_formatter(_minor((2, 3, 4, 5, 6, 8)))
        elif span < 1.3:
            a.set_minor_formatter(_minor((2, 3, 5)))
        elif span < 2.3:
            a.set_minor_formatter(_minor((3,)))
        else:
            a.set_minor_formatter(_below_first_major(lo, hi))


def _below_first_major(lo, hi):
    """Minor labels (2, 5 x 10^e) only under the lowest major tick, when that partial decade is
    at least a factor 2 tall: otherwise a many-decade axis whose data start just below a power
    of ten (0.3 to 30, say) shows no label under its lowest major tick."""
    if not (lo > 0 and hi > lo):
        return NullFormatter()
    first = 10 ** math.ceil(math.log10(lo) - 1e-9)
    if first / lo < 2:
        return NullFormatter()
    keep = _minor((2, 5))

    def fmt(v, pos=None):
        return keep(v, pos) if lo <= v < first else ""
    return FuncFormatter(fmt)
