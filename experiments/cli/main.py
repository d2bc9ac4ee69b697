"""The ``gluon-mvr`` command line (also ``python -m gluon_mvr``).

Exit codes: 0 success; 1 a failed verification (a ``slower`` verdict, a violated bound, a
constant not certified); 2 bad input or an unusable store, executor, device or output (one line
naming the problem, never a traceback: :mod:`experiments.cli.errors`); 130 interrupted (Ctrl-C;
the store keeps every finished cell).  ``--json -`` writes the JSON document to stdout.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

from gluon_mvr._version import __version__


def _add_rate_check(sub):
    p = sub.add_parser("rate-check", help="fit empirical rates against K^-1/4 (Gluon) and K^-1/3 (MVR)",
                       description="Run every (method, horizon) cell over seeds, fit log G_K = c + s log K "
                                   "on the grid's tail with a seed bootstrap, compare with theory.")
    from gluon_mvr.experiments.core.config import DEFAULT_HORIZONS, DEFAULT_METHODS, DEFAULT_PROBLEM
    from gluon_mvr.methods.presets import METHOD_NAMES
    from gluon_mvr.problems.registry import family_names
    p.add_argument("--problem", help=f"problem family: {', '.join(family_names())} (default {DEFAULT_PROBLEM}; "
                                     "`gluon-mvr problems NAME` lists its parameters)")
    p.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                   help="problem parameter (repeatable)")
    p.add_argument("--methods", help=f"comma-separated methods from: {', '.join(METHOD_NAMES)} "
                                     f"(default {','.join(DEFAULT_METHODS)})")
    p.add_argument("--horizons", help=f"comma-separated horizons K, increasing "
                                      f"(default {','.join(map(str, DEFAULT_HORIZONS))})")
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
    p.add_argument("--controls", choices=("on", "off", "tuned"),
                   help="controls beside each method (same geometry and schedule, no mechanism): on (default), "
                        "off, or tuned (also Gluon tuned per K)")
    p.add_argument("--no-controls", dest="controls", action="store_const", const="off",
                   help="skip the controls (the mechanism column then reads 'not checked')")
    p.add_argument("--no-noise-share", dest="noise_share", action="store_const", const=False,
                   help="skip the noise-off runs")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_rate_check)


def _cmd_rate_check(args):
    from gluon_mvr.problems.registry import parse_param_pairs

    from gluon_mvr.experiments.core.config import ConfigError, load_toml, merge, validate
    from gluon_mvr.experiments.studies.rate_check import run_rate_check

    try:
        file_cfg = load_toml(args.config) if args.config else {}
        flags = {k: getattr(args, k) for k in ("problem", "methods", "horizons", "seeds", "store", "executor",
                                               "scheduler", "json", "device", "dtype", "tail", "radius_scale",
                                               "momentum_scale", "beta", "lmo", "ns_steps", "noise_share",
                                               "tuned", "criterion", "scale_param", "worst_param", "worst_grid", "controls")
                 if getattr(args, k) is not None}
        if args.param:
            flags["params"] = parse_param_pairs(args.param)
        cfg = validate(merge(file_cfg, flags))
    except (ConfigError, ValueError) as exc:
        print(f"gluon-mvr rate-check: error: {exc}", file=sys.stderr)
        return 2
    # issue #19: an unwritable --json is reported before computing ('-' is stdout)
    from gluon_mvr.experiments.cli.errors import check_output, write_json
    check_output(cfg.json, "--json")

    bar = None
    if not args.no_progress:
        from tqdm import tqdm
        from gluon_mvr.experiments.studies.rate_check import rate_check_cells
        n = None if cfg.tuned else sum(map(len, rate_check_cells(cfg)))
        bar = tqdm(total=n, desc="cells", unit="cell", file=sys.stderr, leave=False)
    progress = bar.update if bar is not None else None    # bool(tqdm) raises without a total
    try:
        if cfg.tuned:
            from gluon_mvr.experiments.core.store import ResultStore
            from gluon_mvr.experiments.studies.tuning import format_tuned, tune
            store_path = cfg.store
            results = tune(cfg, ResultStore(cfg.store), progress=progress)
            table = format_tuned(results, cfg.problem)
            failed = any(r["verdict"] == "slower" for r in results)
        else:
            result = run_rate_check(cfg, progress=progress)
            store_path, table, failed = result.store_path, result.table(), result.failed
            results = [r.as_dict() for r in result.reports]
    finally:
        if bar is not None:
            bar.close()
    # with --json - stdout carries the JSON document only; the table goes to stderr
    text_out = sys.stderr if cfg.json == "-" else sys.stdout
    print(table, file=text_out)
    print(f"results stored in {os.path.abspath(store_path)}", file=text_out)
    if cfg.json:
        from gluon_mvr.experiments.core.provenance import provenance
        doc = {"problem": cfg.problem, "params": cfg.params, "config": cfg.as_dict(),
               "version": __version__, "tuned": cfg.tuned, "results": results,
               "provenance": provenance()}
        write_json(cfg.json, doc)
        if cfg.json != "-":
            print(f"report written to {cfg.json}")
    return 1 if failed else 0


def build_parser():
    # the subcommand modules are imported here, not at module level, so that a Ctrl-C during
    # these imports is already inside main() (one line, exit 130) rather than a traceback
    from gluon_mvr.experiments.cli import constants as constants_cli
    from gluon_mvr.experiments.cli import figs as figs_cli
    from gluon_mvr.experiments.cli import lmo_error as lmo_error_cli
    from gluon_mvr.experiments.cli import problems as problems_cli
    from gluon_mvr.experiments.cli import results as results_cli
    from gluon_mvr.experiments.cli import theory as theory_cli
    parser = argparse.ArgumentParser(prog="gluon-mvr", description="Check the rates of Gluon and MVR-Gluon on certified synthetic problems.")
    parser.add_argument("--version", action="version", version=f"gluon-mvr {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_rate_check(sub)
    # every subcommand is registered explicitly: a broken one fails here, loudly (tests build it)
    for module in (results_cli, theory_cli, constants_cli, lmo_error_cli, figs_cli, problems_cli):
        module.register(sub)
    _add_common_flags(parser)
    return parser


def _leaf_parsers(parser, path=()):
    """``(command path, parser)`` of every runnable (sub)command."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, p in action.choices.items():
                if p is parser:
                    continue
                yield from _leaf_parsers(p, path + (name,))
    if path and parser.get_default("func") is not None:
        yield path, parser


def _add_common_flags(parser):
    """``--no-progress`` and ``--reuse-stale`` on every subcommand (one spelling everywhere)."""
    for _path, p in _leaf_parsers(parser):
        if "--no-progress" not in p._option_string_actions:
            p.add_argument("--no-progress", dest="no_progress", action="store_true",
                           help="no progress bars or progress lines")
        if "--reuse-stale" not in p._option_string_actions:
            p.add_argument("--reuse-stale", dest="reuse_stale", action="store_true",
                           help="reuse stored cells of the same configuration computed by another code "
                                "version or fingerprint (default: recompute them)")


def _command_name(args) -> str:
    parts = [args.command] + [getattr(args, a) for a in ("results_cmd", "theory_command")
                              if getattr(args, a, None)]
    return " ".join(p for p in parts if p)


def _report_store_use(name):
    """One line on stderr: how many stored cells this run reused and how many it computed."""
    from gluon_mvr.experiments.core.executors import STATS
    if not (STATS["reused"] or STATS["computed"] or STATS["stale_reused"]):
        return
    line = f"gluon-mvr {name}: store: reused {STATS['reused']} stored cells, computed {STATS['computed']}"
    if STATS["stale_reused"]:
        line += f", reused {STATS['stale_reused']} cells of other code (--reuse-stale)"
    elif STATS["stale"]:
        line += (f" ({STATS['stale']} of them were stored by another code version or fingerprint and "
                 f"were recomputed; --reuse-stale reuses such cells)")
    print(line, file=sys.stderr)


def main(argv=None):
    """Parse ``argv`` and run the subcommand; returns the exit code (see the module docstring)."""
    try:
        from gluon_mvr.experiments.cli.errors import run_command
        from gluon_mvr.experiments.core import executors
        parser = build_parser()
        args = parser.parse_args(argv)
    except SystemExit as exc:      # argparse: 2 on bad usage, 0 on --help/--version
        return exc.code if isinstance(exc.code, int) else 2
    except KeyboardInterrupt:
        print("gluon-mvr: interrupted before starting; nothing was changed", file=sys.stderr)
        return 130
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    name = _command_name(args)
    executors.REUSE_STALE = bool(getattr(args, "reuse_stale", False))
    for k in executors.STATS:
        executors.STATS[k] = 0
    try:
        code = run_command(name, args.func, args)
    finally:
        executors.REUSE_STALE = False     # a flag of this run only (main() may be called again)
    if code in (0, 1):
        _report_store_use(name)
    return code


if __name__ == "__main__":
    sys.exit(main())
