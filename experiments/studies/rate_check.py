r"""The rate check (docs/theory.md §4, §7, §8): is Gluon :math:`K^{-1/4}` and MVR-Gluon
:math:`K^{-1/3}`, and is the rate the mechanism's?

For each method and horizon ``K`` it runs ``S`` seeds with the horizon-K parameters, measures
:math:`G_K = \frac1K\sum_{k<K}\sum_i\|\nabla_i f(X^k)\|_{(i)*}` with exact gradients (or the
star-convex gap), fits the slope of :math:`\log G_K` against :math:`\log K` on the grid's tail
with a seed bootstrap, and compares it with the claimed exponent.  Beside each method it runs its
controls (:mod:`gluon_mvr.methods.controls`: the same geometry and schedule without the
mechanism).  What it guarantees, PEPit-style: each row reports the measured exponent with its
interval next to the claimed one; ``match`` requires the local slopes of successive windows of the
grid to agree (``stable``); and the match is attributed to the mechanism (``mechanism visible``)
only when the method beats every control at the largest horizon with non-overlapping intervals on
:math:`G_K` AND a steeper slope: the paired bootstrap interval of the slope difference lies below
minus half the verdict tolerance (0.02 by default), a rate difference the check resolves, not a
constant factor that drifts the fit by a few thousandths.
Otherwise the verdict reads ``match (schedule only)``.

It also reports the noise share at the largest horizon,
:math:`1 - G_K^{\text{noise off}}/G_K^{\text{noise on}}` (same seeds; without noise a run is
deterministic, so one seed stands for all), and the largest measured/bound ratio where
:mod:`gluon_mvr.theory` states a bound for the composition.

The Python entry point is :func:`rate_check`; the command line (``gluon-mvr rate-check``) is a thin
layer over it.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

import numpy

from gluon_mvr.experiments.core.cells import cached_problem, cell_key, cell_method, make_cell
from gluon_mvr.experiments.core.config import RateCheckConfig, merge, validate
from gluon_mvr.experiments.core.executors import execute
from gluon_mvr.experiments.core.fitting import (fit_rate, local_slopes, mean_interval, slope_difference,
                                                stability, verdict)
from gluon_mvr.experiments.core.store import ResultStore
from gluon_mvr.methods.controls import controls_for
from gluon_mvr.methods.estimators import MomentumEstimator, MVR1Estimator, MVR2Estimator, MVR3Estimator
from gluon_mvr.methods.geometry import Exact
from gluon_mvr.methods.presets import get_method

# The star-convex bound of theory.bounds_star for each non-convex bound (docs/theory.md §5).
STAR_BOUND_NAME = {"gluon": "star-momentum", "mvr1": "star-mvr", "mvr2": "star-mvr2", "mvr3": "star-mvr3"}
SCALE_REFERENCE_K = 1000
# The star-convex gap is also fitted with ONE log power for every method (MVR's (ln K)^{1/2}), so
# that slopes compare without the different log powers the bounds carry (about 0.02 of slope).
COMMON_LOG_POWER = 0.5
# every verdict the check prints; only 'slower' is a failed verification (exit code 1)
VERDICTS = ("match", "match (schedule only)", "match (drifting)", "match (one window)", "match (no controls)",
            "faster", "slower")


def theory_exponent(method, criterion: str = "stationarity"):
    """Claimed exponent of the method's estimator ([C], :mod:`gluon_mvr.theory.claims`); ``None``
    if it claims none."""
    return get_method(method).theory_exponent(criterion)


def _log_factor(method, criterion):
    """``K -> (ln K)^p`` for the star-convex gap (the bound's log power), else ``None``."""
    c = get_method(method).claim
    if c is None or criterion != "gap":
        return None
    p = c.log_power(criterion)
    return lambda K: math.log(K) ** p


def theory_rate(method, criterion: str, K: int) -> float:
    r"""The method's claimed rate :math:`K^{\theta}(\ln K)^{p}` (log power as the bound states)."""
    c = get_method(method).claim
    if c is None:
        raise ValueError(f"method {get_method(method).name!r} has no claimed rate")
    return c.rate(K, criterion)


def bound_name(method) -> str | None:
    """The non-convex bound of :mod:`gluon_mvr.theory` that applies to the composition, or ``None``.

    A bound is derived for one estimator in the problem's own norms with the exact LMO; it holds
    for any constant schedule that meets its conditions (checked when it is evaluated), so a
    control (momentum on MVR's schedule) is held to the Gluon bound at its own schedule."""
    m = get_method(method)
    if not m.geometry.uses_problem_norms or not isinstance(m.geometry.lmo, Exact):
        return None
    est = m.estimator
    if type(est) is MomentumEstimator:
        return "gluon"
    if type(est) is MVR1Estimator:
        return "mvr1"
    if type(est) is MVR2Estimator:
        return "mvr2"
    if type(est) is MVR3Estimator and est.correction == "gradient":
        return "mvr3"
    return None


def cell_params(cfg: RateCheckConfig, method, K: int, value=None) -> dict:
    """Problem params of one cell.

    With ``scale_param`` (a lower-bound-style construction) that param is multiplied by the
    method's claimed rate at ``K``, normalised by momentum's (Gluon's) rate at ``K = 1000``:
    each method meets the instance that follows its own error level as ``K`` grows, with one
    constant for all methods (the given value is momentum's at ``K = 1000``).  A control scales
    with the method it controls (the same instances)."""
    if value is not None:                       # one instance of the worst-case search
        return {**cfg.params, cfg.worst_param: float(value)}
    if not cfg.scale_param:
        return cfg.params
    factor = theory_rate(method, cfg.criterion, K) / theory_rate("gluon", cfg.criterion, SCALE_REFERENCE_K)
    return {**cfg.params, cfg.scale_param: float(cfg.params[cfg.scale_param]) * factor}


def _instances(cfg: RateCheckConfig):
    """Values of ``worst_param`` searched per (method, K), or ``[None]`` (one instance)."""
    return list(cfg.worst_grid) if cfg.worst_param else [None]


def _scales(cfg: RateCheckConfig, entry) -> dict:
    """The check's schedule constants apply to presets named by the user (and their controls); a
    composition passed as a :class:`Method` keeps its own schedule constants."""
    if not isinstance(entry, str):
        return {}
    return dict(radius_scale=cfg.radius_scale, momentum_scale=cfg.momentum_scale, beta=cfg.beta)


def _entry_of(cfg: RateCheckConfig, name: str):
    """The user's entry (a preset name or a Method) of the checked method called ``name``."""
    return next(m for m in cfg.methods if (m if isinstance(m, str) else m.name) == name)


def _compositions(cfg: RateCheckConfig):
    """``[(row name, Method, checked Method or None)]``: every method, then its controls."""
    methods = [get_method(m) for m in cfg.methods]
    rows = [(m.name, m, None) for m in methods]
    if cfg.controls != "off":
        for m in methods:
            for c in controls_for(m):
                rows.append((c.name, c.method, m))
    return rows


def method_names(cfg: RateCheckConfig) -> list:
    """Names of the checked methods (presets or compositions), in order."""
    return [get_method(m).name for m in cfg.methods]


def rate_check_cells(cfg: RateCheckConfig):
    r"""Every cell the rate check ``cfg`` runs, each with its store key.

    The cells are the runs of :func:`gluon_mvr.experiments.core.cells.make_cell` (the store's keys
    are :func:`~gluon_mvr.experiments.core.cells.cell_key` of these configurations), so any caller
    that needs the stored results of a check (the figures, for instance) finds exactly the rows
    :func:`rate_check` writes.

    Returns
    -------
    grid : dict
        ``(row, K, instance) -> (key, cell)`` for every method and control row (a control's row
        is named ``'<method>~<kind>'``), horizon ``K`` of ``cfg.horizons`` and instance: the
        values of ``cfg.worst_param`` searched (``cfg.worst_grid``), or the single instance
        ``None``.  Every cell runs all ``cfg.seeds`` seeds with the problem parameters of
        :func:`cell_params` (a control with those of its method) and the horizon-K schedule
        (its star-convex Frank–Wolfe form for ``criterion = 'gap'``).
    noise_off : dict
        ``(method, instance) -> (key, cell)``: each checked method's cell at the largest horizon
        with the noise switched off and the first seed only, from which the noise share is
        computed; empty unless ``cfg.noise_share``.
    """
    seeds = list(range(cfg.seeds))
    base = dict(record_every=cfg.record_every, root_seed=cfg.root_seed, dtype=cfg.dtype,
                device=cfg.device, lmo=None if cfg.lmo == "exact" else cfg.lmo, ns_steps=cfg.ns_steps,
                form="star" if cfg.criterion == "gap" else "horizon")
    grid, off, seen = {}, {}, {}
    for row, method, of in _compositions(cfg):
        scaled_as = of or method
        common = {**base, **_scales(cfg, _entry_of(cfg, scaled_as.name))}
        for v in _instances(cfg):
            for K in cfg.horizons:
                params = cell_params(cfg, scaled_as, K, v)
                c = make_cell(cfg.problem, params, method, K, seeds, **common)
                # a control that computes exactly what an earlier row computes (same geometry,
                # an equivalent estimator, the same concrete schedule) reuses that row's stored
                # cell (its key); the row keeps its own configuration for reports and exports
                same = _computation(cfg, params, c) if of is not None else None
                if same is not None and same in seen:
                    grid[row, K, v] = (seen[same][0], c)
                    continue
                grid[row, K, v] = (cell_key(c), c)
                if same is not None or of is None:
                    seen.setdefault(same or _computation(cfg, params, c), grid[row, K, v])
            if cfg.noise_share and of is None:
                K = cfg.horizons[-1]
                c = make_cell(cfg.problem, cell_params(cfg, method, K, v), method, K, seeds[:1], noise=False, **common)
                off[row, v] = (cell_key(c), c)
    return grid, off


def _computation(cfg, params, cell) -> str:
    """What a cell computes, up to names: problem, geometry, the estimator's bit-for-bit
    equivalent, the concrete schedule at the cell's K, seeds and numerics."""
    from gluon_mvr.methods.method import Method
    m = Method.from_description(cell["composition"])
    problem = cached_problem(cfg.problem, params)
    est = m.estimator.equivalent()
    sched = m.build_schedule(cell["K"], problem).describe()
    sched.pop("label", None)
    # parameters the estimator does not read do not change what is computed
    if "beta" not in est.parameters:
        sched.pop("one_minus_beta"), sched.pop("beta_decay")
    if "q" not in est.parameters:
        sched.pop("q"), sched.pop("q_decay")
    what = {k: v for k, v in cell.items() if k not in ("method", "composition")}
    what.update(geometry=m.geometry.describe(), estimator=est.describe(), schedule=sched)
    return json.dumps(what, sort_keys=True)


def _row_method(cfg: RateCheckConfig, row: str):
    for name, method, _ in _compositions(cfg):
        if name == row:
            return method
    return get_method(row)


def bound_for_cell(cfg: RateCheckConfig, method, K: int, instance=None):
    r"""The bound :mod:`gluon_mvr.theory` states for one cell of the rate check, or ``None``.

    ``method`` is a row of :func:`rate_check_cells` (a method or a control's row name) or a
    :class:`Method`; the problem is built with the cell's parameters (:func:`cell_params`), so the
    bound is taken at that problem's declared constants, :math:`\Delta_0` and layer shapes, and at
    the schedule the cell runs:

    - ``criterion = 'stationarity'``: :func:`gluon_mvr.theory.evaluate_bound` of the
      composition's bound (:func:`bound_name`) at its horizon-K schedule, a bound on
      :math:`G_K = \frac1K\sum_{k<K}\sum_i\|\nabla_i f(X^k)\|_{(i)*}`;
    - ``criterion = 'gap'``: the star-convex bound on :math:`E f(X^K) - f^*` at the Frank–Wolfe
      schedule with the problem's ball radii :math:`D_i`, step :math:`a = t_1/D_1`, its
      :math:`1-\beta` and :math:`q`.

    Returns ``None`` where theory/ states no bound for this composition or problem, where its
    conditions fail, or where its value is not a finite positive number.
    """
    row = method if isinstance(method, str) else getattr(method, "name", None)
    m = _row_method(cfg, row) if isinstance(method, str) else method
    of = next((o for r, _, o in _compositions(cfg) if r == row), None)
    checked = (of or m).name
    scales = _scales(cfg, _entry_of(cfg, checked)) if checked in method_names(cfg) else {}
    run_method = cell_method(m, **scales, lmo=None if cfg.lmo == "exact" else cfg.lmo, ns_steps=cfg.ns_steps,
                             form="star" if cfg.criterion == "gap" else "horizon")
    name = bound_name(run_method)
    if name is None:
        return None
    try:
        problem = cached_problem(cfg.problem, cell_params(cfg, of or m, K, instance))
        sched = run_method.build_schedule(K, problem)
        if cfg.criterion == "gap":
            from gluon_mvr.theory.numeric import star_bound_details
            b = star_bound_details(STAR_BOUND_NAME[name], K, problem.constants, problem.delta0(),
                                   problem.ball_radii(), a=sched.radius[0] / sched.ball[0],
                                   one_minus_beta=sched.one_minus_beta, q=sched.q,
                                   shapes=problem.layout.shapes).value
        else:
            from gluon_mvr.theory import evaluate_bound
            b = evaluate_bound(name, K, sched, problem.constants, problem.delta0(), shapes=problem.layout.shapes)
    except (ImportError, ValueError):   # no bound for this method or problem
        return None
    if b is None or not math.isfinite(b) or b <= 0:
        return None
    return b


def cell_hypotheses(cfg: RateCheckConfig, row, K: int, instance, result) -> str:
    """``'inside'`` when the run of one cell stayed where the problem's constants are declared
    (the bounds' hypotheses), else ``'outside: <reason>'``.

    Two hypotheses are checked: every iterate in the problem's certified balls
    (:meth:`Problem.hypotheses_region`, from the run's ``region_usage``) and every step no longer
    than the family's pair radius (A1 stated for close pairs only: ``pair_radius``)."""
    of = next((o for r, _, o in _compositions(cfg) if r == row), None)
    problem = cached_problem(cfg.problem, cell_params(cfg, of or _row_method(cfg, row), K, instance))
    reasons = []
    usage = result.get("region_usage")
    if usage is not None and max(usage) > 1.0 + 1e-9:
        reasons.append(f"iterates left the certified ball (max ||X_i - C_i||_F / R_i = {max(usage):.3g})")
    steps, pair = result.get("max_step"), getattr(problem, "pair_radius", None)
    if steps is not None and pair is not None:
        over = [i for i, (t, r) in enumerate(zip(steps, pair)) if t > r * (1 + 1e-9)]
        if over:
            i = over[0]
            reasons.append(f"step {steps[i]:.3g} > pair radius {pair[i]:.3g} (layer {i})")
    return "inside" if not reasons else "outside: " + "; ".join(reasons)


def _bound_ratios(cfg, row, G_mean, values, results):
    """Per horizon, the bound's status: ``holds`` / ``violated`` (beyond the rounding of the
    measurement, :func:`gluon_mvr.theory.tolerance.compare`: a relative tolerance scaled to the
    dtype and the number of summed terms) / ``outside hypotheses`` (the run left the region where
    the constants are declared: the bound is not evaluated against it) / ``None`` (no bound).
    Returns (largest ratio over inside horizons, violations, smallest margin, per-horizon list)."""
    from gluon_mvr.theory.tolerance import compare, measurement_terms
    ratios, bad, margins, per_K = [], [], [], []
    n_layers = len(cached_problem(cfg.problem, cfg.params).layout.shapes)
    for K, g, v, res in zip(cfg.horizons, G_mean, values, results):
        b = bound_for_cell(cfg, row, K, v)
        if b is None:
            per_K.append({"K": K, "status": None})
            continue
        hyp = cell_hypotheses(cfg, row, K, v, res)
        if hyp != "inside":
            per_K.append({"K": K, "status": "outside hypotheses", "reason": hyp[len("outside: "):],
                          "ratio": g / b})
            continue
        ratios.append(g / b)
        cmp = compare(g, b, dtype=cfg.dtype, n_terms=measurement_terms(K, cfg.seeds, n_layers))
        margins.append(cmp.margin)
        per_K.append({"K": K, "status": cmp.status, "ratio": g / b, "margin": cmp.margin})
        if not cmp.holds:
            bad.append({"K": K, "measured": g, "bound": b, "margin": cmp.margin, "rtol": cmp.rtol})
    return (max(ratios) if ratios else None), bad, (min(margins) if margins else None), per_K


def _bound_status(per_K):
    statuses = {p["status"] for p in per_K} - {None}
    for s in ("violated", "outside hypotheses", "holds"):
        if s in statuses:
            return s
    return None


@dataclass
class ControlReport:
    """One control of a method: its slope and :math:`G_K` at the largest horizon, and how the
    method compares with it (paired slope difference method - control with its interval)."""

    name: str
    kind: str
    of: str
    fit: object
    G: list
    G_last_ci: tuple
    windows: list
    stability: str
    slope_difference: float
    slope_difference_ci: tuple
    beaten: bool
    wall_time: float
    oracle_calls: list

    def as_dict(self):
        return {"name": self.name, "kind": self.kind, "of": self.of, "slope": self.fit.slope,
                "ci": list(self.fit.ci), "G": self.G, "G_last_ci": list(self.G_last_ci),
                "windows": self.windows, "stability": self.stability, "slope_difference": self.slope_difference,
                "slope_difference_ci": list(self.slope_difference_ci), "beaten": self.beaten,
                "wall_time": self.wall_time, "oracle_calls": self.oracle_calls}


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
    oracle_calls: list      # per horizon
    noise_share: float | None
    bound_ratio: float | None
    bound_violations: list
    diverged: int
    wall_time: float
    worst_instance: list | None = None   # worst_param value chosen per horizon
    windows: list = field(default_factory=list)      # local slopes of successive windows
    stability: str = "stable"
    rate_verdict: str | None = None                  # match / faster / slower before attribution
    mechanism: str = "not checked"                   # visible / not visible / not checked
    matched_by: list = field(default_factory=list)   # controls the method did not beat
    controls: list = field(default_factory=list)     # ControlReport
    bound_margin: float | None = None                # smallest 1 - measured/bound over horizons
    bound_by_horizon: list = field(default_factory=list)   # per K: status, ratio, margin or reason
    common_log_fit: dict | None = None   # gap: the fit with one log power for every method (COMMON_LOG_POWER)

    def as_dict(self):
        d = {"method": self.method, "slope": self.fit.slope, "ci": list(self.fit.ci),
             "theory": self.theory, "verdict": self.verdict, "rate_verdict": self.rate_verdict,
             "windows": self.windows, "stability": self.stability, "mechanism": self.mechanism,
             "matched_by": self.matched_by, "controls": [c.as_dict() for c in self.controls],
             "horizons": self.horizons, "G": self.G, "G_min": self.G_min, "G_last_ci": list(self.G_last_ci),
             "oracle_calls": self.oracle_calls, "noise_share": self.noise_share,
             "bound_ratio": self.bound_ratio, "bound_margin": self.bound_margin,
             "bound_status": _bound_status(self.bound_by_horizon), "bound_by_horizon": self.bound_by_horizon,
             "bound_violations": self.bound_violations,
             "diverged": self.diverged, "wall_time": self.wall_time, "worst_instance": self.worst_instance}
        d.update({k: v for k, v in self.fit.as_dict().items() if k not in ("slope", "ci")})
        return d


def _final_verdict(rate_verdict, stab, mechanism):
    """The printed verdict: ``match`` needs stable windows and a visible mechanism."""
    if rate_verdict != "match":
        return rate_verdict
    if stab == "not checked":
        return "match (one window)"
    if stab != "stable":
        return "match (drifting)"
    if mechanism == "visible":
        return "match"
    if mechanism == "not visible":
        return "match (schedule only)"
    return "match (no controls)"


def _mechanism(controls):
    """``visible`` when every control is beaten, else ``not visible``; ``not checked`` without
    controls."""
    if not controls:
        return "not checked", []
    lost = [c.name for c in controls if not c.beaten]
    return ("visible" if not lost else "not visible"), lost


class RateCheckResult:
    """What :func:`rate_check` returns (in the manner of scipy's ``OptimizeResult``).

    Attributes
    ----------
    config : RateCheckConfig
    reports : list of MethodReport
        One per checked method, each with its controls (:class:`ControlReport`).
    store_path : str
    computed, reused : int
        Cells computed by this call and found in the store.
    cells : list of dict
        Every cell's row (method or control), K, instance, configuration and stored result.

    Methods
    -------
    table()     the command line's table;      to_frame()  tidy DataFrame, one row per cell and seed;
    plot(ax)    G_K against K with intervals;  to_json()   the machine-readable report (a dict).
    """

    def __init__(self, config, reports, store_path, cells, computed, reused):
        self.config, self.reports, self.store_path = config, reports, store_path
        self.cells, self.computed, self.reused = cells, computed, reused

    @property
    def failed(self) -> bool:
        """A failed verification: a ``slower`` verdict or a violated bound (exit code 1)."""
        return any(r.verdict == "slower" or r.bound_violations for r in self.reports)

    def __getitem__(self, method) -> MethodReport:
        for r in self.reports:
            if r.method == method:
                return r
        raise KeyError(method)

    def table(self) -> str:
        return format_table(self.reports, self.config.problem, self.config.criterion)

    def as_dict(self) -> dict:
        return {"problem": self.config.problem, "params": self.config.params, "config": self.config.as_dict(),
                "results": [r.as_dict() for r in self.reports], "computed": self.computed, "reused": self.reused}

    def to_json(self) -> dict:
        """JSON-able report (the command line's ``--json`` document, without provenance)."""
        return json.loads(json.dumps(self.as_dict(), default=float))

    def to_frame(self):
        """Tidy pandas DataFrame: one row per (cell, seed), with the cell's whole configuration."""
        import pandas
        rows = []
        for c in self.cells:
            cfg, res = c["config"], c["result"]
            comp = cfg["composition"]
            base = {"row": c["row"], "role": c.get("role") or ("control" if c["of"] else "method"),
                    "control_of": c["of"],
                    "problem": cfg["problem"], "params": json.dumps(cfg["params"], sort_keys=True),
                    "K": cfg["K"], "instance": c["instance"], "noise": cfg["noise"], "dtype": cfg["dtype"],
                    "device": cfg["device"], "estimator": json.dumps(comp["estimator"], sort_keys=True),
                    "geometry": json.dumps(comp["geometry"], sort_keys=True),
                    "schedule": json.dumps(comp["schedule"], sort_keys=True), "key": c["key"],
                    "oracle_calls": res["oracle_calls"], "wall_time": res["wall_time"]}
            for j, seed in enumerate(res["seeds"]):
                rows.append({**base, "seed": seed, "G": res["G"][j], "G_min": res["G_min"][j],
                             "gap": res["gap"][j], "final_value": res["final_value"][j],
                             "diverged_at": res["diverged_at"][j]})
        return pandas.DataFrame(rows)

    def plot(self, ax=None):
        """Seed-mean :math:`G_K` (or the gap) against ``K`` on log-log axes with the bootstrap
        interval at every horizon, methods solid, controls dashed; returns the Axes."""
        import matplotlib.pyplot as plt
        if ax is None:
            _, ax = plt.subplots(figsize=(6, 4))
        field_ = "gap" if self.config.criterion == "gap" else "G"
        by_row = {}
        for c in self.cells:
            if c["config"]["noise"]:
                by_row.setdefault((c["row"], c["of"]), {})[c["config"]["K"], c["instance"]] = c["result"][field_]
        for r in self.reports:
            lines = [(r.method, None, r.worst_instance)] + [(c.name, r.method, r.worst_instance) for c in r.controls]
            for name, of, worst in lines:
                vals = by_row.get((name, of), {})
                Ks = self.config.horizons
                inst = worst or [None] * len(Ks)
                series = [vals.get((K, v)) for K, v in zip(Ks, inst)]
                if any(s is None for s in series):
                    continue
                mean = [numpy.nanmean(s) for s in series]
                ci = numpy.array([mean_interval(s, 1000, seed=0) for s in series])
                style = dict(lw=1.8) if of is None else dict(lw=1.0, ls="--")
                line, = ax.plot(Ks, mean, marker="o" if of is None else None, ms=3, label=name, **style)
                ax.fill_between(Ks, ci[:, 0], ci[:, 1], color=line.get_color(), alpha=0.2, lw=0)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("horizon K")
        ax.set_ylabel("gap f(X^K) - f*" if field_ == "gap" else "G_K")
        ax.set_title(f"rate check: {self.config.problem}")
        ax.legend(fontsize=7, ncol=2)
        return ax


def _worst_key(values) -> float:
    """Seed-mean measurement for the worst-case search; an instance where every seed diverged
    counts as the worst (``+inf``), never as missing."""
    m = numpy.nanmean(values) if numpy.isfinite(values).any() else numpy.inf
    return float(m)


def run_rate_check(cfg: RateCheckConfig, progress=None) -> RateCheckResult:
    """Run (or reuse) every cell of the check ``cfg`` and return its :class:`RateCheckResult`."""
    store = ResultStore(cfg.store)
    grid, off = rate_check_cells(cfg)
    todo = list({k: (k, c) for k, c in reversed(list(grid.values()) + list(off.values()))}.values())[::-1]
    computed = execute(todo, store, cfg.executor, cfg.scheduler, progress=progress)
    results = store.get_many(k for k, _ in todo)
    field_ = "gap" if cfg.criterion == "gap" else "G"
    comps = _compositions(cfg)
    kinds = {c.name: c.kind for m in cfg.methods for c in (controls_for(m) if cfg.controls != "off" else [])}
    of_name = {row: (None if of is None else of.name) for row, _, of in comps}
    fits, worst_of = {}, {}
    for row, method, of in comps:
        # per horizon, the instance with the largest seed-mean measurement (the worst case over
        # the searched family; the only instance when no search is configured); a control is
        # taken on its method's worst instances
        if of is None:
            worst_of[row] = [max(_instances(cfg), key=lambda v: _worst_key(results[grid[row, K, v][0]][field_]))
                             for K in cfg.horizons]
    cells_out = []
    for row, method, of in comps:
        worst = worst_of[of_name[row] or row]
        res = [results[grid[row, K, v][0]] for K, v in zip(cfg.horizons, worst)]
        G = numpy.array([r[field_] for r in res]).T                    # (S, nK)
        lf = _log_factor(of or method, cfg.criterion)
        fits[row] = (res, G, fit_rate(cfg.horizons, G, tail=cfg.tail, n_boot=cfg.bootstrap, seed=cfg.root_seed,
                                      log_factor=lf), lf)
        for K in cfg.horizons:
            for v in _instances(cfg):
                key, c = grid[row, K, v]
                cells_out.append({"row": row, "of": of_name[row], "instance": v, "key": key, "config": c, "result": results[key]})
    for (row, v), (key, c) in off.items():
        cells_out.append({"row": row, "of": None, "instance": v, "key": key, "config": c, "result": results[key],
                          "role": "noise-off"})

    tuned = _tuned_gluon(cfg, store, progress) if cfg.controls == "tuned" and cfg.criterion == "stationarity" else None
    reports = []
    for m in method_names(cfg):
        res, G, fit, lf = fits[m]
        worst = worst_of[m]
        Gm = [float(numpy.nanmean(r[field_])) for r in res]
        last_ci = mean_interval(res[-1][field_], cfg.bootstrap, seed=cfg.root_seed)
        controls = []
        for row, method, of in comps:
            if of_name[row] != m:
                continue
            cres, cG, cfit, _ = fits[row]
            c_ci = mean_interval(cres[-1][field_], cfg.bootstrap, seed=cfg.root_seed)
            d, d_ci = slope_difference(cfg.horizons, G, cG, tail=cfg.tail, n_boot=cfg.bootstrap,
                                       seed=cfg.root_seed, log_factor=lf)
            beaten = bool(last_ci[1] < c_ci[0] and d_ci[1] < -cfg.tolerance / 2)
            controls.append(ControlReport(
                name=row, kind=kinds.get(row, "control"), of=m, fit=cfit,
                G=[float(numpy.nanmean(r[field_])) for r in cres], G_last_ci=c_ci,
                windows=local_slopes(cfg.horizons, cG, cfg.tail, lf),
                stability=stability(local_slopes(cfg.horizons, cG, cfg.tail, lf), cfg.tolerance), slope_difference=d,
                slope_difference_ci=d_ci, beaten=beaten, wall_time=float(sum(r["wall_time"] for r in cres)),
                oracle_calls=[r["oracle_calls"] for r in cres]))
        if tuned is not None and m != "gluon":
            tG = numpy.array(tuned["G_seeds"]).T
            t_ci = mean_interval(tuned["G_seeds"][-1], cfg.bootstrap, seed=cfg.root_seed)
            d, d_ci = slope_difference(cfg.horizons, G, tG, tail=cfg.tail, n_boot=cfg.bootstrap,
                                       seed=cfg.root_seed, log_factor=lf)
            tfit = fit_rate(cfg.horizons, tG, tail=cfg.tail, n_boot=cfg.bootstrap, seed=cfg.root_seed)
            controls.append(ControlReport(
                name="gluon~tuned", kind="tuned", of=m, fit=tfit, G=list(tuned["G"]), G_last_ci=t_ci,
                windows=local_slopes(cfg.horizons, tG, cfg.tail),
                stability=stability(local_slopes(cfg.horizons, tG, cfg.tail), cfg.tolerance),
                slope_difference=d, slope_difference_ci=d_ci,
                beaten=bool(last_ci[1] < t_ci[0] and d_ci[1] < -cfg.tolerance / 2), wall_time=0.0,
                oracle_calls=[1 + (K - 1) for K in cfg.horizons]))
        th = next(meth for r_, meth, _ in comps if r_ == m).theory_exponent(cfg.criterion)
        windows = local_slopes(cfg.horizons, G, cfg.tail, lf)
        stab = stability(windows, cfg.tolerance)
        mech, lost = _mechanism(controls)
        rv = None if th is None else verdict(fit, th, cfg.tolerance)
        share = None
        if (m, worst[-1]) in off:
            g_off = results[off[m, worst[-1]][0]][field_][0]
            share = float(1.0 - g_off / Gm[-1]) if Gm[-1] > 0 else None
        ratio, bad, margin, per_K = _bound_ratios(cfg, m, Gm, worst, res)
        div = sum(1 for r in res for d_ in r["diverged_at"] if d_ >= 0)
        reports.append(MethodReport(
            method=m, horizons=list(cfg.horizons), G=Gm,
            G_min=[float(numpy.nanmean(r["G_min"])) for r in res], G_seeds=[r[field_] for r in res],
            G_last_ci=last_ci, fit=fit, theory=th,
            verdict=None if rv is None else _final_verdict(rv, stab, mech),
            oracle_calls=[r["oracle_calls"] for r in res], noise_share=share, bound_ratio=ratio,
            bound_violations=bad, diverged=div, wall_time=float(sum(r["wall_time"] for r in res)),
            worst_instance=worst if cfg.worst_param else None, windows=windows, stability=stab,
            common_log_fit=None if cfg.criterion != "gap" else (lambda f: {"log_power": COMMON_LOG_POWER,
                                                                              "slope": f.slope, "ci": list(f.ci)})(
                fit_rate(cfg.horizons, G, tail=cfg.tail, n_boot=cfg.bootstrap, seed=cfg.root_seed,
                         log_factor=lambda K: math.log(K) ** COMMON_LOG_POWER)),
            rate_verdict=rv, mechanism=mech, matched_by=lost, controls=controls, bound_margin=margin,
            bound_by_horizon=per_K))
    return RateCheckResult(cfg, reports, store.path, cells_out, computed, len(todo) - computed)


def _tuned_gluon(cfg: RateCheckConfig, store, progress):
    """Gluon tuned per K (radius and 1 - beta searched; :func:`gluon_mvr.experiments.studies.tuning.tune`):
    the honest competitor to MVR's exponent (docs/theory.md §8), run on the same store."""
    from dataclasses import replace as dc_replace
    from gluon_mvr.experiments.studies.tuning import tune
    (out,) = tune(dc_replace(cfg, methods=("gluon",), tuned=True), store, progress=progress)
    return out


def rate_check(problem=None, methods=None, *, horizons=None, seeds=None, params=None,
               store=":memory:", progress=None, **options) -> RateCheckResult:
    """Run a rate check from Python (the same check as ``gluon-mvr rate-check``).

    Parameters
    ----------
    problem : str or RateCheckConfig, optional
        A problem family (``gluon-mvr problems`` lists them; default: the command line's default
        problem with its parameters), or a whole validated configuration.
    methods : sequence of str, optional
        Preset names (default ``gluon, mvr1, mvr2, mvr3``).
    horizons : sequence of int, optional
    seeds : int, optional
        Seeds per cell.
    params : dict, optional
        Problem parameters (the default problem's own defaults when ``problem`` is the default).
    store : str
        SQLite store path; ``':memory:'`` (default here) keeps nothing after the call.
    progress : callable, optional
        Called once per finished cell.
    **options
        Any other field of :class:`~gluon_mvr.experiments.core.config.RateCheckConfig`
        (``controls``, ``executor``, ``criterion``, ``radius_scale``, ``lmo``, ``tail``, ...).

    Returns
    -------
    RateCheckResult

    Examples
    --------
    >>> import gluon_mvr as gm
    >>> res = gm.rate_check("quadratic", ["gluon", "mvr1"], horizons=[100, 316, 1000], seeds=4)  # doctest: +SKIP
    >>> print(res.table())                                                                     # doctest: +SKIP
    """
    if options.get("tuned"):
        raise ValueError("rate_check: tuned=True is the tuned study; call gluon_mvr.tuned_rates(...) "
                         "(or controls='tuned' for tuned Gluon as a control)")
    if isinstance(problem, RateCheckConfig):
        if methods is not None or horizons is not None or seeds is not None or params is not None or options:
            raise ValueError("rate_check: give a RateCheckConfig alone, or a problem name with options")
        return run_rate_check(problem, progress=progress)
    from gluon_mvr.experiments.core.config import DEFAULT_PROBLEM
    raw = {"problem": DEFAULT_PROBLEM if problem is None else problem, "store": store, **options}
    for name, value in (("methods", methods), ("horizons", horizons), ("seeds", seeds), ("params", params)):
        if value is not None:
            raw[name] = list(value) if name in ("methods", "horizons") else value
    return run_rate_check(validate(merge(raw)), progress=progress)


# -------------------------------------------------------------------------------------------
# the table
# -------------------------------------------------------------------------------------------

def _f(v, fmt):
    return "-" if v is None or (isinstance(v, float) and not math.isfinite(v)) else format(v, fmt)


def format_table(reports, problem: str, criterion: str = "stationarity") -> str:
    """Two blocks that fit 120 columns: the rates (slope, interval, theory, window stability,
    verdict, mechanism) and the measurements at the largest horizon; controls indented under
    their method."""
    what = ("G_K = mean_k sum_i ||grad_i f(X^k)||_*" if criterion == "stationarity" else
            "gap f(X^K) - f*, log factor of the bound divided out")
    w = max([len(r.method) for r in reports] + [len(c.name) + 2 for r in reports for c in r.controls] + [6])
    head = (f"{'method':<{w}} {'slope':>7} {'95% CI':>17} {'theory':>7} {'windows':>9} {'verdict':<21} "
            f"{'mechanism':<12}")
    lines = [f"rate check on problem '{problem}': {what}", head, "-" * len(head)]
    for r in reports:
        lines.append(f"{r.method:<{w}} {r.fit.slope:>7.3f} [{r.fit.ci[0]:>7.3f},{r.fit.ci[1]:>7.3f}] "
                     f"{_f(r.theory, '.3f'):>7} {r.stability:>9} {r.verdict or '-':<21} {r.mechanism:<12}")
        for c in r.controls:
            mark = "control beaten" if c.beaten else "control MATCHES"
            lines.append(f"  {c.name:<{w - 2}} {c.fit.slope:>7.3f} [{c.fit.ci[0]:>7.3f},{c.fit.ci[1]:>7.3f}] "
                         f"{'':>7} {c.stability:>9} {mark:<21} "
                         f"d={c.slope_difference:+.3f} [{c.slope_difference_ci[0]:+.3f},{c.slope_difference_ci[1]:+.3f}]")
    head2 = (f"{'method':<{w}} {'at Kmax [95% CI]':>30} {'noise':>6} {'meas/bound':>10} {'calls@Kmax':>10} "
             f"{'div':>4} {'time':>7}")
    lines += ["", head2, "-" * len(head2)]
    for r in reports:
        lines.append(f"{r.method:<{w}} {r.G[-1]:>9.4g} [{r.G_last_ci[0]:>9.4g}, {r.G_last_ci[1]:>9.4g}] "
                     f"{_f(r.noise_share, '.2f'):>6} {_f(r.bound_ratio, '.3f'):>10} {r.oracle_calls[-1]:>10d} "
                     f"{r.diverged:>4d} {r.wall_time:>6.1f}s")
        for c in r.controls:
            lines.append(f"  {c.name:<{w - 2}} {c.G[-1]:>9.4g} [{c.G_last_ci[0]:>9.4g}, {c.G_last_ci[1]:>9.4g}] "
                         f"{'':>6} {'':>10} {c.oracle_calls[-1]:>10d} {'':>4} {c.wall_time:>6.1f}s")
    lines.append("")
    import textwrap
    lines += textwrap.wrap("windows: local slopes of successive windows of the grid: "
                           + "; ".join(f"{r.method} " + ", ".join(f"{s:.3f}" for s in r.windows) for r in reports),
                           width=120, subsequent_indent="  ")
    if any(r.common_log_fit for r in reports):
        lines.append(f"slopes with one log factor (ln K)^{COMMON_LOG_POWER:g} for every method: "
                     + "; ".join(f"{r.method} {r.common_log_fit['slope']:.3f} [{r.common_log_fit['ci'][0]:.3f}, "
                                 f"{r.common_log_fit['ci'][1]:.3f}]" for r in reports if r.common_log_fit))
    for r in reports:
        if r.worst_instance is not None:
            lines.append(f"  {r.method}: worst-case instance per K: "
                         + ", ".join(f"K={K}: {v:.4g}" for K, v in zip(r.horizons, r.worst_instance)))
    for r in reports:
        outside = [p for p in r.bound_by_horizon if p["status"] == "outside hypotheses"]
        if outside:
            lines.append(f"!! OUTSIDE HYPOTHESES: {r.method} at K=" + ", ".join(str(p["K"]) for p in outside)
                         + f": {outside[0]['reason']} (bound not checked there)")
    for r in reports:
        for v in r.bound_violations:
            lines.append(f"!! BOUND VIOLATED: {r.method} at K={v['K']}: measured {v['measured']:.6g} "
                         f"> bound {v['bound']:.6g} (margin {v['margin']:.3g}, beyond rounding rtol {v['rtol']:.2g})")
    return "\n".join(lines)
