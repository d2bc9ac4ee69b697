"""The result store: one SQLite file, one row per finished cell, keyed by the cell's hash.

A cell is written in a single transaction (``INSERT OR IGNORE``), so a sweep killed at any
moment leaves only complete rows, and a rerun finds the finished ones by key and recomputes
nothing.  WAL journaling and a busy timeout let several sweeps write to one store at once.

A cell's key covers its configuration, the package version and the fingerprint of the code that
computes it (:func:`experiments.core.cells.cell_key`), so rows of other code are never reused by
key; :meth:`ResultStore.by_config` finds them by configuration for an explicit reuse.

Opening never modifies a file that is not a result store: the SQLite header and the database's
integrity (``PRAGMA quick_check``) are checked read-only first, and a file or folder that cannot
be written (a read-only file system, say) is opened read-only (``immutable`` when even the WAL
side files cannot be created), which serves every pure read.  Every failure is a
:class:`StoreError` whose message is one line naming the store.
"""
from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import time
import urllib.parse

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
COLUMNS = ("key", "kind", "config", "result", "version", "env", "wall_time", "created")
SQLITE_MAGIC = b"SQLite format 3\x00"


def config_text(config) -> str:
    """The stored text of a configuration (what :meth:`ResultStore.by_config` matches)."""
    return json.dumps(config, sort_keys=True)


class StoreError(RuntimeError):
    """The store cannot be used as asked (not a store, corrupt, read-only, unreachable)."""


#: (path, size, mtime) of files already checked in this process (a sweep opens its store often)
_CHECKED = set()


def _stat_key(path):
    st = os.stat(path)
    return (os.path.abspath(path), st.st_size, st.st_mtime_ns)


def _writable(path, parent):
    """Can this process write the file and create SQLite's side files next to it?"""
    return os.access(path, os.W_OK) and os.access(parent, os.W_OK)


class ResultStore:
    """SQLite-backed store of finished cells (see the module docstring).

    Parameters
    ----------
    path : str or path-like
        The SQLite file; created (with its folder) when missing.
    readonly : bool, optional
        Open without writing anything.  Default: read-only exactly when the file exists and it
        or its folder cannot be written.
    """

    MEMORY = ":memory:"

    def __init__(self, path, readonly: bool | None = None):
        self.path = os.fspath(path)
        parent = os.path.dirname(os.path.abspath(self.path))
        self.immutable = False
        # ':memory:' keeps one connection for the store's life (each new connection to ':memory:'
        # would be a new, empty database); nothing is written to disk
        self._memory = sqlite3.connect(self.MEMORY, isolation_level=None) if self.path == self.MEMORY else None
        if self._memory is not None:
            self.readonly = False
        elif os.path.isdir(self.path):
            raise StoreError(f"store {self.path}: is a folder, not a SQLite file")
        if os.path.exists(self.path):
            if not os.access(self.path, os.R_OK):
                raise StoreError(f"store {self.path}: not readable (permission denied)")
            writable = _writable(self.path, parent)
            self.readonly = (not writable) if readonly is None else bool(readonly)
            # without write access to the folder SQLite cannot create the WAL's -shm file:
            # 'immutable' reads the main file as it is (nobody can be writing it either)
            self.immutable = not os.access(parent, os.W_OK) or not os.access(self.path, os.W_OK)
            self._check_existing()
        else:
            if readonly:
                raise StoreError(f"store {self.path}: no such file")
            try:
                os.makedirs(parent, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"store {self.path}: cannot create folder {parent} "
                                 f"({exc.strerror or exc})") from None
            if not os.access(parent, os.W_OK):
                raise StoreError(f"store {self.path}: cannot create the file, folder {parent} is not "
                                 f"writable")
            self.readonly = False
        if not self.readonly:
            self._init_schema()

    # -- opening --------------------------------------------------------------------------
    def _check_existing(self):
        key = _stat_key(self.path)
        if key in _CHECKED:
            return
        size = os.path.getsize(self.path)
        if size > 0:         # an empty file is an empty SQLite database
            with open(self.path, "rb") as fh:
                head = fh.read(len(SQLITE_MAGIC))
            if head != SQLITE_MAGIC:
                raise StoreError(f"store {self.path}: not a SQLite file (left unmodified); "
                                 f"give --store a new path or a gluon-mvr store")
            try:
                # only reads (a read-write connection: a read-only one cannot recover the WAL of
                # a sweep that was killed, and then reads a half-checkpointed image)
                con = self._connect()
                try:
                    bad = [r[0] for r in con.execute("PRAGMA quick_check")]
                    tables = {r[0]: r[1] for r in con.execute(
                        "SELECT name, sql FROM sqlite_master WHERE type = 'table'")}
                    cols = [r[1] for r in con.execute("PRAGMA table_info(cells)")] if "cells" in tables else []
                finally:
                    con.close()
            except sqlite3.DatabaseError as exc:
                raise StoreError(f"store {self.path}: corrupt or truncated SQLite file ({exc}); "
                                 f"left unmodified") from None
            if bad != ["ok"]:
                raise StoreError(f"store {self.path}: corrupt or truncated SQLite file "
                                 f"({'; '.join(bad)[:120]}); left unmodified")
            if tables and tuple(cols) != COLUMNS:
                raise StoreError(f"store {self.path}: a SQLite file but not a gluon-mvr result store "
                                 f"(tables: {', '.join(sorted(tables))}); left unmodified")
        _CHECKED.add(key)

    def _init_schema(self):
        # Creating the file races with other processes opening it: SQLite answers "database is
        # locked" at once (no busy wait) when a reader must become a writer, so retry with backoff.
        deadline = time.monotonic() + 60.0
        delay = 0.01
        while True:
            try:
                with self._connection() as con:
                    con.execute("PRAGMA journal_mode=WAL")
                    con.executescript(SCHEMA)
                break
            except sqlite3.OperationalError as exc:
                if "locked" in str(exc) and time.monotonic() < deadline:
                    time.sleep(delay)
                    delay = min(delay * 2, 0.5)
                    continue
                raise StoreError(f"store {self.path}: cannot write ({exc})") from None
            except sqlite3.DatabaseError as exc:
                raise StoreError(f"store {self.path}: not a usable SQLite file ({exc})") from None

    @contextlib.contextmanager
    def _connection(self):
        """A connection, closed afterwards (the in-memory store's single one stays open)."""
        con = self._connect()
        try:
            yield con
        finally:
            if con is not self._memory:
                con.close()

    def _connect(self, readonly=None):
        if self._memory is not None:
            return self._memory
        readonly = self.readonly if readonly is None else readonly
        if readonly:
            uri = "file:" + urllib.parse.quote(os.path.abspath(self.path)) + "?mode=ro"
            if self.immutable:
                uri += "&immutable=1"
            con = sqlite3.connect(uri, uri=True, timeout=60.0, isolation_level=None)
        else:
            con = sqlite3.connect(self.path, timeout=60.0, isolation_level=None)
        con.execute("PRAGMA busy_timeout=60000")
        return con

    def _read(self, query, args=()):
        """All rows of a read query; an empty (schema-less) read-only store reads as empty."""
        try:
            with self._connection() as con:
                return con.execute(query, args).fetchall()
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return []
            raise StoreError(f"store {self.path}: cannot read ({exc})") from None

    # -- reading ----------------------------------------------------------------------------
    def get(self, key):
        rows = self._read("SELECT result FROM cells WHERE key = ?", (key,))
        return json.loads(rows[0][0]) if rows else None

    def get_many(self, keys):
        keys = list(keys)
        out = {}
        for i in range(0, len(keys), 500):
            chunk = keys[i:i + 500]
            q = f"SELECT key, result FROM cells WHERE key IN ({','.join('?' * len(chunk))})"
            for k, r in self._read(q, chunk):
                out[k] = json.loads(r)
        return out

    def by_config(self):
        """``{config JSON: (key, version, env)}`` of every row (the newest row per configuration),
        to find rows of the same configuration computed by other code (:func:`config_text`)."""
        out = {}
        for cfg, k, v, e in self._read("SELECT config, key, version, env FROM cells ORDER BY created"):
            out[cfg] = (k, v, json.loads(e))
        return out

    def count(self):
        rows = self._read("SELECT COUNT(*) FROM cells")
        return rows[0][0] if rows else 0

    def rows(self, kind=None, key_prefix=None):
        q = "SELECT key, kind, config, result, version, env, wall_time, created FROM cells"
        where, args = [], []
        if kind is not None:
            where.append("kind = ?")
            args.append(kind)
        if key_prefix is not None:
            where.append("key LIKE ?")
            args.append(key_prefix.replace("%", "").replace("_", "") + "%")
        if where:
            q += " WHERE " + " AND ".join(where)
        for key, k, cfg, res, ver, env, wall, created in self._read(q + " ORDER BY created, key", args):
            yield {"key": key, "kind": k, "config": json.loads(cfg), "result": json.loads(res),
                   "version": ver, "env": json.loads(env), "wall_time": wall, "created": created}

    def summary(self):
        """Rows grouped by (kind, version, code fingerprint): ``[{kind, version, fingerprint, n}]``."""
        out = {}
        for kind, ver, env in self._read("SELECT kind, version, env FROM cells"):
            fp = json.loads(env).get("code_fingerprint")
            k = (kind, ver, fp)
            out[k] = out.get(k, 0) + 1
        return [{"kind": k, "version": v, "fingerprint": f, "n": n} for (k, v, f), n in sorted(
            out.items(), key=lambda kv: tuple("" if x is None else str(x) for x in kv[0]))]

    # -- writing ----------------------------------------------------------------------------
    def _require_writable(self, what):
        if self.readonly:
            raise StoreError(f"store {self.path}: read-only (file or folder not writable); cannot {what}")

    def put(self, key, kind, config, result, version, env, wall_time):
        """Write one finished cell atomically; an existing key is left as it is."""
        self._require_writable("store a new result")
        row = (key, kind, config_text(config), json.dumps(result), version,
               json.dumps(env, sort_keys=True), float(wall_time), time.time())
        try:
            with self._connection() as con:
                con.execute("BEGIN IMMEDIATE")
                con.execute("INSERT OR IGNORE INTO cells VALUES (?,?,?,?,?,?,?,?)", row)
                con.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            raise StoreError(f"store {self.path}: cannot write ({exc})") from None

    def delete(self, keys):
        """Delete the rows of ``keys`` in one transaction; returns how many were deleted."""
        keys = list(keys)
        if not keys:
            return 0
        self._require_writable("delete rows")
        n = 0
        with self._connection() as con:
            con.execute("BEGIN IMMEDIATE")
            for i in range(0, len(keys), 500):
                chunk = keys[i:i + 500]
                n += con.execute(f"DELETE FROM cells WHERE key IN ({','.join('?' * len(chunk))})",
                                 chunk).rowcount
            con.execute("COMMIT")
        return n

    # -- export -----------------------------------------------------------------------------
    def export_csv(self, path):
        """Tidy (long-format) CSV of the seeded cells: one row per (cell, seed), every
        configuration column flattened (:func:`experiments.core.tidy.cell_rows`)."""
        from gluon_mvr.experiments.core.tidy import cell_rows, write_csv
        rows = [r for row in self.rows() for r in cell_rows(row)]
        write_csv(rows, path)
        return len(rows)
