"""Bad input and interrupts (issue #19): every case exits 2 (130 for Ctrl-C) with one line on
stderr, no traceback, and leaves the store byte-identical.

Most cases fail at validation and run in-process through ``main()``; the interrupt cases send
SIGINT to a subprocess running the CLI on a tiny configuration; the read-only file system cases
bind-mount a folder read-only inside a private mount namespace (``unshare -rm``; skipped where
that is not available).
"""
import hashlib
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from gluon_mvr.experiments.cli.main import main

TINY = ["--problem", "quadratic", "--param", "layers=1", "--param", "dim=2", "--horizons", "10,20",
        "--seeds", "2", "--methods", "gluon", "--tail", "2", "--no-noise-share", "--executor", "serial",
        "--no-progress", "--controls", "off"]


def _digest(path):
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()


@pytest.fixture(scope="module")
def base_store(tmp_path_factory):
    """A store holding the cells of TINY (made once per module)."""
    path = tmp_path_factory.mktemp("base") / "s.sqlite"
    assert main(["rate-check", *TINY, "--store", str(path)]) in (0, 1)
    assert not os.path.exists(f"{path}-wal") or os.path.getsize(f"{path}-wal") == 0
    return path


@pytest.fixture
def env(tmp_path, base_store):
    """A fresh copy of the base store, a folder, a text file, garbage and truncated stores."""
    store = tmp_path / "s.sqlite"
    shutil.copy(base_store, store)
    (tmp_path / "dir").mkdir()
    (tmp_path / "text.txt").write_text("layer,L_hat\nnot a store\n")
    (tmp_path / "garbage.sqlite").write_bytes(bytes(range(256)) * 8)
    data = store.read_bytes()
    (tmp_path / "trunc.sqlite").write_bytes(data[: len(data) // 2 + 17])
    con = sqlite3.connect(tmp_path / "other.sqlite")
    con.execute("CREATE TABLE t (x)")
    con.commit()
    con.close()
    (tmp_path / "bad.toml").write_text("seeds = [unclosed\n")
    return tmp_path


def _files(root):
    return {p: _digest(p) for p in sorted(str(q) for q in root.rglob("*") if q.is_file())
            if not p.endswith(("-wal", "-shm"))}


def _one_line(err):
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


# (id, argv with {d} for the case folder, expected words of the message)
CASES = [
    ("horizons-decreasing", ["rate-check", *TINY, "--horizons", "100,10", "--store", "{d}/s.sqlite"], "horizons"),
    ("seeds-zero", ["rate-check", *TINY, "--seeds", "0", "--store", "{d}/s.sqlite"], "seeds"),
    ("unknown-method", ["rate-check", *TINY, "--methods", "nope", "--store", "{d}/s.sqlite"], "nope"),
    ("unknown-problem", ["rate-check", *TINY, "--problem", "nope", "--store", "{d}/s.sqlite"], "nope"),
    ("param-out-of-range", ["rate-check", *TINY, "--param", "layers=0", "--store", "{d}/s.sqlite"], "layers"),
    ("param-malformed", ["rate-check", *TINY, "--param", "layers", "--store", "{d}/s.sqlite"], "KEY=VALUE"),
    ("unknown-executor", ["rate-check", *TINY, "--executor", "threads", "--store", "{d}/s.sqlite"], "executor"),
    ("bad-dtype", ["rate-check", *TINY, "--dtype", "float16", "--store", "{d}/s.sqlite"], "dtype"),
    ("bad-lmo", ["rate-check", *TINY, "--lmo", "svd-ish", "--store", "{d}/s.sqlite"], "lmo"),
    ("bad-criterion", ["rate-check", *TINY, "--criterion", "loss", "--store", "{d}/s.sqlite"], "criterion"),
    ("config-is-folder", ["rate-check", *TINY, "--config", "{d}/dir", "--store", "{d}/s.sqlite"], "dir"),
    ("config-missing", ["rate-check", *TINY, "--config", "{d}/none.toml", "--store", "{d}/s.sqlite"], "none.toml"),
    ("config-not-toml", ["rate-check", *TINY, "--config", "{d}/bad.toml", "--store", "{d}/s.sqlite"], "TOML"),
    ("json-is-folder", ["rate-check", *TINY, "--horizons", "10,40", "--json", "{d}/dir", "--store", "{d}/s.sqlite"],
     "--json"),
    ("json-under-a-file", ["rate-check", *TINY, "--horizons", "10,40", "--json", "{d}/text.txt/r.json",
                           "--store", "{d}/s.sqlite"], "--json"),
    ("store-is-folder", ["rate-check", *TINY, "--store", "{d}/dir"], "folder"),
    ("store-is-text", ["rate-check", *TINY, "--store", "{d}/text.txt"], "not a SQLite file"),
    ("store-is-garbage", ["rate-check", *TINY, "--store", "{d}/garbage.sqlite"], "not a SQLite file"),
    ("store-truncated", ["rate-check", *TINY, "--store", "{d}/trunc.sqlite"], "truncated"),
    ("store-other-schema", ["rate-check", *TINY, "--store", "{d}/other.sqlite"], "not a gluon-mvr"),
    ("lmo-steps-zero", ["lmo-error", "--steps", "0", "--store", "{d}/s.sqlite"], "--steps"),
    ("lmo-bad-method", ["lmo-error", "--methods", "ns-nope", "--store", "{d}/s.sqlite"], "--methods"),
    ("lmo-bad-ratio", ["lmo-error", "--ratios", "2", "--store", "{d}/s.sqlite"], "--ratios"),
    ("lmo-json-folder", ["lmo-error", "--parts", "measure", "--json", "{d}/dir", "--store", "{d}/s.sqlite"],
     "--json"),
    ("lmo-store-garbage", ["lmo-error", "--parts", "measure", "--store", "{d}/garbage.sqlite"], "not a SQLite"),
    ("export-no-store", ["results", "export", "--store", "{d}/none.sqlite", "--out", "{d}/x.csv"], "no such file"),
    ("export-garbage", ["results", "export", "--store", "{d}/garbage.sqlite", "--out", "{d}/x.csv"], "SQLite"),
    ("export-truncated", ["results", "export", "--store", "{d}/trunc.sqlite", "--out", "{d}/x.csv"], "truncated"),
    ("export-out-folder", ["results", "export", "--store", "{d}/s.sqlite", "--out", "{d}/dir"], "--out"),
    ("export-out-under-file", ["results", "export", "--store", "{d}/s.sqlite", "--out", "{d}/text.txt/x.csv"],
     "--out"),
    ("export-bad-format", ["results", "export", "--store", "{d}/s.sqlite", "--format", "xlsx"], "--format"),
    ("show-unknown-key", ["results", "show", "abcdef12", "--store", "{d}/s.sqlite"], "abcdef12"),
    ("show-bad-key", ["results", "show", "zz", "--store", "{d}/s.sqlite"], "KEY"),
    ("prune-no-selector", ["results", "prune", "--store", "{d}/s.sqlite"], "--other-code"),
    ("list-text-store", ["results", "list", "--store", "{d}/text.txt"], "not a SQLite"),
    ("figs-bad-only", ["figs", "--quick", "--only", "nope", "--store", "{d}/s.sqlite", "--out", "{d}/f"], "--only"),
    ("figs-out-is-file", ["figs", "--quick", "--store", "{d}/s.sqlite", "--out", "{d}/text.txt"], "--out"),
    ("figs-store-garbage", ["figs", "--quick", "--only", "bounds", "--store", "{d}/garbage.sqlite",
                            "--out", "{d}/f"], "not a SQLite"),
    ("constants-unknown-problem", ["constants", "--problem", "nope"], "nope"),
    ("constants-json-folder", ["constants", "--problem", "quadratic", "--json", "{d}/dir"], "--json"),
    ("constants-pairs-zero", ["constants", "--problem", "quadratic", "--pairs", "0"], "--pairs"),
    ("theory-check-bad-method", ["theory", "check", "--method", "adam", "--radius", "K**(-1/2)",
                                 "--momentum", "K**(-1/2)"], "adam"),
    ("problems-unknown", ["problems", "nope"], "nope"),
    ("problems-bad-param", ["problems", "quadratic", "--param", "layers=0"], "layers"),
]


@pytest.mark.parametrize("argv,words", [pytest.param(a, w, id=i) for i, a, w in CASES])
def test_bad_input_is_one_line_exit_2_and_changes_nothing(env, capsys, argv, words):
    before = _files(env)
    code = main([a.format(d=env) for a in argv])
    err = capsys.readouterr().err
    assert code == 2, err
    line = _one_line(err)
    assert words in line, line
    assert _files(env) == before


def test_missing_packages_and_devices_are_one_line_before_any_work(env, capsys, monkeypatch):
    """--executor dask without dask, --device gpu without CuPy, --format parquet without pyarrow,
    an unreachable --scheduler: exit 2 before computing, store unchanged."""
    import gluon_mvr.methods.backend as backend
    from gluon_mvr.experiments.core import executors
    before = _files(env)
    store = ["--store", str(env / "s.sqlite")]
    fresh = ["--horizons", "10,40"]                  # a cell that is not stored yet

    monkeypatch.setitem(sys.modules, "dask.distributed", None)          # import fails
    assert main(["rate-check", *TINY, *fresh, "--executor", "dask", *store]) == 2
    assert "dask" in _one_line(capsys.readouterr().err)
    monkeypatch.delitem(sys.modules, "dask.distributed")

    monkeypatch.setattr(backend, "_cupy", lambda: None)
    assert main(["rate-check", *TINY, *fresh, "--device", "gpu", *store]) == 2
    line = _one_line(capsys.readouterr().err)
    assert "--device gpu" in line and "cpu" in line

    for mod in ("pyarrow", "fastparquet"):
        monkeypatch.setitem(sys.modules, mod, None)
    assert main(["results", "export", "--format", "parquet", "--out", str(env / "x.parquet"), *store]) == 2
    assert "pyarrow" in _one_line(capsys.readouterr().err)

    monkeypatch.setenv("GLUON_MVR_SCHEDULER_TIMEOUT", "1")
    t0 = time.monotonic()
    assert main(["rate-check", *TINY, *fresh, "--executor", "dask", "--scheduler", "tcp://127.0.0.1:9",
                 *store]) == 2
    assert time.monotonic() - t0 < 20
    assert "--scheduler" in _one_line(capsys.readouterr().err)
    assert executors.STATS["written"] == 0
    assert _files(env) == before


def test_internal_errors_are_one_line_too_and_debug_shows_them(env, capsys, monkeypatch):
    """A bug (here: an injected one) is reported in one line, exit 2; GLUON_MVR_DEBUG re-raises."""
    import gluon_mvr.experiments.cli.problems as problems_cli
    monkeypatch.setattr(problems_cli, "describe_family", lambda *a: 1 / 0)
    assert main(["problems", "quadratic"]) == 2
    assert "internal error (ZeroDivisionError" in _one_line(capsys.readouterr().err)
    monkeypatch.setenv("GLUON_MVR_DEBUG", "1")
    with pytest.raises(ZeroDivisionError):
        main(["problems", "quadratic"])


# --- '-' is stdout everywhere ---------------------------------------------------------------

def test_json_dash_is_stdout_for_rate_check_and_no_file_named_dash(env, capsys, monkeypatch):
    import json
    monkeypatch.chdir(env)
    code = main(["rate-check", *TINY, "--store", str(env / "s.sqlite"), "--json", "-"])
    out, err = capsys.readouterr()
    assert code in (0, 1)
    doc = json.loads(out)                     # stdout is the JSON document only
    assert doc["results"][0]["method"] == "gluon"
    assert {"package_version", "code_fingerprint", "numpy", "timestamp"} <= set(doc["provenance"])
    assert "reused 2 stored cells, computed 0" in err
    assert not (env / "-").exists()


# --- read-only file systems (a private read-only bind mount) ---------------------------------

def _unshare_ok():
    if not shutil.which("unshare"):
        return False
    r = subprocess.run(["unshare", "-rm", "sh", "-c", "mount --bind -o ro / / 2>/dev/null; true"],
                       capture_output=True)
    probe = subprocess.run(["unshare", "-rm", "sh", "-c", "mount --bind -o ro /tmp /tmp && echo ok"],
                           capture_output=True, text=True)
    return r.returncode == 0 and probe.stdout.strip() == "ok"


needs_ro_mount = pytest.mark.skipif(not _unshare_ok(), reason="needs unshare -rm (user + mount namespace)")


DRIVER = """
import contextlib, io, json, sys
from gluon_mvr.experiments.cli.main import main
out = []
for argv in json.loads(sys.argv[1]):
    o, e = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(o), contextlib.redirect_stderr(e):
        code = main(argv)
    out.append([code, o.getvalue(), e.getvalue()])
print(json.dumps(out))
"""


def _cli_on_readonly(folder, argvs, timeout=120):
    """Run ``main(argv)`` for each of ``argvs`` in one process that sees ``folder`` mounted
    read-only (a private mount namespace: nothing changes for anyone else)."""
    import json
    script = 'mount --bind -o ro "$1" "$1" && shift && exec "$@"'
    cmd = ["unshare", "-rm", "sh", "-c", script, "sh", str(folder), sys.executable, "-c", DRIVER,
           json.dumps(argvs)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, r.stderr
    return [subprocess.CompletedProcess(a, c, o, e) for a, (c, o, e) in zip(argvs, json.loads(r.stdout))]


@needs_ro_mount
def test_read_only_file_system(env):
    """Pure reads of an existing store work on a read-only file system; anything that must write
    (a new cell, a new store, an output) is one line, exit 2; nothing changes."""
    before = _files(env)
    s = str(env / "s.sqlite")
    bad = [(["rate-check", *TINY, "--horizons", "10,40", "--store", s], "read-only"),
           (["rate-check", *TINY, "--store", str(env / "new" / "s.sqlite")], "store"),
           (["rate-check", *TINY, "--store", s, "--json", str(env / "r.json")], "--json"),
           (["results", "export", "--store", s, "--out", str(env / "x.csv")], "--out"),
           (["results", "prune", "--kind", "rate", "--store", s], "read-only"),
           (["figs", "--quick", "--only", "bounds", "--store", s, "--out", str(env / "figs")], "--out"),
           (["lmo-error", "--parts", "measure", "--store", s], "read-only")]
    cached, export, listed, *rest = _cli_on_readonly(env, [
        ["rate-check", *TINY, "--store", s],           # every cell stored: nothing to write
        ["results", "export", "--store", s, "--out", "-"],
        ["results", "list", "--store", s]] + [argv for argv, _ in bad])
    assert cached.returncode in (0, 1), cached.stderr
    assert "reused 2 stored cells, computed 0" in cached.stderr
    assert export.returncode == 0 and export.stdout.count("\n") == 1 + 2 * 2, export.stderr  # 2 cells x 2 seeds
    assert listed.returncode == 0 and "rate" in listed.stdout, listed.stderr
    for r, (argv, words) in zip(rest, bad):
        assert r.returncode == 2, (argv, r.stderr)
        assert words in _one_line(r.stderr), r.stderr
    assert _files(env) == before


# --- Ctrl-C ----------------------------------------------------------------------------------

def _interrupt(argv, cwd, wait_for=None, delay=0.0, timeout=60):
    """Start the CLI, wait until it printed ``wait_for`` on stderr (or ``delay`` seconds), send
    SIGINT to its process group (as a terminal's Ctrl-C does) and return (code, stderr)."""
    proc = subprocess.Popen([sys.executable, "-m", "gluon_mvr", *argv], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)
    seen = b""
    deadline = time.monotonic() + timeout
    if wait_for is not None:
        os.set_blocking(proc.stderr.fileno(), False)
        while wait_for.encode() not in seen:
            assert proc.poll() is None, seen.decode(errors="replace")
            assert time.monotonic() < deadline, seen
            chunk = proc.stderr.read()
            seen += chunk or b""
            time.sleep(0.02)
        os.set_blocking(proc.stderr.fileno(), True)
    time.sleep(delay)
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, (seen + err).decode(errors="replace")


def _last_line(err):
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    # progress bars redraw with carriage returns; the last thing written is the message
    return err.replace("\r", "\n").strip().splitlines()[-1]


def _intact(path, before_rows):
    con = sqlite3.connect(path)
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = dict(con.execute("SELECT key, result FROM cells"))
    finally:
        con.close()
    assert {k: rows[k] for k in before_rows} == before_rows      # earlier cells untouched
    return rows


def _rows(path):
    con = sqlite3.connect(path)
    try:
        return dict(con.execute("SELECT key, result FROM cells"))
    finally:
        con.close()


SIGINT_CASES = [
    ("rate-check", ["rate-check", "--problem", "quadratic", "--param", "layers=2", "--param", "dim=8",
                    "--horizons", "1000,3000,10000,30000", "--seeds", "8", "--methods", "gluon,mvr1",
                    "--executor", "processes", "--store", "{d}/s.sqlite"], "cells"),
    ("lmo-error", ["lmo-error", "--store", "{d}/s.sqlite"], "worst cases"),
    ("figs", ["figs", "--store", "{d}/s.sqlite", "--out", "{d}/figs", "--only", "rates"], "rate cells"),
]


@pytest.mark.parametrize("argv,wait_for", [pytest.param(a, w, id=i) for i, a, w in SIGINT_CASES])
def test_ctrl_c_is_one_line_exit_130_and_the_store_stays_intact(env, argv, wait_for):
    store = env / "s.sqlite"
    before = _rows(store)
    code, err = _interrupt([a.format(d=env) for a in argv], env, wait_for=wait_for, delay=0.1)
    assert code == 130, err
    line = _last_line(err)
    assert "interrupted; the store is intact" in line, err
    _intact(store, before)


def test_ctrl_c_in_theory_verify(env):
    # wait for the progress bar (the run has started), not a fixed delay: deterministic under load
    code, err = _interrupt(["theory", "verify"], env, wait_for="theory verify", delay=0.2)
    assert code == 130, err
    assert "interrupted" in _last_line(err)


# --- feedback and help ------------------------------------------------------------------------

def test_problems_lists_families_parameters_and_constants(capsys):
    import json
    assert main(["problems"]) == 0
    out = capsys.readouterr().out
    assert all(f in out for f in ("quadratic", "l0l1", "nonconvex", "star", "twolayer"))
    assert main(["problems", "quadratic", "--param", "layers=2", "--json", "-"]) == 0
    doc = json.loads(capsys.readouterr().out)
    params = {p["name"]: p for p in doc["params"]}
    assert params["layers"]["default"] == 4 and params["layers"]["range"] == ">= 1"
    assert params["norm"]["range"].startswith("frobenius | spectral")
    assert doc["at"]["layers"] == 2 and len(doc["constants"]["L0"]) == 2
    assert doc["provenance"]["code_fingerprint"]


def test_every_subcommand_takes_no_progress_and_every_option_has_help():
    import argparse

    from gluon_mvr.experiments.cli.main import _leaf_parsers, build_parser
    leaves = dict(_leaf_parsers(build_parser()))
    assert {("rate-check",), ("lmo-error",), ("figs",), ("constants",), ("problems",), ("theory", "verify"),
            ("theory", "check"), ("results", "export"), ("results", "list"), ("results", "show"),
            ("results", "prune")} <= set(leaves)
    for path, p in leaves.items():
        assert "--no-progress" in p._option_string_actions, path
    for path in (("results", "export"), ("results", "prune"), ("lmo-error",), ("problems",)):
        for action in leaves[path]._actions:
            if not isinstance(action, argparse._HelpAction):
                assert action.help, (path, action.dest)


def test_a_rerun_says_what_it_reused_and_recomputes_after_a_code_change(env, capsys, monkeypatch):
    """The issue's acceptance: a code change (the fingerprint patched) makes a rerun recompute,
    and the rerun says so; --reuse-stale reuses explicitly."""
    from gluon_mvr.experiments.core import provenance
    s = ["--store", str(env / "s.sqlite")]
    assert main(["rate-check", *TINY, *s]) in (0, 1)
    assert "store: reused 2 stored cells, computed 0" in capsys.readouterr().err
    monkeypatch.setattr(provenance, "code_fingerprint", lambda: "feedfacefeedface")
    assert main(["rate-check", *TINY, *s]) in (0, 1)
    err = capsys.readouterr().err
    assert "reused 0 stored cells, computed 2 (2 of them were stored by another code" in err
    monkeypatch.setattr(provenance, "code_fingerprint", lambda: "0000000000000000")
    assert main(["rate-check", *TINY, "--reuse-stale", *s]) in (0, 1)
    assert "computed 0, reused 2 cells of other code (--reuse-stale)" in capsys.readouterr().err


def test_an_error_raised_while_handling_ctrl_c_is_still_an_interruption(capsys):
    """Seen once: Ctrl-C while joblib started its pool made the pool's cleanup raise
    RuntimeError('cannot join thread before it is started') with the KeyboardInterrupt as its
    context; that is an interruption (exit 130), not an internal error (exit 2)."""
    import signal as signal_mod
    from gluon_mvr.experiments.cli.errors import run_command

    def interrupted_then_cleanup_fails(args):
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt:
            raise RuntimeError("cannot join thread before it is started")

    def plain_failure(args):
        raise RuntimeError("boom")

    old = signal_mod.getsignal(signal_mod.SIGINT)
    try:
        assert run_command("figs", interrupted_then_cleanup_fails, None) == 130
        assert "interrupted; the store is intact" in capsys.readouterr().err
        assert run_command("figs", plain_failure, None) == 2            # control: a real error stays one
        assert "internal error" in capsys.readouterr().err
    finally:
        signal_mod.signal(signal_mod.SIGINT, old)
