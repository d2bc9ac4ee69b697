"""Problem families by name, with typed, validated ``--param KEY=VALUE`` parameters."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

_FAMILIES: dict = {}


@dataclass(frozen=True)
class Param:
    """One family parameter: its type, default, allowed values and help text."""

    type: type
    default: Any
    help: str = ""
    low: float | None = None          # inclusive lower bound for numbers
    high: float | None = None         # inclusive upper bound
    choices: tuple | None = None
    positive: bool = False            # strictly > 0

    def parse(self, family: str, key: str, raw):
        where = f"problem {family!r} param {key!r}"
        if self.type is bool:
            if isinstance(raw, bool):
                value = raw
            elif str(raw).lower() in ("1", "true", "yes", "on"):
                value = True
            elif str(raw).lower() in ("0", "false", "no", "off"):
                value = False
            else:
                raise ValueError(f"{where}: expected true/false; got {raw!r}")
        elif self.type in (int, float):
            if isinstance(raw, bool):
                raise ValueError(f"{where}: expected {self.type.__name__}; got {raw!r}")
            try:
                value = self.type(raw) if not (self.type is int and isinstance(raw, float)) else None
                if value is None or (self.type is int and isinstance(raw, str) and "." in raw):
                    raise ValueError
            except (TypeError, ValueError, OverflowError):
                raise ValueError(f"{where}: expected {self.type.__name__}; got {raw!r}") from None
            if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
                raise ValueError(f"{where}: must be finite; got {raw!r}")
            if self.positive and value <= 0:
                raise ValueError(f"{where}: must be > 0; got {raw!r}")
            if self.low is not None and value < self.low:
                raise ValueError(f"{where}: must be >= {self.low}; got {raw!r}")
            if self.high is not None and value > self.high:
                raise ValueError(f"{where}: must be <= {self.high}; got {raw!r}")
        else:
            value = self.type(raw)
        if self.choices is not None and value not in self.choices:
            raise ValueError(f"{where}: allowed values {', '.join(map(str, self.choices))}; got {raw!r}")
        return value


@dataclass(frozen=True)
class Family:
    name: str
    build: Callable
    params: dict
    summary: str

    def parse_params(self, raw: dict) -> dict:
        unknown = sorted(set(raw) - set(self.params), key=str)
        if unknown:
            raise ValueError(f"problem {self.name!r}: unknown param {unknown[0]!r}; "
                             f"allowed: {', '.join(sorted(self.params))}")
        out = {k: p.default for k, p in self.params.items()}
        for k, v in raw.items():
            out[k] = self.params[k].parse(self.name, k, v)
        return out


def register_family(name: str, params: dict, summary: str = ""):
    """Decorator: register ``build(**params) -> Problem`` under ``name``."""
    def deco(build):
        _FAMILIES[name] = Family(name, build, dict(params), summary or (build.__doc__ or "").strip().split("\n")[0])
        return build
    return deco


def family_names() -> tuple:
    _load_families()
    return tuple(sorted(_FAMILIES))


def get_family(name: str) -> Family:
    _load_families()
    try:
        return _FAMILIES[name]
    except KeyError:
        raise ValueError(f"unknown problem {name!r}; allowed: {', '.join(sorted(_FAMILIES))}") from None


def get_problem(name: str, **params):
    """Build problem ``name`` from (possibly string-valued) ``params``; validates every key."""
    fam = get_family(name)
    return fam.build(**fam.parse_params(params))


def parse_param_pairs(pairs) -> dict:
    """``["k=v", ...]`` -> ``{k: v}`` with a clear error on a malformed pair."""
    out = {}
    for item in pairs or ():
        if "=" not in item:
            raise ValueError(f"--param: expected KEY=VALUE; got {item!r}")
        k, v = item.split("=", 1)
        k = k.strip()
        if not k:
            raise ValueError(f"--param: empty key in {item!r}")
        out[k] = v.strip()
    return out


def _load_families():
    # importing the family modules registers them
    from gluon_mvr.problems import families  # noqa: F401
