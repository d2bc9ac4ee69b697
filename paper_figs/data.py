"""Where every figure's numbers come from: the result store, filled on demand.

Rate cells go through :func:`experiments.rate_check.rate_check` and :func:`experiments.tuning.tune`
with configurations built by :func:`experiments.config.validate`, so they are the very cells
``gluon-mvr rate-check`` stores and reuses (same keys).  The few computations that are not
rate cells (the inexact-LMO measurements, the coupling grid, the constants' measured points)
are stored as rows of kind ``figure-data``, keyed by the hash of their configuration, so a
second ``figs`` run reads everything from the store and recomputes nothing.

:data:`FULL` is the configuration of the figures in ``paper_figs/README.md`` (the default
``figs`` run, a few minutes on 2 cores from an empty store); :data:`QUICK` is a toy version
(``--quick``, well under a minute) used by the tests.
"""
from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field

import numpy

from gluon_mvr.experiments.core.cells import cell_key, environment, package_version
from gluon_mvr.experiments.core.config import validate
from gluon_mvr.experiments.core.store import ResultStore
from gluon_mvr.methods.backend import to_python

FIGURE_KIND = "figure-data"


@dataclass(frozen=True)
class Settings:
    """Every knob of the figures (see :data:`FULL` and :data:`QUICK`)."""

    name: str
    executor: str
    #: main rate check (figures 1, 2a, 6): overrides for experiments.config.validate
    rate: dict
    #: horizons shown in figure 1 (a subset of rate["horizons"])
    convergence_horizons: tuple
    #: tuned rate check (figure 2b) and the search's span (decades) and seeds
    tuned: dict
    tuned_span: int
    tuned_search_seeds: int
    #: star-convex gap check (figure 3)
    star: dict
    #: extra families of the bounds figure (figure 6), each a validate() override dict
    bound_families: tuple
    #: figure 4a: worst case over normalised spectra [ratio, 1] and measurement on momenta
    lmo_steps: tuple
    lmo_ratio: float
    lmo_momenta: dict
    #: figure 4b: the coupling grid (experiments.lmo_coupling.coupling)
    coupling: dict
    #: figure 5: constants of one problem (problems.certify's recipe)
    constants: dict
    bootstrap: int = 2000
    extra: dict = field(default_factory=dict)


FULL = Settings(
    name="full",
    executor="processes",
    # the README's table (`gluon-mvr rate-check` defaults: K up to 10^4, 16 seeds): same cells
    rate={"problem": "quadratic", "horizons": [100, 316, 1000, 3162, 10000], "seeds": 16,
          "methods": ["gluon", "mvr1", "mvr2", "mvr3"], "noise_share": False, "tail": 3},
    convergence_horizons=(316, 1000, 10000),
    tuned={"problem": "quadratic", "horizons": [100, 316, 1000], "seeds": 4, "methods": ["gluon", "mvr1"],
           "noise_share": False, "tail": 3, "tuned": True},
    tuned_span=2, tuned_search_seeds=4,
    star={"problem": "star", "criterion": "gap", "horizons": [100, 316, 1000, 3162], "seeds": 8,
          "methods": ["gluon", "mvr1"], "noise_share": False, "tail": 3},
    bound_families=(
        {"problem": "l0l1", "horizons": [100, 316, 1000], "seeds": 4,
         "methods": ["gluon", "mvr1", "mvr2", "mvr3"], "noise_share": False, "tail": 3},
        {"problem": "nonconvex", "horizons": [100, 316, 1000], "seeds": 4,
         "methods": ["gluon", "mvr1", "mvr2", "mvr3"], "noise_share": False, "tail": 3},
    ),
    lmo_steps=tuple(range(1, 11)), lmo_ratio=1e-2,
    lmo_momenta={"problem": "quadratic", "params": {"layers": 2, "dim": 8}, "method": "gluon", "K": 300,
                 "seeds": 4, "snapshots": 20},
    coupling={"problem": "quadratic", "params": {"sigma": 1.0}, "K": 400, "seeds": 4,
              "approximation": "ns-cubic", "steps": [8, 4, 3, 2, 1], "t_points": 11, "t_span": 16.0,
              "h_factors": [1.0], "n_boot": 200},
    constants={"problem": "l0l1", "params": {"layers": 2, "L0": "1.0,2.0", "L1": "1.0,0.5"},
               "n_pairs": 256, "seed": 0, "method": "gluon", "steps": 200, "run_seeds": 4},
)

QUICK = Settings(
    name="quick",
    executor="serial",
    rate={"problem": "quadratic", "params": {"layers": 2, "dim": 4}, "horizons": [30, 100], "seeds": 3,
          "methods": ["gluon", "mvr1"], "noise_share": False, "tail": 2, "bootstrap": 200},
    convergence_horizons=(30, 100),
    tuned={"problem": "quadratic", "params": {"layers": 2, "dim": 4}, "horizons": [30, 100], "seeds": 2,
           "methods": ["gluon"], "noise_share": False, "tail": 2, "tuned": True, "bootstrap": 200},
    tuned_span=1, tuned_search_seeds=2,
    star={"problem": "star", "params": {"layers": 2, "dim": 4}, "criterion": "gap", "horizons": [30, 100],
          "seeds": 3, "methods": ["gluon", "mvr1"], "noise_share": False, "tail": 2, "bootstrap": 200},
    bound_families=(
        {"problem": "l0l1", "params": {"layers": 2, "dim": 4}, "horizons": [30, 100], "seeds": 2,
         "methods": ["gluon", "mvr1"], "noise_share": False, "tail": 2, "bootstrap": 200},
    ),
    lmo_steps=(1, 2, 3, 5), lmo_ratio=1e-2,
    lmo_momenta={"problem": "quadratic", "params": {"layers": 1, "dim": 4}, "method": "gluon", "K": 30,
                 "seeds": 2, "snapshots": 5},
    coupling={"problem": "quadratic", "params": {"layers": 2, "dim": 4, "sigma": 1.0}, "K": 60, "seeds": 2,
              "approximation": "ns-cubic", "steps": [3, 1], "t_points": 5, "t_span": 8.0,
              "h_factors": [1.0], "n_boot": 20},
    constants={"problem": "l0l1", "params": {"layers": 2, "dim": 4, "L0": "1.0,2.0", "L1": "1.0,0.5"},
               "n_pairs": 32, "seed": 0, "method": "gluon", "steps": 30, "run_seeds": 2},
    bootstrap=200,
)

SETTINGS = {"full": FULL, "quick": QUICK}


class Context:
    """The store, the output folder and the settings of one ``figs`` run (with memoised loads)."""

    def __init__(self, store_path, out_dir, settings: Settings, log=None, progress: bool = False):
        self.progress = progress
        self.store_path = str(store_path)
        self.store = ResultStore(self.store_path)
        self.out_dir = str(out_dir)
        self.settings = settings
        self.log = log or (lambda msg: None)
        self._memo = {}

    def config(self, overrides: dict):
        """Validated :class:`experiments.config.RateCheckConfig` writing to this store."""
        # the figures show the methods themselves; the rate check's controls are its own table
        raw = {"executor": self.settings.executor, "bootstrap": self.settings.bootstrap, "controls": "off", **overrides,
               "store": self.store_path}
        return validate(raw)

    @contextlib.contextmanager
    def bar(self, desc, total=None):
        """A per-cell progress callback (a tqdm bar on stderr when :attr:`progress`), or None."""
        if not self.progress:
            yield None
            return
        import sys

        from tqdm import tqdm
        bar = tqdm(total=total, desc=desc, unit="cell", file=sys.stderr, leave=False)
        try:
            yield bar.update
        finally:
            bar.close()

    def memo(self, key, fn):
        if key not in self._memo:
            self._memo[key] = fn()
        return self._memo[key]


# ------------------------------------------------------------------------------------------
# rate cells
# ------------------------------------------------------------------------------------------
@dataclass
class RateData:
    """A rate check's configuration, its reports and the stored cell of every (method, K)."""

    cfg: object
    reports: list
    cells: dict          # (method, K) -> stored result dict
    keys: dict           # (method, K) -> cell key

    def report(self, method):
        return next(r for r in self.reports if r.method == method)


def rate_data(ctx: Context, overrides: dict) -> RateData:
    """Run (or reuse) the rate check of ``overrides`` and load its cells from the store."""
    from gluon_mvr.experiments.studies.rate_check import rate_check, rate_check_cells

    def load():
        cfg = ctx.config(overrides)
        ctx.log(f"rate check: {cfg.problem} ({cfg.criterion}), methods {','.join(cfg.methods)}, "
                f"K {list(cfg.horizons)}, {cfg.seeds} seeds")
        total = len(cfg.methods) * (len(cfg.horizons) + (1 if cfg.noise_share else 0))
        with ctx.bar(f"rate cells ({cfg.problem})", total) as progress:
            reports = rate_check(cfg, progress=progress).reports
        # (method, K, instance) -> (method, K): the figures use no worst-case search
        grid = {(m, K): cell for (m, K, v), cell in rate_check_cells(cfg)[0].items() if v is None}
        got = ctx.store.get_many(k for k, _ in grid.values())
        return RateData(cfg, reports, {mk: got[k] for mk, (k, _) in grid.items()},
                        {mk: k for mk, (k, _) in grid.items()})
    return ctx.memo(("rate", repr(sorted(overrides.items()))), load)


@dataclass
class TunedData:
    cfg: object
    results: list        # experiments.tuning.tune's output
    cells: dict          # (method, K) -> stored result of the best parameters, all seeds
    keys: dict


def tuned_data(ctx: Context) -> TunedData:
    """Run (or reuse) the tuned search of :attr:`Settings.tuned`; load each best cell."""
    from gluon_mvr.experiments.studies.tuning import tune, tuned_cell

    def load():
        s = ctx.settings
        cfg = ctx.config(s.tuned)
        ctx.log(f"tuned search: {cfg.problem}, methods {','.join(cfg.methods)}, K {list(cfg.horizons)}, "
                f"{cfg.seeds} seeds (span {s.tuned_span} decades)")
        # the search decides how many cells it evaluates: a bar without a total
        with ctx.bar("tuned search", None) as progress:
            results = tune(cfg, ctx.store, span=s.tuned_span, search_seeds=s.tuned_search_seeds,
                           progress=progress)
        seeds = list(range(cfg.seeds))
        cells, keys = {}, {}
        for r in results:
            for p in r["best"]:
                key, _ = tuned_cell(cfg, r["method"], p["K"], p["radius_factor"], p["momentum"], seeds)
                keys[r["method"], p["K"]] = key
                cells[r["method"], p["K"]] = ctx.store.get(key)
        return TunedData(cfg, results, cells, keys)
    return ctx.memo("tuned", load)


# ------------------------------------------------------------------------------------------
# other stored computations
# ------------------------------------------------------------------------------------------
def cached(ctx: Context, name: str, config: dict, compute):
    """Result of ``compute()`` stored as a ``figure-data`` row keyed by ``(name, config)``."""
    full = {"kind": FIGURE_KIND, "figure": name, "version": package_version(), **config}
    key = cell_key(full)
    got = ctx.store.get(key)
    if got is not None:
        return got
    ctx.log(f"computing {name} ...")
    t0 = time.perf_counter()
    result = to_python(compute())
    wall = time.perf_counter() - t0
    # "seeds": [] keeps `results export` (one CSV row per seed of a rate cell) from listing this row
    ctx.store.put(key, FIGURE_KIND, to_python(full), {"seeds": [], **result}, package_version(),
                  environment(), wall)
    return ctx.store.get(key)


def as_float(a):
    """JSON lists (``None`` for NaN) -> float array."""
    return numpy.array([[numpy.nan if v is None else v for v in row] if isinstance(row, list)
                        else (numpy.nan if row is None else row) for row in a], dtype=float)


# ------------------------------------------------------------------------------------------
# statistics shown in the figures
# ------------------------------------------------------------------------------------------
def bootstrap_mean_ci(values, n_boot: int = 2000, level: float = 0.95, seed: int = 0):
    """Seed mean and its percentile bootstrap interval (NaN seeds dropped)."""
    v = numpy.asarray(values, dtype=float)
    v = v[numpy.isfinite(v)]
    if v.size == 0:
        return numpy.nan, numpy.nan, numpy.nan
    rng = numpy.random.default_rng(seed)
    means = v[rng.integers(0, v.size, size=(n_boot, v.size))].mean(axis=1)
    a = (1 - level) / 2
    lo, hi = numpy.quantile(means, [a, 1 - a])
    return float(v.mean()), float(lo), float(hi)


def bootstrap_ratio_ci(values, reference, n_boot: int = 2000, level: float = 0.95, seed: int = 0):
    """Ratio of seed means ``mean(values) / mean(reference)`` and its paired percentile bootstrap
    interval (the same seeds are resampled in both: the cells share their seeds); seeds where
    either is NaN are dropped."""
    v, r = numpy.asarray(values, dtype=float), numpy.asarray(reference, dtype=float)
    ok = numpy.isfinite(v) & numpy.isfinite(r)
    v, r = v[ok], r[ok]
    if v.size == 0 or r.mean() == 0:
        return numpy.nan, numpy.nan, numpy.nan
    rng = numpy.random.default_rng(seed)
    idx = rng.integers(0, v.size, size=(n_boot, v.size))
    ratios = v[idx].mean(axis=1) / r[idx].mean(axis=1)
    a = (1 - level) / 2
    lo, hi = numpy.quantile(ratios, [a, 1 - a])
    return float(v.mean() / r.mean()), float(lo), float(hi)

