r"""Parameter roles and optimizer presets: ``adam``, ``muon``, ``scion``/``gluon``, ``mvr1/2/3``.

Roles [C, Scion/unScion; Muon practice]: ``embedding`` (``nn.Embedding`` weights and other lookup
tables), ``head`` (the last ``nn.Linear``), ``hidden`` (every other matrix), ``vector`` (1-D).

- ``muon``: hidden matrices by :class:`~gluon_mvr.nets.optim.Gluon` configured as
  ``torch.optim.Muon`` (spectral, Newton–Schulz ``jordan`` 5 steps in bfloat16, Nesterov,
  zero-initialised momentum 0.95, :math:`\sqrt{\max(1, m/n)}` scaling, decoupled weight decay);
  the rest by AdamW — the usual Muon setup.
- ``scion`` (= ``gluon`` here): every block by the LMO of its role — hidden ``scaled-spectral``,
  embedding ``rownorm`` (Scion's ColNorm on the mathematical columns), head ``scaled-sign``,
  vectors ``sign`` — radius ``lr`` times a per-role multiplier, momentum ``beta``.
- ``mvr1/2/3``: the ``scion`` geometry with the MVR estimator (two gradients per step).
- ``adam``: AdamW on everything (the baseline).
"""
from __future__ import annotations

import torch
from torch import nn

from gluon_mvr.nets.optim import Gluon

OPTIMIZERS = ("adam", "muon", "gluon", "mvr1", "mvr2", "mvr3")
PRESETS = ("muon", "scion")
ROLE_NORMS = {"hidden": "scaled-spectral", "embedding": "rownorm", "head": "scaled-sign", "vector": "sign"}
DEFAULT_RADIUS = {"hidden": 1.0, "embedding": 1.0, "head": 1.0, "vector": 0.1}


def param_roles(model: nn.Module) -> dict:
    """``{parameter name: role}``; a model may override with a ``param_roles()`` method."""
    if hasattr(model, "param_roles"):
        return dict(model.param_roles())
    roles, last_linear = {}, None
    for mname, mod in model.named_modules():
        if isinstance(mod, nn.Linear):
            last_linear = mname
    for mname, mod in model.named_modules():
        for pname, p in mod.named_parameters(recurse=False):
            name = f"{mname}.{pname}" if mname else pname
            if p.ndim < 2:
                roles[name] = "vector"
            elif isinstance(mod, nn.Embedding):
                roles[name] = "embedding"
            elif mname == last_linear:
                roles[name] = "head"
            else:
                roles[name] = "hidden"
    return roles


def _by_role(model):
    roles, out = param_roles(model), {}
    for n, p in model.named_parameters():
        out.setdefault(roles[n], []).append(p)
    return out


def muon_hidden_options(lr, beta=0.95, weight_decay=0.0, ns_steps=5):
    """Gluon options equal to ``torch.optim.Muon(lr, momentum=beta, nesterov=True, ...)``."""
    return dict(lr=lr, method="gluon", beta=beta, norm="spectral", lmo="ns", ns_steps=ns_steps, ns_coeffs="jordan",
                ns_dtype="bfloat16", update_scale="muon", nesterov=True, momentum_init="zero",
                weight_decay=weight_decay)


class Chain:
    """Several optimizers driven by one ``closure(forward) -> loss`` (one gradient per step)."""

    def __init__(self, model, *optimizers):
        self.model, self.optimizers, self.grad_evals = model, optimizers, 0

    def step(self, closure):
        for o in self.optimizers:
            o.zero_grad(set_to_none=True)
        with torch.enable_grad():
            loss = closure(self.model)
            loss.backward()
        self.grad_evals += 1
        for o in self.optimizers:
            o.step()
        return loss.detach()


def make_optimizer(model: nn.Module, name: str, lr: float, *, beta: float = 0.9, q: float = 0.1,
                   lmo: str = "ns", ns_steps: int = 5, ns_coeffs: str = "jordan", ns_dtype: str = "float32",
                   update_scale: str = "none", radius: dict | None = None, adam_lr: float = 3e-3,
                   record_momenta: bool = False):
    """An object with ``step(closure) -> loss`` and ``grad_evals`` for optimizer ``name``.

    ``lr`` is Adam's learning rate (``adam``), Muon's (``muon``, hidden layers; AdamW at ``adam_lr``
    on the rest), or the base radius of the Gluon family (times ``radius[role]``).
    """
    if name not in OPTIMIZERS:
        raise ValueError(f"optimizer: allowed values {', '.join(OPTIMIZERS)}; got {name!r}")
    groups = _by_role(model)
    if name == "adam":
        return Chain(model, torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.95), weight_decay=0.0))
    if name == "muon":
        hidden = groups.pop("hidden", [])
        rest = [p for ps in groups.values() for p in ps]
        opts = [Gluon(hidden, **muon_hidden_options(lr, beta=0.95), record_momenta=record_momenta)]
        if rest:
            opts.append(torch.optim.AdamW(rest, lr=adam_lr, betas=(0.9, 0.95), weight_decay=0.0))
        return Chain(model, *opts)
    mult = {**DEFAULT_RADIUS, **(radius or {})}
    param_groups = [{"params": ps, "norm": ROLE_NORMS[role], "lr": lr * mult[role], "role": role}
                    for role, ps in groups.items()]
    return Gluon(param_groups, method=name, model=model, beta=beta, q=q, lmo=lmo, ns_steps=ns_steps,
                 ns_coeffs=ns_coeffs, ns_dtype=ns_dtype, update_scale=update_scale, record_momenta=record_momenta)
