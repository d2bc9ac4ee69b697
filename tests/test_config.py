"""experiments.config: defaults, validation naming the field, TOML files, merge, and a fuzz test."""
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gluon_mvr.experiments.core.config import (DEFAULT_HORIZONS, DEFAULT_METHODS, DEFAULT_PROBLEM, FIELD_NAMES,
                                ConfigError, RateCheckConfig, load_toml, merge, validate)
from gluon_mvr.experiments.core.executors import EXECUTORS
from gluon_mvr.methods.norms import NORM_NAMES
from gluon_mvr.methods.presets import METHOD_NAMES

TINY = {"problem": "quadratic", "params": {"layers": 2, "dim": 3}, "horizons": [20, 40, 80], "seeds": 3}


def _error(raw):
    with pytest.raises(ConfigError) as exc:
        validate(raw)
    return str(exc.value)


def test_config_error_is_a_value_error():
    assert issubclass(ConfigError, ValueError)


def test_defaults_are_valid():
    cfg = validate({})
    assert isinstance(cfg, RateCheckConfig)
    assert cfg.problem == DEFAULT_PROBLEM
    assert cfg.methods == tuple(DEFAULT_METHODS) and cfg.horizons == tuple(DEFAULT_HORIZONS)
    assert cfg.seeds == 16 and cfg.executor in EXECUTORS and cfg.tail <= len(cfg.horizons)
    assert cfg.params["layers"] == 2 and cfg.params["dim"] == 8      # the embedded default problem
    assert cfg.problem == "skewed-quadratic" and cfg.params["skew_weight"] == 0.5 and cfg.controls == "on"
    # validating an already valid config's dict is a fixed point
    assert validate(cfg.as_dict()) == cfg


def test_tiny_config_and_string_forms():
    cfg = validate({**TINY, "methods": "gluon, mvr1", "horizons": "20,40,80", "seeds": "3",
                    "beta": "0.25", "executor": "serial"})
    assert cfg.methods == ("gluon", "mvr1") and cfg.horizons == (20, 40, 80)
    assert cfg.seeds == 3 and cfg.beta == 0.25 and cfg.executor == "serial"
    assert cfg.params["layers"] == 2 and cfg.params["dim"] == 3 and cfg.params["sigma"] == 1.0


def test_other_problem_gets_its_own_default_params():
    cfg = validate({"problem": "l0l1"})
    assert cfg.problem == "l0l1" and "L1" in cfg.params


@pytest.mark.parametrize("raw, field", [
    ({"bogus": 1}, "bogus"),
    ({"Seeds": 3}, "Seeds"),
    ({"methods": "foo"}, "methods"),
    ({"methods": ["gluon", "foo"]}, "methods"),
    ({"methods": ["gluon", "gluon"]}, "methods"),
    ({"methods": []}, "methods"),
    ({"methods": 3}, "methods"),
    ({"problem": "nope"}, "problem"),
    ({"problem": 3}, "problem"),
    ({"seeds": -1}, "seeds"),
    ({"seeds": 1}, "seeds"),
    ({"seeds": 2.5}, "seeds"),
    ({"seeds": float("nan")}, "seeds"),
    ({"seeds": "many"}, "seeds"),
    ({"seeds": True}, "seeds"),
    ({"root_seed": -1}, "root_seed"),
    ({"radius_scale": float("nan")}, "radius_scale"),
    ({"radius_scale": "nan"}, "radius_scale"),
    ({"radius_scale": 0}, "radius_scale"),
    ({"radius_scale": -2.0}, "radius_scale"),
    ({"momentum_scale": float("inf")}, "momentum_scale"),
    ({"beta": 2}, "beta"),
    ({"beta": -0.1}, "beta"),
    ({"beta": None}, "beta"),
    ({"tolerance": -0.01}, "tolerance"),
    ({"record_every": 0}, "record_every"),
    ({"tail": 1}, "tail"),
    ({"tail": 6}, "tail"),                      # more than the 5 default horizons
    ({"bootstrap": 10}, "bootstrap"),
    ({"ns_steps": 0}, "ns_steps"),
    ({"horizons": []}, "horizons"),
    ({"horizons": ""}, "horizons"),
    ({"horizons": [100]}, "horizons"),
    ({"horizons": [100, 50, 200]}, "horizons"),
    ({"horizons": [100, 100, 200]}, "horizons"),
    ({"horizons": [1, 10, 100]}, "horizons"),
    ({"horizons": [10, 20.5, 40]}, "horizons"),
    ({"horizons": "10,x,40"}, "horizons"),
    ({"horizons": 100}, "horizons"),
    ({"params": {"nope": 1}}, "nope"),
    ({"params": {"layers": 0}}, "layers"),
    ({"params": {"dim": "big"}}, "dim"),
    ({"params": {"sigma": float("nan")}}, "sigma"),
    ({"params": {"norm": "l7"}}, "norm"),
    ({"params": [1, 2]}, "params"),
    ({"noise_share": "yes"}, "noise_share"),
    ({"tuned": 1}, "tuned"),
    ({"criterion": "speed"}, "criterion"),
    ({"controls": "some"}, "controls"),
    ({"lmo": "svd"}, "lmo"),
    ({"executor": "threads"}, "executor"),
    ({"device": "tpu"}, "device"),
    ({"dtype": "float16"}, "dtype"),
    ({"scheduler": "tcp://127.0.0.1:8786", "executor": "serial"}, "scheduler"),
])
def test_bad_input_names_the_field(raw, field):
    msg = _error(raw)
    assert field in msg
    assert "\n" not in msg


def test_errors_name_the_allowed_values():
    assert all(m in _error({"methods": "foo"}) for m in ("gluon", "mvr1", "mvr3"))
    assert all(e in _error({"executor": "threads"}) for e in EXECUTORS)
    assert "quadratic" in _error({"problem": "nope"})
    assert "layers" in _error({"params": {"nope": 1}})
    assert all(f in _error({"bogus": 1}) for f in ("seeds", "horizons", "methods"))


def test_scheduler_is_accepted_with_dask():
    cfg = validate({"executor": "dask", "scheduler": "tcp://127.0.0.1:8786"})
    assert cfg.scheduler == "tcp://127.0.0.1:8786"


# --- TOML files and merge ----------------------------------------------------------------------

def test_toml_file_values_are_applied(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('problem = "quadratic"\nmethods = ["gluon", "mvr2"]\nhorizons = [20, 40, 80]\n'
                    'seeds = 4\nbeta = 0.25\nexecutor = "serial"\nstore = "x/y.sqlite"\n'
                    'noise_share = false\n[params]\nlayers = 2\ndim = 3\nsigma = 0.5\n')
    cfg = validate(load_toml(path))
    assert cfg.methods == ("gluon", "mvr2") and cfg.horizons == (20, 40, 80) and cfg.seeds == 4
    assert cfg.beta == 0.25 and cfg.executor == "serial" and cfg.store == "x/y.sqlite"
    assert cfg.noise_share is False
    assert cfg.params["layers"] == 2 and cfg.params["dim"] == 3 and cfg.params["sigma"] == 0.5


def test_merge_lets_flags_override_the_file(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('seeds = 4\nhorizons = [20, 40, 80]\nexecutor = "serial"\n'
                    '[params]\nlayers = 2\ndim = 3\n')
    flags = {"seeds": "5", "params": {"dim": "4"}, "methods": "mvr1"}
    cfg = validate(merge(load_toml(path), flags))
    assert cfg.seeds == 5 and cfg.methods == ("mvr1",) and cfg.executor == "serial"
    assert cfg.params["layers"] == 2 and cfg.params["dim"] == 4      # params merged key by key
    assert merge({"a": 1, "params": {"x": 1}}, {"a": 2}, {"params": {"y": 2}}) == \
        {"a": 2, "params": {"x": 1, "y": 2}}


@pytest.mark.parametrize("text", ["seeds = ", "[params\nlayers = 2", "horizons = [20, 40", "seeds = 3\nseeds = 4",
                                  "= 3", "methods = 'gluon"])
def test_malformed_toml_is_a_config_error(tmp_path, text):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as exc:
        load_toml(path)
    msg = str(exc.value)
    assert msg.startswith("config") and str(path) in msg and "\n" not in msg


def test_missing_toml_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="config"):
        load_toml(tmp_path / "missing.toml")


@pytest.mark.parametrize("text, field", [("seeds = -3", "seeds"), ("horizons = []", "horizons"),
                                         ("radius_scale = nan", "radius_scale"), ("bogus = 1", "bogus"),
                                         ("seeds = 1979-05-27", "seeds"), ("[params]\nnope = 1", "nope"),
                                         ("params = 3", "params"), ("methods = [1, 2]", "methods")])
def test_well_formed_toml_with_bad_values(tmp_path, text, field):
    path = tmp_path / "c.toml"
    path.write_text(text)
    assert field in _error(load_toml(path))


# --- gaps found while writing these tests --------------------------------------------------------

@pytest.mark.parametrize("raw", [{"radius_scale": 10 ** 400}, {"beta": -10 ** 400},
                                 {"params": {"curvature": 10 ** 400}}])
def test_huge_integers_are_config_errors(raw):
    _error(raw)


@pytest.mark.parametrize("raw", [{1: 2, "zzz": 3}, {"params": {1: 2, "zzz": 3}}])
def test_non_string_keys_are_config_errors(raw):
    _error(raw)


@pytest.mark.parametrize("raw", [{"store": True}, {"store": 3}, {"store": ["a.sqlite"]},
                                 {"json": {"a": 1}}, {"json": False}, {"store": ""}])
def test_store_and_json_must_be_paths(raw):
    _error(raw)


@pytest.mark.parametrize("params", [{"layers": True}, {"dim": True}, {"sigma": False}, {"curvature": True}])
def test_boolean_problem_params_are_config_errors(params):
    assert list(params)[0] in _error({"params": params})


@pytest.mark.parametrize("shapes", ["abc", "3x", "0x3", "3x3,foo"])
def test_impossible_shapes_are_config_errors(shapes):
    assert "shapes" in _error({**TINY, "params": {"shapes": shapes}})


# --- fuzz: malformed configs always give a ConfigError, never anything else --------------------

def _not_int(t):
    try:
        int(t)
    except (ValueError, TypeError):
        return True
    return False


def _not_float(t):
    try:
        float(t)
    except (ValueError, TypeError):
        return True
    return False


_junk = st.one_of(st.none(), st.booleans(), st.floats(allow_nan=True, allow_infinity=True),
                  st.lists(st.integers(-5, 5), max_size=3), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
                  st.text(max_size=8).filter(_not_float))
_not_int_value = st.one_of(st.none(), st.booleans(), st.floats(allow_nan=True, allow_infinity=True),
                           st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=2), st.integers(), max_size=1),
                           st.text(max_size=8).filter(_not_int))


def _bad_int(low):
    return st.one_of(st.booleans(), _not_int_value, st.integers(max_value=low - 1),
                     st.integers(max_value=low - 1).map(str))


# finite numbers only up to 1e300: huge Python ints are covered by test_huge_integers_are_config_errors
_non_finite = st.sampled_from([float("nan"), float("inf"), -float("inf"), "nan", "inf", "-inf", "NaN"])
_not_number = st.one_of(st.none(), st.booleans(), st.lists(st.floats(), max_size=2),
                        st.dictionaries(st.text(max_size=2), st.floats(), max_size=1),
                        st.text(max_size=8).filter(_not_float))


def _bad_float(low=None, high=None, positive=False):
    outside = []
    if positive:
        outside.append(st.floats(max_value=0.0, min_value=-1e300))
    if low is not None:
        outside.append(st.floats(max_value=low, min_value=-1e300, exclude_max=True))
    if high is not None:
        outside.append(st.floats(min_value=high, max_value=1e300, exclude_min=True))
        outside.append(st.integers(min_value=int(high) + 1, max_value=10 ** 6))
    outside_st = st.one_of(*outside)
    return st.one_of(st.booleans(), _non_finite, _not_number, outside_st, outside_st.map(repr))


def _not_in(allowed):
    return st.one_of(_junk.filter(lambda v: not (isinstance(v, str) and v in allowed)),
                     st.sampled_from([a.upper() + " " for a in allowed if isinstance(a, str)]))


_bad_method_list = st.one_of(
    st.just([]), st.just(""), st.just(" , "),
    st.lists(st.sampled_from(METHOD_NAMES), min_size=1, max_size=3).map(lambda m: m + [m[0]]),  # duplicate
    st.tuples(st.lists(st.sampled_from(METHOD_NAMES), max_size=2),
              st.one_of(st.text(min_size=1, max_size=6).filter(lambda t: t.strip() and t.strip() not in METHOD_NAMES
                                                               and "," not in t),
                        st.integers(), st.none(), st.floats())).map(lambda t: t[0] + [t[1]]),
    st.one_of(st.integers(), st.floats(), st.none(), st.booleans(), st.dictionaries(st.text(max_size=2), st.integers())),
)


def _increasing(xs):
    return sorted(set(xs))


_bad_horizons = st.one_of(
    st.just([]), st.just(""), st.just(","),
    st.integers(2, 10 ** 6).map(lambda k: [k]),                                  # one horizon
    st.lists(st.integers(2, 10 ** 5), min_size=2, max_size=5, unique=True)        # not increasing
      .filter(lambda h: h != sorted(h)),
    st.lists(st.integers(2, 10 ** 5), min_size=1, max_size=4).map(lambda h: _increasing(h) + [_increasing(h)[-1]]),
    st.tuples(st.lists(st.integers(2, 100), max_size=2).map(_increasing), st.integers(max_value=1),
              st.lists(st.integers(200, 1000), max_size=2).map(_increasing)).map(lambda t: t[0] + [t[1]] + t[2]),
    st.tuples(st.lists(st.integers(2, 100), min_size=1, max_size=2).map(_increasing), _not_int_value)
      .map(lambda t: t[0] + [t[1]]),
    st.one_of(st.integers(), st.floats(), st.none(), st.booleans(), st.dictionaries(st.text(max_size=2), st.integers())),
    st.text(max_size=10).filter(lambda t: any(_not_int(x) for x in t.split(",") if x.strip())),
)

def _no_bool(strategy):
    return strategy.filter(lambda v: not isinstance(v, bool))


_bad_params = st.one_of(
    st.one_of(st.integers(), st.text(max_size=5), st.lists(st.integers(), max_size=2), st.none(), st.booleans()),
    st.dictionaries(st.text(min_size=1, max_size=8).filter(lambda k: k not in ("layers", "dim", "shapes", "curvature",
                                                                             "sigma", "distance", "norm", "seed")),
                    st.integers(), min_size=1, max_size=2),
    # (booleans excluded here: see test_boolean_problem_params_are_config_errors)
    st.fixed_dictionaries({"layers": _no_bool(_bad_int(1))}),
    st.fixed_dictionaries({"dim": _no_bool(_bad_int(1))}),
    st.fixed_dictionaries({"sigma": _no_bool(_bad_float(low=0.0))}),
    st.fixed_dictionaries({"curvature": _no_bool(_bad_float(positive=True))}),
    st.fixed_dictionaries({"norm": _not_in(NORM_NAMES)}),
)

BAD = {
    "problem": st.one_of(st.sampled_from(["", "Quadratic", "quadratic ", "nope"]),
                         st.integers(), st.none(), st.lists(st.text(max_size=2), max_size=2)),
    "params": _bad_params,
    "methods": _bad_method_list,
    "horizons": _bad_horizons,
    "seeds": _bad_int(2), "root_seed": _bad_int(0), "record_every": _bad_int(1), "tail": _bad_int(2),
    "bootstrap": _bad_int(100), "ns_steps": _bad_int(1),
    "radius_scale": _bad_float(positive=True), "momentum_scale": _bad_float(positive=True),
    "beta": _bad_float(low=0.0, high=1.0), "tolerance": _bad_float(low=0.0),
    "noise_share": _junk.filter(lambda v: not isinstance(v, bool)) | st.integers(0, 1),
    "tuned": _junk.filter(lambda v: not isinstance(v, bool)) | st.sampled_from(["true", "false", 0, 1]),
    "criterion": _not_in(("stationarity", "gap")),
    "controls": _not_in(("on", "off", "tuned")),
    "lmo": _not_in(("exact", "ns-jordan", "ns-cubic", "ns-quintic", "polar-express")),
    "executor": _not_in(EXECUTORS),
    "device": _not_in(("cpu", "gpu")),
    "dtype": _not_in(("float64", "float32")),
    # must name a float param of the problem (quadratic: curvature, sigma, distance)
    "scale_param": st.sampled_from(["nope", "layers", "norm", "", "seed", "dim"]) | st.integers(),
    "worst_param": st.sampled_from(["nope", "layers", "norm", "", "seed", "dim"]) | st.integers(),
    # without worst_param, any worst_grid is an error naming it
    "worst_grid": st.one_of(st.lists(st.floats(0.1, 2.0), min_size=1, max_size=3), st.text(max_size=4),
                            st.integers()),
}

# valid values for other fields, to mix in (never making a bad field valid)
GOOD = {
    "problem": st.just("quadratic"),
    "seeds": st.integers(2, 64) | st.integers(2, 64).map(str),
    "root_seed": st.integers(0, 10 ** 6),
    "radius_scale": st.floats(1e-3, 10.0),
    "beta": st.floats(0.0, 1.0),
    "methods": st.lists(st.sampled_from(METHOD_NAMES), min_size=1, max_size=3, unique=True),
    "horizons": st.lists(st.integers(2, 10 ** 4), min_size=3, max_size=5, unique=True).map(sorted),
    "tuned": st.booleans(), "noise_share": st.booleans(),
    "executor": st.sampled_from(["serial", "processes"]),
    # the validator rejects blank paths (test_store_and_json_must_be_paths): never draw one here
    "store": st.text(min_size=1, max_size=10).filter(str.strip),
}

_unknown_key = st.text(min_size=1, max_size=12).filter(lambda k: k not in FIELD_NAMES)


KINDS = sorted(BAD) + ["<unknown key>", "scheduler"]


@st.composite
def malformed_configs(draw, kind):
    """Valid values for a few fields, and exactly one malformed one, of the given kind (so that
    no other fault can hide a malformed value the validator lets through)."""
    raw = draw(st.dictionaries(st.sampled_from(sorted(GOOD)), st.none(), max_size=3))
    raw = {k: draw(GOOD[k]) for k in raw}
    if kind == "<unknown key>":
        raw[draw(_unknown_key)] = draw(_junk | st.integers())
    elif kind == "scheduler":               # a scheduler without the dask executor
        raw["scheduler"] = draw(st.text(min_size=1, max_size=10).filter(str.strip))
        raw["executor"] = draw(st.sampled_from(["serial", "processes"]))
    else:
        raw[kind] = draw(BAD[kind])
    return raw


# 24 kinds x 30 examples: > 200 malformed configs, every field hit
@pytest.mark.parametrize("kind", KINDS)
@settings(max_examples=30, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(data=st.data())
def test_fuzz_malformed_configs_raise_config_error_only(kind, data):
    raw = data.draw(malformed_configs(kind), label="raw")
    with pytest.raises(ConfigError) as exc:      # any other exception type fails the test
        validate(raw)
    msg = str(exc.value)
    assert msg and "\n" not in msg and "Traceback" not in msg
    if kind not in ("<unknown key>", "params"):
        assert kind in msg or (kind == "tail" and "horizons" in msg)


def test_fuzz_covers_every_field():
    assert len(KINDS) * 30 >= 200
    assert set(FIELD_NAMES) - set(KINDS) == {"store", "json"}   # see test_store_and_json_must_be_paths


@settings(max_examples=100, deadline=None, database=None)
@given(st.fixed_dictionaries({}, optional=GOOD))
def test_fuzz_valid_configs_pass(raw):
    cfg = validate(raw)
    assert cfg.seeds >= 2 and len(cfg.horizons) >= 2 and all(math.isfinite(v) for v in (cfg.beta, cfg.radius_scale))
