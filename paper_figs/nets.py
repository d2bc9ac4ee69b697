"""Two figures of the real-network studies, drawn from the JSON reports of ``gluon-mvr nets``.

- ``nets-compare``: mean validation loss (over the paired seeds, thin lines per seed) against
  iterations and against stochastic-gradient evaluations, one colour per optimizer.
- ``nets-smoothness``: per layer group, the measured pairs (g, L_hat) with the fitted line
  L0 + L1 g, and the radius sweep (final validation loss against the radius) with 1/L1 marked.

``python -m gluon_mvr.paper_figs.nets --compare C.json --smoothness S.json --out figures``.
Needs only matplotlib (no torch): the reports carry every number.
"""
from __future__ import annotations

import argparse
import json
import sys

import numpy
from matplotlib.ticker import NullFormatter

from gluon_mvr.paper_figs import style

EXTRA = {"adam": (style.OKABE_ITO["black"], "x", "Adam")}


def _look(m):
    if m in EXTRA:
        return EXTRA[m]
    return style.method_color(m), style.method_marker(m), style.method_label(m)


def compare_figure(rep, out_dir):
    """Validation loss vs iterations (a) and vs gradient evaluations (b); returns [png, pdf]."""
    fig, axes = style.figure(style.DOUBLE, 2.4, ncols=2, sharey=True)
    for ax, key, xlabel in ((axes[0], "iters", "iterations"), (axes[1], "grad_evals", "stochastic gradients")):
        for m, c in rep["curves"].items():
            color, marker, label = _look(m)
            x = numpy.array([numpy.nan if v is None else v for v in c[key]], float)
            for per in c["val_loss_per_seed"]:
                ax.plot(x, per, color=color, lw=0.4, alpha=0.35, ls=style.method_linestyle(m))
            ax.plot(x, c["val_loss_mean"], color=color, marker=marker, label=label, ls=style.method_linestyle(m))
        ax.set_xlabel(xlabel)
    budget = rep["settings"]["steps"]
    axes[1].set_xlim(0, budget * 1.02)
    axes[0].set_ylabel("validation loss")
    finite = [v for c in rep["curves"].values() for v in c["val_loss_mean"][1:] if numpy.isfinite(v)]
    if finite:
        axes[0].set_ylim(min(finite) - 0.05, numpy.percentile(finite, 90) + 0.1)
    axes[0].legend(ncol=2)
    style.panel_label(axes[0], "a")
    style.panel_label(axes[1], "b")
    return style.save(fig, out_dir, "nets-compare")


def smoothness_figure(rep, out_dir):
    """Per group: pairs and fitted line (top), radius sweep with 1/L1 (bottom)."""
    groups = list(rep["groups"])
    fig, axes = style.figure(style.DOUBLE, 4.0, ncols=len(groups), nrows=2, squeeze=False)
    colors = [style.OKABE_ITO[c] for c in ("blue", "vermillion", "green", "purple")]
    for j, g in enumerate(groups):
        r = rep["groups"][g]
        pts = [(p["grad_norm"], p["L_hat"]) for p in rep["rows"] if p["group"] == g]
        ax = axes[0][j]
        if pts:
            x, y = map(numpy.array, zip(*pts))
            ax.scatter(x, y, s=4, color=colors[j % len(colors)], alpha=0.6, lw=0)
            xs = numpy.linspace(0, x.max() * 1.05, 50)
            ax.plot(xs, r["L0"] + r["L1"] * xs, color=style.REFERENCE,
                    label=f"L0={r['L0']:.3g}, L1={r['L1']:.3g}")
            ax.legend()
        ax.set_title(g)
        ax.set_xlabel("dual norm of the gradient")
        if j == 0:
            ax.set_ylabel("L_hat")
        ax = axes[1][j]
        ms = sorted(r["sweep_losses"], key=float)
        radii = [rep["settings"]["lr"] * float(m) for m in ms]
        ax.plot(radii, [r["sweep_losses"][m] for m in ms], marker="o", color=colors[j % len(colors)])
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(NullFormatter())      # minor labels collide on short ranges
        if r.get("inv_L1"):
            ax.axvline(r["inv_L1"], color=style.REFERENCE, ls="--", label="1/L1")
            ax.legend()
        ax.set_xlabel("radius of the group")
        if j == 0:
            ax.set_ylabel("final validation loss")
    fig.subplots_adjust(hspace=0.5)
    return style.save(fig, out_dir, "nets-smoothness")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m gluon_mvr.paper_figs.nets", description=__doc__.splitlines()[0])
    p.add_argument("--compare", help="JSON report of 'gluon-mvr nets compare --json'")
    p.add_argument("--smoothness", help="JSON report of 'gluon-mvr nets smoothness --json'")
    p.add_argument("--out", default="figures")
    args = p.parse_args(argv)
    if not (args.compare or args.smoothness):
        print("error: --compare or --smoothness: give at least one report", file=sys.stderr)
        return 2
    for path, fn in ((args.compare, compare_figure), (args.smoothness, smoothness_figure)):
        if path:
            try:
                with open(path) as fh:
                    rep = json.load(fh)
            except (OSError, ValueError) as exc:
                print(f"error: {path}: cannot read a JSON report ({exc})", file=sys.stderr)
                return 2
            print("  ".join(fn(rep, args.out)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
