"""The shipped hard-instance settings load, validate and build their problems as documented."""
import pytest

from gluon_mvr.configs import shipped_names, shipped_path
from gluon_mvr.experiments.core.config import load_toml, validate
from gluon_mvr.problems import get_problem


@pytest.mark.parametrize("name", ["skewed-quadratic", "zero-chain", "isotropic-quadratic"])
def test_hard_configs_build(name):
    assert name in shipped_names()
    cfg = validate(load_toml(shipped_path(name)))
    P = get_problem(cfg.problem, **cfg.params)
    assert P.constants.n_layers == P.layout.n_layers


def test_default_candidate_is_the_documented_instance():
    cfg = validate(load_toml(shipped_path("skewed-quadratic")))
    P = get_problem(cfg.problem, **cfg.params)
    assert P.layout.shapes == ((8, 8), (8, 8))
    assert P.noise_model.name == "skewed" and P.noise_model.weight == 0.75 and P.noise_model.prob == 0.1
    assert P.constants.L0 == pytest.approx((8.0, 8.0)) and P.constants.ell == (0.0, 0.0)
    assert P.constants.sigma == (1.0, 1.0)
    zc = validate(load_toml(shipped_path("zero-chain")))
    assert zc.worst_param == "scale" and len(zc.worst_grid) >= 5
