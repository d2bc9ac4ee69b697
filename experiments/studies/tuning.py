r"""``--tuned``: does the rate belong to the method, or only to the theory's schedule?

For each method and horizon ``K`` the radius and the momentum parameter (``1 - beta`` for
Gluon and MVR-1, ``q`` for MVR-2/3, whose ``beta`` stays at the configured constant) are
searched instead of taken from the theory:

1. radius factor on a log grid around the theory radius, ``4`` points per decade over
   ``2 * span`` decades, momentum at its theory value;
2. momentum on the same kind of grid (capped at 1), radius at the best of stage 1;
3. refinement: radius, then momentum, at 12 points per decade within one coarse step of the best.

The search uses ``search_seeds`` seeds and picks the smallest seed-mean :math:`G_K`; the best
parameters are then run with all the seeds, and the exponent of the best tuned :math:`G_K` is
fitted as in the theory-schedule check.  Every evaluated cell is stored, so a rerun is free.
"""
from __future__ import annotations

import numpy

from gluon_mvr.methods.presets import get_method
from gluon_mvr.theory.claims import get_claim
from gluon_mvr.problems import get_problem

from gluon_mvr.experiments.core.cells import cell_key, make_cell
from gluon_mvr.experiments.core.executors import execute
from gluon_mvr.experiments.core.fitting import fit_rate, verdict

POINTS_PER_DECADE = 4
REFINE_PER_DECADE = 12


def _grid(center, span, per_decade, cap=None):
    exps = numpy.arange(-span * per_decade, span * per_decade + 1) / per_decade
    vals = center * 10.0 ** exps
    if cap is not None:
        vals = numpy.unique(numpy.minimum(vals, cap))
    return [float(v) for v in vals]


def _schedule_dict(radius, one_minus_beta, q):
    return {"label": "tuned", "radius": [float(r) for r in radius], "one_minus_beta": float(one_minus_beta),
            "q": float(q)}


def _searches_q(method):
    """Whether the momentum searched is ``q`` (a claim whose mixing decays in ``q``: MVR-2/3)
    rather than ``1 - beta``."""
    claim = get_method(method).schedule_family
    return claim is not None and get_claim(claim).mixing == "q"


def _theory_schedule(cfg, method, K, problem):
    """The horizon-K schedule of the theory, around which the search looks."""
    return get_method(method).with_schedule_scales(cfg.radius_scale, cfg.momentum_scale,
                                                   cfg.beta).build_schedule(K, problem)


def tuned_cell(cfg, method: str, K: int, radius_factor: float, momentum: float, seeds, base=None):
    r"""The cell (and its store key) of one candidate of the tuned search.

    The candidate is the theory's horizon-K schedule ``base`` with every layer's radius
    multiplied by :math:`f` = ``radius_factor``, :math:`t_i = f\,t_i^{\text{theory}}`, and its momentum
    parameter replaced by ``momentum``: :math:`1-\beta` for Gluon and MVR-1 (with :math:`q = 1`),
    :math:`q` for MVR-2/3 (whose :math:`1-\beta` stays the theory's).  The cell is stored with
    kind ``'tuned'`` and an explicit schedule, so this is how a caller finds a result
    :func:`tune` stored, e.g. the best cell of a horizon from ``radius_factor`` and
    ``momentum`` of :func:`tune`'s ``best`` entries.

    Parameters
    ----------
    cfg : RateCheckConfig
        The tuned check's configuration (problem, params, recording, dtype, device, LMO).
    method : str
    K : int
        Horizon.
    radius_factor, momentum : float
        The candidate.
    seeds : list of int
        Seeds of the cell (the search's seeds, or all of ``cfg.seeds`` for the final run).
    base : Schedule, optional
        The theory's horizon-K schedule for ``cfg``'s problem
        (:func:`methods.schedules.horizon_schedule` with ``cfg.radius_scale``,
        ``cfg.momentum_scale``, ``cfg.beta``); computed when not given.

    Returns
    -------
    key : str
        :func:`experiments.cells.cell_key` of the cell.
    cell : dict
        The cell configuration (:func:`experiments.cells.make_cell`).
    """
    if base is None:
        base = _theory_schedule(cfg, method, K, get_problem(cfg.problem, **cfg.params))
    radius = [radius_factor * r for r in base.radius]
    omb, q = (base.one_minus_beta, momentum) if _searches_q(method) else (momentum, 1.0)
    c = make_cell(cfg.problem, cfg.params, method, K, seeds,
                  schedule=_schedule_dict(radius, omb, q), record_every=cfg.record_every,
                  root_seed=cfg.root_seed, dtype=cfg.dtype, device=cfg.device,
                  lmo=cfg.lmo, ns_steps=cfg.ns_steps, kind="tuned")
    return cell_key(c), c


class _Search:
    """Evaluate candidate (radius factor, momentum) pairs for one (method, K)."""

    def __init__(self, cfg, store, method, K, base, seeds, progress):
        self.cfg, self.store, self.method, self.K = cfg, store, method, K
        self.base, self.seeds, self.progress = base, seeds, progress
        self.uses_q = _searches_q(method)
        self.evaluated = {}

    def cell(self, factor, mom, seeds):
        return tuned_cell(self.cfg, self.method, self.K, factor, mom, seeds, base=self.base)

    def evaluate(self, pairs):
        cells = {p: self.cell(*p, self.seeds) for p in pairs if p not in self.evaluated}
        execute(list(cells.values()), self.store, self.cfg.executor, self.cfg.scheduler,
                progress=self.progress)
        got = self.store.get_many(k for k, _ in cells.values())
        for p, (k, _) in cells.items():
            G = numpy.asarray(got[k]["G"], dtype=float)
            self.evaluated[p] = float(G.mean()) if numpy.isfinite(G).all() else numpy.inf
        return min(self.evaluated, key=self.evaluated.get)

    def momentum_theory(self):
        return self.base.q if self.uses_q else self.base.one_minus_beta


def tune(cfg, store, span: int = 2, search_seeds: int = 4, progress=None):
    """Run the tuned search for every method of ``cfg``; returns a list of dicts (one per method)."""
    problem = get_problem(cfg.problem, **cfg.params)
    seeds_all = list(range(cfg.seeds))
    seeds_search = seeds_all[:min(search_seeds, cfg.seeds)]
    out = []
    for m in (get_method(m).name if not isinstance(m, str) else m for m in cfg.methods):
        per_K, finals = [], []
        for K in cfg.horizons:
            base = _theory_schedule(cfg, m, K, problem)
            s = _Search(cfg, store, m, K, base, seeds_search, progress)
            mom0 = s.momentum_theory()
            f_best, m_best = s.evaluate([(f, mom0) for f in _grid(1.0, span, POINTS_PER_DECADE)])
            f_best, m_best = s.evaluate([(f_best, v) for v in _grid(mom0, span, POINTS_PER_DECADE, cap=1.0)])
            step = 10 ** (1 / POINTS_PER_DECADE)
            f_best, m_best = s.evaluate([(f, m_best) for f in _grid(f_best, 1 / POINTS_PER_DECADE * 1.0001,
                                                                     REFINE_PER_DECADE) if f > 0])
            f_best, m_best = s.evaluate([(f_best, v) for v in _grid(m_best, 1 / POINTS_PER_DECADE * 1.0001,
                                                                     REFINE_PER_DECADE, cap=1.0)])
            key, cell = s.cell(f_best, m_best, seeds_all)
            execute([(key, cell)], store, cfg.executor, cfg.scheduler, progress=progress)
            res = store.get(key)
            finals.append(res["G"])
            edge = (abs(numpy.log10(f_best)) >= span - 1e-9 or
                    abs(numpy.log10(m_best / mom0)) >= span - 1e-9 and m_best < 1.0)
            per_K.append({"K": K, "radius": [f_best * r for r in base.radius], "radius_factor": f_best,
                          "momentum": m_best, "momentum_name": "q" if s.uses_q else "1-beta",
                          "momentum_theory": mom0, "G": float(numpy.nanmean(res["G"])),
                          "evaluated": len(s.evaluated), "at_grid_edge": bool(edge), "step": step})
        G = numpy.array(finals).T
        fit = fit_rate(cfg.horizons, G, tail=cfg.tail, n_boot=cfg.bootstrap, seed=cfg.root_seed)
        from gluon_mvr.experiments.studies.rate_check import theory_exponent
        th = theory_exponent(m)
        logK = numpy.log(cfg.horizons)
        r_slope = float(numpy.polyfit(logK, numpy.log([p["radius"][0] for p in per_K]), 1)[0])
        m_slope = float(numpy.polyfit(logK, numpy.log([p["momentum"] for p in per_K]), 1)[0])
        out.append({"method": m, "slope": fit.slope, "ci": list(fit.ci), "theory": th,
                    "verdict": None if th is None else verdict(fit, th, cfg.tolerance),
                    "horizons": list(cfg.horizons), "G": [p["G"] for p in per_K], "best": per_K,
                    "G_seeds": [list(map(float, g)) for g in finals],
                    "radius_exponent": r_slope, "momentum_exponent": m_slope, "fit": fit.as_dict()})
    return out


def format_tuned(results, problem: str) -> str:
    lines = [f"tuned rate check on problem '{problem}' (best radius and momentum per K)",
             f"{'method':<11} {'slope':>7} {'95% CI':>17} {'theory':>7} {'verdict':>8} "
             f"{'t* ~ K^':>8} {'mom* ~ K^':>9}"]
    lines.append("-" * len(lines[-1]))
    for r in results:
        th = "-" if r["theory"] is None else f"{r['theory']:.3f}"
        lines.append(f"{r['method']:<11} {r['slope']:>7.3f} [{r['ci'][0]:>7.3f},{r['ci'][1]:>7.3f}] {th:>7} "
                     f"{r['verdict'] or '-':>8} {r['radius_exponent']:>8.3f} {r['momentum_exponent']:>9.3f}")
    lines.append("best parameters per horizon (radius of layer 0; momentum = 1-beta or q):")
    for r in results:
        for p in r["best"]:
            flag = "  (at grid edge)" if p["at_grid_edge"] else ""
            lines.append(f"  {r['method']:<10} K={p['K']:<6d} t*={p['radius'][0]:.4g} "
                         f"({p['radius_factor']:.3g} x theory)  {p['momentum_name']}*={p['momentum']:.4g} "
                         f"(theory {p['momentum_theory']:.4g})  G={p['G']:.4g}{flag}")
    return "\n".join(lines)


def _plot_tuned(doc, ax):
    for r in doc["results"]:
        ax.plot(r["horizons"], r["G"], marker="o", label=f"{r['method']} tuned ({r['slope']:.3f})")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("horizon K")
    ax.set_ylabel("best G_K")
    ax.legend(fontsize=7)


def tuned_rates(problem=None, methods=None, *, horizons=None, seeds=None, params=None, store=":memory:",
                span: int = 2, search_seeds: int = 4, progress=None, **options):
    r"""The tuned rate check from Python (``gluon-mvr rate-check --tuned``): for each method and
    ``K`` the radius factor and momentum parameter are searched on a log grid, the best rerun on
    all seeds, and the exponent of the best :math:`G_K` fitted.  Returns a
    :class:`~gluon_mvr.experiments.studies.result.StudyResult`: rows per (method, K) with the best
    parameters and the theory schedule's, measured exponent beside the claimed one."""
    from gluon_mvr.experiments.core.config import merge, validate
    from gluon_mvr.experiments.core.store import ResultStore
    from gluon_mvr.experiments.studies.result import StudyResult
    from gluon_mvr.experiments.core.config import DEFAULT_PROBLEM
    raw = {"problem": DEFAULT_PROBLEM if problem is None else problem, "store": store, "tuned": True, **options}
    for name, value in (("methods", methods), ("horizons", horizons), ("seeds", seeds), ("params", params)):
        if value is not None:
            raw[name] = list(value) if name in ("methods", "horizons") else value
    cfg = validate(merge(raw))
    results = tune(cfg, ResultStore(cfg.store), span=span, search_seeds=search_seeds, progress=progress)
    rows = [{"method": r["method"], "K": p["K"], "radius_factor": p["radius_factor"], "radius": p["radius"][0],
             "momentum_name": p["momentum_name"], "momentum": p["momentum"], "momentum_theory": p["momentum_theory"],
             "G": p["G"], "at_grid_edge": p["at_grid_edge"], "slope": r["slope"], "theory": r["theory"]}
            for r in results for p in r["best"]]
    doc = {"problem": cfg.problem, "params": cfg.params, "config": cfg.as_dict(), "tuned": True, "results": results}
    return StudyResult("tuned-rates", rows, doc, lambda d: format_tuned(d["results"], d["problem"]), _plot_tuned)
