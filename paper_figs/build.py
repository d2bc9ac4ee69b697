"""Build every figure (or a chosen few) into one folder, running whatever cells are missing."""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time

from gluon_mvr.paper_figs import bounds, constants, convergence, lmo, rates, star, style
from gluon_mvr.paper_figs.data import SETTINGS, Context

#: figure name -> module with ``build(ctx) -> {"data": ..., "paths": [png, pdf]}``
FIGURES = {
    "convergence": convergence,
    "rates": rates,
    "star": star,
    "lmo": lmo,
    "constants": constants,
    "bounds": bounds,
}

DEFAULT_OUT = "figures"
DEFAULT_STORE = os.path.join("results", "gluon-mvr.sqlite")


def config_hash(settings) -> str:
    """SHA-256 (first 16 hex digits) of a :class:`paper_figs.data.Settings`' canonical JSON."""
    text = json.dumps(dataclasses.asdict(settings), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def figure_provenance(settings, name) -> dict:
    """What a figure file records about its making (:func:`paper_figs.style.metadata`)."""
    from gluon_mvr.experiments.core.provenance import provenance
    p = provenance()
    return {"figure": name, "settings": settings.name, "config_hash": config_hash(settings),
            **{k: p[k] for k in ("package_version", "code_fingerprint", "git_commit", "numpy", "timestamp")}}


def build_all(out_dir=DEFAULT_OUT, store=DEFAULT_STORE, quick: bool = False, only=None, log=None,
              progress: bool = False):
    """Build the figures; returns ``{name: {"data", "paths", "seconds"}}``.

    ``progress`` shows a bar per running study (rate cells, the tuned search) on stderr."""
    settings = SETTINGS["quick" if quick else "full"]
    ctx = Context(store, out_dir, settings, log=log, progress=progress)
    names = list(FIGURES) if not only else list(only)
    unknown = [n for n in names if n not in FIGURES]
    if unknown:
        raise ValueError(f"unknown figure {unknown[0]!r}; allowed: {', '.join(FIGURES)}")
    out = {}
    for name in names:
        t0 = time.perf_counter()
        style.PROVENANCE.clear()
        style.PROVENANCE.update(figure_provenance(settings, name))
        res = FIGURES[name].build(ctx)
        res["seconds"] = time.perf_counter() - t0
        out[name] = res
        if log:
            log(f"{name}: {', '.join(res['paths'])} ({res['seconds']:.1f}s)")
    return out
