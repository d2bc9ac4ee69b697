"""Certification of a problem's declared constants as a study (``gluon-mvr constants``): the
measured (L0, L1) envelope, sigma and ell beside the declared (theoretical) values."""
from __future__ import annotations

import contextlib
import io


def _format(doc) -> str:
    from gluon_mvr.experiments.cli.constants import print_certificate
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        print_certificate(doc)
    return buf.getvalue().rstrip("\n")


def _plot(doc, ax):
    layers = doc["layers"]
    x = range(len(layers))
    for name, key, marker in (("L0 declared", "L0_declared", "o"), ("L0 needed", "L0_needed", "x"),
                              ("L1 declared", "L1_declared", "s"), ("L1 needed", "L1_needed", "+")):
        ax.plot(list(x), [r[key] if r[key] is not None else float("nan") for r in layers], marker=marker,
                ls="none", label=name)
    ax.set_xlabel("layer")
    ax.set_ylabel("constant")
    ax.set_yscale("symlog", linthresh=1e-3)
    ax.legend(fontsize=7)


def certify(problem="quadratic", params=None, *, method=None, steps: int = 200, run_seeds: int = 4,
            seed: int = 0, n_pairs: int = 256):
    """Measure a problem's constants and compare them with its declaration.

    The measured side: the smallest (L0, L1) per layer consistent with sampled pairs (and, with
    ``method``, with pairs along that method's trajectory of ``steps`` iterations), an LP envelope;
    the empirical sigma and ell.  The theoretical side: the family's declared constants.  Every
    declared constant must dominate its measurement.

    Returns a :class:`~gluon_mvr.experiments.studies.result.StudyResult` with one row per layer.
    """
    from gluon_mvr.experiments.studies.result import StudyResult
    from gluon_mvr.problems.certify import certify as _certify
    from gluon_mvr.problems.registry import get_problem
    prob = get_problem(problem, **(params or {}))
    cert = _certify(prob, n_pairs=n_pairs, seed=seed, trajectory=None if method is None else "run",
                    method=method or "gluon", steps=steps, run_seeds=run_seeds)
    doc = cert.as_dict()
    rows = [{"problem": doc["problem"], **r} for r in doc["layers"]]
    return StudyResult("certification", rows, doc, _format, _plot)
