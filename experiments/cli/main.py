"""The ``gluon-mvr`` command line (also ``python -m gluon_mvr``).

Exit codes: 0 success; 1 a failed verification (a ``slower`` verdict, a violated bound, a
constant not certified); 2 bad input (one line naming the field and the allowed values).
"""
from __future__ import annotations

import argparse
import json
import os
import sys

from gluon_mvr._version import __version__
from gluon_mvr.experiments.cli import constants as constants_cli
from gluon_mvr.experiments.cli import figs as figs_cli
from gluon_mvr.experiments.cli import lmo_error as lmo_error_cli
from gluon_mvr.experiments.cli import nets as nets_cli
from gluon_mvr.experiments.cli import theory as theory_cli


def _add_rate_check(sub):
    p = sub.add_parser("rate-check", help="fit empirical rates against K^-1/4 (Gluon) and K^-1/3 (MVR)",
                       description="Run every (method, horizon) cell over seeds, fit log G_K = c + s log K "
                                   "on the grid's tail with a seed bootstrap, compare with theory.")
    p.add_argument("--problem", help="problem family (default: the embedded default problem)")
    p.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                   help="problem parameter (repeatable)")
    p.add_argument("--methods", help="comma-separated methods (default gluon,mvr1,mvr2,mvr3)")
    p.add_argument("--horizons", help="comma-separated horizons K, increasing")
    p.add_argument("--seeds", help="seeds per cell (default 16)")
    p.add_argument("--config", help="TOML file with any of these options; flags override it")
    p.add_argument("--store", help="SQLite result store (default results/gluon-mvr.sqlite)")
    p.add_argument("--executor", help="serial | processes | dask (default processes)")
    p.add_argument("--scheduler", help="Dask scheduler address (default: a LocalCluster)")
    p.add_argument("--json", help="write the machine-readable report here")
    p.add_argument("--device", help="cpu | gpu")
    p.add_argument("--dtype", help="float64 | float32")
    p.add_argument("--tail", help="number of largest horizons used in the fit (default 3)")
    p.add_argument("--radius-scale", dest="radius_scale", help="t0 in t = t0 K^-a (default 2)")
    p.add_argument("--momentum-scale", dest="momentum_scale", help="c in 1-beta (or q) = c K^-b (default 1)")
    p.add_argument("--beta", help="constant beta of MVR-2/3 (default 0.5)")
    p.add_argument("--lmo", help="exact | ns-jordan | ns-cubic | ns-quintic | polar-express")
    p.add_argument("--ns-steps", dest="ns_steps", help="Newton–Schulz steps for an inexact LMO")
    p.add_argument("--criterion", help="stationarity (G_K, non-convex) | gap (f(X^K) - f*, star-convex)")
    p.add_argument("--scale-param", dest="scale_param",
                   help="problem param scaled per method with its theory rate K^theta (ln K)^p relative "
                        "to K = 1000 (lower-bound-style instances, e.g. 'width' of star)")
    p.add_argument("--worst-param", dest="worst_param",
                   help="problem param searched per (method, K) for the worst case (largest measurement)")
    p.add_argument("--worst-grid", dest="worst_grid", help="comma-separated values of --worst-param")
    p.add_argument("--tuned", action="store_const", const=True,
                   help="search the radius and momentum per K instead of the theory schedule")
    p.add_argument("--no-noise-share", dest="noise_share", action="store_const", const=False,
                   help="skip the noise-off runs")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_rate_check)


def _cmd_rate_check(args):
    from gluon_mvr.problems.registry import parse_param_pairs

    from gluon_mvr.experiments.core.config import ConfigError, load_toml, merge, validate
    from gluon_mvr.experiments.studies.rate_check import format_table, rate_check

    try:
        file_cfg = load_toml(args.config) if args.config else {}
        flags = {k: getattr(args, k) for k in ("problem", "methods", "horizons", "seeds", "store", "executor",
                                               "scheduler", "json", "device", "dtype", "tail", "radius_scale",
                                               "momentum_scale", "beta", "lmo", "ns_steps", "noise_share",
                                               "tuned", "criterion", "scale_param", "worst_param", "worst_grid")
                 if getattr(args, k) is not None}
        if args.param:
            flags["params"] = parse_param_pairs(args.param)
        cfg = validate(merge(file_cfg, flags))
    except (ConfigError, ValueError) as exc:
        print(f"gluon-mvr rate-check: error: {exc}", file=sys.stderr)
        return 2

    bar = None
    if not args.no_progress:
        from tqdm import tqdm
        n = None if cfg.tuned else len(cfg.methods) * (len(cfg.horizons) + (1 if cfg.noise_share else 0))
        bar = tqdm(total=n, desc="cells", unit="cell", file=sys.stderr, leave=False)
    progress = bar.update if bar else None
    try:
        if cfg.tuned:
            from gluon_mvr.experiments.core.store import ResultStore
            from gluon_mvr.experiments.studies.tuning import format_tuned, tune
            store_path = cfg.store
            results = tune(cfg, ResultStore(cfg.store), progress=progress)
            table = format_tuned(results, cfg.problem)
            failed = any(r["verdict"] == "slower" for r in results)
        else:
            reports, store_path = rate_check(cfg, progress=progress)
            table = format_table(reports, cfg.problem, cfg.criterion)
            results = [r.as_dict() for r in reports]
            failed = any(r.verdict == "slower" for r in reports) or any(r.bound_violations for r in reports)
    finally:
        if bar:
            bar.close()
    print(table)
    print(f"results stored in {os.path.abspath(store_path)}")
    if cfg.json:
        doc = {"problem": cfg.problem, "params": cfg.params, "config": cfg.as_dict(),
               "version": __version__, "tuned": cfg.tuned, "results": results}
        os.makedirs(os.path.dirname(os.path.abspath(cfg.json)), exist_ok=True)
        with open(cfg.json, "w") as fh:
            json.dump(doc, fh, indent=2)
        print(f"report written to {cfg.json}")
    return 1 if failed else 0


def _add_results(sub):
    p = sub.add_parser("results", help="inspect and export the result store")
    rs = p.add_subparsers(dest="results_cmd", required=True)
    e = rs.add_parser("export", help="write a tidy CSV (one row per cell and seed)")
    e.add_argument("--store", default="results/gluon-mvr.sqlite")
    e.add_argument("--out", default="results.csv")
    e.set_defaults(func=_cmd_export)


def _cmd_export(args):
    from gluon_mvr.experiments.core.store import ResultStore
    if not os.path.exists(args.store):
        print(f"gluon-mvr results export: error: store: no such file {args.store}", file=sys.stderr)
        return 2
    n = ResultStore(args.store).export_csv(args.out)
    print(f"wrote {n} rows to {args.out}")
    return 0


def build_parser():
    parser = argparse.ArgumentParser(prog="gluon-mvr", description="Check the rates of Gluon and MVR-Gluon on certified synthetic problems.")
    parser.add_argument("--version", action="version", version=f"gluon-mvr {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_rate_check(sub)
    _add_results(sub)
    # every subcommand is registered explicitly: a broken one fails here, loudly (tests build it)
    for module in (theory_cli, constants_cli, lmo_error_cli, figs_cli, nets_cli):
        module.register(sub)
    return parser


def main(argv=None):
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:      # argparse: 2 on bad usage, 0 on --help/--version
        return exc.code if isinstance(exc.code, int) else 2
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
