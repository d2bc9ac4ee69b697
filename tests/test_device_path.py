"""The ``device='gpu'`` code path against the CPU: on a strict CPU stand-in for CuPy always, and on
a real GPU when there is one.

``fake``: CuPy refuses implicit host/device conversions and NumPy/CuPy mixing; the stand-in
(tests/fake_cupy.py) refuses them the same way but computes with NumPy, so every run on it must
equal its CPU run bit for bit.  This catches a host array slipped into the loop, a ``numpy.*``
call on device data, or a device scalar used as a host one, without a GPU.

``cuda`` (marker ``gpu``, deselected by default; ``pytest -m gpu`` on a machine with CuPy and a
CUDA device): the same tests against real CuPy, where cuBLAS/cuSOLVER round differently, so runs
must agree to ``rtol = 1e-8`` in float64 (1e-4 in float32) instead of bit for bit.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy
import pytest

from gluon_mvr import methods
import gluon_mvr.methods.backend as backend
from gluon_mvr.methods.backend import gpu_available
from gluon_mvr.methods.schedules import adaptive_schedule, constant_schedule, star_horizon_schedule
from gluon_mvr.problems import get_problem

from fake_cupy import DeviceArray, make_fake_cupy

INTEGER_FIELDS = ("diverged_at", "oracle_calls", "iterations")
FLOAT_FIELDS = ("values", "grad_norms", "final_value", "final_grad_norms", "radius")


@dataclass
class Device:
    name: str
    exact: bool           # bit for bit (the stand-in) or to rounding (a real GPU)
    ndarray: type


@pytest.fixture(params=["fake", pytest.param("cuda", marks=[
    pytest.mark.gpu, pytest.mark.skipif(not gpu_available(), reason="needs CuPy and a CUDA GPU")])])
def device(request):
    if request.param == "fake":
        request.getfixturevalue("fake_gpu")
        return Device("fake", True, DeviceArray)
    import cupy
    return Device("cuda", False, cupy.ndarray)


@pytest.fixture
def fake_gpu(monkeypatch):
    """The stand-in alone, for what only it can check (its own refusals)."""
    fake = make_fake_cupy()
    monkeypatch.setattr(backend, "_cupy", lambda: fake)
    return fake


def assert_same(cpu, dev, device, dtype="float64"):
    for name in INTEGER_FIELDS:
        numpy.testing.assert_array_equal(getattr(dev, name), getattr(cpu, name), err_msg=name)
    for name in FLOAT_FIELDS:
        a, b = getattr(dev, name), getattr(cpu, name)
        if device.exact:
            numpy.testing.assert_array_equal(a, b, err_msg=name)
        else:
            rtol = 1e-8 if dtype == "float64" else 1e-4
            numpy.testing.assert_allclose(a, b, rtol=rtol, atol=100 * rtol * numpy.nanmax(numpy.abs(b)),
                                          err_msg=name)


def assert_same_numbers(cpu, dev, device, err_msg=""):
    if device.exact:
        assert cpu == dev, err_msg
    else:
        numpy.testing.assert_allclose(numpy.asarray(dev, float), numpy.asarray(cpu, float), rtol=1e-8,
                                      atol=1e-10, err_msg=err_msg)


def both(problem, method, **kw):
    return methods.run(problem, method, device="cpu", **kw), methods.run(problem, method, device="gpu", **kw)


# --------------------------------------------------------------- the fake itself

def test_fake_refuses_what_cupy_refuses(fake_gpu):
    d = fake_gpu.asarray(numpy.ones((2, 2)))
    assert isinstance(d, DeviceArray)
    with pytest.raises(TypeError):
        numpy.asarray(d)
    with pytest.raises(TypeError):
        numpy.linalg.norm(d)
    with pytest.raises(TypeError):
        d + numpy.ones((2, 2))
    with pytest.raises(TypeError):
        fake_gpu.stack([d, numpy.ones((2, 2))])
    assert isinstance(fake_gpu.sum(d), DeviceArray)          # reductions stay on the device
    assert float(fake_gpu.sum(d)) == 4.0
    numpy.testing.assert_array_equal(fake_gpu.asnumpy(d * 2), 2 * numpy.ones((2, 2)))


def test_gpu_device_without_cupy_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(backend, "_cupy", lambda: None)
    with pytest.raises(RuntimeError, match="CuPy"):
        methods.run(get_problem("quadratic", layers=1, dim=2), "gluon", K=2, seeds=1, device="gpu")


# --------------------------------------------------------------- the run loop

@pytest.mark.parametrize("method", methods.presets.METHOD_NAMES)
def test_every_method_on_the_device_equals_cpu(device, method):
    problem = get_problem("quadratic", layers=2, dim=4)
    assert_same(*both(problem, method, K=12, seeds=[0, 3]), device)


@pytest.mark.parametrize("family,params", [
    ("quadratic", {"shapes": "3x5,5x3,4x4"}),
    ("l0l1", {"layers": 2, "dim": 4}),
    ("l0l1", {"layers": 2, "dim": 4, "noise": "heavy"}),
    ("l0l1", {"layers": 2, "dim": 4, "noise": "curvature"}),
    ("nonconvex", {"layers": 2, "dim": 4}),
    ("star", {"layers": 2, "dim": 4}),
    ("star", {"layers": 2, "dim": 4, "growth": "linear", "start": "origin"}),
    ("twolayer", {"dim": 4, "n_data": 32, "estimate_pairs": 16, "estimate_steps": 10}),
])
def test_every_family_on_the_device_equals_cpu(device, family, params):
    problem = get_problem(family, **params)
    assert_same(*both(problem, "mvr1", K=10, seeds=2), device)


@pytest.mark.parametrize("norm", methods.norms.NORM_NAMES)
def test_every_norm_on_the_device_equals_cpu(device, norm):
    problem = get_problem("quadratic", layers=2, dim=4, norm=norm)
    assert_same(*both(problem, "gluon", K=8, seeds=2), device)


@pytest.mark.parametrize("lmo", ["ns-jordan", "ns-cubic", "ns-quintic", "polar-express"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_inexact_lmos_on_the_device_equal_cpu(device, lmo, dtype):
    problem = get_problem("quadratic", layers=2, dim=4)
    assert_same(*both(problem, "mvr2", K=8, seeds=2, lmo=lmo, dtype=dtype), device, dtype)


def test_schedules_on_the_device_equal_cpu(device):
    problem = get_problem("star", layers=2, dim=4)
    for method, schedule in [("gluon", constant_schedule(0.05, 2, beta=0.7)),
                             ("gluon-det", adaptive_schedule(problem.constants.L0, problem.constants.L1)),
                             ("mvr1", star_horizon_schedule("mvr1", 20, problem.ball_radii()))]:
        assert_same(*both(problem, method, K=20, seeds=2, schedule=schedule), device)


def test_recording_options_on_the_device_equal_cpu(device):
    problem = get_problem("quadratic", layers=2, dim=4)
    cpu, gpu = both(problem, "mvr3", K=15, seeds=2, record_every=4, record_params=True)
    assert_same(cpu, gpu, device)
    for a, b in zip(cpu.params, gpu.params):
        for x, y in zip(a, b):
            assert isinstance(y, numpy.ndarray)          # host copies, not device arrays
            numpy.testing.assert_array_equal(x, y)


def test_divergence_is_recorded_on_the_device(device):
    problem = get_problem("quadratic", layers=1, dim=3)
    cpu, gpu = both(problem, "gluon", K=30, seeds=2, schedule=constant_schedule(1e200, 1, beta=0.5))
    assert_same(cpu, gpu, device)
    assert gpu.n_diverged == cpu.n_diverged


def test_per_element_schedule_observe_and_norm_builder_on_the_device_equal_cpu(device):
    from gluon_mvr.methods.inexact import ControlledErrorLMO
    from gluon_mvr.methods.schedules import Schedule
    problem = get_problem("quadratic", layers=2, dim=4)
    sched = Schedule(radius=[(0.02, 0.03), (0.05, 0.01), (0.02, 0.02)], one_minus_beta=[0.3, 0.6, 1.0],
                     q=[0.2, 0.5, 1.0], radius_decay=0.5, q_decay=0.5)
    runs, seen = [], {"cpu": [], "gpu": []}
    for where in ("cpu", "gpu"):
        def observe(k, M, D, where=where):
            seen[where].append(all(isinstance(a, device.ndarray) == (where == "gpu") for a in M + D))
        runs.append(methods.run(problem, "mvr2", K=10, seeds=[0, 1, 0], schedule=sched, device=where,
                                observe=observe, nan_after_divergence=False,
                                norm_builder=lambda n: ControlledErrorLMO(base=n, delta=0.3, mode="random")))
    assert_same(*runs, device)
    assert seen["cpu"] == seen["gpu"] == [True] * 10      # M and D stay where the run is


# --------------------------------------------------------------- through the experiment layer

def test_rate_check_cell_on_the_device_equals_cpu(device):
    from gluon_mvr.experiments.core.cells import make_cell, run_cell
    cells = [make_cell("quadratic", {"layers": 2, "dim": 4}, "mvr1", 30, [0, 1], device=d) for d in ("cpu", "gpu")]
    cpu, gpu = (run_cell(c) for c in cells)
    assert cpu["diverged_at"] == gpu["diverged_at"]
    for key in ("G", "gap", "G_min", "final_value", "final_grad_norm", "curve"):
        assert_same_numbers(cpu[key], gpu[key], device, key)


def test_rate_check_cli_on_the_device_equals_cpu(device, tmp_path):
    """`gluon-mvr rate-check --device gpu` end to end (serial executor, in this process): the
    same report as on the CPU, stored under its own cell keys."""
    import json
    from gluon_mvr.experiments.cli.main import main
    args = ["rate-check", "--problem", "quadratic", "--param", "layers=2", "--param", "dim=4",
            "--methods", "gluon,mvr1", "--horizons", "20,40,80", "--seeds", "2", "--executor", "serial",
            "--no-controls",
            "--store", str(tmp_path / "s.sqlite"), "--no-progress"]
    reports = {}
    for where in ("cpu", "gpu"):
        out = tmp_path / f"{where}.json"
        assert main(args + ["--device", where, "--json", str(out)]) in (0, 1)
        reports[where] = json.loads(out.read_text())["results"]
    for cpu, gpu in zip(reports["cpu"], reports["gpu"]):
        assert cpu["verdict"] == gpu["verdict"]
        for key in ("slope", "ci", "G", "G_min", "noise_share", "bound_ratio"):
            assert_same_numbers(cpu[key], gpu[key], device, key)
    from gluon_mvr.experiments.core.store import ResultStore
    # per device: 2 methods x 3 horizons, plus the noise-off runs at the largest horizon
    assert ResultStore(str(tmp_path / "s.sqlite")).count() == 2 * (2 * 3 + 2)
