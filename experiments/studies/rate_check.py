r"""The rate check (docs/theory.md §4, §7): is Gluon :math:`K^{-1/4}` and MVR-Gluon :math:`K^{-1/3}`?

For each method and horizon ``K`` it runs ``S`` seeds with the horizon-K parameters, measures
:math:`G_K = \frac1K\sum_{k<K}\sum_i\|\nabla_i f(X^k)\|_{(i)*}` with exact gradients, fits the
slope of :math:`\log G_K` against :math:`\log K` on the grid's tail with a seed bootstrap, and
compares it with the theory exponent.  It also reports the noise share at the largest horizon,
:math:`1 - G_K^{\text{noise off}}/G_K^{\text{noise on}}` (same seeds; without noise a run is
deterministic, so one seed stands for all), and the largest measured/bound ratio when
:mod:`theory` states a bound.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy

from gluon_mvr.methods.presets import get_method
from gluon_mvr.methods.schedules import horizon_schedule, star_horizon_schedule
from gluon_mvr.problems import get_problem

from gluon_mvr.experiments.core.cells import cell_key, make_cell
from gluon_mvr.experiments.core.config import RateCheckConfig
from gluon_mvr.experiments.core.executors import execute
from gluon_mvr.experiments.core.fitting import fit_rate, mean_interval, verdict
from gluon_mvr.experiments.core.store import ResultStore

# Claimed exponents [C] by estimator: G_K (stationarity, THEORY §4) and the star-convex gap
# E f(X^K) - f* (THEORY §5, up to log factors).  LOG_POWER: the power of ln K that the star
# bounds of theory.bounds_star carry, divided out before the fit (momentum (ln K / K)^{1/3},
# MVR (ln K / K)^{1/2}).
THEORY_EXPONENT = {
    "stationarity": {"momentum": -0.25, "mvr1": -1 / 3, "mvr2": -1 / 3, "mvr3": -1 / 3},
    "gap": {"momentum": -1 / 3, "mvr1": -0.5, "mvr2": -0.5, "mvr3": -0.5},
}
LOG_POWER = {"gap": {"momentum": 1 / 3, "mvr1": 0.5, "mvr2": 0.5, "mvr3": 0.5}}
STAR_BOUND_NAME = {"momentum": "star-momentum", "mvr1": "star-mvr", "mvr2": "star-mvr2", "mvr3": "star-mvr3"}


def theory_exponent(method: str, criterion: str = "stationarity"):
    """Claimed exponent for the method's estimator ([C]); ``None`` if no claim."""
    return THEORY_EXPONENT[criterion].get(get_method(method).estimator)


def _log_factor(method, criterion):
    p = LOG_POWER.get(criterion, {}).get(get_method(method).estimator)
    return None if p is None else (lambda K: math.log(K) ** p)


@dataclass
class MethodReport:
    method: str
    horizons: list
    G: list                 # seed-mean G_K per horizon
    G_min: list
    G_seeds: list           # per horizon, per seed
    G_last_ci: tuple        # bootstrap interval of the seed mean at the largest horizon
    fit: object
    theory: float | None
    verdict: str | None
    oracle_calls: list      # per seed, per horizon
    noise_share: float | None
    bound_ratio: float | None
    bound_violations: list
    diverged: int
    wall_time: float
    worst_instance: list | None = None   # worst_param value chosen per horizon

    def as_dict(self):
        d = {"method": self.method, "slope": self.fit.slope, "ci": list(self.fit.ci),
             "theory": self.theory, "verdict": self.verdict, "horizons": self.horizons, "G": self.G,
             "G_min": self.G_min, "G_last_ci": list(self.G_last_ci), "oracle_calls": self.oracle_calls, "noise_share": self.noise_share,
             "bound_ratio": self.bound_ratio, "bound_violations": self.bound_violations,
             "diverged": self.diverged, "wall_time": self.wall_time, "worst_instance": self.worst_instance}
        d.update({k: v for k, v in self.fit.as_dict().items() if k not in ("slope", "ci")})
        return d


SCALE_REFERENCE_K = 1000


def theory_rate(method: str, criterion: str, K: int) -> float:
    r"""The method's claimed rate :math:`K^{\theta}(\ln K)^{p}` (log power as the bound states)."""
    est = get_method(method).estimator
    theta = THEORY_EXPONENT[criterion][est]
    p = LOG_POWER.get(criterion, {}).get(est, 0.0)
    return K ** theta * math.log(K) ** p


def cell_params(cfg: RateCheckConfig, method: str, K: int, value=None) -> dict:
    """Problem params of one cell.

    With ``scale_param`` (a lower-bound-style construction) that param is multiplied by the
    method's claimed rate at ``K``, normalised by momentum's (Gluon's) rate at ``K = 1000``:
    each method meets the instance that follows its own error level as ``K`` grows, with one
    constant for all methods (the given value is momentum's at ``K = 1000``)."""
    if value is not None:                       # one instance of the worst-case search
        return {**cfg.params, cfg.worst_param: float(value)}
    if not cfg.scale_param:
        return cfg.params
    factor = theory_rate(method, cfg.criterion, K) / theory_rate("gluon", cfg.criterion, SCALE_REFERENCE_K)
    return {**cfg.params, cfg.scale_param: float(cfg.params[cfg.scale_param]) * factor}


def _instances(cfg: RateCheckConfig):
    """Values of ``worst_param`` searched per (method, K), or ``[None]`` (one instance)."""
    return list(cfg.worst_grid) if cfg.worst_param else [None]


def rate_check_cells(cfg: RateCheckConfig):
    r"""Every cell the rate check ``cfg`` runs, each with its store key.

    The cells are the runs of :func:`experiments.cells.make_cell` (the store's keys are
    :func:`experiments.cells.cell_key` of these configurations), so any caller that needs the
    stored results of a check (the figures, for instance) finds exactly the rows
    :func:`rate_check` writes.

    Parameters
    ----------
    cfg : RateCheckConfig
        A validated configuration (:func:`experiments.config.validate`).

    Returns
    -------
    grid : dict
        ``(method, K, instance) -> (key, cell)`` for every method, horizon ``K`` of
        ``cfg.horizons`` and instance: the values of ``cfg.worst_param`` searched
        (``cfg.worst_grid``), or the single instance ``None`` when no worst-case search is
        configured.  Every cell runs all ``cfg.seeds`` seeds with the problem parameters of
        :func:`cell_params` (``cfg.scale_param`` applied) and the horizon-K schedule (the
        star-convex Frank–Wolfe form for ``criterion = 'gap'``).
    noise_off : dict
        ``(method, instance) -> (key, cell)``: the same cell at the largest horizon with the
        noise switched off and the first seed only (a noiseless run is deterministic), from which
        the noise share :math:`1 - G_K^{\text{noise off}}/G_K^{\text{noise on}}` is computed;
        empty unless ``cfg.noise_share``.
    """
    seeds = list(range(cfg.seeds))
    common = dict(radius_scale=cfg.radius_scale, momentum_scale=cfg.momentum_scale, beta=cfg.beta,
                  record_every=cfg.record_every, root_seed=cfg.root_seed, dtype=cfg.dtype,
                  device=cfg.device, lmo=cfg.lmo, ns_steps=cfg.ns_steps,
                  form="star" if cfg.criterion == "gap" else "horizon")
    grid, off = {}, {}
    for m in cfg.methods:
        for v in _instances(cfg):
            for K in cfg.horizons:
                c = make_cell(cfg.problem, cell_params(cfg, m, K, v), m, K, seeds, **common)
                grid[m, K, v] = (cell_key(c), c)
            if cfg.noise_share:
                K = cfg.horizons[-1]
                c = make_cell(cfg.problem, cell_params(cfg, m, K, v), m, K, seeds[:1], noise=False, **common)
                off[m, v] = (cell_key(c), c)
    return grid, off


def bound_for_cell(cfg: RateCheckConfig, method: str, K: int, instance=None):
    r"""The bound :mod:`theory` states for one cell of the rate check, or ``None``.

    The cell is ``(method, K, instance)`` of :func:`rate_check_cells`; its problem is built with
    the cell's parameters (:func:`cell_params`), so the bound is taken at that problem's
    declared constants, :math:`\Delta_0` and layer shapes, and at the schedule the cell runs:

    - ``criterion = 'stationarity'``: :func:`theory.evaluate_bound` of ``method`` at the
      horizon-K schedule (:func:`methods.schedules.horizon_schedule` with ``cfg.radius_scale``,
      ``cfg.momentum_scale``, ``cfg.beta``), a bound on
      :math:`G_K = \frac1K\sum_{k<K}\sum_i\|\nabla_i f(X^k)\|_{(i)*}`;
    - ``criterion = 'gap'``: the star-convex bound of the method's estimator
      (:data:`STAR_BOUND_NAME`, :func:`theory.numeric.star_bound_details`) on
      :math:`E f(X^K) - f^*` at the Frank–Wolfe schedule
      (:func:`methods.schedules.star_horizon_schedule`) with the problem's ball radii
      :math:`D_i`, step :math:`a = t_1/D_1` (radius over ball radius), its :math:`1-\beta` and
      :math:`q`; only for methods in the problem's own geometry.

    This is the number the rate check's ``meas/bound`` column divides by.

    Parameters
    ----------
    cfg : RateCheckConfig
    method : str
    K : int
        Horizon.
    instance : float or None
        The ``cfg.worst_param`` value of the cell, ``None`` without a worst-case search.

    Returns
    -------
    float or None
        The bound, or ``None`` where theory/ states none for this method or problem, where its
        conditions fail, or where its value is not a finite positive number.
    """
    try:
        problem = get_problem(cfg.problem, **cell_params(cfg, method, K, instance))
        spec = get_method(method)
        if cfg.criterion == "gap":
            from gluon_mvr.theory.numeric import star_bound_details
            name = STAR_BOUND_NAME.get(spec.estimator)
            if name is None or spec.geometry != "problem":
                return None
            sched = star_horizon_schedule(spec.schedule_family, K, problem.ball_radii(), cfg.momentum_scale,
                                          cfg.beta)
            b = star_bound_details(name, K, problem.constants, problem.delta0(), problem.ball_radii(),
                                   a=sched.radius[0] / sched.ball[0], one_minus_beta=sched.one_minus_beta,
                                   q=sched.q, shapes=problem.layout.shapes).value
        else:
            from gluon_mvr.theory import evaluate_bound
            sched = horizon_schedule(spec.schedule_family, K, problem.constants.L1, cfg.radius_scale,
                                     cfg.momentum_scale, cfg.beta)
            b = evaluate_bound(method, K, sched, problem.constants, problem.delta0(),
                               shapes=problem.layout.shapes)
    except (ImportError, ValueError):   # no bound for this method or problem
        return None
    if b is None or not math.isfinite(b) or b <= 0:
        return None
    return b


def _bound_ratios(cfg, method, G_mean, values):
    """Largest measured/bound over horizons, and the horizons where it exceeds 1."""
    ratios, bad = [], []
    for K, g, v in zip(cfg.horizons, G_mean, values):
        b = bound_for_cell(cfg, method, K, v)
        if b is None:
            continue
        ratios.append(g / b)
        if g > b:
            bad.append({"K": K, "measured": g, "bound": b})
    return (max(ratios) if ratios else None), bad


def rate_check(cfg: RateCheckConfig, progress=None):
    """Run (or reuse) every cell of the check and return ``(reports, store_path)``."""
    store = ResultStore(cfg.store)
    grid, off = rate_check_cells(cfg)
    todo = list(grid.values()) + list(off.values())
    execute(todo, store, cfg.executor, cfg.scheduler, progress=progress)
    results = store.get_many(k for k, _ in todo)
    reports = []
    field = "gap" if cfg.criterion == "gap" else "G"
    for m in cfg.methods:
        # per horizon, the instance with the largest seed-mean measurement (the worst case over
        # the searched family; the only instance when no search is configured)
        worst = [max(_instances(cfg), key=lambda v: numpy.nanmean(results[grid[m, K, v][0]][field]))
                 for K in cfg.horizons]
        res = [results[grid[m, K, v][0]] for K, v in zip(cfg.horizons, worst)]
        G = numpy.array([r[field] for r in res]).T                    # (S, nK)
        fit = fit_rate(cfg.horizons, G, tail=cfg.tail, n_boot=cfg.bootstrap, seed=cfg.root_seed,
                       log_factor=_log_factor(m, cfg.criterion))
        th = theory_exponent(m, cfg.criterion)
        Gm = [float(numpy.nanmean(r[field])) for r in res]
        share = None
        if (m, worst[-1]) in off:
            g_off = results[off[m, worst[-1]][0]][field][0]
            share = float(1.0 - g_off / Gm[-1]) if Gm[-1] > 0 else None
        ratio, bad = _bound_ratios(cfg, m, Gm, worst)
        div = sum(1 for r in res for d in r["diverged_at"] if d >= 0)
        reports.append(MethodReport(
            method=m, horizons=list(cfg.horizons), G=Gm,
            G_min=[float(numpy.nanmean(r["G_min"])) for r in res], G_seeds=[r[field] for r in res],
            G_last_ci=mean_interval(res[-1][field], cfg.bootstrap, seed=cfg.root_seed),
            fit=fit, theory=th, verdict=None if th is None else verdict(fit, th, cfg.tolerance),
            oracle_calls=[r["oracle_calls"] for r in res], noise_share=share, bound_ratio=ratio,
            bound_violations=bad, diverged=div, wall_time=float(sum(r["wall_time"] for r in res)),
            worst_instance=worst if cfg.worst_param else None))
    return reports, store.path


def format_table(reports, problem: str, criterion: str = "stationarity") -> str:
    head = (f"{'method':<11} {'slope':>7} {'95% CI':>17} {'theory':>7} {'verdict':>8} "
            f"{'at Kmax [95% CI]':>28} {'noise':>6} {'meas/bound':>10} {'calls@Kmax':>10} {'div':>4} {'time':>7}")
    what = ("G_K = mean_k sum_i ||grad_i f(X^k)||_*" if criterion == "stationarity" else
            "gap f(X^K) - f*, log factor of the bound divided out")
    lines = [f"rate check on problem '{problem}': {what}", head, "-" * len(head)]
    for r in reports:
        th = "-" if r.theory is None else f"{r.theory:.3f}"
        share = "-" if r.noise_share is None else f"{r.noise_share:.2f}"
        ratio = "-" if r.bound_ratio is None else f"{r.bound_ratio:.3f}"
        lines.append(f"{r.method:<11} {r.fit.slope:>7.3f} [{r.fit.ci[0]:>7.3f},{r.fit.ci[1]:>7.3f}] {th:>7} "
                     f"{r.verdict or '-':>8} {r.G[-1]:>9.4g} [{r.G_last_ci[0]:>8.4g},{r.G_last_ci[1]:>8.4g}] "
                     f"{share:>6} {ratio:>10} {r.oracle_calls[-1]:>10d} "
                     f"{r.diverged:>4d} {r.wall_time:>6.1f}s")
    for r in reports:
        if r.worst_instance is not None:
            lines.append(f"  {r.method}: worst-case instance per K: "
                         + ", ".join(f"K={K}: {v:.4g}" for K, v in zip(r.horizons, r.worst_instance)))
    for r in reports:
        for v in r.bound_violations:
            lines.append(f"!! BOUND VIOLATED: {r.method} at K={v['K']}: measured {v['measured']:.4g} "
                         f"> bound {v['bound']:.4g}")
    return "\n".join(lines)
