"""``gluon-mvr nets compare|smoothness|coupling``: the papers' empirical claims on small real networks.

Needs the ``[torch]`` extra.  Exit codes: 0 done; 2 bad input (one line naming the field) or no
torch; 130 interrupted (finished cells stay in the store; a rerun resumes).
"""
from __future__ import annotations

import json
import os
import sys

from gluon_mvr.experiments.cli.constants import InputError, int_arg

DEFAULT_STORE = os.path.join("results", "gluon-mvr.sqlite")
MODELS = ("gpt-tiny", "mlp-digits", "mlp-mnist")


def _common(p, default_model="gpt-tiny"):
    p.add_argument("--model", default=default_model, help=f"{' | '.join(MODELS)} (default {default_model})")
    p.add_argument("--steps", help="iterations per run (default: the study's)")
    p.add_argument("--seeds", help="paired seeds (default: the study's)")
    p.add_argument("--jobs", default="2", help="parallel processes, one torch thread each (default 2)")
    p.add_argument("--store", default=DEFAULT_STORE, help=f"SQLite result store (default {DEFAULT_STORE})")
    p.add_argument("--json", metavar="PATH", help="write the machine-readable report here ('-': stdout only)")
    p.add_argument("--quick", action="store_true", help="toy setting (under 2 minutes; the tests run it)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def register(subparsers):
    """Add ``nets`` (with ``compare``, ``smoothness``, ``coupling``) to an argparse subparsers object."""
    p = subparsers.add_parser("nets", help="real networks (PyTorch): compare optimizers, layer smoothness, "
                                           "inexact-LMO coupling",
                              description="Small-scale checks of the papers' empirical claims on real data "
                                          "(needs pip install 'gluon-mvr[torch]').")
    sub = p.add_subparsers(dest="nets_cmd", metavar="STUDY", required=True)
    c = sub.add_parser("compare", help="Adam, Muon, Gluon, MVR-1/2/3: tuned, then paired seeds",
                       description="Learning-rate (and beta/q) grid on seed 0, paired seeds at each best; "
                                   "validation loss at equal iterations and equal gradient evaluations.")
    _common(c)
    c.add_argument("--methods", help="comma-separated subset of adam,muon,gluon,mvr1,mvr2,mvr3 (default all)")
    c.add_argument("--grid", action="append", default=[], metavar="METHOD=LR[,LR...]",
                   help="learning rates (radii) tried for METHOD (repeatable)")
    c.set_defaults(func=_compare)
    s = sub.add_parser("smoothness", help="per-layer (L0, L1) along training; radius sweep vs 1/L1",
                       description="Measure (||grad_i f(X) - grad_i f(Y)||_* / ||X_i - Y_i||, ||grad_i f(X)||_*) "
                                   "per layer along a Gluon run, fit L0 + L1 g per layer group, and sweep each "
                                   "group's radius against the theory radius 1/L1.")
    _common(s)
    s.add_argument("--fit", default="penalized", help="envelope | penalized (default penalized)")
    s.add_argument("--log", metavar="FILE.csv", help="also write the pairs as layer,L_hat,grad_norm,step "
                                                     "(the 'constants --from-log' format)")
    s.set_defaults(func=_smoothness)
    k = sub.add_parser("coupling", help="learning rate x Newton-Schulz steps; delta on the real momenta",
                       description="Grid of learning rate x Newton-Schulz steps (exact SVD = delta 0) with "
                                   "RMS-normalised updates; delta measured on the momenta of each run.")
    _common(k)
    k.add_argument("--ns-steps", dest="ns_steps", help="comma-separated Newton-Schulz steps (0 = exact SVD)")
    k.set_defaults(func=_coupling)
    return p


def _int(name, raw, low, default):
    return default if raw is None else int_arg(name, raw, low)


def _floats(name, raw):
    try:
        vals = [float(x) for x in raw.split(",") if x.strip()]
    except ValueError:
        raise InputError(f"--{name}: expected comma-separated positive numbers; got {raw!r}") from None
    if not vals or any(not (v > 0 and v < float("inf")) for v in vals):
        raise InputError(f"--{name}: expected comma-separated positive numbers; got {raw!r}")
    return vals


def _need_torch():
    # only gluon_mvr.nets imports torch; its ImportError carries the install hint
    try:
        import gluon_mvr.nets  # noqa: F401
    except ImportError:
        raise InputError("nets: needs PyTorch; install the extra: pip install 'gluon-mvr[torch]'") from None


def _prepare(args, full, quick):
    s = json.loads(json.dumps(quick if args.quick else full))
    if args.model not in MODELS:
        raise InputError(f"--model: allowed values {', '.join(MODELS)}; got {args.model!r}")
    if args.model != s["task"]:
        s["task"], s["task_params"] = args.model, {}
    s["steps"] = _int("steps", args.steps, 1, s["steps"])
    s["seeds"] = _int("seeds", args.seeds, 1, s["seeds"])
    jobs = _int("jobs", args.jobs, 1, 2)
    return s, jobs


def _bar(args, total):
    if args.no_progress:
        return None
    from tqdm import tqdm
    return tqdm(total=total, desc="runs", unit="run", file=sys.stderr, leave=False)


def _finish(args, report, text, store):
    from gluon_mvr._version import __version__
    if args.json == "-":           # the project's convention: the JSON document alone on stdout
        json.dump({**report, "version": __version__}, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return
    print(text)
    print(f"results stored in {os.path.abspath(store)}")
    if args.json:
        try:
            os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
            with open(args.json, "w") as fh:
                json.dump({**report, "version": __version__}, fh, indent=2)
        except OSError as exc:
            raise InputError(f"--json: cannot write {args.json}: {exc.strerror}") from None
        print(f"report written to {args.json}")


def _run(args, body):
    try:
        _need_torch()
        return body()
    except InputError as exc:
        print(f"gluon-mvr nets {args.nets_cmd}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"gluon-mvr nets {args.nets_cmd}: interrupted; finished runs are in {args.store} "
              f"(rerun the same command to resume)", file=sys.stderr)
        return 130


def _compare(args):
    def body():
        from gluon_mvr.nets import compare as C
        s, jobs = _prepare(args, C.FULL, C.QUICK)
        methods = C.OPTIMIZERS
        if args.methods:
            methods = tuple(m.strip() for m in args.methods.split(",") if m.strip())
            bad = [m for m in methods if m not in C.OPTIMIZERS]
            if bad or not methods:
                raise InputError(f"--methods: allowed values {', '.join(C.OPTIMIZERS)}; got {args.methods!r}")
        for item in args.grid:
            m, _, lrs = item.partition("=")
            if m.strip() not in C.OPTIMIZERS or not lrs:
                raise InputError(f"--grid: expected METHOD=LR[,LR...] with METHOD in {', '.join(C.OPTIMIZERS)}; "
                                 f"got {item!r}")
            s["grid"][m.strip()] = _floats("grid", lrs)
        from gluon_mvr.experiments.core.store import ResultStore
        store = ResultStore(args.store)
        bar = _bar(args, C.total_cells(s, methods))
        try:
            rep = C.compare(s, methods, store, jobs, bar.update if bar else None)
        finally:
            if bar:
                bar.close()
        _finish(args, rep, C.format_report(rep), args.store)
        return 0
    return _run(args, body)


def _smoothness(args):
    def body():
        from gluon_mvr.nets import smoothness as S
        if args.fit not in S.FITS:
            raise InputError(f"--fit: allowed values {', '.join(S.FITS)}; got {args.fit!r}")
        s, jobs = _prepare(args, S.FULL, S.QUICK)
        s["fit"] = args.fit
        from gluon_mvr.experiments.core.store import ResultStore
        store = ResultStore(args.store)
        bar = _bar(args, S.total_cells(s))
        try:
            rep = S.smoothness(s, store, jobs, bar.update if bar else None)
        finally:
            if bar:
                bar.close()
        if args.log:
            S.write_log(rep, args.log)
        _finish(args, rep, S.format_report(rep), args.store)
        return 0
    return _run(args, body)


def _coupling(args):
    def body():
        from gluon_mvr.nets import coupling as K
        s, jobs = _prepare(args, K.FULL, K.QUICK)
        if args.ns_steps:
            try:
                s["ns_steps"] = [int(x) for x in args.ns_steps.split(",") if x.strip()]
            except ValueError:
                s["ns_steps"] = []
            if not s["ns_steps"] or any(v < 0 for v in s["ns_steps"]):
                raise InputError(f"--ns-steps: expected comma-separated integers >= 0 (0 = exact SVD); "
                                 f"got {args.ns_steps!r}")
        from gluon_mvr.experiments.core.store import ResultStore
        store = ResultStore(args.store)
        bar = _bar(args, K.total_cells(s))
        try:
            rep = K.coupling(s, store, jobs, bar.update if bar else None)
        finally:
            if bar:
                bar.close()
        _finish(args, rep, K.format_report(rep), args.store)
        return 0
    return _run(args, body)
