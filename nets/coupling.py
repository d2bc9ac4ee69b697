r"""``nets coupling``: does the best learning rate shift with Newton–Schulz precision? (docs/theory.md §6)

Grid: learning rate (radius) x momentum ``beta`` x Newton–Schulz steps (0 means the exact SVD
polar factor, :math:`\delta = 0`), Gluon with the ``scion`` geometry and RMS-normalised updates
(``update_scale='rms'``: an inexact update moves exactly as far as the exact one, so "fewer steps
shrink the update" cannot masquerade as a learning-rate shift [R: control defined here]).

:math:`\delta` is measured on the momenta each run meets (hidden matrices, a few checkpoints):
relative Frobenius error :math:`\|\tilde D - UV^\top\|_F/\|UV^\top\|_F`, alignment
:math:`1 - \langle M, \tilde D\rangle/\|M\|_{nuc}`, and the spectral error (about 1 on these
ill-conditioned momenta, hence not the headline).

Theory's direction [R, docs/theory.md §6; C: "the optimal learning rate shifts"]:
:math:`t^* \propto (1+\delta)^{-1/4}` decreases and :math:`1-\beta^* \propto (1+\delta)^{1/2}`
increases as :math:`\delta` grows.  Reported per precision: the best (lr, beta) and whether the
observed order agrees.
"""
from __future__ import annotations

import numpy

from gluon_mvr.nets import lmo as L
from gluon_mvr.nets.cells import run_cells
from gluon_mvr.nets.presets import param_roles

FULL = {"task": "gpt-tiny", "task_params": {}, "steps": 200, "seeds": 1, "n_evals": 4,
        "lrs": [0.01, 0.02, 0.04], "betas": [0.8, 0.95], "ns_steps": [0, 1, 2, 5],
        "ns_coeffs": "jordan", "checkpoints": 4}
QUICK = {"task": "gpt-tiny", "task_params": {"d": 32, "n_layer": 1, "ctx": 32, "batch": 16, "val_batches": 2},
         "steps": 12, "seeds": 1, "n_evals": 1, "lrs": [0.01, 0.03], "betas": [0.9], "ns_steps": [0, 1, 5],
         "ns_coeffs": "jordan", "checkpoints": 2}


def run_coupling_cell(config):
    """Train once at (lr, beta, ns_steps) and measure delta on the hidden momenta."""
    from gluon_mvr.nets.models import get_task
    from gluon_mvr.nets.train import eval_points, train
    task = get_task(config["task"], **config.get("task_params", {}))
    steps, T = config["steps"], config["ns_steps"]
    marks = set(eval_points(steps, config["checkpoints"])) - {0}
    errors = []

    def on_step(k, model, opt, closure):
        if k not in marks or not opt.last_momenta:
            return
        roles = param_roles(model)
        for n, p in model.named_parameters():
            if roles[n] == "hidden" and p in opt.last_momenta:
                errors.append(L.lmo_error(opt.last_momenta[p], T, config["ns_coeffs"], "float32")
                              if T > 0 else {"rel_frobenius": 0.0, "alignment": 0.0, "spectral": 0.0,
                                             "rms_ratio": 1.0})
    lmo = {"lmo": "exact"} if T == 0 else {"lmo": "ns", "ns_steps": T, "ns_coeffs": config["ns_coeffs"]}
    out = train(task, "gluon", config["lr"], steps, config["seed"], config["n_evals"], on_step=on_step,
                beta=config["beta"], update_scale="rms", record_momenta=True, **lmo)
    out["delta"] = {k: float(numpy.mean([e[k] for e in errors])) if errors else None
                    for k in ("rel_frobenius", "alignment", "spectral", "rms_ratio")}
    return out


def _configs(s):
    return {(lr, b, T): {"study": "coupling", "task": s["task"], "task_params": s["task_params"], "lr": lr,
                         "beta": b, "ns_steps": T, "ns_coeffs": s["ns_coeffs"], "steps": s["steps"],
                         "n_evals": s["n_evals"], "checkpoints": s["checkpoints"], "seed": 0}
            for lr in s["lrs"] for b in s["betas"] for T in s["ns_steps"]}


def total_cells(s):
    return len(s["lrs"]) * len(s["betas"]) * len(s["ns_steps"])


def _monotone(xs, ys, decreasing):
    """'agrees' if ys moves with xs in the theory's direction (ties allowed), 'flat' if constant."""
    pairs = sorted(zip(xs, ys))
    ys = [y for _, y in pairs]
    if len(set(ys)) == 1:
        return "flat"
    ok = all(b <= a for a, b in zip(ys, ys[1:])) if decreasing else all(b >= a for a, b in zip(ys, ys[1:]))
    return "agrees" if ok else "disagrees"


def coupling(s: dict, store, jobs=2, progress=None) -> dict:
    from gluon_mvr.experiments.core.cells import cell_key
    cfgs = _configs(s)
    res = run_cells(list(cfgs.values()), store, jobs, progress)
    cells = {k: res[cell_key({**c, "kind": "nets"})] for k, c in cfgs.items()}
    per = []
    for T in s["ns_steps"]:
        grid = {(lr, b): cells[(lr, b, T)]["val_loss"][-1] for lr in s["lrs"] for b in s["betas"]}
        finite = {k: v for k, v in grid.items() if numpy.isfinite(v)}
        (lr, b) = min(finite, key=finite.get) if finite else (float("nan"), float("nan"))
        deltas = [cells[(x, y, T)]["delta"] for x in s["lrs"] for y in s["betas"]]
        delta = {k: float(numpy.mean([d[k] for d in deltas if d[k] is not None])) for k in deltas[0]}
        per.append({"ns_steps": T, "lmo": "exact SVD" if T == 0 else f"NS-{s['ns_coeffs']} x{T}", "delta": delta,
                    "best_lr": lr, "best_beta": b, "best_val_loss": finite.get((lr, b)),
                    "grid": [{"lr": x, "beta": y, "val_loss": v} for (x, y), v in grid.items()]})
    d = [p["delta"]["rel_frobenius"] for p in per]
    return {"study": "coupling", "settings": s, "per_precision": per,
            "lr_vs_delta": _monotone(d, [p["best_lr"] for p in per], decreasing=True),
            "one_minus_beta_vs_delta": _monotone(d, [1 - p["best_beta"] for p in per], decreasing=False)}


def format_report(rep) -> str:
    s = rep["settings"]
    out = [f"nets coupling: {s['task']} {s['task_params'] or ''}, Gluon (RMS-normalised updates), "
           f"{s['steps']} iterations; lr in {s['lrs']}, beta in {s['betas']}",
           f"{'oracle':<18} {'rel Frob':>9} {'align':>9} {'spectral':>9} {'best lr':>8} {'best beta':>9} {'val loss':>9}"]
    for p in rep["per_precision"]:
        dl = p["delta"]
        out.append(f"{p['lmo']:<18} {dl['rel_frobenius']:>9.3g} {dl['alignment']:>9.3g} {dl['spectral']:>9.3g} "
                   f"{p['best_lr']:>8.3g} {p['best_beta']:>9.3g} {p['best_val_loss']:>9.4f}")
    out.append(f"theory's direction (larger delta -> smaller lr, larger 1-beta): lr {rep['lr_vs_delta']}, "
               f"1-beta {rep['one_minus_beta_vs_delta']}")
    return "\n".join(out)
