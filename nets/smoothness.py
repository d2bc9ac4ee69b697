r"""``nets smoothness``: layer-wise :math:`(L_0, L_1)` of a real network along training, and the radius
each layer group prefers (docs/theory.md §2, A1 [C, GLUON]).

Measurement [R: the protocol; GLUON measures on trajectories].  Along a Gluon run (``scion``
geometry), every ``every`` iterations, on the iteration's own minibatch :math:`\xi`:
:math:`X = X^k`, :math:`Y = X^{k+1}`, and per layer :math:`i`

.. math::  \hat L_i = \frac{\|\nabla_i f_\xi(X) - \nabla_i f_\xi(Y)\|_{(i)*}}{\|X_i - Y_i\|_{(i)}},
           \qquad g_i = \|\nabla_i f_\xi(X)\|_{(i)*},

in the layer's own norm (hidden: scaled spectral; embedding: row norm; head: scaled sign).
A1 says :math:`\hat L_i \le L_{0,i} + L_{1,i} g_i`; the points of each layer group are fitted by
the toolkit's fits (:func:`gluon_mvr.problems.constants_estimation.fit_line`: ``envelope`` or the
Gluon authors' ``penalized`` least squares), and the rows can be written in the
``gluon-mvr constants --from-log`` CSV format.

Radius sweep.  Each group's radius is multiplied by every factor of ``sweep`` (the others kept
at the base); the tuned radius minimises the final validation loss.  The checks: does the tuned
radius sit within 2x of :math:`1/L_1` (the theory radius when :math:`L_0 \approx 0`, [C, GLUON]),
and do the groups order their tuned radii as their :math:`1/L_1`?
"""
from __future__ import annotations

import csv

import numpy
import torch

from gluon_mvr.nets import lmo as L
from gluon_mvr.nets.cells import run_cells
from gluon_mvr.nets.presets import ROLE_NORMS, make_optimizer, param_roles
from gluon_mvr.problems import constants_estimation as est

FITS = est.FITS
GROUPS = ("embedding", "hidden", "head")
FULL = {"task": "gpt-tiny", "task_params": {}, "steps": 300, "every": 10, "lr": 0.02, "beta": 0.9, "seeds": 1,
        "sweep": [0.25, 0.5, 1.0, 2.0, 4.0], "n_evals": 5, "penalty": 5.0}
QUICK = {"task": "gpt-tiny", "task_params": {"d": 32, "n_layer": 1, "ctx": 32, "batch": 16, "val_batches": 2},
         "steps": 20, "every": 5, "lr": 0.02, "beta": 0.9, "seeds": 1, "sweep": [0.5, 1.0, 2.0], "n_evals": 2,
         "penalty": 5.0}


def _grads(model, closure, params):
    with torch.enable_grad():
        loss = closure(model)
    return [torch.zeros_like(p) if g is None else g
            for p, g in zip(params, torch.autograd.grad(loss, params, allow_unused=True))]


def measure(task, lr, beta, steps, every, seed) -> list:
    """Rows ``{layer, group, L_hat, grad_norm, step}`` along a Gluon run (module docstring)."""
    torch.set_num_threads(1)
    model = task.make_model(seed)
    model.train()
    roles = param_roles(model)
    names, params = zip(*model.named_parameters())
    opt = make_optimizer(model, "gluon", lr, beta=beta)
    gen = torch.Generator().manual_seed(1_000_003 * (seed + 1))
    rows = []
    for k in range(steps):
        x, y = task.sample(gen)

        def closure(forward, x=x, y=y):
            return task.loss(forward(x), y)
        probe = k % every == 0
        if probe:
            X = [p.detach().clone() for p in params]
            gX = _grads(model, closure, list(params))
        opt.step(closure)
        if probe:
            gY = _grads(model, closure, list(params))
            for n, p, x0, a, b in zip(names, params, X, gX, gY):
                norm = ROLE_NORMS[roles[n]]
                dist = L.primal_norm(x0 - p.detach(), norm)
                if dist > 0:
                    rows.append({"layer": n, "group": roles[n], "L_hat": L.dual_norm(a - b, norm) / dist,
                                 "grad_norm": L.dual_norm(a, norm), "step": k})
    return rows


def run_smoothness_cell(config):
    from gluon_mvr.nets.models import get_task
    task = get_task(config["task"], **config.get("task_params", {}))
    return {"rows": measure(task, config["lr"], config["beta"], config["steps"], config["every"], config["seed"])}


def _sweep_configs(s, group=None, mult=1.0):
    radius = {g: (mult if g == group else 1.0) for g in GROUPS}
    return {"study": "train", "task": s["task"], "task_params": s["task_params"], "optimizer": "gluon",
            "lr": s["lr"], "seed": 0, "steps": s["steps"], "n_evals": s["n_evals"],
            "options": {"beta": s["beta"], "radius": radius}}


def total_cells(s):
    return 1 + len(GROUPS) * len(s["sweep"])


def smoothness(s: dict, store, jobs=2, progress=None) -> dict:
    """Measure, fit per layer and per group, sweep the radii; returns the JSON report."""
    from gluon_mvr.experiments.core.cells import cell_key
    meas = {"study": "smoothness", "task": s["task"], "task_params": s["task_params"], "lr": s["lr"],
            "beta": s["beta"], "steps": s["steps"], "every": s["every"], "seed": 0}
    sweep = {(g, m): _sweep_configs(s, g, m) for g in GROUPS for m in s["sweep"]}
    res = run_cells([meas, *sweep.values()], store, jobs, progress)
    rows = res[cell_key({**meas, "kind": "nets"})]["rows"]
    fit, penalty = s.get("fit", "penalized"), s["penalty"]

    def fit_rows(rs):
        f = est.fit_line([r["L_hat"] for r in rs], [r["grad_norm"] for r in rs], fit, penalty)
        return {"L0": f.L0, "L1": f.L1, "n_points": f.n_points, "n_above": f.n_above,
                # L1 at the fit's floor (1e-6) means "no L1 term": no theory radius
                "inv_L1": 1.0 / f.L1 if f.L1 > 1e-5 else None}
    layers = {}
    for r in rows:
        layers.setdefault(r["layer"], []).append(r)
    per_layer = {n: {"group": rs[0]["group"], **fit_rows(rs)} for n, rs in layers.items()}
    groups = {}
    for g in GROUPS:
        rs = [r for r in rows if r["group"] == g]
        if not rs:
            continue
        losses = {m: res[cell_key({**sweep[(g, m)], "kind": "nets"})]["val_loss"][-1] for m in s["sweep"]}
        best = min(losses, key=lambda m: losses[m] if numpy.isfinite(losses[m]) else float("inf"))
        tuned = s["lr"] * best
        f = fit_rows(rs)
        ratio = tuned * f["L1"] if f["inv_L1"] else float("nan")       # tuned / (1/L1)
        edge = best in (min(s["sweep"]), max(s["sweep"]))
        groups[g] = {**f, "tuned_radius": tuned, "sweep_losses": {str(m): v for m, v in losses.items()},
                     "tuned_over_theory": ratio, "within_2x": bool(0.5 <= ratio <= 2.0),   # nan -> False
                     "tuned_at_grid_edge": edge}
    order_theory = sorted(groups, key=lambda g: groups[g]["inv_L1"] or float("inf"))
    order_tuned = sorted(groups, key=lambda g: groups[g]["tuned_radius"])
    return {"study": "smoothness", "settings": s, "fit": fit, "layers": per_layer, "groups": groups,
            "order_by_inv_L1": order_theory, "order_by_tuned_radius": order_tuned,
            "order_holds": order_theory == order_tuned, "rows": rows}


def write_log(rep, path):
    """The measured pairs as ``layer,L_hat,grad_norm,step`` (``gluon-mvr constants --from-log``)."""
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["layer", "L_hat", "grad_norm", "step"])
        for r in rep["rows"]:
            w.writerow([r["layer"], repr(r["L_hat"]), repr(r["grad_norm"]), r["step"]])


def format_report(rep) -> str:
    s = rep["settings"]
    out = [f"nets smoothness: {s['task']} {s['task_params'] or ''}, Gluon radius {s['lr']}, "
           f"{s['steps']} iterations, pairs (X^k, X^k+1) every {s['every']}; fit '{rep['fit']}'",
           f"{'layer':<22} {'group':<10} {'points':>6} {'L0':>10} {'L1':>10} {'1/L1':>9}"]
    for n, r in rep["layers"].items():
        out.append(f"{n:<22} {r['group']:<10} {r['n_points']:>6} {r['L0']:>10.4g} {r['L1']:>10.4g} "
                   f"{(r['inv_L1'] or float('nan')):>9.4g}")
    out.append(f"{'group':<10} {'L0':>10} {'L1':>10} {'1/L1':>9} {'tuned t':>9} {'t*L1':>7}  within 2x")
    for g, r in rep["groups"].items():
        edge = " (tuned at the sweep's edge)" if r["tuned_at_grid_edge"] else ""
        out.append(f"{g:<10} {r['L0']:>10.4g} {r['L1']:>10.4g} {(r['inv_L1'] or float('nan')):>9.4g} "
                   f"{r['tuned_radius']:>9.4g} {r['tuned_over_theory']:>7.3g}  "
                   f"{'yes' if r['within_2x'] else 'no' if r['inv_L1'] else 'n/a (L1 ~ 0)'}{edge}")
    out.append(f"order of groups by 1/L1: {' < '.join(rep['order_by_inv_L1'])}; by tuned radius: "
               f"{' < '.join(rep['order_by_tuned_radius'])} -> {'holds' if rep['order_holds'] else 'differs'}")
    return "\n".join(out)
