"""The gluon-mvr command line: --version/--help, rate-check end to end on a tiny problem, bad input
(exit 2, one line on stderr naming the field, nothing written), and results export."""
import csv
import json

from gluon_mvr.experiments.studies.rate_check import VERDICTS
import os
import sqlite3

import numpy
import pytest

from gluon_mvr._version import __version__
from gluon_mvr.experiments.cli.main import main
from gluon_mvr.experiments.core.config import validate
from gluon_mvr.experiments.core.store import ResultStore

TINY = ["--problem", "quadratic", "--param", "layers=2", "--param", "dim=3", "--horizons", "20,40,80",
        "--seeds", "3", "--executor", "serial", "--no-progress"]


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)        # a default store path would land here, not in the repo


def _rate_check(tmp_path, *extra, store="s.sqlite", json_name="out.json"):
    argv = ["rate-check", *TINY, "--store", str(tmp_path / store), *extra]
    if json_name:
        argv += ["--json", str(tmp_path / json_name)]
    return main(argv)


def test_version_and_help_exit_0(capsys):
    assert main(["--version"]) == 0
    assert __version__ in capsys.readouterr().out
    assert main(["--help"]) == 0
    assert "rate-check" in capsys.readouterr().out
    assert main(["rate-check", "--help"]) == 0
    out = capsys.readouterr().out
    assert all(opt in out for opt in ("--problem", "--param", "--methods", "--horizons", "--seeds",
                                      "--config", "--store", "--executor", "--scheduler", "--json", "--device"))
    assert main(["results", "export", "--help"]) == 0
    assert main([]) == 0                                   # no command: help
    assert "rate-check" in capsys.readouterr().out


def test_rate_check_tiny_end_to_end(tmp_path, capsys):
    code = _rate_check(tmp_path)
    assert code in (0, 1)
    out = capsys.readouterr().out
    assert "gluon" in out and "mvr1" in out and str(tmp_path / "s.sqlite") in out
    doc = json.loads((tmp_path / "out.json").read_text())
    assert doc["problem"] == "quadratic"
    methods = [r["method"] for r in doc["results"]]
    assert methods == ["gluon", "mvr1", "mvr2", "mvr3"]
    for r in doc["results"]:
        assert {"method", "slope", "ci", "theory", "verdict", "horizons", "G"} <= set(r)
        assert r["horizons"] == [20, 40, 80] and len(r["G"]) == 3 and all(g > 0 for g in r["G"])
        # what the CLI promises: the slope is the least-squares slope of log(seed-mean G_K) on
        # log K over the tail, and the verdict follows from it, its interval and the tolerance
        lo, hi = r["ci"]
        tail, tol = doc["config"]["tail"], doc["config"]["tolerance"]
        K, G = numpy.log(r["horizons"][-tail:]), numpy.log(r["G"][-tail:])
        assert r["diverged"] == 0 and r["slope"] == pytest.approx(numpy.polyfit(K, G, 1)[0], rel=1e-9)
        s, th = r["slope"], r["theory"]
        assert lo <= hi and r["rate_verdict"] == ("match" if abs(s - th) <= tol or lo <= th <= hi
                                                  else "faster" if s < th else "slower")
        assert r["verdict"] in VERDICTS and r["verdict"].startswith(r["rate_verdict"])
    assert doc["results"][0]["theory"] == pytest.approx(-0.25)
    assert all(r["theory"] == pytest.approx(-1 / 3) for r in doc["results"][1:])
    assert code == (1 if any(r["verdict"] == "slower" for r in doc["results"])
                    or any(r.get("bound_violations") for r in doc["results"]) else 0)
    store = ResultStore(tmp_path / "s.sqlite")
    # 4 methods x 3 K + 4 noise-off + the controls' DISTINCT computations x 3 K: gluon's raw
    # gradient at its radius; momentum, the raw gradient and MVR-2's previous-sample form at MVR's
    # radius (MVR-1/3's previous-sample form is the raw gradient; L1 = 0 here, so the MVR radii agree)
    assert store.count() == 12 + 4 + 5 * 3

    # a rerun reuses every cell and reports the same numbers
    assert _rate_check(tmp_path, json_name="again.json") == code
    again = json.loads((tmp_path / "again.json").read_text())
    # 4 methods x 3 K + 4 noise-off + the controls' DISTINCT computations x 3 K: gluon's raw
    # gradient at its radius; momentum, the raw gradient and MVR-2's previous-sample form at MVR's
    # radius (MVR-1/3's previous-sample form is the raw gradient; L1 = 0 here, so the MVR radii agree)
    assert store.count() == 12 + 4 + 5 * 3
    strip = [{k: v for k, v in r.items() if k != "wall_time"} for r in doc["results"]]
    assert [{k: v for k, v in r.items() if k != "wall_time"} for r in again["results"]] == strip


TINY_CFG = {"problem": "quadratic", "params": {"layers": 2, "dim": 3}, "horizons": [20, 40], "seeds": 2,
            "tail": 2, "bootstrap": 100, "executor": "serial"}


def test_rate_check_cells_and_bounds_are_the_checks_own(tmp_path):
    from gluon_mvr.experiments.studies.rate_check import bound_for_cell, rate_check, rate_check_cells
    cfg = validate({**TINY_CFG, "methods": ["gluon", "mvr1"], "store": str(tmp_path / "c.sqlite")})
    result = rate_check(cfg)
    reports, path = result.reports, result.store_path
    grid, off = rate_check_cells(cfg)
    rows = ["gluon", "mvr1", "gluon~no-momentum", "mvr1~momentum", "mvr1~no-momentum", "mvr1~prev-sample"]
    assert set(grid) == {(m, K, None) for m in rows for K in cfg.horizons}
    assert set(off) == {(m, None) for m in cfg.methods}
    assert all(c["noise"] is False and c["seeds"] == [0] and c["K"] == cfg.horizons[-1] for _, c in off.values())
    store = ResultStore(path)
    keys = {k for k, _ in grid.values()} | {k for k, _ in off.values()}
    assert store.count() == len(keys)                     # exactly the cells the check stored
    # MVR-1's previous-sample control is the raw gradient (a proved identity): one computation
    assert all(grid["mvr1~prev-sample", K, None][0] == grid["mvr1~no-momentum", K, None][0] for K in cfg.horizons)
    # ... while each row keeps its own configuration (reports and exports name it correctly)
    assert grid["mvr1~prev-sample", 40, None][1]["composition"]["estimator"]["name"] == "previous-sample"
    got = store.get_many(k for k, _ in grid.values())
    for r in reports:
        assert r.G == pytest.approx([numpy.mean(got[grid[r.method, K, None][0]]["G"]) for K in cfg.horizons])
        bounds = [bound_for_cell(cfg, r.method, K) for K in cfg.horizons]
        assert all(b is not None and b > 0 for b in bounds)
        # the meas/bound column divides by these bounds
        assert r.bound_ratio == pytest.approx(max(g / b for g, b in zip(r.G, bounds)))
    assert bound_for_cell(cfg, "muon", 40) is None          # theory states no bound for it
    # a control is held to the bound of its own estimator at its own schedule: plain momentum on
    # MVR-1's schedule to the Gluon bound; the raw-gradient and previous-sample controls have none
    assert bound_for_cell(cfg, "mvr1~momentum", 40) is not None
    assert bound_for_cell(cfg, "mvr1~no-momentum", 40) is None and bound_for_cell(cfg, "mvr1~prev-sample", 40) is None


def test_tuned_cell_finds_the_best_cells_tune_stored(tmp_path):
    from gluon_mvr.experiments.studies.tuning import tune, tuned_cell
    cfg = validate({**TINY_CFG, "methods": ["gluon", "mvr2"], "tuned": True, "store": str(tmp_path / "t.sqlite")})
    store = ResultStore(cfg.store)
    results = tune(cfg, store, span=1, search_seeds=2)
    for r in results:
        for p in r["best"]:
            key, cell = tuned_cell(cfg, r["method"], p["K"], p["radius_factor"], p["momentum"], list(range(cfg.seeds)))
            sched = cell["composition"]["schedule"]
            assert cell["kind"] == "tuned" and sched["kind"] == "fixed" and sched["radius"] == pytest.approx(p["radius"])
            # the momentum searched: 1 - beta for Gluon, q for MVR-2
            assert sched["q" if r["method"] == "mvr2" else "one_minus_beta"] == pytest.approx(p["momentum"])
            assert numpy.mean(store.get(key)["G"]) == pytest.approx(p["G"])


def test_config_file_with_flags_overriding_it(tmp_path, capsys):
    cfg = tmp_path / "c.toml"
    cfg.write_text('problem = "quadratic"\nmethods = ["gluon", "mvr1", "mvr2"]\nhorizons = [20, 40, 80]\n'
                   'seeds = 2\nexecutor = "serial"\nnoise_share = false\n'
                   f'store = "{tmp_path / "from_file.sqlite"}"\n[params]\nlayers = 2\ndim = 3\n')
    code = main(["rate-check", "--config", str(cfg), "--methods", "mvr1", "--seeds", "3", "--param", "dim=2",
                 "--store", str(tmp_path / "flag.sqlite"), "--json", str(tmp_path / "o.json"), "--no-progress"])
    assert code in (0, 1)
    doc = json.loads((tmp_path / "o.json").read_text())
    assert [r["method"] for r in doc["results"]] == ["mvr1"]
    assert doc["config"]["seeds"] == 3 and doc["config"]["noise_share"] is False
    assert doc["params"]["layers"] == 2 and doc["params"]["dim"] == 2
    assert not (tmp_path / "from_file.sqlite").exists()
    assert ResultStore(tmp_path / "flag.sqlite").count() == 3 * 3        # mvr1, momentum, raw gradient (= prev-sample)


def test_slower_verdict_exits_1(tmp_path, monkeypatch, capsys):
    import gluon_mvr.experiments.studies.rate_check as rc
    monkeypatch.setattr(rc, "verdict", lambda fit, theory, tol=0.04: "slower")
    assert _rate_check(tmp_path, "--methods", "gluon", "--no-noise-share") == 1


BAD = [
    (["--methods", "foo"], "methods"),
    (["--methods", "gluon,gluon"], "methods"),
    (["--seeds", "-3"], "seeds"),
    (["--seeds", "nan"], "seeds"),
    (["--horizons", ""], "horizons"),
    (["--horizons", "80,40,20"], "horizons"),
    (["--horizons", "20,x"], "horizons"),
    (["--param", "nope=1"], "nope"),
    (["--param", "layers"], "--param"),
    (["--param", "dim=0"], "dim"),
    (["--problem", "nope"], "problem"),
    (["--radius-scale", "nan"], "radius_scale"),
    (["--momentum-scale", "-1"], "momentum_scale"),
    (["--beta", "2"], "beta"),
    (["--tail", "9"], "tail"),
    (["--executor", "threads"], "executor"),
    (["--device", "tpu"], "device"),
    (["--dtype", "float16"], "dtype"),
    (["--lmo", "svd"], "lmo"),
    (["--ns-steps", "0"], "ns_steps"),
    (["--scheduler", "tcp://127.0.0.1:1"], "scheduler"),
    (["--config", "missing.toml"], "config"),
]


def _check_bad(argv, field, tmp_path, capsys):
    capsys.readouterr()
    assert main(argv) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert field in lines[0] and "Traceback" not in captured.err
    assert captured.out == ""
    assert not (tmp_path / "out.json").exists()


@pytest.mark.parametrize("extra, field", BAD)
def test_bad_input_exits_2_with_one_line_and_no_store(tmp_path, capsys, extra, field):
    store = tmp_path / "fresh" / "s.sqlite"
    argv = ["rate-check", *TINY, "--store", str(store), "--json", str(tmp_path / "out.json"), *extra]
    _check_bad(argv, field, tmp_path, capsys)
    assert not store.exists() and not store.parent.exists()
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("text, field", [("seeds = ", "config"), ("[params\nlayers = 2", "config"),
                                         ("beta = 2.0", "beta"), ("bogus = 1", "bogus"),
                                         ("[params]\nnope = 2", "nope")])
def test_bad_config_file_exits_2(tmp_path, capsys, text, field):
    cfg = tmp_path / "bad.toml"
    cfg.write_text(text)
    store = tmp_path / "s.sqlite"
    argv = ["rate-check", *TINY, "--store", str(store), "--config", str(cfg)]
    _check_bad(argv, field, tmp_path, capsys)
    assert not store.exists()


def test_bad_input_leaves_an_existing_store_untouched(tmp_path, capsys):
    store = tmp_path / "s.sqlite"
    assert _rate_check(tmp_path, "--methods", "gluon", "--no-noise-share", json_name=None) in (0, 1)
    before = _dump(store)
    assert ResultStore(store).count() == 6          # gluon and its no-momentum control
    for extra, field in BAD[:6] + [(["--config", "missing.toml"], "config")]:
        argv = ["rate-check", *TINY, "--store", str(store), *extra]
        _check_bad(argv, field, tmp_path, capsys)
    assert _dump(store) == before                 # same rows, same 'created' stamps
    assert ResultStore(store).count() == 6


def _dump(path):
    con = sqlite3.connect(path)
    try:
        return list(con.iterdump())
    finally:
        con.close()


def test_impossible_shape_exits_2_and_writes_nothing(tmp_path, capsys):
    store = tmp_path / "s.sqlite"
    argv = ["rate-check", *TINY, "--param", "shapes=abc", "--store", str(store)]
    try:
        code = main(argv)
    except Exception:        # today: the ValueError escapes main
        code = None
    assert code == 2
    assert "shapes" in capsys.readouterr().err
    assert not store.exists()


def test_unknown_option_exits_2(capsys):
    assert main(["rate-check", "--bogus", "1"]) == 2
    assert "--bogus" in capsys.readouterr().err
    assert main(["no-such-command"]) == 2


def test_results_export_writes_a_csv(tmp_path, capsys):
    assert _rate_check(tmp_path, "--methods", "gluon,mvr1", "--no-controls", json_name=None) in (0, 1)
    out = tmp_path / "export" / "r.csv"
    os.makedirs(out.parent)
    capsys.readouterr()
    assert main(["results", "export", "--store", str(tmp_path / "s.sqlite"), "--out", str(out)]) == 0
    with open(out, newline="") as fh:
        rows = list(csv.DictReader(fh))
    # 2 methods x 3 horizons x 3 seeds, plus a 1-seed noise-off cell per method
    assert len(rows) == 2 * 3 * 3 + 2
    assert f"wrote {len(rows)} rows" in capsys.readouterr().out
    assert {r["method"] for r in rows} == {"gluon", "mvr1"}
    assert {r["K"] for r in rows} == {"20", "40", "80"}
    assert {r["noise"] for r in rows} == {"True", "False"}
    assert all(float(r["G"]) > 0 and r["problem"] == "quadratic" for r in rows)


def test_results_export_of_a_missing_store_exits_2(tmp_path, capsys):
    out = tmp_path / "r.csv"
    assert main(["results", "export", "--store", str(tmp_path / "none.sqlite"), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "store" in err[0]
    assert not out.exists() and not (tmp_path / "none.sqlite").exists()


def test_a_bound_met_to_rounding_holds_with_its_margin(tmp_path, capsys):
    """Noise off, Frobenius norm: MVR-1's measured G_K equals its bound up to rounding (2.8e-17
    apart); the comparison's rounding tolerance reports it as holding, with its margin."""
    argv = ["rate-check", "--problem", "quadratic", "--param", "sigma=0", "--param", "norm=frobenius",
            "--methods", "mvr1", "--horizons", "100,316,1000", "--no-controls", "--executor", "serial",
            "--store", str(tmp_path / "s.sqlite"), "--json", str(tmp_path / "o.json"), "--no-progress"]
    assert main(argv) == 0
    (r,) = json.loads((tmp_path / "o.json").read_text())["results"]
    assert r["bound_status"] == "holds" and r["bound_violations"] == []
    assert abs(r["bound_margin"]) < 1e-12 and r["bound_ratio"] == pytest.approx(1.0, abs=1e-12)
    assert "BOUND VIOLATED" not in capsys.readouterr().out


def test_runs_outside_the_bounds_hypotheses_are_reported_not_held(tmp_path):
    """l0l1 declares A1 for steps up to its pair radius 0.1: MVR-1's radius 2 K^-2/3 exceeds it
    below K ~ 90, so those cells are 'outside hypotheses' (bound not evaluated against them), while
    K = 200 is inside and held to the bound (control)."""
    from gluon_mvr.experiments.studies.rate_check import rate_check
    res = rate_check("l0l1", ["mvr1"], horizons=[20, 200], seeds=2, executor="serial", bootstrap=100,
                     controls="off", noise_share=False)
    (r,) = res.reports
    status = {p["K"]: p["status"] for p in r.bound_by_horizon}
    assert status == {20: "outside hypotheses", 200: "holds"}
    assert "pair radius" in r.bound_by_horizon[0]["reason"]
    assert r.as_dict()["bound_status"] == "outside hypotheses"
    assert "OUTSIDE HYPOTHESES" in res.table()
    # the same check with a radius scale that keeps every step inside: nothing outside
    small = rate_check("l0l1", ["mvr1"], horizons=[20, 200], seeds=2, executor="serial", bootstrap=100,
                       controls="off", noise_share=False, radius_scale=0.5)
    assert {p["status"] for p in small.reports[0].bound_by_horizon} == {"holds"}


def test_a_run_that_leaves_the_certified_ball_is_outside():
    """Curvature noise declares sigma on a ball around the centre: a huge radius leaves it."""
    from gluon_mvr.methods import run
    from gluon_mvr.problems import get_problem
    p = get_problem("nonconvex", layers=1, dim=3, noise="curvature", sigma=0.5)
    inside = run(p, "gluon", K=20, seeds=2, radius_scale=0.01)
    outside = run(p, "gluon", K=20, seeds=2, radius_scale=50.0)
    assert (inside.region_usage <= 1).all() and (outside.region_usage > 1).any()
    assert run(get_problem("quadratic", layers=1, dim=3), "gluon", K=5, seeds=1).region_usage is None
