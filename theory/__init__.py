r"""Bounds and parameter choices of Gluon / Gluon-MVR as sympy expressions, verified.

Public surface:

- :func:`evaluate_bound`, :func:`bound_details` — a non-convex bound on :math:`G_K` at a
  problem's constants (:mod:`theory.numeric`); :func:`star_bound_details` for star-convex gaps;
- :func:`get_bound`, :data:`DETERMINISTIC`, :func:`get_star_bound` — the symbolic bounds
  (:mod:`theory.bounds_nonconvex`, :mod:`theory.bounds_star`), :mod:`theory.inexact`;
- :func:`theory.verify.run_all` — the symbolic checks; :func:`check_schedule` — the rate of a
  user's schedule; :func:`theory.cli.register` — the ``theory`` CLI subcommand.

Provenance: the update rules and headline rates are the papers' [C]; every constant, bound and
parameter choice here is derived here [R] (see each docstring).
"""
from gluon_mvr.theory.bounds_nonconvex import DETERMINISTIC, HORIZON_BOUND_METHODS, get_bound
from gluon_mvr.theory.bounds_star import STAR_METHODS, get_star_bound, star_schedule
from gluon_mvr.theory.check import BadInput, check_schedule
from gluon_mvr.theory.numeric import BoundDetails, bound_details, evaluate_bound, frobenius_ratio, star_bound_details

__all__ = ["evaluate_bound", "bound_details", "BoundDetails", "star_bound_details", "frobenius_ratio",
           "get_bound", "DETERMINISTIC", "HORIZON_BOUND_METHODS", "get_star_bound", "STAR_METHODS",
           "star_schedule", "check_schedule", "BadInput"]
