"""The ``constants`` subcommand: certify a problem's constants, or fit (L0, L1) to a user's log.

``gluon-mvr constants --problem NAME [--param KEY=VALUE ...] [--json PATH]`` measures the
problem's constants (:func:`problems.certify.certify`) and prints them beside the declared ones
with a verdict per layer; exit 1 when a declaration does not dominate its measurement.

``gluon-mvr constants --from-log FILE.csv [--fit envelope|penalized] [--penalty W]`` fits
:math:`L_0 + L_1 g` per layer to rows ``layer,L_hat,grad_norm[,step]``
(:mod:`problems.constants_estimation`).  Bad input exits 2 with one line naming the field.
"""
from __future__ import annotations

import csv
import json
import math
import sys

from gluon_mvr.problems import constants_estimation as est

TRAJECTORIES = ("run", "none")


def register(subparsers):
    """Add the ``constants`` subcommand to an ``argparse`` subparsers object."""
    p = subparsers.add_parser(
        "constants", help="certify a problem's (L0, L1), sigma, ell; or fit (L0, L1) to a CSV log",
        description="Measure a problem's layer-wise constants and compare them with the declared ones "
                    "(exit 1 on a violation), or fit L0 + L1 * grad_norm to measurements from a log.")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--problem", metavar="NAME", help="problem family (see --param for its parameters)")
    src.add_argument("--from-log", metavar="FILE.csv", help="rows layer,L_hat,grad_norm[,step]")
    p.add_argument("--param", action="append", default=[], metavar="KEY=VALUE", help="problem parameter")
    p.add_argument("--fit", default="envelope", metavar="envelope|penalized",
                   help="--from-log fit: certified envelope or the Gluon paper's penalized fit")
    p.add_argument("--penalty", default="5", metavar="W", help="penalized fit: weight of under-estimates")
    p.add_argument("--json", metavar="PATH", help="write the result as JSON ('-' for stdout)")
    p.add_argument("--pairs", default="256", metavar="N", help="sampled pairs for A1")
    p.add_argument("--draws", default="200", metavar="N", help="Monte Carlo draws per point for sigma, ell")
    p.add_argument("--seed", default="0", metavar="N", help="seed of the sampling")
    p.add_argument("--trajectory", default="run", metavar="run|none",
                   help="also measure along a real optimizer run (methods.run)")
    p.add_argument("--method", default="gluon", help="optimizer of the trajectory run")
    p.add_argument("--steps", default="200", metavar="K", help="iterations of the trajectory run")
    p.add_argument("--run-seeds", default="4", metavar="S", help="seeds of the trajectory run")
    p.set_defaults(func=handler)
    return p


class InputError(ValueError):
    """Bad user input: reported in one line, exit code 2."""


def int_arg(name, raw, low):
    """``--name`` as an integer >= ``low``; :class:`InputError` (one line, exit 2) otherwise."""
    try:
        v = int(str(raw))
    except ValueError:
        raise InputError(f"--{name}: expected an integer >= {low}; got {raw!r}") from None
    if v < low:
        raise InputError(f"--{name}: expected an integer >= {low}; got {raw!r}")
    return v


def _float(name, raw, low):
    try:
        v = float(str(raw))
    except ValueError:
        raise InputError(f"--{name}: expected a number >= {low}; got {raw!r}") from None
    if not math.isfinite(v) or v < low:
        raise InputError(f"--{name}: expected a finite number >= {low}; got {raw!r}")
    return v


def handler(args) -> int:
    """Run the subcommand; returns the exit code (0 ok, 1 violation, 2 bad input)."""
    from gluon_mvr.experiments.cli.errors import check_output
    check_output(args.json, "--json")          # before computing ('-' is stdout)
    try:
        if args.fit not in est.FITS:
            raise InputError(f"--fit: allowed values {', '.join(est.FITS)}; got {args.fit!r}")
        penalty = _float("penalty", args.penalty, 0.0)
        if args.from_log is not None:
            if args.param:
                raise InputError("--param: only with --problem, not with --from-log")
            result = fit_log(args.from_log, args.fit, penalty)
            _emit(result, args.json, print_log_table)
            return 0
        if args.trajectory not in TRAJECTORIES:
            raise InputError(f"--trajectory: allowed values {', '.join(TRAJECTORIES)}; got {args.trajectory!r}")
        from gluon_mvr.problems.certify import certify
        from gluon_mvr.problems.registry import get_problem, parse_param_pairs
        try:
            problem = get_problem(args.problem, **parse_param_pairs(args.param))
        except ValueError as exc:
            raise InputError(str(exc)) from None
        from gluon_mvr.methods.presets import METHOD_NAMES
        if args.method not in METHOD_NAMES:
            raise InputError(f"--method: allowed values {', '.join(METHOD_NAMES)}; got {args.method!r}")
        cert = certify(problem, n_pairs=int_arg("pairs", args.pairs, 1), draws=int_arg("draws", args.draws, 2),
                       seed=int_arg("seed", args.seed, 0),
                       trajectory="run" if args.trajectory == "run" else None, method=args.method,
                       steps=int_arg("steps", args.steps, 1), run_seeds=int_arg("run-seeds", args.run_seeds, 1))
        _emit(cert.as_dict(), args.json, print_certificate)
        return 0 if cert.ok else 1
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _emit(result: dict, json_path, printer):
    if json_path:
        from gluon_mvr.experiments.core.provenance import provenance
        result = {**result, "provenance": provenance()}     # versions, code fingerprint, time
    if json_path == "-":
        json.dump(result, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return
    printer(result)
    if json_path:
        try:
            with open(json_path, "w") as fh:
                json.dump(result, fh, indent=2)
        except OSError as exc:
            raise InputError(f"--json: cannot write {json_path}: {exc.strerror}") from None


# ---------------------------------------------------------------------------------------------
# --from-log
# ---------------------------------------------------------------------------------------------
COLUMNS = ("layer", "L_hat", "grad_norm", "step")


def read_log(path):
    """Rows ``layer,L_hat,grad_norm[,step]`` (optional header, ``#`` comments) ->
    ``{layer: (L_hat list, grad_norm list)}`` in order of first appearance."""
    try:
        with open(path, newline="") as fh:
            rows = [(n, r) for n, r in enumerate(csv.reader(fh), start=1)
                    if r and any(c.strip() for c in r) and not r[0].lstrip().startswith("#")]
    except OSError as exc:
        raise InputError(f"--from-log: cannot read {path}: {exc.strerror}") from None
    except csv.Error as exc:
        raise InputError(f"--from-log {path}: not a CSV file ({exc})") from None
    order = list(range(4))
    if rows and any(c.strip() in COLUMNS for c in rows[0][1]):
        header = [c.strip() for c in rows[0][1]]
        missing = [c for c in COLUMNS[:3] if c not in header]
        if missing:
            raise InputError(f"--from-log {path} line {rows[0][0]}: header lacks column {missing[0]!r}; "
                             f"expected columns {', '.join(COLUMNS)} (step optional)")
        order = [header.index(c) if c in header else None for c in COLUMNS]
        rows = rows[1:]
    if not rows:
        raise InputError(f"--from-log {path}: no data rows (expected layer,L_hat,grad_norm[,step])")
    data = {}
    width = max(i for i in order if i is not None) + 1
    for n, r in rows:
        if len(r) < 3 or len(r) > max(width, 4):
            raise InputError(f"--from-log {path} line {n}: expected 3 or 4 fields "
                             f"(layer,L_hat,grad_norm[,step]); got {len(r)}")
        layer = r[order[0]].strip()
        if not layer:
            raise InputError(f"--from-log {path} line {n}: field 'layer' is empty")
        vals = []
        for name, idx in (("L_hat", order[1]), ("grad_norm", order[2])):
            raw = r[idx].strip() if idx < len(r) else ""
            try:
                v = float(raw)
            except ValueError:
                v = float("nan")
            if not math.isfinite(v) or v < 0:
                raise InputError(f"--from-log {path} line {n}: field {name!r} must be a finite number >= 0; "
                                 f"got {raw!r}")
            vals.append(v)
        L, g = data.setdefault(layer, ([], []))
        L.append(vals[0])
        g.append(vals[1])
    return data


def fit_log(path, fit: str = "envelope", penalty: float = 5.0) -> dict:
    """Fit every layer of a log; returns ``{"layers": [{"layer", "L0", "L1", "fit", ...}]}``."""
    out = []
    for layer, (L, g) in read_log(path).items():
        f = est.fit_line(L, g, fit, penalty)
        out.append({"layer": layer, "L0": f.L0, "L1": f.L1, "fit": fit, "n_points": f.n_points,
                    "n_above": f.n_above, "radius": f.radius,
                    **({"penalty": penalty} if fit == "penalized" else {})})
    return {"source": str(path), "fit": fit, "layers": out}


def print_log_table(result):
    print(f"(L0, L1) fit '{result['fit']}' to {result['source']}: L_hat <= L0 + L1 * grad_norm")
    print(f"{'layer':<16} {'points':>7} {'L0':>11} {'L1':>11} {'1/L1 (L0=0)':>12} {'above':>6}")
    for r in result["layers"]:
        radius = "-" if r["radius"] is None else f"{r['radius']:.4g}"
        print(f"{r['layer']:<16} {r['n_points']:>7} {r['L0']:>11.4g} {r['L1']:>11.4g} {radius:>12} {r['n_above']:>6}")


def print_certificate(c):
    k = c["constants"]
    print(f"constants of problem '{c['problem']}' ({k['source']})")
    print(f"  region: {k['region']}; trajectory: {c['trajectory']}")
    head = (f"{'layer':>5} {'norm':<10} {'L0 decl':>9} {'L0 need':>9} {'L1 decl':>9} {'L1 need':>9} "
            f"{'L0 fit':>9} {'L1 fit':>9} {'points':>6} {'above':>5} {'sig decl':>9} {'sig meas':>9} "
            f"{'ell decl':>9} {'ell meas':>9}  verdict")
    print(head)
    fmt = lambda v: "nan" if v is None else f"{v:.4g}"   # noqa: E731
    for r in c["layers"]:
        verdict = "declared dominates measured" if r["dominates"] else "VIOLATION: " + ", ".join(
            n for n, ok in (("A1", r["smoothness_ok"]), ("A2", r["sigma_ok"]), ("A3", c["ell_ok"])) if not ok)
        print(f"{r['layer']:>5} {r['norm']:<10} {fmt(r['L0_declared']):>9} {fmt(r['L0_needed']):>9} "
              f"{fmt(r['L1_declared']):>9} {fmt(r['L1_needed']):>9} {fmt(r['L0_fit']):>9} {fmt(r['L1_fit']):>9} "
              f"{r['n_points']:>6} {r['n_above_declared']:>5} {fmt(r['sigma_declared']):>9} "
              f"{fmt(r['sigma_measured']):>9} {fmt(r['ell_declared']):>9} {fmt(r['ell_measured']):>9}  {verdict}")
    print(f"  A3 (sum form over layers): worst measured/declared = {fmt(c['ell_max_usage'])} "
          f"-> {'holds' if c['ell_ok'] else 'VIOLATED'} (Monte Carlo: sigma and ell pass within 4 standard errors)")
    for note in c["notes"]:
        print(f"  note: {note}")
    print("verdict: " + ("every declared constant dominates its measurement" if c["ok"]
                         else "VIOLATION: a declared constant does not dominate its measurement"))
