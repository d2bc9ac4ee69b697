r"""The momenta a run meets, and the LMO error :math:`\delta_i` measured on them per layer.

Two uses (docs/theory.md §6, "on the momenta a run meets"):

- :func:`collect_momenta` keeps snapshots of :math:`M_i^k` from a run (exact LMO, the
  horizon-K schedule of the method) so that every approximation can be measured on the same
  matrices (:func:`momenta_table`);
- :class:`DeltaTracker` measures, at every iteration of a run with an inexact LMO, the three
  deltas of the direction the run actually took, and keeps their maximum over iterations and
  seeds per layer: :math:`\delta_i=\max_{k,s}\delta_i(M^k_s)`, the number the bounds take.
"""
from __future__ import annotations

import numpy

from gluon_mvr.methods.presets import get_method
from gluon_mvr.methods.schedules import horizon_schedule
from gluon_mvr.problems import get_problem

from gluon_mvr.experiments.studies.lmo.error import DTYPES, MEASURES, lmo_deltas, measure_stack
from gluon_mvr.experiments.studies.lmo.replay import replay

#: the problem families of the measurements, at small sizes (family -> params)
FAMILIES = {"quadratic": {"layers": 2, "dim": 8},
            "l0l1": {"layers": 2, "dim": 8},
            "nonconvex": {"layers": 2, "dim": 8},
            "twolayer": {"dim": 8, "estimate_pairs": 64, "estimate_steps": 50}}
RUN_METHODS = ("gluon", "mvr1")


def build_family(name: str, params: dict | None = None):
    """``get_problem(name, **(FAMILIES[name] | params))``."""
    base = dict(FAMILIES.get(name, {}))
    base.update(params or {})
    return get_problem(name, **base)


def theory_schedule(problem, method: str, K: int):
    """The method's horizon-K schedule (:func:`methods.schedules.horizon_schedule`, [R])."""
    return horizon_schedule(get_method(method).schedule_family, K, problem.constants.L1)


def layer_norm_names(problem, method: str):
    return get_method(method).layer_norm_names(problem.constants.norms)


class DeltaTracker:
    r"""``observe(k, M, D)`` callback for :func:`experiments.lmo_replay.replay`.

    Keeps, per layer, the maximum over iterations and batch elements of
    :math:`\delta_{\rm spec}`, :math:`\delta_{\rm align}`, :math:`\delta_{\rm over}` (see
    :mod:`experiments.lmo_error`), and the median of :math:`\delta_{\rm spec}` over everything
    seen.  Layers whose norm has no spectral LMO are measured in their own norm all the same
    (exact LMOs give zeros).
    """

    def __init__(self, layout, norm_names, every: int = 1):
        self.layout, self.norm_names, self.every = layout, tuple(norm_names), int(every)
        p = layout.n_layers
        self.max = {k: numpy.full(p, -numpy.inf) for k in MEASURES}
        self._spec = [[] for _ in range(p)]
        self.count = 0

    def __call__(self, k, M, D):
        if k % self.every:
            return
        self.count += 1
        for i in range(self.layout.n_layers):
            Mi, Di = self.layout.layer(M, i), self.layout.layer(D, i)
            vals = lmo_deltas(Mi, Di, self.norm_names[i])
            for key, v in zip(MEASURES, vals):
                if numpy.any(numpy.isfinite(v)):
                    self.max[key][i] = max(self.max[key][i], float(numpy.nanmax(v)))
            self._spec[i].append(numpy.asarray(vals[0]).ravel())

    def deltas(self) -> dict:
        """Per-layer lists: ``spectral``, ``alignment``, ``overshoot``, ``effective``
        (:math:`\\max(\\delta_{\\rm align},\\delta_{\\rm over},0)`) and ``spectral_median``."""
        out = {k: [float(v) for v in self.max[k]] for k in MEASURES}
        out["effective"] = [max(0.0, a, o) for a, o in zip(out["alignment"], out["overshoot"])]
        out["spectral_median"] = [float(numpy.nanmedian(numpy.concatenate(s))) if s else float("nan")
                                  for s in self._spec]
        return out


def collect_momenta(problem, method: str, K: int, seeds, snapshots: int = 20):
    """Per layer, the stack ``(snapshots * S, m, n)`` of momenta met at evenly spaced
    iterations of a run with the exact LMO and the horizon-K schedule."""
    sched = theory_schedule(problem, method, K)
    at = set(numpy.unique(numpy.linspace(0, K - 1, min(K, snapshots)).astype(int)).tolist())
    kept = [[] for _ in range(problem.layout.n_layers)]

    def observe(k, M, D):
        if k in at:
            for i in range(problem.layout.n_layers):
                kept[i].append(numpy.array(problem.layout.layer(M, i)))

    replay(problem, method, K, seeds, sched.radius, sched.one_minus_beta, sched.q, observe=observe)
    return [numpy.concatenate(k, axis=0) for k in kept]


def momenta_table(names, steps_list, families=tuple(FAMILIES), methods=RUN_METHODS, K: int = 300,
                  seeds=(0, 1, 2, 3), dtypes=DTYPES, snapshots: int = 20, family_params=None,
                  progress=None) -> list:
    r"""Rows ``{family, method, layer, approximation, steps, dtype, spectral, alignment, overshoot,
    effective, *_median, cond_median}`` measured on the momenta of Gluon and MVR-1 runs.

    ``cond_median`` is the median over the stack of :math:`u_{\min}=s_{\min}/\|M\|_F`, the
    normalised smallest singular value that decides how hard the momenta are.
    """
    rows = []
    for fam in families:
        problem = build_family(fam, (family_params or {}).get(fam))
        for m in methods:
            stacks = collect_momenta(problem, m, K, seeds, snapshots)
            norms = layer_norm_names(problem, m)
            for i, Mi in enumerate(stacks):
                if norms[i] not in ("spectral", "scaled-spectral"):
                    continue
                s = numpy.linalg.svd(Mi, compute_uv=False)
                with numpy.errstate(all="ignore"):
                    u_min = float(numpy.nanmedian(s[:, -1] / numpy.sqrt((s ** 2).sum(axis=1))))
                for r in measure_stack(Mi, names, steps_list, dtypes, norms[i]):
                    rows.append({"family": fam, "method": m, "layer": i, "shape": list(Mi.shape[1:]),
                                 "u_min_median": u_min, **r})
                if progress:
                    progress(1)
    return rows
