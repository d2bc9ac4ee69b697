"""The ``constants`` subcommand, through a throwaway argparse parser."""
import argparse
import json

import numpy
import pytest

from gluon_mvr.experiments.cli.constants import register


def _run(argv):
    parser = argparse.ArgumentParser(prog="gluon-mvr")
    register(parser.add_subparsers())
    args = parser.parse_args(argv)
    return args.func(args)


FAST = ["--pairs", "48", "--draws", "20", "--steps", "20", "--run-seeds", "2"]


def test_certifies_a_problem_and_writes_json(tmp_path, capsys):
    out = tmp_path / "c.json"
    code = _run(["constants", "--problem", "l0l1", "--param", "layers=2", "--param", "dim=4",
                 "--param", "noise=curvature", "--json", str(out)] + FAST)
    assert code == 0
    text = capsys.readouterr().out
    assert "declared dominates measured" in text and "L0 decl" in text
    data = json.loads(out.read_text())
    assert data["ok"] is True and len(data["layers"]) == 2
    assert {"L0_declared", "L0_fit", "L1_declared", "L1_fit", "sigma_measured", "ell_measured",
            "dominates"} <= set(data["layers"][0])


def test_violation_exits_1(monkeypatch, capsys):
    import gluon_mvr.problems.families.nonconvex as nc
    original = nc.NonconvexProblem._declare

    def halved(self, L0, L1, **kw):   # a family that under-declares its constant
        original(self, [0.5 * v for v in L0], L1, **kw)
    monkeypatch.setattr(nc.NonconvexProblem, "_declare", halved)
    code = _run(["constants", "--problem", "nonconvex", "--param", "layers=1", "--param", "dim=3",
                 "--param", "norm=frobenius", "--trajectory", "none"] + FAST)
    assert code == 1
    assert "VIOLATION: A1" in capsys.readouterr().out


@pytest.mark.parametrize("argv,field", [
    (["--problem", "nope"], "unknown problem 'nope'"),
    (["--problem", "l0l1", "--param", "sigma=-1"], "'sigma'"),
    (["--problem", "l0l1", "--param", "oops"], "--param"),
    (["--problem", "l0l1", "--pairs", "x"], "--pairs"),
    (["--problem", "l0l1", "--method", "adam"], "--method"),
    (["--problem", "l0l1", "--trajectory", "maybe"], "--trajectory"),
    (["--problem", "l0l1", "--fit", "median"], "--fit"),
])
def test_bad_input_exits_2_with_one_line(argv, field, capsys):
    assert _run(["constants"] + argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and field in err[0] and "Traceback" not in err[0]


def _write_log(path, rows, header=True):
    with open(path, "w") as fh:
        if header:
            fh.write("layer,L_hat,grad_norm,step\n")
        for r in rows:
            fh.write(",".join(str(v) for v in r) + "\n")


def test_from_log_envelope_recovers_known_constants(tmp_path, capsys):
    rng = numpy.random.default_rng(0)
    rows = []
    for layer, (L0, L1) in {"attn.q": (2.0, 0.5), "mlp.up": (0.0, 3.0)}.items():
        g = numpy.concatenate([[0.1, 10.0], rng.uniform(0.1, 10.0, 60)])
        r = (L0 + L1 * g) * numpy.concatenate([[1.0, 1.0], rng.uniform(0.2, 1.0, 60)])
        rows += [(layer, a, b, k) for k, (a, b) in enumerate(zip(r, g))]
    path = tmp_path / "log.csv"
    _write_log(path, rows)
    out = tmp_path / "fit.json"
    assert _run(["constants", "--from-log", str(path), "--json", str(out)]) == 0
    assert "attn.q" in capsys.readouterr().out
    layers = {d["layer"]: d for d in json.loads(out.read_text())["layers"]}
    assert layers["attn.q"]["L0"] == pytest.approx(2.0, rel=1e-5)
    assert layers["attn.q"]["L1"] == pytest.approx(0.5, rel=1e-5)
    assert layers["mlp.up"]["L0"] == pytest.approx(0.0, abs=1e-6)
    assert layers["mlp.up"]["L1"] == pytest.approx(3.0, rel=1e-5)
    assert layers["mlp.up"]["radius"] == pytest.approx(1 / 3, rel=1e-5)
    assert all(d["n_above"] == 0 and d["fit"] == "envelope" for d in layers.values())


def test_from_log_penalized_without_header(tmp_path, capsys):
    g = numpy.linspace(0.5, 5, 40)
    path = tmp_path / "log.csv"
    _write_log(path, [("0", 1.0 + 2.0 * x, x) for x in g], header=False)
    assert _run(["constants", "--from-log", str(path), "--fit", "penalized", "--penalty", "10",
                 "--json", "-"]) == 0
    data = json.loads(capsys.readouterr().out)
    (d,) = data["layers"]
    assert d["fit"] == "penalized" and d["penalty"] == 10.0
    assert d["L0"] == pytest.approx(1.0, rel=1e-3) and d["L1"] == pytest.approx(2.0, rel=1e-3)


@pytest.mark.parametrize("content,field", [
    ("layer,L_hat,grad_norm\nw,abc,1\n", "'L_hat'"),
    ("layer,L_hat,grad_norm\nw,1,-2\n", "'grad_norm'"),
    ("layer,L_hat,grad_norm\nw,1\n", "3 or 4 fields"),
    ("layer,L_hat\nw,1\n", "'grad_norm'"),
    ("layer,L_hat,grad_norm\n", "no data rows"),
    ("w,1,nan\n", "'grad_norm'"),
])
def test_from_log_bad_rows_exit_2_naming_the_field(tmp_path, content, field, capsys):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    assert _run(["constants", "--from-log", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and field in err[0]


def test_from_log_missing_file_and_param_conflict(tmp_path, capsys):
    assert _run(["constants", "--from-log", str(tmp_path / "none.csv")]) == 2
    path = tmp_path / "ok.csv"
    path.write_text("w,1,1\n")
    assert _run(["constants", "--from-log", str(path), "--param", "a=1"]) == 2
    err = capsys.readouterr().err
    assert "cannot read" in err and "--param" in err
