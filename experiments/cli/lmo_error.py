r"""``gluon-mvr lmo-error``: measure the inexact LMO's delta, check the bounds, find the coupling.

Parts (``--parts``, default ``measure,bound``; ``--coupling`` adds ``coupling``):

- ``measure``: delta three ways (spectral, alignment, overshoot) per approximation and number of
  steps, (a) worst case over normalised spectra in ``[r, 1]`` for each ``--ratios`` value,
  confirmed on actual matrices in float64 and float32, (b) on the momenta of Gluon and MVR-1
  runs on ``--families``, per layer, with Newton–Schulz in each of ``--dtypes``
  (:mod:`experiments.lmo_error`, :mod:`experiments.lmo_momenta`); plus the known facts
  (:mod:`experiments.lmo_report`);
- ``bound``: runs with inexact LMOs; the theory bound at the measured delta must hold on each
  (:mod:`experiments.lmo_bound`);
- ``kill``: the instance where delta matters (:mod:`experiments.studies.lmo.kill`): G_K at a
  fixed effective step per delta, and the seeded kill search holding the inexact bound and its
  wrong-delta mutants against it (the bound must survive, every mutant must be killed);
- ``coupling``: per precision level (ordered by measured delta) best radius, mean gain, best
  effective step and 1-beta with seed intervals, and a verdict "rescaling only" / "direction
  effect" (:mod:`experiments.studies.lmo.coupling`).

Exit codes: 0 success; 1 a bound violated, a known fact not reproduced, a wrong-delta mutant not
killed or a rescaling control not read as "rescaling only"; 2 bad input (one line on stderr
naming the field).  Results: ``--json`` (one machine-readable document) and one
row of kind ``lmo-error`` in the SQLite store ``--store``.
"""
from __future__ import annotations

import json
import os
import sys

from gluon_mvr.experiments.studies.lmo.study import PARTS, format_doc, run  # noqa: F401  (run, format_doc: the study)
from gluon_mvr.methods.backend import to_python



class BadInput(ValueError):
    """A command-line value out of range; the message names the field."""


def _list(field, raw, allowed=None):
    items = [s.strip() for s in str(raw).split(",") if s.strip()]
    if not items:
        raise BadInput(f"{field}: empty list")
    if allowed is not None:
        for s in items:
            if s not in allowed:
                raise BadInput(f"{field}: unknown value {s!r}; allowed: {', '.join(allowed)}")
    return list(dict.fromkeys(items))


def parse_steps(raw) -> list:
    """``'1-10'``, ``'5'`` or ``'1,3,5'`` (mixable) -> sorted integers >= 1."""
    out = set()
    for part in [s.strip() for s in str(raw).split(",") if s.strip()] or [""]:
        try:
            if "-" in part:
                lo, hi = (int(v) for v in part.split("-", 1))
                if hi < lo:
                    raise ValueError
                vals = range(lo, hi + 1)
            else:
                vals = [int(part)]
        except ValueError:
            raise BadInput(f"--steps: expected integers >= 1 as 'A-B' or 'A,B,...'; got {raw!r}") from None
        for v in vals:
            if v < 1 or v > 100:
                raise BadInput(f"--steps: each number of steps must lie in 1..100; got {v}")
            out.add(v)
    return sorted(out)


def _pos_int(field, raw, low=1):
    try:
        v = int(raw)
    except (TypeError, ValueError):
        raise BadInput(f"{field}: expected an integer >= {low}; got {raw!r}") from None
    if v < low:
        raise BadInput(f"{field}: expected an integer >= {low}; got {raw!r}")
    return v


def _ratios(raw):
    out = []
    for s in _list("--ratios", raw):
        try:
            v = float(s)
        except ValueError:
            raise BadInput(f"--ratios: expected numbers in (0, 1); got {s!r}") from None
        if not (0 < v < 1):
            raise BadInput(f"--ratios: expected numbers in (0, 1); got {s!r}")
        out.append(v)
    return sorted(set(out), reverse=True)


def validate(args) -> dict:
    """Plain configuration from parsed arguments; raises :class:`BadInput`."""
    from gluon_mvr.problems.registry import family_names, parse_param_pairs

    from gluon_mvr.experiments.studies.lmo.error import APPROXIMATIONS, DTYPES
    parts = _list("--parts", args.parts, PARTS)
    if args.coupling and "coupling" not in parts:
        parts.append("coupling")
    cfg = {"parts": parts,
           "methods": _list("--methods", args.methods, tuple(APPROXIMATIONS)),
           "steps": parse_steps(args.steps),
           "dtypes": _list("--dtypes", args.dtypes, DTYPES),
           "ratios": _ratios(args.ratios),
           "families": _list("--families", args.families, family_names()),
           "K": _pos_int("--K", args.K, 2),
           "seeds": _pos_int("--seeds", args.seeds),
           "coupling_problem": _list("--coupling-problem", args.coupling_problem, family_names())[0],
           "coupling_K": _pos_int("--coupling-K", args.coupling_K, 2),
           "coupling_seeds": _pos_int("--coupling-seeds", args.coupling_seeds),
           "json": args.json, "store": args.store}
    try:
        cfg["coupling_params"] = parse_param_pairs(args.coupling_param) if args.coupling_param else None
    except ValueError as exc:
        raise BadInput(f"--coupling-param: {exc}") from None
    return cfg



def _store(doc, path):
    from gluon_mvr.experiments.core.cells import canonical, cell_key, environment, package_version
    from gluon_mvr.experiments.core.store import ResultStore
    config = {"kind": "lmo-error", **{k: v for k, v in doc["config"].items() if k not in ("json", "store")},
              "version": package_version()}
    key = cell_key(config)
    # "seeds": [] keeps `results export` (one CSV row per seed of a rate cell) from listing this row
    result = {"seeds": [], **doc}
    ResultStore(path).put(key, "lmo-error", json.loads(canonical(config)), result, package_version(),
                          environment(), sum(doc["timings"].values()))
    return key


def _cmd(args) -> int:
    try:
        cfg = validate(args)
    except BadInput as exc:
        print(f"gluon-mvr lmo-error: error: {exc}", file=sys.stderr)
        return 2
    # issue #19: outputs and store checked before computing; '--json -' is stdout
    from gluon_mvr.experiments.cli.errors import check_output, write_json
    check_output(cfg["json"], "--json")
    if cfg["store"]:
        from gluon_mvr.experiments.core.store import ResultStore
        if ResultStore(cfg["store"]).readonly:
            raise BadInput(f"--store {cfg['store']}: read-only; give a writable store or --store ''")
    doc, failed = run(cfg, progress=not args.no_progress)
    text_out = sys.stderr if cfg["json"] == "-" else sys.stdout
    print(format_doc(doc), file=text_out)
    doc = to_python(doc)
    if cfg["store"]:
        key = _store(doc, cfg["store"])
        print(f"results stored in {os.path.abspath(cfg['store'])} (kind lmo-error, key {key[:12]})",
              file=text_out)
    if cfg["json"]:
        write_json(cfg["json"], doc, indent=1, allow_nan=False)
        if cfg["json"] != "-":
            print(f"report written to {cfg['json']}")
    if failed:
        print("lmo-error: FAILED (a bound violated, a known fact not reproduced, a wrong-delta mutant not killed "
              "or a rescaling control misread)", file=sys.stderr)
    return 1 if failed else 0


def register(subparsers):
    """Add ``lmo-error`` to an argparse ``subparsers`` object."""
    p = subparsers.add_parser(
        "lmo-error", help="inexact LMO: measure delta, check the delta-bounds, find the step-size coupling",
        description="Measure the error delta of Newton-Schulz / Polar Express LMOs three ways (worst case over "
                    "spectra and on the momenta runs meet), check the theory bounds at the measured delta, "
                    "and (--coupling) find how the best radius and 1-beta shift with the precision.")
    p.add_argument("--methods", default="ns-jordan,ns-cubic,ns-quintic,polar-express",
                   help="approximations (default: all four)")
    p.add_argument("--steps", default="1-10", help="numbers of steps: 'A-B' and/or 'A,B,...' (default 1-10)")
    p.add_argument("--dtypes", default="float64,float32", help="Newton-Schulz working dtypes")
    p.add_argument("--ratios", default="1e-1,1e-2,1e-3,1e-4",
                   help="smallest normalised singular values r of the worst-case spectra [r, 1]")
    p.add_argument("--families", default="quadratic,l0l1,nonconvex,twolayer",
                   help="problem families of the runs (small sizes)")
    p.add_argument("--K", default="300", help="horizon of the momenta and bound-check runs (default 300)")
    p.add_argument("--seeds", default="4", help="seeds per run (default 4)")
    p.add_argument("--parts", default="measure,bound,kill",
                   help="measure, bound, kill, coupling (default measure,bound,kill)")
    p.add_argument("--coupling", action="store_true", help="also run the coupling experiment")
    p.add_argument("--coupling-problem", dest="coupling_problem", default="quadratic",
                   help="problem family of the coupling runs (default quadratic; see `gluon-mvr problems`)")
    p.add_argument("--coupling-param", dest="coupling_param", action="append", default=[], metavar="KEY=VALUE",
                   help="problem parameter of the coupling problem (repeatable; default sigma=5)")
    p.add_argument("--coupling-K", dest="coupling_K", default="400",
                   help="horizon of the coupling runs (default 400)")
    p.add_argument("--coupling-seeds", dest="coupling_seeds", default="4",
                   help="seeds per coupling cell (default 4)")
    p.add_argument("--json", metavar="PATH", help="write the machine-readable report here ('-' for stdout)")
    p.add_argument("--store", default="results/gluon-mvr.sqlite",
                   help="SQLite result store (kind lmo-error); '' to skip")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=_cmd)
    return p
