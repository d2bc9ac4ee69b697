"""``python -m benchmarks [--json PATH] [--quick] [--only 1,3]``: the performance figures of
issue 9, each a ratio taken in one run, printed with the target beside it.

Exit status 0 when every benchmark ran (a missed target is a finding, reported as FAIL), 1 when
one could not run (reported as ERROR, with the reason)."""
from __future__ import annotations

import argparse
import sys

from .suite import format_environment, format_row, header, run_suite, write_json


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m benchmarks", description=" ".join(__doc__.split("\n\n")[0].split()))
    ap.add_argument("--json", metavar="PATH", help="write every figure, its target and pass/fail as JSON")
    ap.add_argument("--quick", action="store_true", help="smaller sizes, no rate check (about a minute)")
    ap.add_argument("--only", default="", help="comma-separated benchmark numbers (1-6) to run")
    ap.add_argument("--rate-check-timeout", type=float, default=240.0,
                    help="cap in seconds on the rate-check subprocess (benchmark 4); default 240")
    args = ap.parse_args(argv)
    try:
        only = {int(v) for v in args.only.split(",") if v.strip()}
    except ValueError:
        ap.error(f"--only: expected numbers like 1,3; got {args.only!r}")
    if only - {1, 2, 3, 4, 5, 6}:
        ap.error(f"--only: benchmarks are numbered 1-6; got {args.only!r}")

    from .common import environment
    env = environment()
    print(format_environment(env))
    load = env["load_average_at_start"]
    if load and env["cores"] and load[0] > 0.75 * env["cores"]:
        print(f"warning: the machine is busy (load {load[0]} on {env['cores']} cores): wall times are "
              f"inflated and noisy; CPU-time ratios are given beside the wall-time ones")
    print(header(), flush=True)
    report = run_suite("quick" if args.quick else "full", only or None,
                       {"rate_check_timeout": args.rate_check_timeout},
                       echo=lambda f: print(format_row(f), flush=True))
    print("-" * 134)
    figs = [f for f in report["figures"] if f["target"] is not None]
    met = sum(1 for f in figs if f["passed"])
    judged = sum(1 for f in figs if f["passed"] is not None)
    broken = [f["bench"] for f in report["figures"] if f["broken"]]
    print(f"targets met: {met}/{judged}  (total {report['total_seconds']:.0f} s; "
          f"load average at end {report['environment']['load_average_at_end']})"
          + (f"; FAILED TO RUN: {', '.join(broken)}" if broken else ""))
    if args.json:
        write_json(report, args.json)
        print(f"JSON written to {args.json}")
    return 1 if broken else 0   # a target missed is a finding; a benchmark that cannot run is an error


if __name__ == "__main__":
    sys.exit(main())
