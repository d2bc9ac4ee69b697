"""``gluon-mvr figs`` (also ``python -m gluon_mvr.paper_figs``): regenerate every figure from the store.

Exit codes: 0 success; 2 bad input or an unusable store or output folder (one line naming the
option); 130 interrupted (the store keeps every finished cell).
"""
from __future__ import annotations

import argparse
import sys
import time


def _add_arguments(p):
    from gluon_mvr.paper_figs.build import DEFAULT_OUT, DEFAULT_STORE, FIGURES
    p.add_argument("--out", default=DEFAULT_OUT, help=f"output folder for the PNG and PDF files (default {DEFAULT_OUT}/)")
    p.add_argument("--store", default=DEFAULT_STORE,
                   help=f"SQLite result store: cells found there are reused, missing ones run and stored "
                        f"(default {DEFAULT_STORE})")
    p.add_argument("--quick", action="store_true", help="toy configuration (well under a minute), for tests")
    p.add_argument("--only", help=f"comma-separated subset of: {', '.join(FIGURES)}")
    p.add_argument("--quiet", "--no-progress", dest="quiet", action="store_true",
                   help="no progress lines or bars")
    p.set_defaults(func=_cmd)


def register(subparsers):
    """Add ``figs`` to an argparse ``subparsers`` object."""
    p = subparsers.add_parser("figs", help="regenerate the paper's figures (PNG + PDF) from stored results",
                              description="Build every figure from the result store, running (and storing) "
                                          "whatever cells are missing; see paper_figs/README.md.")
    _add_arguments(p)
    return p


def _cmd(args) -> int:
    from gluon_mvr.paper_figs.build import FIGURES, build_all
    only = None
    if args.only:
        only = [s.strip() for s in args.only.split(",") if s.strip()]
        bad = [s for s in only if s not in FIGURES]
        if bad or not only:
            print(f"gluon-mvr figs: error: --only: allowed values {', '.join(FIGURES)}; got {args.only!r}",
                  file=sys.stderr)
            return 2
    from gluon_mvr.experiments.cli.errors import check_output
    check_output(args.out, "--out", folder=True)      # before any computing
    t0 = time.perf_counter()
    log = None if args.quiet else (lambda msg: print(f"[{time.perf_counter() - t0:6.1f}s] {msg}", file=sys.stderr))
    res = build_all(args.out, args.store, quick=args.quick, only=only, log=log, progress=not args.quiet)
    for name, r in res.items():
        print(f"{name:<12} {r['seconds']:6.1f}s  " + "  ".join(r["paths"]))
    print(f"total {time.perf_counter() - t0:.1f}s; store {args.store}")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gluon_mvr.paper_figs", description=__doc__.splitlines()[0])
    _add_arguments(parser)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 2
    from gluon_mvr.experiments.cli.errors import run_command
    return run_command("figs", args.func, args)
