"""Tidy rows of the result store: every configuration column, one row per cell and seed.

A stored cell's configuration is nested JSON (``params``, ``horizon``, ``schedule``, ...);
:func:`flatten` turns it into dotted columns (``params.dim``, ``horizon.radius_scale``,
``schedule.radius``) so that no two cells share their configuration columns: exact and inexact
LMOs, tuned and theory-schedule cells, noise-on and noise-off controls all stay distinct.

- A cell with seeds (kinds ``rate``, ``tuned``) gives one row per seed: its configuration
  columns, ``seed``, every per-seed measurement (``G``, ``gap``, ``G_min``, ...) and its
  scalar results.
- A row without seeds (kinds ``lmo-error``, ``figure-data``) gives one row per record of each
  table it holds (a list of records, e.g. ``worst_case``), named in the ``table`` column, plus
  one ``table = ''`` row with its scalar results.

Every row carries the provenance of its computation (``version``, ``code_fingerprint``,
``git_commit``, library versions, ``platform``, ``computed_at``).
"""
from __future__ import annotations

import csv
import datetime
import json
import math

LEAD = ("key", "kind", "table", "seed")
PROVENANCE = ("version", "code_fingerprint", "git_commit", "python", "numpy", "scipy", "sympy", "blas",
              "platform", "computed_at", "wall_time")
#: per-seed curves are long; a tidy table keeps their endpoints in other columns
SKIP_RESULT = {"curve", "curve_iterations", "seeds"}


def _scalar(v):
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    return json.dumps(v, sort_keys=True)


def flatten(obj, prefix=""):
    """Nested dicts -> ``{"a.b": value}``; lists of scalars and other lists become JSON text."""
    out = {}
    if isinstance(obj, dict):
        for k, v in obj.items():
            name = f"{prefix}.{k}" if prefix else str(k)
            if isinstance(v, dict) and v:
                out.update(flatten(v, name))
            else:
                out[name] = _scalar(v)
    else:
        out[prefix] = _scalar(obj)
    return out


def _provenance(row):
    env = row.get("env") or {}
    return {"version": row.get("version"), "code_fingerprint": env.get("code_fingerprint"),
            "git_commit": env.get("git_commit"), "python": env.get("python"), "numpy": env.get("numpy"),
            "scipy": env.get("scipy"), "sympy": env.get("sympy"), "blas": env.get("blas"),
            "platform": env.get("platform"),
            "computed_at": datetime.datetime.fromtimestamp(row.get("created", 0.0), datetime.timezone.utc)
            .isoformat(timespec="seconds"),
            "wall_time": row.get("wall_time")}


def _config_columns(config):
    """Flattened configuration; a list of seed ids becomes ``n_seeds`` (the rows carry ``seed``),
    anything else named ``seeds`` (a count, in figure data) stays a column."""
    listed = isinstance(config.get("seeds"), list)
    cfg = {k: v for k, v in config.items() if k != "kind" and not (k == "seeds" and listed)}
    out = flatten(cfg)
    if listed:
        out["n_seeds"] = len(config["seeds"])
    return out


def seeds_of(result) -> list:
    """The seed ids of a seeded cell's result (a list of integers), else ``[]`` (figure data
    may hold, e.g., a number of seeds under the same name)."""
    s = result.get("seeds") if isinstance(result, dict) else None
    if isinstance(s, list) and s and all(isinstance(v, int) and not isinstance(v, bool) for v in s):
        return s
    return []


def cell_rows(row):
    """Tidy rows of one seeded cell (empty for rows without seeds)."""
    res, seeds = row["result"], seeds_of(row["result"])
    if not seeds:
        return []
    n = len(seeds)
    base = {"key": row["key"], "kind": row["kind"], "table": "", **_config_columns(row["config"])}
    per_seed = {k: v for k, v in res.items() if k not in SKIP_RESULT and isinstance(v, list) and len(v) == n
                and all(x is None or isinstance(x, (int, float)) for x in v)}
    rest = {k: v for k, v in res.items() if k not in SKIP_RESULT and k not in per_seed and k != "wall_time"}
    # scalar results keep their names; nested ones (the schedule used) are prefixed "result."
    # so that they never collide with configuration columns of the same name
    scalars = {k: _scalar(v) for k, v in rest.items() if not isinstance(v, dict)}
    scalars.update(flatten({k: v for k, v in rest.items() if isinstance(v, dict)}, "result"))
    prov = _provenance(row)
    out = []
    for j, seed in enumerate(seeds):
        r = dict(base)
        r["seed"] = seed
        r.update({k: v[j] for k, v in per_seed.items()})
        r.update(scalars)
        r.update(prov)
        out.append(r)
    return out


def _tables(obj, path=""):
    """``(path, records)`` of every list of records inside ``obj`` and the remaining scalars."""
    tables, scalars = [], {}
    if isinstance(obj, dict):
        for k, v in obj.items():
            p = f"{path}.{k}" if path else str(k)
            if isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
                tables.append((p, v))
            elif isinstance(v, dict):
                t, s = _tables(v, p)
                tables += t
                scalars.update(s)
            else:
                scalars[p] = _scalar(v)
    return tables, scalars


def record_rows(row):
    """Tidy rows of a row without seeds (lmo-error, figure-data): one per table record."""
    if seeds_of(row["result"]):
        return []
    res = {k: v for k, v in row["result"].items() if not (k == "seeds" and v == []) and k != "config"}
    base = {"key": row["key"], "kind": row["kind"], **_config_columns(row["config"])}
    prov = _provenance(row)
    tables, scalars = _tables(res)
    out = [{**base, "table": "", **{f"result.{k}": v for k, v in scalars.items()}, **prov}]
    for name, records in tables:
        for rec in records:
            out.append({**base, "table": name, **{f"{name}.{k}": v for k, v in flatten(rec).items()}, **prov})
    return out


def store_rows(store, kinds=None):
    """Tidy rows of every stored row (of ``kinds`` if given), cells first, in storage order."""
    out = []
    for row in store.rows():
        if kinds and row["kind"] not in kinds:
            continue
        out += cell_rows(row) if seeds_of(row["result"]) else record_rows(row)
    return out


def columns(rows):
    """Leading columns, then configuration and results sorted by name, then provenance."""
    seen = {}
    for r in rows:
        for k in r:
            seen.setdefault(k, None)
    middle = sorted(k for k in seen if k not in LEAD and k not in PROVENANCE)
    return [c for c in LEAD if c in seen or not rows] + middle + [c for c in PROVENANCE if c in seen]


def _cell_text(v):
    if isinstance(v, float) and not math.isfinite(v):
        return repr(v)          # nan, inf, -inf: what float() reads back
    return v


def write_csv(rows, path):
    """Write ``rows`` as CSV (``path`` '-' is stdout); the header is :func:`columns`."""
    import sys
    cols = columns(rows)
    fh = sys.stdout if path == "-" else open(path, "w", newline="")
    try:
        w = csv.DictWriter(fh, fieldnames=cols, restval="")
        w.writeheader()
        for r in rows:
            w.writerow({k: _cell_text(v) for k, v in r.items()})
    finally:
        if fh is not sys.stdout:
            fh.close()


def write_parquet(rows, path):
    """Write ``rows`` as Parquet via pandas (needs pyarrow or fastparquet)."""
    import pandas
    df = pandas.DataFrame(rows, columns=columns(rows))
    for c in df.columns:
        if df[c].dtype == object:
            kinds = {type(v) for v in df[c] if v is not None and not (isinstance(v, float) and math.isnan(v))}
            if len(kinds) > 1:        # mixed column (e.g. numbers and text): Parquet needs one type
                df[c] = df[c].map(lambda v: None if v is None else str(v))
    df.to_parquet(path, index=False)
