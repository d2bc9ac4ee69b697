r"""Gluon and Gluon-MVR-1/2/3 as a ``torch.optim.Optimizer`` over parameter groups (docs/theory.md §3).

Each parameter group carries its geometry: ``norm`` (a row of :mod:`gluon_mvr.nets.lmo`), the
oracle ``lmo`` (``exact`` SVD or ``ns`` Newton–Schulz with ``ns_steps``, ``ns_coeffs``,
``ns_dtype``), the radius ``lr`` (= :math:`t_i`), ``beta`` and ``q``.  The update of block
:math:`i` is :math:`X_i \leftarrow (1 - t_i\lambda) X_i + t_i\, s_i\, \mathrm{lmo}_i(\hat M_i)`
with :math:`\lambda` the decoupled ``weight_decay`` (0 in the papers) and :math:`s_i` the
``update_scale``: ``none`` (1, the papers [C]), ``muon`` (:math:`\sqrt{\max(1, m/n)}`,
``torch.optim.Muon``'s default), ``rms`` (:math:`\|UV^\top\|_F/\|\mathrm{lmo}\|_F`, so an
inexact oracle moves as far as the exact one: the coupling study's control [R]).

Estimators [C for Gluon, MVR-1, MVR-2; R for MVR-3], with :math:`g = \nabla f_{\xi^k}(X^k)` and
:math:`g' = \nabla f_{\xi^k}(X^{k-1})` (same minibatch):

- ``gluon``: :math:`M^k = \beta M^{k-1} + (1-\beta) g`;
- ``mvr1``: :math:`M^k = g + \beta(M^{k-1} - g')`;
- ``mvr2``: :math:`G^k = g + (1-q)(G^{k-1} - g')`, :math:`M^k = \beta M^{k-1} + (1-\beta) G^k`;
- ``mvr3``: as MVR-2 plus :math:`\beta(g - g')` (``mvr3_correction='gradient'``) or
  :math:`\beta(G^k - G^{k-1})` (``'storm'``).

All start from :math:`M^0 = G^0 = g^0` (``momentum_init='grad'``, the papers) or, for Gluon only,
:math:`M^{-1} = 0` (``'zero'``, as ``torch.optim.Muon``); ``nesterov`` feeds
:math:`(1-\beta) g + \beta M^k` to the oracle (Muon's default).

The two-point oracle.  ``step(closure)`` takes ``closure(forward) -> loss`` that draws nothing
new: it evaluates the loss of ONE fixed minibatch with ``forward`` in place of the model.  The
optimizer differentiates it at :math:`X^k` (``forward = model``) and, for MVR, again at the kept
copy :math:`X^{k-1}` (``forward = functional_call(model, old parameters and buffers)``) with the
random-number state restored in between, so dropout draws the same masks.  ``grad_evals`` counts
the stochastic gradients (1 per Gluon step; 2 per MVR step after the first).  A Gluon optimizer
built without ``model`` passes ``forward = None`` (its closure calls its own network), or reads
``p.grad`` when ``step()`` gets no closure, as any torch optimizer.  The kept copy is
the whole model state at the start of the step, so an MVR optimizer must own every trained
parameter (or step first).
"""
from __future__ import annotations

import math

import torch
from torch.func import functional_call

from gluon_mvr.nets import lmo as L

METHODS = ("gluon", "mvr1", "mvr2", "mvr3")
UPDATE_SCALES = ("none", "muon", "rms")
MOMENTUM_INITS = ("grad", "zero")
MVR3_CORRECTIONS = ("gradient", "storm")


def _check(name, value, allowed):
    if value not in allowed:
        raise ValueError(f"{name}: allowed values {', '.join(map(str, allowed))}; got {value!r}")


class Gluon(torch.optim.Optimizer):
    """Gluon / Gluon-MVR-1/2/3 (module docstring).  ``model`` is required for MVR (the kept copy)."""

    def __init__(self, params, lr=0.01, *, method="gluon", model=None, beta=0.9, q=0.1, norm="spectral",
                 lmo="exact", ns_steps=5, ns_coeffs="jordan", ns_dtype="float32", update_scale="none",
                 nesterov=False, momentum_init="grad", weight_decay=0.0, mvr3_correction="gradient",
                 record_momenta=False):
        _check("method", method, METHODS)
        _check("momentum_init", momentum_init, MOMENTUM_INITS)
        _check("mvr3_correction", mvr3_correction, MVR3_CORRECTIONS)
        if method != "gluon" and model is None:
            raise ValueError(f"method {method!r}: the two-point oracle needs model= (the network)")
        if method != "gluon" and (nesterov or momentum_init != "grad"):
            raise ValueError("nesterov and momentum_init='zero' are Gluon-only options")
        defaults = dict(lr=lr, beta=beta, q=q, norm=norm, lmo=lmo, ns_steps=ns_steps, ns_coeffs=ns_coeffs,
                        ns_dtype=ns_dtype, update_scale=update_scale, nesterov=nesterov, weight_decay=weight_decay)
        super().__init__(params, defaults)
        for g in self.param_groups:
            _check("norm", g["norm"], L.NORMS)
            _check("lmo", g["lmo"], L.LMOS)
            _check("ns_coeffs", g["ns_coeffs"], L.NS_COEFFS)
            _check("ns_dtype", g["ns_dtype"], tuple(L.NS_DTYPES))
            _check("update_scale", g["update_scale"], UPDATE_SCALES)
            if not (0.0 <= g["beta"] < 1.0):
                raise ValueError(f"beta: expected 0 <= beta < 1; got {g['beta']!r}")
            if not (0.0 < g["q"] <= 1.0):
                raise ValueError(f"q: expected 0 < q <= 1; got {g['q']!r}")
            if not (g["lr"] >= 0):
                raise ValueError(f"lr: expected a number >= 0; got {g['lr']!r}")
        self.method, self.model = method, model
        self.momentum_init, self.mvr3_correction = momentum_init, mvr3_correction
        self.record_momenta = record_momenta
        self.grad_evals = 0
        self.steps = 0
        self.last_momenta = {}
        self._old = None                       # model state (params + buffers) at X^{k-1}
        self._names = {}
        if model is not None:
            self._names = {p: n for n, p in model.named_parameters()}
            missing = [p for g in self.param_groups for p in g["params"] if p not in self._names]
            if missing:
                raise ValueError("params: every optimized tensor must be a parameter of model")

    # -- the oracle --------------------------------------------------------------------------
    def _params(self):
        return [p for g in self.param_groups for p in g["params"]]

    def _snapshot(self):
        m = self.model
        return {**{n: t.detach().clone() for n, t in m.named_parameters()},
                **{n: t.detach().clone() for n, t in m.named_buffers()}}

    def _grads(self, closure, forward, wrt):
        with torch.enable_grad():
            loss = closure(forward)
        grads = torch.autograd.grad(loss, wrt, allow_unused=True)
        self.grad_evals += 1
        return loss.detach(), [torch.zeros_like(w) if g is None else g for w, g in zip(wrt, grads)]

    def gradients(self, closure):
        r"""``(loss, g, g_old)``: the closure's minibatch differentiated at :math:`X^k` and, for MVR
        after the first step, at the kept :math:`X^{k-1}` (else ``g_old`` is ``None``)."""
        params = self._params()
        snap = self._snapshot() if self.method != "gluon" else None
        devices = sorted({p.device.index for p in params if p.device.type == "cuda"})
        rng_cpu = torch.get_rng_state()
        rng_cuda = [torch.cuda.get_rng_state(d) for d in devices]
        loss, g = self._grads(closure, self.model, params)
        g_old = None
        if self._old is not None:
            after_cpu = torch.get_rng_state()
            after_cuda = [torch.cuda.get_rng_state(d) for d in devices]
            torch.set_rng_state(rng_cpu)      # the same dropout masks at X^{k-1}
            for d, s in zip(devices, rng_cuda):
                torch.cuda.set_rng_state(s, d)
            old = self._old
            old_p = [old[self._names[p]].requires_grad_(True) for p in params]

            def forward(*args, **kwargs):
                return functional_call(self.model, old, args, kwargs)
            _, g_old = self._grads(closure, forward, old_p)
            torch.set_rng_state(after_cpu)
            for d, s in zip(devices, after_cuda):
                torch.cuda.set_rng_state(s, d)
        if snap is not None:
            self._old = snap
        return loss, g, g_old

    # -- the step ----------------------------------------------------------------------------
    @torch.no_grad()
    def step(self, closure=None):
        """One iteration; ``closure(forward) -> loss`` (required for MVR), or ``None`` to use ``p.grad``."""
        if closure is None:
            if self.method != "gluon":
                raise ValueError(f"method {self.method!r}: step() needs closure(forward) (two-point oracle)")
            params = self._params()
            loss, g, g_old = None, [torch.zeros_like(p) if p.grad is None else p.grad for p in params], None
            self.grad_evals += 1
        else:
            loss, g, g_old = self.gradients(closure)
        i = 0
        for group in self.param_groups:
            for p in group["params"]:
                self._update(p, group, g[i], None if g_old is None else g_old[i])
                i += 1
        self.steps += 1
        return loss

    def _estimate(self, st, group, g, g_old):
        beta, q = group["beta"], group["q"]
        first = "M" not in st
        if self.method == "gluon":
            if first:
                st["M"] = g.clone() if self.momentum_init == "grad" else torch.zeros_like(g)
                if self.momentum_init == "zero":
                    st["M"].lerp_(g, 1 - beta)
            else:
                st["M"].lerp_(g, 1 - beta)           # beta M + (1 - beta) g
            return g.lerp(st["M"], beta) if group["nesterov"] else st["M"]
        if first:
            st["M"], st["G"] = g.clone(), g.clone()
            return st["M"]
        if self.method == "mvr1":
            st["M"] = g + beta * (st["M"] - g_old)
            return st["M"]
        G_prev = st["G"]
        st["G"] = g + (1 - q) * (G_prev - g_old)
        M = beta * st["M"] + (1 - beta) * st["G"]
        if self.method == "mvr3":
            M = M + beta * ((g - g_old) if self.mvr3_correction == "gradient" else (st["G"] - G_prev))
        st["M"] = M
        return M

    def _update(self, p, group, g, g_old):
        st = self.state[p]
        M = self._estimate(st, group, g, g_old)
        if self.record_momenta:
            self.last_momenta[p] = M.detach().clone()
        D = L.direction(M, group["norm"], group["lmo"], group["ns_steps"], group["ns_coeffs"], group["ns_dtype"])
        scale = 1.0
        if group["update_scale"] == "muon" and p.ndim == 2:
            scale = math.sqrt(max(1.0, p.size(0) / p.size(1)))
        elif group["update_scale"] == "rms" and group["norm"] in L.SPECTRAL and group["lmo"] != "exact":
            n = float(D.norm())
            # the exact oracle's Frobenius norm: sqrt(rank) for U V^T, times sqrt(m/n) when scaled
            target = math.sqrt(min(p.shape)) * (math.sqrt(p.size(0) / p.size(1))
                                                if group["norm"] == "scaled-spectral" else 1.0)
            scale = target / n if n > 0 else 1.0
        lr = group["lr"]
        if group["weight_decay"]:
            p.mul_(1 - lr * group["weight_decay"])
        p.add_(D, alpha=-lr * scale)

