"""The result store: one SQLite file, one row per finished cell, keyed by the cell's hash.

A cell is written in a single transaction (``INSERT OR IGNORE``), so a sweep killed at any
moment leaves only complete rows, and a rerun finds the finished ones by key and recomputes
nothing.  WAL journaling and a busy timeout let several sweeps write to one store at once.
"""
from __future__ import annotations

import csv
import json
import os
import sqlite3
import time

SCHEMA = """
CREATE TABLE IF NOT EXISTS cells (
    key        TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,
    config     TEXT NOT NULL,
    result     TEXT NOT NULL,
    version    TEXT NOT NULL,
    env        TEXT NOT NULL,
    wall_time  REAL NOT NULL,
    created    REAL NOT NULL
);
"""


class ResultStore:
    """SQLite-backed store of finished cells (see the module docstring)."""

    MEMORY = ":memory:"

    def __init__(self, path):
        self.path = os.fspath(path)
        # ':memory:' keeps one connection for the store's life (each new connection to ':memory:'
        # would be a new, empty database); nothing is written to disk
        self._memory = sqlite3.connect(self.MEMORY, isolation_level=None) if self.path == self.MEMORY else None
        if self._memory is None:
            parent = os.path.dirname(os.path.abspath(self.path))
            os.makedirs(parent, exist_ok=True)
        # Creating the file races with other processes opening it: SQLite answers "database is
        # locked" at once (no busy wait) when a reader must become a writer, so retry with backoff.
        deadline = time.monotonic() + 60.0
        delay = 0.01
        while True:
            try:
                with self._connect() as con:
                    con.execute("PRAGMA journal_mode=WAL")
                    con.executescript(SCHEMA)
                break
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 0.5)

    def _connect(self):
        if self._memory is not None:
            return self._memory
        con = sqlite3.connect(self.path, timeout=60.0, isolation_level=None)
        con.execute("PRAGMA busy_timeout=60000")
        return con

    def get(self, key):
        with self._connect() as con:
            row = con.execute("SELECT result FROM cells WHERE key = ?", (key,)).fetchone()
        return None if row is None else json.loads(row[0])

    def get_many(self, keys):
        keys = list(keys)
        out = {}
        with self._connect() as con:
            for i in range(0, len(keys), 500):
                chunk = keys[i:i + 500]
                q = f"SELECT key, result FROM cells WHERE key IN ({','.join('?' * len(chunk))})"
                for k, r in con.execute(q, chunk):
                    out[k] = json.loads(r)
        return out

    def put(self, key, kind, config, result, version, env, wall_time):
        """Write one finished cell atomically; an existing key is left as it is."""
        row = (key, kind, json.dumps(config, sort_keys=True), json.dumps(result), version,
               json.dumps(env, sort_keys=True), float(wall_time), time.time())
        with self._connect() as con:
            con.execute("BEGIN IMMEDIATE")
            con.execute("INSERT OR IGNORE INTO cells VALUES (?,?,?,?,?,?,?,?)", row)
            con.execute("COMMIT")

    def count(self):
        with self._connect() as con:
            return con.execute("SELECT COUNT(*) FROM cells").fetchone()[0]

    def rows(self, kind=None):
        q = "SELECT key, kind, config, result, version, env, wall_time, created FROM cells"
        args = ()
        if kind is not None:
            q += " WHERE kind = ?"
            args = (kind,)
        with self._connect() as con:
            for key, k, cfg, res, ver, env, wall, created in con.execute(q + " ORDER BY created", args):
                yield {"key": key, "kind": k, "config": json.loads(cfg), "result": json.loads(res),
                       "version": ver, "env": json.loads(env), "wall_time": wall, "created": created}

    def export_csv(self, path):
        """Tidy (long-format) CSV: one row per (cell, seed)."""
        fields = ["key", "kind", "problem", "params", "method", "K", "seed", "noise", "G", "G_min",
                  "final_value", "final_grad_norm", "diverged_at", "oracle_calls", "version", "wall_time"]
        n = 0
        with open(path, "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=fields)
            w.writeheader()
            for row in self.rows():
                cfg, res = row["config"], row["result"]
                for j, seed in enumerate(res["seeds"]):
                    w.writerow({"key": row["key"], "kind": row["kind"], "problem": cfg["problem"],
                                "params": json.dumps(cfg.get("params", {}), sort_keys=True),
                                "method": cfg["method"], "K": cfg["K"], "seed": seed,
                                "noise": cfg.get("noise", True), "G": res["G"][j], "G_min": res["G_min"][j],
                                "final_value": res["final_value"][j],
                                "final_grad_norm": res["final_grad_norm"][j],
                                "diverged_at": res["diverged_at"][j], "oracle_calls": res["oracle_calls"],
                                "version": row["version"], "wall_time": row["wall_time"]})
                    n += 1
        return n
