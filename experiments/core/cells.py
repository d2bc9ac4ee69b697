"""Cells: the unit of work and of storage.

A cell is one (problem, params, method, schedule, horizon K, seed batch, noise on/off, numerics)
configuration, given as plain JSON-able data.  Its key is the SHA-256 of its canonical JSON, so
the same configuration always maps to the same stored row, whatever the executor.
``run_cell`` is a top-level function so joblib and Dask can ship it to workers.
"""
from __future__ import annotations

import functools
import hashlib
import json

import numpy

from gluon_mvr.methods.loop import run
from gluon_mvr.methods.geometry import lmo_from_name
from gluon_mvr.methods.method import Method
from gluon_mvr.methods.presets import get_method
from gluon_mvr.methods.schedules import schedule_from_dict
from gluon_mvr.problems import get_problem

CURVE_POINTS = 100


def canonical(config: dict) -> str:
    return json.dumps(config, sort_keys=True, separators=(",", ":"))


def cell_key(config: dict) -> str:
    """SHA-256 of the configuration together with what else determines its numbers: the package
    version and the fingerprint of the computing code (:mod:`experiments.core.provenance`), so a
    rerun after a code change finds no stored row and recomputes (old rows stay, prunable)."""
    from gluon_mvr.experiments.core import provenance
    tag = f"{provenance.package_version()}|{provenance.code_fingerprint()}|"
    return hashlib.sha256((tag + canonical(config)).encode()).hexdigest()


def package_version() -> str:
    from gluon_mvr.experiments.core.provenance import package_version as version
    return version()


def environment() -> dict:
    """Library versions, platform and code fingerprint (:func:`experiments.core.provenance.environment`)."""
    from gluon_mvr.experiments.core.provenance import environment as env
    return env()


@functools.lru_cache(maxsize=32)
def _problem(name: str, params_json: str, noise: bool):
    problem = get_problem(name, **json.loads(params_json))
    return problem if noise else problem.without_noise()


def cached_problem(name: str, params: dict):
    """The problem ``name`` with ``params``, built once per process (some families estimate
    their constants at build time: ``twolayer`` takes seconds)."""
    return _problem(name, canonical(params), True)


def cell_method(method, *, schedule: dict | None = None, radius_scale: float | None = None,
                momentum_scale: float | None = None, beta: float | None = None, lmo: str | None = None,
                ns_steps: int = 5, form: str = "horizon") -> Method:
    """The composition a cell runs: ``method`` (a preset name or a :class:`Method`) with the
    cell's LMO, schedule constants and schedule form applied.

    ``form`` is ``'horizon'`` (the non-convex horizon-K theory schedule) or ``'star'`` (its
    star-convex Frank–Wolfe form); an explicit ``schedule`` dict (:meth:`Schedule.describe`)
    replaces the schedule rule altogether."""
    m = get_method(method)
    if lmo is not None:
        m = m.with_lmo(lmo_from_name(lmo, int(ns_steps)))
    if schedule is not None:
        return m.with_schedule(schedule_from_dict(schedule))
    if form == "star":
        m = m.star()
    elif form != "horizon":
        raise ValueError(f"form: allowed horizon, star; got {form!r}")
    return m.with_schedule_scales(radius_scale, momentum_scale, beta)


def make_cell(problem: str, params: dict, method, K: int, seeds, *, noise: bool = True,
              schedule: dict | None = None, radius_scale: float | None = None,
              momentum_scale: float | None = None, beta: float | None = None, record_every: int = 1,
              root_seed: int = 0, dtype: str = "float64", device: str = "cpu", lmo: str | None = None,
              ns_steps: int = 5, kind: str = "rate", form: str = "horizon", label: str | None = None) -> dict:
    """Plain-data cell configuration (the thing that is hashed and stored).

    The method's whole composition (geometry with its LMO, estimator with its parameters,
    schedule rule with its constants; :func:`cell_method`) is part of the configuration, so two
    cells that would compute different numbers never share a key.  ``label`` (default: the
    method's name) is the name results are reported under (a control's name, for instance).
    """
    m = cell_method(method, schedule=schedule, radius_scale=radius_scale, momentum_scale=momentum_scale,
                    beta=beta, lmo=lmo, ns_steps=ns_steps, form=form)
    return {"kind": kind, "problem": problem, "params": dict(sorted(params.items())),
            "method": label or m.name, "composition": m.describe(),
            "K": int(K), "seeds": [int(s) for s in seeds], "noise": bool(noise),
            "record_every": int(record_every), "root_seed": int(root_seed), "dtype": dtype,
            "device": device}


def _curve(traj):
    """Per-seed stationarity curve at <= CURVE_POINTS log-spaced recorded iterations."""
    R = len(traj.iterations)
    idx = numpy.unique(numpy.round(numpy.geomspace(1, R, min(R, CURVE_POINTS))).astype(int) - 1)
    total = traj.grad_norms.sum(axis=-1)[:, idx]
    return traj.iterations[idx].tolist(), total.tolist()


def _floats(a):
    return [float(v) for v in numpy.asarray(a).ravel()]


def run_cell(config: dict) -> dict:
    """Run one cell and return its JSON-able summary."""
    problem = _problem(config["problem"], canonical(config["params"]), config["noise"])
    method = Method.from_description(config["composition"])
    traj = run(problem, method, K=config["K"], seeds=config["seeds"], record_every=config["record_every"],
               root_seed=config["root_seed"], device=config["device"], dtype=config["dtype"])
    it, curve = _curve(traj)
    gap = traj.final_value - (problem.f_star if problem.f_star is not None else numpy.nan)
    return {"seeds": list(traj.seeds), "G": _floats(traj.stationarity), "gap": _floats(gap), "G_min": _floats(traj.min_stationarity),
            "final_value": _floats(traj.final_value),
            "final_grad_norm": _floats(traj.final_grad_norms.sum(axis=-1)),
            "diverged_at": [int(v) for v in traj.diverged_at],
            "oracle_calls": int(traj.total_oracle_calls),
            "schedule": traj.schedule, "curve_iterations": it, "curve": curve,
            "wall_time": traj.wall_time,
            # the bounds' hypotheses: how far the run went in the certified balls, and its longest
            # step per layer (t_i^k, twice that in the Frank-Wolfe form: ||lmo - X/D|| <= 2)
            "region_usage": None if traj.region_usage is None else _floats(traj.region_usage),
            "max_step": _floats(numpy.nanmax(traj.radius.reshape(-1, traj.radius.shape[-1]), axis=0)
                                * (2.0 if traj.schedule.get("ball") else 1.0))}
