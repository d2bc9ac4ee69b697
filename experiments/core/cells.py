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
import platform
import sys

import numpy

from gluon_mvr.methods.loop import run
from gluon_mvr.methods.presets import get_method
from gluon_mvr.methods.schedules import (DEFAULT_BETA, DEFAULT_MOMENTUM_SCALE, DEFAULT_RADIUS_SCALE, Schedule,
                               star_horizon_schedule)
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


def make_cell(problem: str, params: dict, method: str, K: int, seeds, *, noise: bool = True,
              schedule: dict | None = None, radius_scale: float = DEFAULT_RADIUS_SCALE,
              momentum_scale: float = DEFAULT_MOMENTUM_SCALE, beta: float = DEFAULT_BETA, record_every: int = 1, root_seed: int = 0, dtype: str = "float64",
              device: str = "cpu", lmo: str = "exact", ns_steps: int = 5, kind: str = "rate",
              form: str = "horizon") -> dict:
    """Plain-data cell configuration (the thing that is hashed and stored).

    ``form`` is ``'horizon'`` (the non-convex horizon-K schedule) or ``'star'`` (the star-convex
    Frank–Wolfe schedule); an explicit ``schedule`` dict overrides both.
    """
    cfg = {"kind": kind, "problem": problem, "params": dict(sorted(params.items())), "method": method,
           "K": int(K), "seeds": [int(s) for s in seeds], "noise": bool(noise),
           "record_every": int(record_every), "root_seed": int(root_seed), "dtype": dtype,
           "device": device, "lmo": lmo, "ns_steps": int(ns_steps) if lmo != "exact" else 0}
    if schedule is not None:
        cfg["schedule"] = schedule
    else:
        cfg["horizon"] = {"radius_scale": float(radius_scale), "momentum_scale": float(momentum_scale),
                          "beta": float(beta)}
        if form != "horizon":
            cfg["horizon"]["form"] = form
    return cfg


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
    sched = config.get("schedule")
    schedule = None
    if sched is not None:
        schedule = Schedule(radius=tuple(sched["radius"]), one_minus_beta=sched["one_minus_beta"],
                            q=sched.get("q", 1.0), label=sched.get("label", "constant"),
                            ball=None if sched.get("ball") is None else tuple(sched["ball"]))
    hz = config.get("horizon", {})
    if hz.get("form") == "star":
        schedule = star_horizon_schedule(get_method(config["method"]).schedule_family, config["K"],
                                         problem.ball_radii(), hz.get("momentum_scale", DEFAULT_MOMENTUM_SCALE),
                                         hz.get("beta", DEFAULT_BETA))
    traj = run(problem, config["method"], K=config["K"], seeds=config["seeds"], schedule=schedule,
               record_every=config["record_every"], root_seed=config["root_seed"],
               device=config["device"], dtype=config["dtype"], lmo=config["lmo"],
               ns_steps=config["ns_steps"] or 5, radius_scale=hz.get("radius_scale", DEFAULT_RADIUS_SCALE),
               momentum_scale=hz.get("momentum_scale", DEFAULT_MOMENTUM_SCALE),
               beta=hz.get("beta", DEFAULT_BETA))
    it, curve = _curve(traj)
    gap = traj.final_value - (problem.f_star if problem.f_star is not None else numpy.nan)
    return {"seeds": list(traj.seeds), "G": _floats(traj.stationarity), "gap": _floats(gap), "G_min": _floats(traj.min_stationarity),
            "final_value": _floats(traj.final_value),
            "final_grad_norm": _floats(traj.final_grad_norms.sum(axis=-1)),
            "diverged_at": [int(v) for v in traj.diverged_at],
            "oracle_calls": int(traj.total_oracle_calls),
            "schedule": traj.schedule, "curve_iterations": it, "curve": curve,
            "wall_time": traj.wall_time}
