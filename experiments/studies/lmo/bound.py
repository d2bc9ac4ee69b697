r"""Bound check with inexact LMOs: the delta-dependent bounds of :mod:`theory` must hold on every run.

For a run of ``method`` (Gluon or MVR-1, the horizon-K schedule of docs/theory.md §4 [R]) with an
inexact LMO, :class:`~experiments.lmo_momenta.DeltaTracker` measures :math:`\delta_i` on every
momentum the run meets (max over iterations and seeds, per layer); then the bound of
:func:`theory.bound_details` (derived here [R]: every :math:`\delta`-dependence of
:mod:`theory.bounds_nonconvex`) is evaluated at

- :math:`\delta_{\rm spec}`: the error model :math:`\|\widetilde{\mathrm{lmo}}-\mathrm{lmo}\|\le\delta`;
- :math:`\delta_{\rm eff}=\max(\delta_{\rm align},\delta_{\rm over},0)`: the smallest :math:`\delta`
  for which the two consequences used in the derivation hold (so the bound still applies).

The check: the seed-mean :math:`G_K` must not exceed either bound (``tightness`` =
measured/bound), and when a :math:`\delta` is *declared* (``declared_delta``) the measured one must
not exceed it — a declared :math:`\delta` below the measured one breaks the hypothesis of the
bound, and is reported as a violation even when the numbers happen to fit.  A bound whose
conditions fail (e.g. :math:`\delta\ge1`) is ``None``: reported as not applicable, not a pass.
"""
from __future__ import annotations

import math

import numpy

from gluon_mvr.methods.inexact import ControlledErrorLMO, RotationErrorLMO
from gluon_mvr.methods.presets import build_norm

from gluon_mvr.experiments.studies.lmo.momenta import DeltaTracker, build_family, layer_norm_names, theory_schedule
from gluon_mvr.experiments.studies.lmo.replay import replay

#: default inexact LMOs of the check: (label, kind, option)
DEFAULT_LMOS = (("exact", "exact", 0), ("ns-jordan", "ns", 2), ("ns-jordan", "ns", 5),
                ("polar-express", "ns", 3), ("polar-express", "ns", 5),
                ("controlled-random", "controlled", 0.2), ("controlled-adversarial", "controlled", 0.4))


def lmo_builder(label: str, kind: str, option, ns_dtype=None, seed: int = 0):
    """``norm_name -> Norm`` for an LMO spec (``kind`` ``exact``, ``ns`` (option = steps) or
    ``controlled`` (option = delta; label ``controlled-<mode>``) or ``rotation`` (option = delta:
    :class:`methods.inexact.RotationErrorLMO`, gain exactly ``1 - delta``, direction error only;
    label ``rotation-stretch``: its ``stretch=True`` variant, norm ``1 + delta`` as well))."""
    if kind == "exact":
        return build_norm
    if kind == "ns":
        return lambda n: build_norm(n, lmo=label, ns_steps=int(option), ns_dtype=ns_dtype)
    if kind == "controlled":
        mode = label.split("-", 1)[1]

        def build(n):
            if n not in ("spectral", "scaled-spectral"):
                return build_norm(n)
            return ControlledErrorLMO(base=n, delta=float(option), mode=mode, seed=seed)
        return build
    if kind == "rotation":

        def build_rot(n):
            if n not in ("spectral", "scaled-spectral"):
                return build_norm(n)
            return RotationErrorLMO(base=n, delta=float(option), seed=seed, stretch=label == "rotation-stretch")
        return build_rot
    raise ValueError(f"unknown LMO kind {kind!r}; allowed: exact, ns, controlled, rotation")


def lmo_name(label, kind, option) -> str:
    return "exact" if kind == "exact" else f"{label}:{option}"


def _bound(method, K, sched, problem, delta):
    from gluon_mvr.theory import bound_details
    d = bound_details(method, K, sched, problem.constants, problem.delta0(), delta=delta,
                      shapes=problem.layout.shapes)
    return d.value, d.reason


def check_run(problem, method: str, K: int, seeds, lmo=("exact", "exact", 0), *, ns_dtype=None,
              declared_delta=None, family: str = "") -> dict:
    r"""One run with an inexact LMO, its measured :math:`\delta_i` and the bound check.

    Returns a JSON-able dict with ``G`` (seed mean), ``delta`` (per-layer measurements),
    ``bound_spec`` / ``bound_eff`` (bound at :math:`\delta_{\rm spec}` / :math:`\delta_{\rm eff}`,
    ``None`` when not applicable, with ``reason_*``), ``tightness_*`` (G / bound), and ``ok``:
    no bound exceeded and (if ``declared_delta`` is given) the measured :math:`\delta_{\rm spec}`
    within the declared one on every layer.
    """
    label, kind, option = lmo
    sched = theory_schedule(problem, method, K)
    tracker = DeltaTracker(problem.layout, layer_norm_names(problem, method))
    res = replay(problem, method, K, seeds, sched.radius, sched.one_minus_beta, sched.q,
                 lmo_build=lmo_builder(label, kind, option, ns_dtype), observe=tracker)
    deltas = tracker.deltas()
    G = float(numpy.nanmean(res.G)) if not res.diverged.all() else float("nan")
    out = {"family": family or problem.name, "method": method, "K": int(K), "seeds": list(map(int, seeds)),
           "lmo": lmo_name(label, kind, option), "ns_dtype": ns_dtype or "float64", "G": G,
           "diverged": int(res.diverged.sum()), "delta": deltas, "schedule": sched.describe(),
           "wall_time": res.wall_time, "violations": []}
    # exact LMOs measure ~1e-15: clip the rounding so delta = 0 means exact
    spec = [min(max(v, 0.0), 1.0) if v > 1e-12 else 0.0 for v in deltas["spectral"]]
    eff = [v if v > 1e-12 else 0.0 for v in deltas["effective"]]
    for tag, dl in (("spec", spec), ("eff", eff)):
        if max(dl) >= 1.0:
            b, why = None, f"measured delta {max(dl):.3f} >= 1: the bound needs delta < 1"
        else:
            b, why = _bound(method, K, sched, problem, dl)
        out[f"bound_{tag}"], out[f"reason_{tag}"] = b, why
        out[f"tightness_{tag}"] = (G / b) if (b and math.isfinite(G)) else None
        if b is not None and (not math.isfinite(G) or G > b):
            out["violations"].append(f"G_K = {G:.4g} > bound at delta_{tag} = {b:.4g}")
    if declared_delta is not None:
        decl = numpy.broadcast_to(numpy.asarray(declared_delta, dtype=float), (len(spec),))
        out["declared_delta"] = decl.tolist()
        bad = [i for i, (m, d) in enumerate(zip(deltas["spectral"], decl)) if m > d + 1e-9]
        if bad:
            out["violations"].append(f"measured delta exceeds the declared one on layers {bad} "
                                     f"(measured {[round(deltas['spectral'][i], 4) for i in bad]}, "
                                     f"declared {[float(decl[i]) for i in bad]}): the bound's hypothesis fails")
        b, why = _bound(method, K, sched, problem, decl.tolist()) if decl.max() < 1 else (None, "declared delta >= 1")
        out["bound_declared"], out["reason_declared"] = b, why
        if b is not None and G > b:
            out["violations"].append(f"G_K = {G:.4g} > bound at the declared delta = {b:.4g}")
    out["ok"] = not out["violations"]
    return out


def bound_check(families=None, methods=("gluon", "mvr1"), lmos=DEFAULT_LMOS, K: int = 300,
                seeds=(0, 1, 2, 3), ns_dtypes=("float64",), family_params=None, progress=None) -> list:
    """:func:`check_run` over families x methods x LMOs x NS working dtypes."""
    from gluon_mvr.experiments.studies.lmo.momenta import FAMILIES
    rows = []
    for fam in (families or tuple(FAMILIES)):
        problem = build_family(fam, (family_params or {}).get(fam))
        for m in methods:
            for lmo in lmos:
                for dt in (ns_dtypes if lmo[1] == "ns" else ("float64",)):
                    rows.append(check_run(problem, m, K, seeds, lmo, ns_dtype=dt, family=fam))
                    if progress:
                        progress(1)
    return rows
