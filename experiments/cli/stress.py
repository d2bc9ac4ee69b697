"""``gluon-mvr theory stress``: worst measured/bound over a family, and mutation testing of the
bounds (:mod:`gluon_mvr.experiments.studies.stress`).

Exit codes: 0 done (the table printed; a violated bound is printed with ``!!`` and gives 1),
2 bad input (one line on stderr naming the flag and the allowed values), 130 on Ctrl-C (the
cells finished so far stay in the store; a rerun reads them back).
"""
from __future__ import annotations

import json
import sys

PROG = "gluon-mvr theory stress"


def _positive_int(flag, raw):
    try:
        v = int(raw)
        if str(raw).strip() != str(v) or v < 1:
            raise ValueError
    except (TypeError, ValueError):
        raise ValueError(f"{flag}: expected an integer >= 1; got {raw!r}") from None
    return v


def _run(args) -> int:
    from gluon_mvr.experiments.studies.stress import BadStressInput, stress
    try:
        budget = _positive_int("--budget", args.budget)
        seeds = _positive_int("--seeds", args.seeds)
        if seeds < 2:
            raise ValueError(f"--seeds: expected an integer >= 2 (the rate check's intervals need two); got {args.seeds!r}")
        if args.json not in (None, "-"):
            import os
            d = os.path.dirname(os.path.abspath(args.json))
            if not os.path.isdir(d):
                raise ValueError(f"--json: directory {d!r} does not exist; give a writable path or '-'")
    except ValueError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    bar = None

    def progress():
        # created on the first finished instance, so that input errors print on a clean line
        nonlocal bar
        if bar is None:
            from tqdm import tqdm
            n_bounds = 4 if args.bound == "all" else len([b for b in args.bound.split(",") if b.strip()])
            bar = tqdm(total=(min(budget, 4) if args.quick else budget) * max(n_bounds, 1), initial=0,
                       desc="theory stress", unit="instance", file=sys.stderr, leave=False)
        bar.update()

    try:
        res = stress(args.bound, args.family, budget=budget, seeds=seeds, mutations=args.mutations,
                     store=args.store, seed=args.seed, quick=args.quick,
                     progress=None if args.no_progress else progress)
    except BadStressInput as exc:
        msg = str(exc)
        for field_ in ("bound", "family", "budget", "seeds", "horizons"):
            if msg.startswith(field_ + ":"):
                msg = "--" + msg
        print(f"{PROG}: error: {msg}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted; cells finished so far are in {args.store}, nothing else written",
              file=sys.stderr)
        return 130
    finally:
        if bar:
            bar.close()
    # with --json - the document owns stdout; the table goes to stderr
    print(res.table(), file=sys.stderr if args.json == "-" else sys.stdout)
    if args.json:
        doc = res.to_json()
        if args.json == "-":
            json.dump(doc, sys.stdout, indent=2)
            sys.stdout.write("\n")
        else:
            with open(args.json, "w", encoding="utf-8") as fh:
                json.dump(doc, fh, indent=2)
                fh.write("\n")
    return 1 if any(b["violations"] for b in res.document["bounds"]) else 0


def register(theory_subparsers):
    """Add ``stress`` to the ``gluon-mvr theory`` subparsers."""
    from gluon_mvr.experiments.studies.stress import BOUNDS, DEFAULT_BOUNDS, SPACES
    p = theory_subparsers.add_parser(
        "stress", help="search the worst measured/bound of a bound over a family; --mutations: "
                       "shrink each term of each bound and report which mutants the search kills")
    p.add_argument("--bound", default="all",
                   help=f"comma-separated bounds of {', '.join(BOUNDS)}, or 'all' ({', '.join(DEFAULT_BOUNDS)})")
    p.add_argument("--family", default=None,
                   help=f"comma-separated families of {', '.join(SPACES)} (default: quadratic,skewed-quadratic,l0l1 for "
                        f"G_K bounds, star,quadratic,skewed-quadratic for star-convex ones)")
    p.add_argument("--budget", default="128", help="instances evaluated per bound, each at every horizon (default 128: ~4 CPU-minutes for the four default bounds)")
    p.add_argument("--seeds", default="4", help="seeds per cell")
    p.add_argument("--seed", type=int, default=0, help="seed of the search")
    p.add_argument("--mutations", action="store_true",
                   help="shrink each term of each bound 10x and 2x; report the kill table")
    p.add_argument("--quick", action="store_true", help="small setting (~1 minute): budget <= 4, seeds <= 2, K <= 100")
    p.add_argument("--json", metavar="PATH", help="write the report as JSON ('-' for stdout)")
    p.add_argument("--store", default="results/gluon-mvr.sqlite", help="result store (cells are reused)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.set_defaults(func=_run)
    return p
