"""Synthetic problems with declared, certifiable layer-wise constants (see :mod:`problems.base`)."""
from gluon_mvr.problems.base import Constants, Problem
from gluon_mvr.problems.registry import family_names, get_family, get_problem, parse_param_pairs

__all__ = ["Constants", "Problem", "family_names", "get_family", "get_problem", "parse_param_pairs"]
