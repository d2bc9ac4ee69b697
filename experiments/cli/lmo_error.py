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
import time

from gluon_mvr.methods.backend import to_python

PARTS = ("measure", "bound", "kill", "coupling")


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


def _bar(total, desc, enabled):
    if not enabled:
        return None
    from tqdm import tqdm
    return tqdm(total=total, desc=desc, unit="step", file=sys.stderr, leave=False)


def _run_part(fn, total, desc, progress):
    bar = _bar(total, desc, progress)
    try:
        return fn(bar.update if bar else None)
    finally:
        if bar:
            bar.close()


def run(cfg: dict, progress: bool = True) -> tuple:
    """Run the selected parts; return ``(doc, failed)``."""
    from gluon_mvr.experiments.studies.lmo.bound import DEFAULT_LMOS, bound_check
    from gluon_mvr.experiments.studies.lmo.coupling import coupling
    from gluon_mvr.experiments.studies.lmo.error import worst_case_table
    from gluon_mvr.experiments.studies.lmo.momenta import RUN_METHODS, momenta_table
    from gluon_mvr.experiments.studies.lmo.report import known_facts

    seeds = tuple(range(cfg["seeds"]))
    doc = {"config": cfg, "provenance": {
        "error model": "[R] ||lmo~ - lmo|| <= delta (docs/theory.md §6); alignment/overshoot consequences [R]",
        "bounds": "[R] theory.bounds_nonconvex with per-layer delta",
        "coupling prediction": "[R] theory.inexact: t* ~ (1+delta)^(-1/4), 1-beta* ~ (1+delta)^(1/2); "
                               "direction [C, abstract of INEXACT]",
        "Newton-Schulz coefficients": "[C] Jordan 2024, Polar Express arXiv 2505.16932"}}
    failed = False
    timings = {}
    facts = known_facts()
    doc["known_facts"] = facts
    failed |= not all(f["passed"] for f in facts)
    if "measure" in cfg["parts"]:
        t0 = time.perf_counter()
        n = len(cfg["methods"]) * len(cfg["steps"]) * len(cfg["ratios"])
        doc["worst_case"] = _run_part(lambda p: worst_case_table(cfg["methods"], cfg["steps"], cfg["ratios"],
                                                                 progress=p), n, "worst cases", progress)
        n = len(cfg["families"]) * len(RUN_METHODS) * 2
        doc["momenta"] = _run_part(lambda p: momenta_table(cfg["methods"], cfg["steps"], cfg["families"],
                                                           K=cfg["K"], seeds=seeds, dtypes=cfg["dtypes"],
                                                           progress=p), n, "momenta", progress)
        timings["measure"] = time.perf_counter() - t0
    if "bound" in cfg["parts"]:
        t0 = time.perf_counter()
        lmos = DEFAULT_LMOS
        n_ns = sum(1 for lmo in lmos if lmo[1] == "ns")
        n = len(cfg["families"]) * 2 * (len(lmos) - n_ns + n_ns * len(cfg["dtypes"]))
        doc["bound_check"] = _run_part(lambda p: bound_check(cfg["families"], lmos=lmos, K=cfg["K"], seeds=seeds,
                                                             ns_dtypes=tuple(cfg["dtypes"]), progress=p),
                                       n, "bound check", progress)
        failed |= any(not r["ok"] for r in doc["bound_check"])
        timings["bound"] = time.perf_counter() - t0
    if "kill" in cfg["parts"]:
        from gluon_mvr.experiments.studies.lmo.kill import fixed_effective_step, kill_table
        t0 = time.perf_counter()
        doc["kill"] = _run_part(lambda p: kill_table(progress=p), 4, "kill search", progress)
        doc["fixed_effective_step"] = fixed_effective_step()
        failed |= any(r["killed"] == (not r["mutant"]) for r in doc["kill"])
        timings["kill"] = time.perf_counter() - t0
    if "coupling" in cfg["parts"]:
        from gluon_mvr.experiments.studies.lmo.coupling import default_levels
        t0 = time.perf_counter()
        levels = default_levels()
        doc["coupling"] = _run_part(lambda p: coupling(cfg["coupling_problem"], cfg["coupling_params"],
                                                       K=cfg["coupling_K"], seeds=tuple(range(cfg["coupling_seeds"])),
                                                       levels=levels, progress=p),
                                    len(levels), "coupling levels", progress)
        failed |= doc["coupling"]["controls_rescaling_only"] is False
        timings["coupling"] = time.perf_counter() - t0
    doc["timings"] = timings
    doc["failed"] = bool(failed)
    return doc, failed


def format_doc(doc) -> str:
    from gluon_mvr.experiments.studies.lmo.report import (format_bound, format_coupling, format_facts, format_kill,
                                                           format_momenta, format_worst_case)
    out = ["inexact LMO (docs/theory.md §6): delta = spectral error ||lmo~ - lmo|| (float64 SVD), "
           "alignment 1 - <M, -lmo~>/||M||_*, overshoot ||lmo~|| - 1", format_facts(doc["known_facts"])]
    if "worst_case" in doc:
        out += ["", format_worst_case(doc["worst_case"]), "", format_momenta(doc["momenta"])]
    if "bound_check" in doc:
        out += ["", format_bound(doc["bound_check"])]
    if "kill" in doc:
        out += ["", format_kill(doc["kill"], doc["fixed_effective_step"])]
    if "coupling" in doc:
        out += ["", format_coupling(doc["coupling"])]
    out += ["", "time: " + ", ".join(f"{k} {v:.1f}s" for k, v in doc["timings"].items())]
    return "\n".join(out)


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
