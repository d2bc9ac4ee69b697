"""``gluon-mvr problems [NAME]``: the problem families, their parameters and declared constants.

Without ``NAME``: one line per family (its summary).  With ``NAME``: every parameter with its
type, default, allowed range or values and help, then the constants the family declares at
its default parameters (``--param KEY=VALUE`` for other values): per layer the norm,
:math:`L_0, L_1` (A1), :math:`\\sigma` (A2), :math:`\\ell` (A3), :math:`\\rho`, and ``f*``.
``--json PATH`` (``-`` for stdout) writes the same as JSON.  Exit 2 on an unknown family or
parameter.
"""
from __future__ import annotations

import sys

from gluon_mvr.experiments.cli.errors import UserError, write_json


def _range(p) -> str:
    if p.choices is not None:
        return " | ".join(map(str, p.choices))
    if p.type is bool:
        return "true | false"
    lo = "> 0" if p.positive else (f">= {p.low:g}" if p.low is not None else "")
    hi = f"<= {p.high:g}" if p.high is not None else ""
    return ", ".join(s for s in (lo, hi) if s) or "any"


def describe_family(name: str, raw_params: dict | None = None) -> dict:
    """Parameters (type, default, range, help) and declared constants of family ``name``."""
    from gluon_mvr.problems.registry import get_family
    try:
        fam = get_family(name)
        params = fam.parse_params(raw_params or {})
        problem = fam.build(**params)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    return {"family": name, "summary": fam.summary,
            "params": [{"name": k, "type": p.type.__name__, "default": p.default, "range": _range(p),
                        "help": p.help} for k, p in fam.params.items()],
            "at": params, "constants": problem.constants.as_dict(), "f_star": problem.f_star}


def _print_family(d):
    print(f"{d['family']}: {d['summary']}")
    print("parameters (--param KEY=VALUE):")
    w = max([len(p["name"]) for p in d["params"]] + [4])
    for p in d["params"]:
        print(f"  {p['name']:<{w}}  {p['type']:<5}  default {p['default']!s:<10}  range {p['range']:<14}  {p['help']}")
    c = d["constants"]
    at = ", ".join(f"{k}={v}" for k, v in d["at"].items())
    print(f"declared constants at {at} ({c.get('source', '')}; region {c.get('region', '')}):")
    print(f"  {'layer':>5} {'norm':<12} {'L0':>10} {'L1':>10} {'sigma':>10} {'ell':>10} {'rho':>10}")
    for i, norm in enumerate(c["norms"]):
        print(f"  {i:>5} {norm:<12} " + " ".join(f"{c[k][i]:>10.4g}" for k in ("L0", "L1", "sigma", "ell", "rho")))
    print(f"  sigma in the {c.get('sigma_norm', 'frobenius')} norm; f* = "
          f"{'unknown' if d['f_star'] is None else format(d['f_star'], '.6g')}")


def _cmd(args) -> int:
    from gluon_mvr.problems.registry import family_names, get_family, parse_param_pairs
    if args.name is None:
        if args.param:
            raise UserError("--param: only with a family NAME")
        doc = {"families": [{"family": n, "summary": get_family(n).summary} for n in family_names()]}
        if args.json == "-":
            write_json("-", doc)
            return 0
        w = max(len(n) for n in family_names())
        for f in doc["families"]:
            print(f"{f['family']:<{w}}  {f['summary']}")
        print("\n`gluon-mvr problems NAME` lists a family's parameters and declared constants")
    else:
        try:
            raw = parse_param_pairs(args.param)
        except ValueError as exc:
            raise UserError(str(exc)) from None
        doc = describe_family(args.name, raw)
        if args.json != "-":
            _print_family(doc)
    if args.json:
        from gluon_mvr.experiments.core.provenance import provenance
        write_json(args.json, {**doc, "provenance": provenance()}, default=str)
    return 0


def register(subparsers):
    """Add ``problems`` to an argparse ``subparsers`` object."""
    p = subparsers.add_parser("problems", help="list the problem families, their parameters and constants",
                              description=__doc__.splitlines()[0])
    p.add_argument("name", nargs="?", metavar="NAME", help="a family (default: list them all)")
    p.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                   help="parameter value at which to show the declared constants (repeatable)")
    p.add_argument("--json", metavar="PATH", help="also write it as JSON ('-' for stdout only)")
    p.set_defaults(func=_cmd)
    return p


