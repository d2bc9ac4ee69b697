r"""``nets compare``: iteration efficiency of Adam, Muon, Gluon and Gluon-MVR-1/2/3 on a real network.

Protocol.  (1) A learning-rate grid per optimizer on seed 0; for MVR a second stage tries the
other ``beta`` (MVR-1) or ``q`` (MVR-2/3) values at the best rate.  The best setting minimises the
final validation loss at equal iterations.  (2) ``seeds`` paired seeds (same initial weights and
minibatches for every optimizer) at each best setting.  (3) For each pair (A, B) and each budget —
equal iterations (``K``) and equal gradient evaluations (``K`` stochastic gradients, i.e. ``K/2``
MVR iterations) — the per-seed difference :math:`d_s = \ell_A(s) - \ell_B(s)` of validation losses,
its mean and a Student-t 95 % interval [standard]; verdict ``A better`` (interval below 0),
``B better`` (above 0) or ``unresolved``.

The paper's claim tested [C, MVR abstract]: MVR-Gluon "achieves significantly higher iteration
efficiency than both Adam and the original Muon" — the pairs ``mvrk vs muon`` and ``mvrk vs adam``
at equal iterations.  The best settings are chosen at ``K`` iterations and reused at the
gradient-evaluation budget (a short-horizon retune could shift them).
"""
from __future__ import annotations

import math

import numpy
from scipy import stats

from gluon_mvr.nets.cells import run_cells

OPTIMIZERS = ("adam", "muon", "gluon", "mvr1", "mvr2", "mvr3")
FULL = {"task": "gpt-tiny", "task_params": {}, "steps": 300, "seeds": 3, "n_evals": 10,
        "grid": {"adam": [1e-3, 3e-3, 1e-2], "muon": [0.01, 0.02, 0.05], "gluon": [0.01, 0.02, 0.05],
                 "mvr1": [0.01, 0.02, 0.05], "mvr2": [0.01, 0.02, 0.05], "mvr3": [0.01, 0.02, 0.05]},
        "beta": 0.9, "q": 0.1, "beta_alt": [0.95], "q_alt": [0.5]}
QUICK = {"task": "gpt-tiny", "task_params": {"d": 32, "n_layer": 1, "ctx": 32, "batch": 16, "val_batches": 2},
         "steps": 20, "seeds": 2, "n_evals": 2,
         "grid": {"adam": [3e-3], "muon": [0.02], "gluon": [0.02], "mvr1": [0.02], "mvr2": [0.02], "mvr3": [0.02]},
         "beta": 0.9, "q": 0.1, "beta_alt": [], "q_alt": [0.5]}


def pairs_for(methods):
    """Pairs (A, B) reported: every MVR variant against Muon, Adam and Gluon; Gluon and Muon against Adam."""
    out = []
    for m in ("mvr1", "mvr2", "mvr3"):
        for ref in ("muon", "adam", "gluon"):
            if m in methods and ref in methods:
                out.append((m, ref))
    for m in ("muon", "gluon"):
        if m in methods and "adam" in methods:
            out.append((m, "adam"))
    return out


def cell_config(s: dict, opt: str, lr: float, seed: int, beta=None, q=None) -> dict:
    options = {}
    if opt in ("gluon", "mvr1", "mvr2", "mvr3"):
        options["beta"] = s["beta"] if beta is None else beta
        if opt in ("mvr2", "mvr3"):
            options["q"] = s["q"] if q is None else q
    return {"study": "train", "task": s["task"], "task_params": s["task_params"], "optimizer": opt,
            "lr": lr, "seed": seed, "steps": s["steps"], "n_evals": s["n_evals"], "options": options}


def final(result, budget, steps):
    """Validation loss at ``steps`` iterations (``iterations``) or after at most ``steps`` gradients."""
    if budget == "iterations":
        return result["val_loss"][result["iters"].index(steps)]
    ok = [v for e, v in zip(result["grad_evals"], result["val_loss"]) if e is not None and e <= steps]
    return ok[-1] if ok else float("inf")


def paired(a, b, level=0.95):
    """Mean of ``a - b`` over seeds with a Student-t interval (``nan`` width with one seed)."""
    d = numpy.asarray(a, float) - numpy.asarray(b, float)
    n = len(d)
    mean = float(d.mean())
    if n < 2 or not numpy.all(numpy.isfinite(d)):
        return mean, (float("nan"), float("nan"))
    half = float(stats.t.ppf(0.5 + level / 2, n - 1) * d.std(ddof=1) / math.sqrt(n))
    return mean, (mean - half, mean + half)


def verdict(lo, hi, a, b):
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return "unresolved"
    return f"{a} better" if hi < 0 else f"{b} better" if lo > 0 else "unresolved"


def total_cells(s, methods):
    grid = sum(len(s["grid"][m]) for m in methods)
    extra = sum(len(s["beta_alt"]) if m == "mvr1" else len(s["q_alt"]) if m in ("mvr2", "mvr3") else 0
                for m in methods)
    # every stage reports its stored cells too (seed 0 of stage 3 is a grid cell, counted again)
    return grid + extra + s["seeds"] * len(methods)


def compare(s: dict, methods, store, jobs=2, progress=None) -> dict:
    """Run the protocol (module docstring) with settings ``s``; returns the JSON report."""
    steps = s["steps"]
    grid = {m: [cell_config(s, m, lr, 0) for lr in s["grid"][m]] for m in methods}
    res = run_cells([c for m in methods for c in grid[m]], store, jobs, progress)
    from gluon_mvr.experiments.core.cells import cell_key

    def score(c):
        v = final(res[cell_key({**c, "kind": "nets"})], "iterations", steps)
        return v if math.isfinite(v) else float("inf")
    best = {m: min(grid[m], key=score) for m in methods}
    # stage 2: the other beta (MVR-1) / q (MVR-2/3) at the best learning rate
    extra = {}
    for m in methods:
        c = best[m]
        if m == "mvr1":
            extra[m] = [cell_config(s, m, c["lr"], 0, beta=b) for b in s["beta_alt"]]
        elif m in ("mvr2", "mvr3"):
            extra[m] = [cell_config(s, m, c["lr"], 0, beta=c["options"]["beta"], q=q) for q in s["q_alt"]]
    res.update(run_cells([c for cs in extra.values() for c in cs], store, jobs, progress))
    for m, cs in extra.items():
        best[m] = min([best[m], *cs], key=score)
    tried = {m: [{"lr": c["lr"], **c["options"], "val_loss": score(c)} for c in grid[m] + extra.get(m, [])]
             for m in methods}
    # stage 3: paired seeds at the best settings
    seeds = list(range(s["seeds"]))
    runs = {m: [{**best[m], "seed": sd} for sd in seeds] for m in methods}
    res.update(run_cells([c for m in methods for c in runs[m]], store, jobs, progress))
    out = {m: [res[cell_key({**c, "kind": "nets"})] for c in runs[m]] for m in methods}
    table, curves = {}, {}
    for m in methods:
        row = {"lr": best[m]["lr"], **best[m]["options"],
               # a best rate at the end of its grid: the true optimum may lie beyond it
               "at_grid_edge": len(s["grid"][m]) > 1 and best[m]["lr"] in (min(s["grid"][m]), max(s["grid"][m]))}
        for budget in ("iterations", "grad_evals"):
            v = [final(r, budget, steps) for r in out[m]]
            row[budget] = {"mean": float(numpy.mean(v)), "per_seed": v}
        table[m] = row
        r0 = out[m][0]
        curves[m] = {"iters": r0["iters"], "grad_evals": [e for e in r0["grad_evals"]],
                     "val_loss_mean": numpy.mean([r["val_loss"] for r in out[m]], axis=0).tolist(),
                     "val_loss_per_seed": [r["val_loss"] for r in out[m]]}
    pairs = []
    for a, b in pairs_for(methods):
        for budget in ("iterations", "grad_evals"):
            mean, (lo, hi) = paired(table[a][budget]["per_seed"], table[b][budget]["per_seed"])
            pairs.append({"a": a, "b": b, "budget": budget, "mean_diff": mean, "ci95": [lo, hi],
                          "verdict": verdict(lo, hi, a, b), "n_seeds": len(seeds)})
    return {"study": "compare", "settings": s, "methods": list(methods), "best": table, "grid": tried,
            "curves": curves, "pairs": pairs,
            "seconds_cpu": float(sum(r["seconds"] for m in methods for r in out[m]))}


def format_report(rep) -> str:
    s = rep["settings"]
    lines = [f"nets compare: {s['task']} {s['task_params'] or ''}, K = {s['steps']} iterations, "
             f"{s['seeds']} paired seeds (validation loss, lower is better)",
             f"{'method':<7} {'lr':>8} {'beta':>5} {'q':>5} {'@K iters':>9} {'@K grads':>9}"]
    for m, r in rep["best"].items():
        lines.append(f"{m:<7} {r['lr']:>8.3g} {r.get('beta', ''):>5} {r.get('q', ''):>5} "
                     f"{r['iterations']['mean']:>9.4f} {r['grad_evals']['mean']:>9.4f}"
                     + ("  (best lr at the grid's edge)" if r.get("at_grid_edge") else ""))
    lines.append(f"{'pair':<14} {'budget':<10} {'mean diff':>10} {'95% interval':>22}  verdict")
    for p in rep["pairs"]:
        lo, hi = p["ci95"]
        lines.append(f"{p['a'] + ' vs ' + p['b']:<14} {p['budget']:<10} {p['mean_diff']:>+10.4f} "
                     f"[{lo:>+9.4f}, {hi:>+9.4f}]  {p['verdict']}")
    return "\n".join(lines)
