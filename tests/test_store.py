"""experiments.store.ResultStore: round trips, first-writer-wins, CSV export, concurrent writers."""
import csv
import json
import math
import multiprocessing
import sqlite3

import pytest

from gluon_mvr.experiments.core.store import ResultStore


def _result(seeds=(0, 1), G=(0.5, 0.25), **kw):
    n = len(seeds)
    r = {"seeds": list(seeds), "G": list(G), "G_min": [g / 2 for g in G], "final_value": [1.0] * n,
         "final_grad_norm": [2.0] * n, "diverged_at": [-1] * n, "oracle_calls": 41, "wall_time": 0.125}
    r.update(kw)
    return r


def _config(K=20, method="mvr1", seeds=(0, 1)):
    return {"kind": "rate", "problem": "quadratic", "params": {"dim": 3, "layers": 2}, "method": method,
            "K": K, "seeds": list(seeds), "noise": True}


def _put(store, key, result=None, config=None, version="0.1.0", wall=0.5):
    store.put(key, "rate", config or _config(), result or _result(), version, {"python": "3"}, wall)


def test_round_trip_with_nan_inf_and_large_ints(tmp_path):
    store = ResultStore(tmp_path / "sub" / "s.sqlite")        # parent folder is created
    big = 2 ** 62 + 12345
    huge = 10 ** 30
    res = _result(G=(float("nan"), 0.1), G_min=[float("inf"), -float("inf")], oracle_calls=big,
                  extra={"huge": huge, "nested": [1, [2, 3]], "text": "é"}, diverged_at=[3, -1])
    _put(store, "k1", res)
    got = store.get("k1")
    assert math.isnan(got["G"][0]) and got["G"][1] == 0.1
    assert got["G_min"] == [float("inf"), -float("inf")]
    assert got["oracle_calls"] == big and isinstance(got["oracle_calls"], int)
    assert got["extra"] == {"huge": huge, "nested": [1, [2, 3]], "text": "é"}
    assert got["diverged_at"] == [3, -1]
    assert set(got) == set(res)
    assert store.get("missing") is None
    assert store.count() == 1
    # a fresh handle on the same file sees the same row
    assert ResultStore(store.path).get("k1")["oracle_calls"] == big


def test_duplicate_key_keeps_the_first_row(tmp_path):
    store = ResultStore(tmp_path / "s.sqlite")
    _put(store, "k", _result(G=(1.0, 2.0)), version="first", wall=1.0)
    _put(store, "k", _result(G=(9.0, 9.0)), version="second", wall=2.0)
    assert store.count() == 1
    assert store.get("k")["G"] == [1.0, 2.0]
    (row,) = list(store.rows())
    assert row["version"] == "first" and row["wall_time"] == 1.0
    assert row["config"] == _config() and row["env"] == {"python": "3"} and row["kind"] == "rate"


def test_get_many(tmp_path):
    store = ResultStore(tmp_path / "s.sqlite")
    _put(store, "k0", _result(oracle_calls=0))
    _put(store, "k1199", _result(oracle_calls=1199))
    # bulk rows straight into the table (put() is one transaction per row: slow for 1200)
    con = sqlite3.connect(store.path)
    with con:
        con.executemany("INSERT INTO cells VALUES (?,?,?,?,?,?,?,?)",
                        [(f"k{i}", "rate", "{}", json.dumps(_result(oracle_calls=i)), "v", "{}", 0.0, 0.0)
                         for i in range(1, 1199)])
    con.close()
    keys = [f"k{i}" for i in range(0, 1200, 2)] + ["nope", "k1199"]
    got = store.get_many(iter(keys))            # any iterable
    assert set(got) == {f"k{i}" for i in range(0, 1200, 2)} | {"k1199"}
    assert all(got[f"k{i}"]["oracle_calls"] == i for i in range(0, 1200, 2))
    assert store.get_many([]) == {}


def test_rows_filters_by_kind(tmp_path):
    store = ResultStore(tmp_path / "s.sqlite")
    _put(store, "a")
    store.put("b", "tuned", _config(), _result(), "v", {}, 0.0)
    assert [r["key"] for r in store.rows()] == ["a", "b"]
    assert [r["key"] for r in store.rows(kind="tuned")] == ["b"]


def test_export_csv_one_row_per_cell_and_seed(tmp_path):
    store = ResultStore(tmp_path / "s.sqlite")
    _put(store, "a", _result(seeds=(0, 1, 2), G=(0.1, 0.2, float("nan")), diverged_at=[-1, -1, 7]),
         config=_config(K=20, method="gluon", seeds=(0, 1, 2)), wall=1.5)
    _put(store, "b", _result(seeds=(5,), G=(0.3,)), config=_config(K=40, seeds=(5,)))
    out = tmp_path / "out.csv"
    n = store.export_csv(out)
    with open(out, newline="") as fh:
        reader = csv.DictReader(fh)
        rows = list(reader)
        header = reader.fieldnames
    assert n == len(rows) == 4
    assert header[:4] == ["key", "kind", "table", "seed"]
    assert {"problem", "params.dim", "params.layers", "method", "K", "noise", "n_seeds", "G", "G_min",
            "final_value", "final_grad_norm", "diverged_at", "oracle_calls", "version", "wall_time",
            "code_fingerprint", "numpy", "platform", "computed_at"} <= set(header)
    assert [(r["key"], r["seed"]) for r in rows] == [("a", "0"), ("a", "1"), ("a", "2"), ("b", "5")]
    a0, a2, b = rows[0], rows[2], rows[3]
    assert a0["method"] == "gluon" and a0["K"] == "20" and a0["problem"] == "quadratic"
    assert (a0["params.dim"], a0["params.layers"], a0["n_seeds"]) == ("3", "2", "3")
    assert float(a0["G"]) == 0.1 and float(a0["G_min"]) == 0.05
    assert math.isnan(float(a2["G"])) and a2["diverged_at"] == "7"
    assert a0["oracle_calls"] == "41" and float(a0["wall_time"]) == 1.5 and a0["version"] == "0.1.0"
    assert b["method"] == "mvr1" and b["K"] == "40" and float(b["G"]) == 0.3 and b["noise"] == "True"


def test_export_csv_of_empty_store_has_header_only(tmp_path):
    store = ResultStore(tmp_path / "s.sqlite")
    out = tmp_path / "out.csv"
    assert store.export_csv(out) == 0
    assert out.read_text().strip().split(",")[:4] == ["key", "kind", "table", "seed"]


# --- two processes writing one store at once -------------------------------------------------

N = 150


def _writer(path, tag, keys, barrier):
    store = ResultStore(path)
    barrier.wait()                              # both start writing at the same moment
    for k in keys:
        store.put(k, "rate", _config(), _result(writer=tag, key=k), tag, {}, 0.0)


def _run_two_writers(path, keys_a, keys_b):
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2)
    procs = [ctx.Process(target=_writer, args=(str(path), tag, keys, barrier))
             for tag, keys in (("A", keys_a), ("B", keys_b))]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0]


@pytest.mark.parametrize("overlap", [False, True])
def test_two_processes_lose_and_duplicate_nothing(tmp_path, overlap):
    path = tmp_path / "s.sqlite"
    keys_a = [f"k{i}" for i in range(N)]
    keys_b = [f"k{i}" for i in (range(N // 2, N // 2 + N) if overlap else range(N, 2 * N))]
    ResultStore(path)           # an existing store, as when a second sweep joins a running one
    _run_two_writers(path, keys_a, keys_b)
    store = ResultStore(path)
    expected = set(keys_a) | set(keys_b)
    assert store.count() == len(expected)
    con = sqlite3.connect(path)
    try:
        keys = [k for (k,) in con.execute("SELECT key FROM cells")]
        assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    finally:
        con.close()
    assert len(keys) == len(set(keys)) and set(keys) == expected
    got = store.get_many(expected)
    for k in expected:
        r = got[k]
        assert r["key"] == k and r["writer"] in ("A", "B")
        if k not in keys_b:
            assert r["writer"] == "A"
        if k not in keys_a:
            assert r["writer"] == "B"
    if overlap:   # each shared key was written by one of them, whole
        shared = set(keys_a) & set(keys_b)
        assert {row["version"] for row in store.rows() if row["key"] in shared} <= {"A", "B"}
        assert all(row["version"] == row["result"]["writer"] for row in store.rows())


def test_opening_a_store_that_another_process_is_creating_waits(tmp_path):
    """Deterministic stand-in for two sweeps creating one store at once: a second connection
    holds the write lock of the fresh file (as the first sweep's ResultStore() does while it
    switches to WAL and writes the schema), and releases it after 0.3 s."""
    import threading
    path = tmp_path / "s.sqlite"
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    other.execute("CREATE TABLE other_table (a)")
    timer = threading.Timer(0.3, lambda: other.execute("COMMIT"))
    timer.start()
    try:
        store = ResultStore(path)           # must wait for the lock (busy timeout), not raise
        _put(store, "k")
        assert store.count() == 1
    finally:
        timer.join()
        other.close()


# --- files that are not stores are refused and left as they are ------------------------------

def _sha(path):
    import hashlib
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


@pytest.mark.parametrize("make", ["text", "garbage", "truncated", "other-schema", "folder"])
def test_non_store_files_are_refused_unmodified(tmp_path, make):
    from gluon_mvr.experiments.core.store import StoreError
    good = tmp_path / "good.sqlite"
    store = ResultStore(good)
    for i in range(4):      # a few large rows: the file spans several pages
        _put(store, f"k{i}", _result(seeds=tuple(range(300)), G=[0.5 + i] * 300))
    path = tmp_path / "bad.sqlite"
    if make == "text":
        path.write_text("problem,K\nquadratic,10\n")
    elif make == "garbage":
        path.write_bytes(bytes(range(256)) * 4)
    elif make == "truncated":
        data = good.read_bytes()
        assert len(data) > 8192
        path.write_bytes(data[: len(data) // 2 + 100])
    elif make == "other-schema":
        con = sqlite3.connect(path)
        con.execute("CREATE TABLE t (x)")
        con.commit()
        con.close()
    else:
        path.mkdir()
    digest = None if make == "folder" else _sha(path)
    with pytest.raises(StoreError) as exc:
        ResultStore(path)
    assert str(path) in str(exc.value) and "\n" not in str(exc.value)
    if digest is not None:
        assert _sha(path) == digest
        assert not (tmp_path / "bad.sqlite-wal").exists()


def test_control_the_truncated_prefix_of_a_store_is_a_valid_header(tmp_path):
    """Control for the test above: the truncated file starts like a real store (only the
    integrity check, not the header check, can reject it)."""
    good = tmp_path / "good.sqlite"
    ResultStore(good)
    assert good.read_bytes()[:16] == b"SQLite format 3\x00"


def test_readonly_store_reads_and_refuses_writes(tmp_path):
    from gluon_mvr.experiments.core.store import StoreError
    path = tmp_path / "s.sqlite"
    _put(ResultStore(path), "a")
    digest = _sha(path)
    ro = ResultStore(path, readonly=True)
    assert ro.readonly and ro.get("a")["G"] == [0.5, 0.25] and ro.count() == 1
    assert [r["key"] for r in ro.rows()] == ["a"]
    with pytest.raises(StoreError, match="read-only"):
        _put(ro, "b")
    with pytest.raises(StoreError, match="read-only"):
        ro.delete(["a"])
    assert _sha(path) == digest
    with pytest.raises(StoreError, match="no such file"):
        ResultStore(tmp_path / "none.sqlite", readonly=True)


# --- stale results: the key covers the code -----------------------------------------------------

def _tiny_cells():
    from gluon_mvr.experiments.core.cells import cell_key, make_cell
    cells = [make_cell("quadratic", {"layers": 1, "dim": 2}, m, K, [0, 1]) for m in ("gluon", "mvr1")
             for K in (8, 16)]
    return [(cell_key(c), c) for c in cells]


def test_a_code_change_recomputes_and_reuse_stale_reuses(tmp_path, monkeypatch):
    from gluon_mvr.experiments.core import executors, provenance
    from gluon_mvr.experiments.core.executors import execute
    for k in executors.STATS:
        monkeypatch.setitem(executors.STATS, k, 0)
    monkeypatch.setattr(executors, "REUSE_STALE", False)
    store = ResultStore(tmp_path / "s.sqlite")
    assert execute(_tiny_cells(), store, "serial") == 4
    assert execute(_tiny_cells(), store, "serial") == 0            # same code: reused
    assert executors.STATS["reused"] == 4 and executors.STATS["stale"] == 0
    fp = provenance.code_fingerprint()
    assert all(r["env"]["code_fingerprint"] == fp for r in store.rows())

    monkeypatch.setattr(provenance, "code_fingerprint", lambda: "0123456789abcdef")   # "the code changed"
    cells = _tiny_cells()
    assert {k for k, _ in cells}.isdisjoint({r["key"] for r in store.rows()})
    calls = []

    def runner(cfg):
        from gluon_mvr.experiments.core.cells import run_cell
        calls.append(cfg["K"])
        return run_cell(cfg)
    assert execute(cells, store, "serial", runner=runner) == 4        # recomputed, not reused
    assert len(calls) == 4 and executors.STATS["stale"] == 4 and store.count() == 8

    monkeypatch.setattr(provenance, "code_fingerprint", lambda: "fedcba9876543210")
    monkeypatch.setattr(executors, "REUSE_STALE", True)
    assert execute(_tiny_cells(), store, "serial", runner=lambda cfg: 1 / 0) == 0   # nothing runs
    assert executors.STATS["stale_reused"] == 4 and store.count() == 12
    copies = [r for r in store.rows() if "reused_from" in r["env"]]
    assert len(copies) == 4 and all(r["env"]["reused_under"] == "fedcba9876543210" for r in copies)


def test_fingerprint_is_stable_and_covers_the_computing_code():
    from gluon_mvr.experiments.core import provenance
    a = provenance._fingerprint()
    files = [rel for rel, _ in provenance._room_files()]
    assert provenance._fingerprint() == a and len(a) == 16
    assert "methods/loop.py" in files and "experiments.core/cells.py" in files
    assert not any(f.startswith("experiments.cli") for f in files)
    p = provenance.provenance()
    assert {"package_version", "code_fingerprint", "git_commit", "numpy", "scipy", "sympy", "blas",
            "platform", "timestamp"} <= set(p)


def test_fingerprint_changes_when_a_source_file_changes(tmp_path, monkeypatch):
    from gluon_mvr.experiments.core import provenance
    src = tmp_path / "m.py"
    src.write_text("x = 1\n")
    monkeypatch.setattr(provenance, "_room_files", lambda: [("room/m.py", str(src))])
    provenance._fingerprint.cache_clear()
    try:
        a = provenance._fingerprint()
        src.write_text("x = 2\n")
        provenance._fingerprint.cache_clear()
        assert provenance._fingerprint() != a
    finally:
        provenance._fingerprint.cache_clear()


# --- export: every configuration column, no collisions -----------------------------------------

def test_export_of_exact_inexact_tuned_and_control_cells_has_no_colliding_rows(tmp_path):
    from gluon_mvr.experiments.core.cells import cell_key, make_cell
    from gluon_mvr.experiments.core.config import validate
    from gluon_mvr.experiments.core.executors import execute
    from gluon_mvr.experiments.core.tidy import PROVENANCE, store_rows
    from gluon_mvr.experiments.studies.tuning import tuned_cell
    params = {"layers": 1, "dim": 2}
    cells = []
    for lmo, steps in (("exact", 5), ("ns-cubic", 3), ("ns-cubic", 5)):
        cells.append(make_cell("quadratic", params, "gluon", 8, [0, 1], lmo=lmo, ns_steps=steps))
    cells.append(make_cell("quadratic", params, "gluon", 8, [0, 1], noise=False))         # control
    cells.append(make_cell("quadratic", params, "gluon", 8, [0, 1], radius_scale=1.0))
    cfg = validate({"problem": "quadratic", "params": params, "horizons": [8, 16], "seeds": 2,
                    "methods": ["gluon"], "tail": 2})
    for f, m in ((1.0, 0.5), (2.0, 0.5), (1.0, 0.25)):
        cells.append(tuned_cell(cfg, "gluon", 8, f, m, [0, 1])[1])
    store = ResultStore(tmp_path / "s.sqlite")
    execute([(cell_key(c), c) for c in cells], store, "serial")
    rows = store_rows(store)
    assert len(rows) == 2 * len(cells)
    results = {"G", "gap", "G_min", "final_value", "final_grad_norm", "diverged_at", "oracle_calls"}
    config_cols = sorted({k for r in rows for k in r} - results - set(PROVENANCE) - {"key", "table"}
                         - {k for r in rows for k in r if k.startswith("result.")})
    # every configuration field has a column (dotted names follow the cell's nesting)
    for field in ("lmo", "steps", "dtype", "radius_scale", "momentum_scale", "beta", "radius", "noise",
                  "params.dim", "method", "K"):
        assert any(field in c.split(".")[-1] or c == field or field in c for c in config_cols), field
    ident = [tuple(str(r.get(c)) for c in config_cols) for r in rows]
    assert len(set(ident)) == len(rows)                        # no two cells share a configuration
    # control: the old export's columns (problem, params, method, K, seed) collide on this store
    legacy = [(r["problem"], r["params.dim"], r["method"], r["K"], r["seed"]) for r in rows]
    assert len(set(legacy)) < len(rows)


def test_export_includes_rows_without_seeds_as_table_records(tmp_path):
    from gluon_mvr.experiments.core.tidy import store_rows
    store = ResultStore(tmp_path / "s.sqlite")
    store.put("L", "lmo-error", {"kind": "lmo-error", "steps": [1, 2]},
              {"seeds": [], "worst_case": [{"approximation": "ns-cubic", "steps": 1, "spectral": 0.5},
                                           {"approximation": "ns-cubic", "steps": 2, "spectral": 0.25}],
               "failed": False}, "0.2.0", {"code_fingerprint": "x"}, 1.0)
    # figure data may name a count "seeds" (regression: export crashed on len(4))
    store.put("F", "figure-data", {"kind": "figure-data", "figure": "coupling", "seeds": 4},
              {"seeds": 4, "grid": [[1.0, 2.0]]}, "0.2.0", {"code_fingerprint": "x"}, 1.0)
    rows = store_rows(store)
    fig = [r for r in rows if r["key"] == "F"]
    assert len(fig) == 1 and fig[0]["seeds"] == 4 and fig[0]["result.seeds"] == 4
    assert fig[0]["result.grid"] == "[[1.0, 2.0]]"
    rows = [r for r in rows if r["key"] == "L"]
    assert [r["table"] for r in rows] == ["", "worst_case", "worst_case"]
    assert [r.get("worst_case.spectral") for r in rows[1:]] == [0.5, 0.25]
    assert rows[0]["result.failed"] is False and all(r["code_fingerprint"] == "x" for r in rows)


# --- the results subcommand ---------------------------------------------------------------------

def test_results_list_show_export_prune(tmp_path, capsys, monkeypatch):
    from gluon_mvr.experiments.cli.main import main
    from gluon_mvr.experiments.core import provenance
    from gluon_mvr.experiments.core.executors import execute
    from gluon_mvr.experiments.core import executors
    monkeypatch.setattr(executors, "REUSE_STALE", False)
    path = tmp_path / "s.sqlite"
    store = ResultStore(path)
    execute(_tiny_cells()[:2], store, "serial")
    monkeypatch.setattr(provenance, "code_fingerprint", lambda: "0123456789abcdef")
    execute(_tiny_cells()[:1], store, "serial")          # one cell of "other code"
    monkeypatch.undo()
    s = ["--store", str(path)]
    capsys.readouterr()

    assert main(["results", "list", "--cells", *s]) == 0
    out = capsys.readouterr().out
    assert "current" in out and "other code" in out and "0123456789abcdef" in out

    key = _tiny_cells()[0][0]
    assert main(["results", "show", key[:10], *s]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["key"] == key and shown["current_code"] is True and shown["config"]["K"] == 8

    out_csv = tmp_path / "x.csv"
    assert main(["results", "export", "--out", str(out_csv), *s]) == 0
    assert "wrote 6 rows (3 stored rows)" in capsys.readouterr().out
    rows = list(csv.DictReader(open(out_csv)))
    assert sorted({r["code_fingerprint"] for r in rows})[0] == "0123456789abcdef"
    assert not (tmp_path / "x.csv.partial").exists()

    pytest.importorskip("pyarrow")
    import pandas
    assert main(["results", "export", "--format", "parquet", "--out", str(tmp_path / "x.parquet"), *s]) == 0
    df = pandas.read_parquet(tmp_path / "x.parquet")
    assert len(df) == 6 and list(df.columns) == list(rows[0].keys())
    capsys.readouterr()

    assert main(["results", "prune", "--other-code", "--dry-run", *s]) == 0
    assert "would delete 1 rows of 3" in capsys.readouterr().out and store.count() == 3
    assert main(["results", "prune", "--other-code", *s]) == 0
    assert store.count() == 2 and store.get(key) is not None
