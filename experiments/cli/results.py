"""``gluon-mvr results``: inspect, export and clean a result store.

- ``results list``: rows per (kind, version, code fingerprint), current code marked; ``--cells``
  lists every row (key prefix, kind, configuration summary);
- ``results show KEY``: one row (a unique key prefix suffices) as JSON;
- ``results export``: tidy CSV or Parquet, one row per cell and seed (and one per record of the
  lmo-error and figure-data tables), every configuration column flattened, provenance columns
  (:mod:`experiments.core.tidy`); written to a temporary file and renamed, so a failed export
  leaves no partial file;
- ``results prune``: delete rows of other code (``--other-code``), of a kind, version or
  fingerprint; ``--dry-run`` only counts.

Reads write nothing; a store on a read-only file system is opened read-only (it can be listed,
shown and exported).
Exit codes: 0 success; 2 bad input (one line naming the option).
"""
from __future__ import annotations

import json
import os
import sys

from gluon_mvr.experiments.cli.errors import UserError, check_output, open_output

DEFAULT_STORE = "results/gluon-mvr.sqlite"
FORMATS = ("csv", "parquet")


def _open(path, readonly=None):
    from gluon_mvr.experiments.core.store import ResultStore
    if not os.path.exists(path):
        raise UserError(f"--store {path}: no such file")
    return ResultStore(path, readonly=readonly)


def _current():
    from gluon_mvr.experiments.core.provenance import code_fingerprint, package_version
    return package_version(), code_fingerprint()


# ------------------------------------------------------------------------------------ export
def _check_parquet():
    try:
        import pandas  # noqa: F401
    except ImportError:
        raise UserError("--format parquet: needs pandas and pyarrow (pip install pandas pyarrow); "
                        "or use --format csv") from None
    for engine in ("pyarrow", "fastparquet"):
        try:
            __import__(engine)
            return
        except ImportError:
            continue
    raise UserError("--format parquet: needs pyarrow (pip install pyarrow); or use --format csv")


def _export(args) -> int:
    from gluon_mvr.experiments.core.tidy import store_rows, write_csv, write_parquet
    if args.format not in FORMATS:
        raise UserError(f"--format: allowed values {', '.join(FORMATS)}; got {args.format!r}")
    out = args.out or ("results.parquet" if args.format == "parquet" else "results.csv")
    if args.format == "parquet":
        _check_parquet()
        if out == "-":
            raise UserError("--out -: Parquet is binary; give a file path")
    check_output(out, "--out")
    store = _open(args.store)
    kinds = [k.strip() for k in args.kind.split(",") if k.strip()] if args.kind else None
    rows = store_rows(store, kinds)
    if out == "-":
        write_csv(rows, "-")
        return 0
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    tmp = f"{out}.partial"
    try:
        (write_parquet if args.format == "parquet" else write_csv)(rows, tmp)
        os.replace(tmp, out)
    except OSError as exc:
        raise UserError(f"--out {out}: cannot write ({exc.strerror or exc})") from None
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    n_cells = len({r["key"] for r in rows})
    print(f"wrote {len(rows)} rows ({n_cells} stored rows) to {out}")
    return 0


# -------------------------------------------------------------------------------------- list
def _list(args) -> int:
    store = _open(args.store)
    version, fp = _current()
    groups = store.summary()
    print(f"store {args.store}: {sum(g['n'] for g in groups)} rows; current code: version {version}, "
          f"fingerprint {fp}")
    print(f"{'kind':<12} {'version':<10} {'fingerprint':<18} {'rows':>6}  ")
    for g in groups:
        mark = "current" if (g["version"], g["fingerprint"]) == (version, fp) else "other code"
        print(f"{g['kind']:<12} {g['version']:<10} {str(g['fingerprint']):<18} {g['n']:>6}  {mark}")
    if args.cells:
        print()
        for row in store.rows():
            c = row["config"]
            what = " ".join(f"{k}={c[k]}" for k in ("problem", "method", "K", "lmo", "figure") if k in c)
            print(f"{row['key'][:12]}  {row['kind']:<12} {what}")
    return 0


# -------------------------------------------------------------------------------------- show
def _show(args) -> int:
    store = _open(args.store)
    prefix = args.key.strip().lower()
    if len(prefix) < 4 or any(ch not in "0123456789abcdef" for ch in prefix):
        raise UserError(f"KEY: expected at least 4 hex digits of a stored key; got {args.key!r}")
    rows = list(store.rows(key_prefix=prefix))
    if not rows:
        raise UserError(f"KEY {args.key}: no stored row has this key (see `gluon-mvr results list --cells`)")
    if len(rows) > 1:
        raise UserError(f"KEY {args.key}: {len(rows)} rows share this prefix; give more digits")
    row = rows[0]
    version, fp = _current()
    row["current_code"] = (row["version"], row["env"].get("code_fingerprint")) == (version, fp)
    with open_output("-") as fh:
        json.dump(row, fh, indent=2, sort_keys=True)
        fh.write("\n")
    return 0


# ------------------------------------------------------------------------------------- prune
def _prune(args) -> int:
    if not (args.other_code or args.kind or args.version or args.fingerprint):
        raise UserError("prune: say what to delete: --other-code, --kind, --version and/or --fingerprint")
    store = _open(args.store)
    version, fp = _current()
    doomed = []
    for row in store.rows():
        row_fp = row["env"].get("code_fingerprint")
        if args.other_code and (row["version"], row_fp) == (version, fp):
            continue
        if args.kind and row["kind"] != args.kind:
            continue
        if args.version and row["version"] != args.version:
            continue
        if args.fingerprint and row_fp != args.fingerprint:
            continue
        doomed.append(row["key"])
    if args.dry_run:
        print(f"would delete {len(doomed)} rows of {store.count()}")
        return 0
    n = store.delete(doomed)
    print(f"deleted {n} rows; {store.count()} left in {args.store}")
    return 0


def register(subparsers):
    """Add ``results`` (list, show, export, prune) to an argparse ``subparsers`` object."""
    p = subparsers.add_parser("results", help="inspect, export and prune the result store",
                              description="Inspect (list, show), export (CSV, Parquet) and prune the result store; "
                                          "reads never modify it.")
    rs = p.add_subparsers(dest="results_cmd", required=True, metavar="{list,show,export,prune}")
    store_help = f"SQLite result store (default {DEFAULT_STORE})"

    e = rs.add_parser("export", help="tidy CSV or Parquet: one row per cell and seed, every configuration "
                                     "column, provenance columns")
    e.add_argument("--store", default=DEFAULT_STORE, help=store_help)
    e.add_argument("--out", default=None,
                   help="output file ('-' for stdout, CSV only; default results.csv or results.parquet)")
    e.add_argument("--format", default="csv", help=f"{' | '.join(FORMATS)} (default csv; parquet needs pandas "
                                                   f"and pyarrow)")
    e.add_argument("--kind", default=None,
                   help="comma-separated kinds to export (rate, tuned, lmo-error, figure-data; default all)")
    e.set_defaults(func=_export)

    li = rs.add_parser("list", help="rows per kind, package version and code fingerprint")
    li.add_argument("--store", default=DEFAULT_STORE, help=store_help)
    li.add_argument("--cells", action="store_true", help="also list every row (key prefix, kind, summary)")
    li.set_defaults(func=_list)

    sh = rs.add_parser("show", help="one stored row as JSON (configuration, result, provenance)")
    sh.add_argument("key", metavar="KEY", help="the row's key or a unique prefix (>= 4 hex digits)")
    sh.add_argument("--store", default=DEFAULT_STORE, help=store_help)
    sh.set_defaults(func=_show)

    pr = rs.add_parser("prune", help="delete rows: of other code, of a kind, version or fingerprint")
    pr.add_argument("--store", default=DEFAULT_STORE, help=store_help)
    pr.add_argument("--other-code", dest="other_code", action="store_true",
                    help="rows computed by another package version or code fingerprint than this one")
    pr.add_argument("--kind", default=None, help="only rows of this kind (rate, tuned, lmo-error, figure-data)")
    pr.add_argument("--version", default=None, help="only rows of this package version")
    pr.add_argument("--fingerprint", default=None, help="only rows of this code fingerprint")
    pr.add_argument("--dry-run", dest="dry_run", action="store_true", help="count, delete nothing")
    pr.set_defaults(func=_prune)
    return p
