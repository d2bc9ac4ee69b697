"""Smoke test of the benchmark package: every benchmark at toy size, the table and the JSON."""
import json

import numpy
import pytest

from benchmarks.common import Figure, fit_exponent
from benchmarks.ns_flops import ns_flops
from benchmarks.suite import format_row, run_suite, write_json

TINY_RATE_CHECK = ("--horizons", "10,20,40", "--seeds", "2", "--methods", "mvr1", "--executor", "serial",
                   "--no-noise-share")


def test_every_benchmark_runs_at_toy_size(tmp_path):
    report = run_suite("tiny", options={"rate_check_args": TINY_RATE_CHECK})
    figs = report["figures"]
    assert {f["bench"][0] for f in figs} >= set("12345")
    errors = [f for f in figs if f["note"].startswith("error")]
    assert not errors, errors
    judged = {f["bench"][0] for f in figs if f["target"] is not None}
    assert judged >= set("124")                              # 3 may be skipped without torch
    for f in figs:
        if f["passed"] is not None:
            assert numpy.isfinite(f["value"])
        assert format_row(f)
    path = tmp_path / "bench.json"
    write_json(report, path)
    data = json.loads(path.read_text())
    assert data["environment"]["numpy"] == numpy.__version__
    assert all("target" in f and "passed" in f for f in data["figures"])


def test_figure_verdicts_and_helpers():
    assert Figure("b", "x", 12.0, target=10.0, op=">=").passed is True
    assert Figure("b", "x", 1.2, target=1.0, op="<=").passed is False
    assert Figure("b", "x", 5.0).passed is None
    assert Figure("b", "x", float("nan"), target=1.0).passed is None
    broken = Figure("4 b", "x", float("nan"), target=60.0, op="<", note="failed: ModuleNotFoundError")
    assert broken.broken and not Figure("b", "x", 1.0, note="skipped (no torch)").broken
    assert "ERROR" in format_row(broken) and "skip" in format_row(Figure("b", "x", float("nan"), note="skipped"))
    assert fit_exponent([1, 2, 4], [3, 12, 48]) == pytest.approx(2.0)
    # square m x m, one step: 3 products of 2 m^3 plus 3 m^2 + 2 m^2 elementwise, + 3 m^2 normalise
    assert ns_flops(4, 4, 1) == 3 * 16 + 6 * 64 + 5 * 16


def test_torch_peer_matches_our_trajectory_without_noise():
    torch = pytest.importorskip("torch")
    from gluon_mvr import methods
    from benchmarks.torch_peer import torch_mvr1
    from gluon_mvr.problems import get_problem
    problem = get_problem("quadratic", layers=3, dim=5, sigma=0.0)
    K, S = 15, 2
    ours = methods.run(problem, "mvr1", K=K, seeds=S)
    _, _, norms, values, final = torch_mvr1(torch, problem, K, S)
    numpy.testing.assert_allclose(norms.transpose(1, 0, 2), ours.grad_norms, rtol=1e-9, atol=1e-12)
    numpy.testing.assert_allclose(values.T, ours.values, rtol=1e-9, atol=1e-12)
    numpy.testing.assert_allclose(final, ours.final_grad_norms, rtol=1e-9, atol=1e-12)


def test_gpu_speedup_is_skipped_without_a_gpu(monkeypatch):
    import gluon_mvr.methods.backend as backend
    from benchmarks.gpu_speedup import gpu_speedup
    monkeypatch.setattr(backend, "_cupy", lambda: None)
    figs = gpu_speedup(layers=1, dim=2, S=1)
    assert len(figs) == 2 and all(f.passed is None and "skipped" in f.note for f in figs)


def test_gpu_speedup_code_path_on_the_fake_device(monkeypatch):
    """The GPU benchmark's code path end to end on the CPU stand-in for CuPy, with the horizons
    of every suite mode (sizes shrunk): parity must be exact there (same arithmetic) and taken
    over several iterations, the timing figure finite."""
    import gluon_mvr.methods.backend as backend
    from benchmarks.gpu_speedup import gpu_speedup
    from benchmarks.suite import MODES
    from fake_cupy import make_fake_cupy
    calls = []
    monkeypatch.setattr("benchmarks.suite.gpu_speedup", lambda **kw: calls.append(kw) or [])
    for mode in MODES.values():                      # the horizons each mode would use
        mode[6]({})
    horizons = [{k: kw[k] for k in ("K_cpu", "K_gpu") if k in kw} for kw in calls]
    assert len(horizons) == len(MODES) and {} in horizons      # full mode: the defaults
    fake = make_fake_cupy()
    monkeypatch.setattr(backend, "_cupy", lambda: fake)
    # a model clock instead of the wall clock (toy runs can time 0.0 s and made the ratio NaN):
    # a run of K iterations "takes" 1 + 3K ms on the CPU and 5 + K ms on the device, so the
    # per-iteration difference quotient must give exactly 3 ms, 1 ms and a speed-up of 3
    import benchmarks.gpu_speedup as bench
    real = bench._timed

    def timed(problem, method, K, S, device, dtype):
        _, traj = real(problem, method, K, S, device, dtype)
        return ((1e-3 + 3e-3 * K) if device == "cpu" else (5e-3 + 1e-3 * K)), traj
    monkeypatch.setattr(bench, "_timed", timed)
    for h in horizons:
        speed, parity = gpu_speedup(layers=2, dim=4, S=2, **h)
        assert parity.value == 0.0 and parity.passed is True and parity.detail["K"] >= 2
        assert speed.value == pytest.approx(3.0, rel=1e-9)
        assert speed.detail["cpu_s_per_iter"] == pytest.approx(3e-3, rel=1e-9)
        assert speed.detail["gpu_s_per_iter"] == pytest.approx(1e-3, rel=1e-9)


@pytest.mark.parametrize("returncode,broken", [(0, False), (1, False), (2, True), (-9, True)])
def test_rate_check_wall_exit_one_is_a_result(monkeypatch, returncode, broken):
    """Exit 1 of the rate check is a verdict other than `match` (a finished check, timed);
    2 (bad input) or a signal means it could not run."""
    import subprocess
    from benchmarks import rate_check_wall as module
    monkeypatch.setattr(module.subprocess, "run", lambda cmd, **kw: subprocess.CompletedProcess(
        cmd, returncode, stdout="table\n", stderr="boom\n"))
    (fig,) = module.rate_check_wall()
    assert fig.broken is broken
    assert numpy.isfinite(fig.value) is not broken
