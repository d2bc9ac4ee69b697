"""``theory`` subcommand: ``verify`` (the symbolic checks) and ``check`` (a user's schedule).

:func:`register` adds it to the toolkit's argparse CLI; each handler returns the exit code:

- ``verify`` 0 when every check passes, 1 otherwise, 2 on a bad ``--only``, 130 on Ctrl-C.
  Each printed check says how it was decided (``[symbolic]`` or ``[numeric]``), then a
  per-bound validity summary; ``--json`` writes ``checks`` (``name``, ``passed``, ``method``,
  ``detail``) and ``validity`` (per bound, the checks of its validity).  A tqdm bar on stderr
  shows progress (``--no-progress`` silences it); ``--only`` takes name prefixes.
- ``check`` 0 when the claimed rate is attained, 1 when not, 2 on bad input (one line on
  stderr naming the flag).  The momentum is ``--beta`` (beta) or ``--one-minus-beta``
  (1 - beta); ``--momentum`` is kept and means 1 - beta (the output says so).
- ``stress`` (:mod:`gluon_mvr.experiments.cli.stress`): worst measured/bound over a family and
  mutation testing of the bounds.
"""
from __future__ import annotations

import json
import sys

from gluon_mvr.experiments.cli import stress as stress_cli


def _write_json(path, payload):
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(payload, fh, indent=2)
        fh.write("\n")


def _verify(args) -> int:
    from gluon_mvr.theory.verify import run_all, tasks, validity_report
    only = [x.strip() for x in args.only.split(",") if x.strip()] if args.only else None
    if args.only is not None and not only:
        print("gluon-mvr theory verify: error: --only: expected comma-separated check-name prefixes, "
              "e.g. 'chain:,assembly:'", file=sys.stderr)
        return 2
    bar = None
    if not args.no_progress:
        from tqdm import tqdm
        total = sum(1 for name, _ in tasks() if not only or name.startswith(tuple(only)))
        bar = tqdm(total=total, desc="theory verify", unit="check", file=sys.stderr, leave=False)
    try:
        checks = run_all(progress=(lambda name: (bar.set_postfix_str(name, refresh=False), bar.update())) if bar
                         else None, only=only)
    except KeyboardInterrupt:
        if bar:
            bar.close()
        print("gluon-mvr theory verify: interrupted; no result written", file=sys.stderr)
        return 130
    finally:
        if bar:
            bar.close()
    if not checks:
        print(f"gluon-mvr theory verify: error: --only: no check name starts with {', '.join(only)}",
              file=sys.stderr)
        return 2
    width = max(len(c.name) for c in checks)
    for c in checks:
        print(f"{'PASS' if c.passed else 'FAIL'}  {c.name:<{width}}  [{c.method}]  {c.detail}")
    failed = [c for c in checks if not c.passed]
    report = validity_report(checks)
    print("\nvalidity per bound (check: how decided):")
    for bound, rows in report.items():
        if rows:
            own = [r for r in rows if not r["name"].startswith(("weights:", "step:descent-l1", "step:cauchy",
                                                                "step:martingale", "step:descent-inner"))]
            print(f"  {bound:<14} " + ", ".join(f"{r['name']} {r['method']}{'' if r['passed'] else ' FAIL'}"
                                               for r in own))
    n_sym = sum(c.method == "symbolic" for c in checks)
    print(f"\n{len(checks) - len(failed)}/{len(checks)} checks passed ({n_sym} symbolic, "
          f"{len(checks) - n_sym} numeric)" + (f"; FAILED: {', '.join(c.name for c in failed)}" if failed else ""))
    if args.json:
        _write_json(args.json, {"checks": [c.as_dict() for c in checks], "validity": report,
                                "passed": not failed, "n_checks": len(checks), "n_failed": len(failed)})
    return 1 if failed else 0


def _check(args) -> int:
    from gluon_mvr.theory.check import BadInput, check_schedule, format_order
    try:
        result = check_schedule(args.method, args.radius, args.momentum, args.q, beta_expr=args.beta,
                                one_minus_beta_expr=args.one_minus_beta)
    except BadInput as exc:
        print(f"gluon-mvr theory check: error: {exc}", file=sys.stderr)
        return 2
    print(result.message)
    for note in result.notes:
        print(f"  note: {note}")
    for hint in result.hints:
        print(f"  {hint}")
    for name, exp, logp in result.term_orders:
        print(f"  {name:<16} {format_order(exp, logp)}")
    for name, ok, detail in result.conditions:
        if not ok:
            print(f"  condition failed: {name} ({detail})")
    if args.json:
        _write_json(args.json, result.as_dict())
    return 0 if result.attained else 1


def register(subparsers):
    """Add ``theory verify`` and ``theory check`` to an argparse ``subparsers`` object."""
    p = subparsers.add_parser("theory", help="symbolic bounds: verify them, or check a schedule's rate")
    sub = p.add_subparsers(dest="theory_command", required=True)
    v = sub.add_parser("verify", help="run every symbolic check; exit 1 on any failure")
    v.add_argument("--json", metavar="PATH",
                   help="write every check (name, passed, method: symbolic|numeric, detail) as JSON")
    v.add_argument("--only", metavar="PREFIXES",
                   help="run only the checks whose name starts with one of these comma-separated prefixes")
    v.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    v.set_defaults(func=_verify)
    c = sub.add_parser("check", help="rate of a method's bound under a schedule given as expressions in K")
    c.add_argument("--method", required=True, help="gluon, mvr1, mvr2 or mvr3")
    c.add_argument("--radius", required=True, help="radius t(K), e.g. 'K**(-2/3)', 't0*K^(-3/4)' or 'Min(1/L1, K**(-2/3))'")
    # one of the three, checked by check_schedule (one error line naming the flag, exit 2)
    mom = c
    mom.add_argument("--beta", help="beta(K), the weight of the OLD momentum, e.g. '1 - K**(-2/3)'")
    mom.add_argument("--one-minus-beta", dest="one_minus_beta",
                     help="1 - beta(K), the weight of the new gradient, e.g. 'K**(-2/3)'")
    mom.add_argument("--momentum", help="same as --one-minus-beta (1 - beta; kept for old scripts)")
    c.add_argument("--q", default=None, help="MVR mixing q(K) (mvr2, mvr3)")
    c.add_argument("--json", metavar="PATH", help="write the result as JSON")
    c.set_defaults(func=_check)
    stress_cli.register(sub)
    return p
