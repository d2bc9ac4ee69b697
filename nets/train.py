"""One training run: a task, an optimizer, a seed, a horizon; validation loss along the way.

The seed fixes the initial weights and the sequence of minibatches, so runs of different
optimizers with one seed are paired.  One torch thread per process (two threads spin-wait on a
loaded machine; parallelism comes from processes).
"""
from __future__ import annotations

import math
import time

import torch

from gluon_mvr.nets.models import Task
from gluon_mvr.nets.presets import make_optimizer


def eval_points(steps: int, n_evals: int) -> list:
    """Iterations after which the validation loss is measured: 0 and ``n_evals`` evenly spaced."""
    return sorted({0, *(round(steps * (j + 1) / n_evals) for j in range(n_evals))})


def train(task: Task, optimizer: str, lr: float, steps: int, seed: int, n_evals: int = 10, *, on_step=None,
          **opt_kwargs) -> dict:
    """Train ``steps`` iterations; returns ``{"iters", "grad_evals", "val_loss", "train_loss", ...}``.

    ``on_step(k, model, opt, closure)`` (optional) runs before iteration ``k``'s step (the
    smoothness and coupling studies measure there).  A diverged run (non-finite loss) stops early
    and reports ``diverged: true`` with ``inf`` for the remaining points.
    """
    torch.set_num_threads(1)
    model = task.make_model(seed)
    model.train()
    opt = make_optimizer(model, optimizer, lr, **opt_kwargs)
    gen = torch.Generator().manual_seed(1_000_003 * (seed + 1))
    points = set(eval_points(steps, n_evals))
    iters, evals, vals, train_losses = [], [], [], []
    t0, c0 = time.perf_counter(), time.process_time()
    diverged = False
    for k in range(steps + 1):
        if k in points:
            v = task.val_loss(model)
            iters.append(k)
            evals.append(opt.grad_evals)
            vals.append(v if math.isfinite(v) else float("inf"))
            if not math.isfinite(v):
                diverged = True
                break
        if k == steps:
            break
        x, y = task.sample(gen)

        def closure(forward, x=x, y=y):
            return task.loss(forward(x), y)
        if on_step is not None:
            on_step(k, model, opt, closure)
        loss = opt.step(closure)
        train_losses.append(float(loss))
        if not math.isfinite(train_losses[-1]):
            diverged = True
            break
    for k in sorted(points):
        if k > (iters[-1] if iters else -1):
            iters.append(k)
            evals.append(None)
            vals.append(float("inf"))
    return {"iters": iters, "grad_evals": evals, "val_loss": vals, "train_loss_last": train_losses[-1] if
            train_losses else None, "diverged": diverged, "total_grad_evals": opt.grad_evals,
            "seconds": time.perf_counter() - t0, "cpu_seconds": time.process_time() - c0}
