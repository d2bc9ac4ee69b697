"""The inexact-LMO study as one function (``gluon-mvr lmo-error`` is its command line): the error
delta of Newton–Schulz and Polar Express on worst-case spectra and run momenta, the delta-dependent
bounds held against runs, the kill search of wrong-delta mutants, and the precision coupling."""
from __future__ import annotations

import sys
import time

PARTS = ("measure", "bound", "kill", "coupling")


def _bar(total, desc, enabled):
    if not enabled:
        return None
    from tqdm import tqdm
    return tqdm(total=total, desc=desc, unit="step", file=sys.stderr, leave=False)


def _run_part(fn, total, desc, progress):
    bar = _bar(total, desc, progress)
    try:
        return fn(bar.update if bar else None)
    finally:
        if bar:
            bar.close()


def run(cfg: dict, progress: bool = True) -> tuple:
    """Run the selected parts; return ``(doc, failed)``."""
    from gluon_mvr.experiments.studies.lmo.bound import DEFAULT_LMOS, bound_check
    from gluon_mvr.experiments.studies.lmo.coupling import coupling
    from gluon_mvr.experiments.studies.lmo.error import worst_case_table
    from gluon_mvr.experiments.studies.lmo.momenta import RUN_METHODS, momenta_table
    from gluon_mvr.experiments.studies.lmo.report import known_facts

    seeds = tuple(range(cfg["seeds"]))
    doc = {"config": cfg, "provenance": {
        "error model": "[R] ||lmo~ - lmo|| <= delta (docs/theory.md §6); alignment/overshoot consequences [R]",
        "bounds": "[R] theory.bounds_nonconvex with per-layer delta",
        "coupling prediction": "[R] theory.inexact: t* ~ (1+delta)^(-1/4), 1-beta* ~ (1+delta)^(1/2); "
                               "direction [C, abstract of INEXACT]",
        "Newton-Schulz coefficients": "[C] Jordan 2024, Polar Express arXiv 2505.16932"}}
    failed = False
    timings = {}
    facts = known_facts()
    doc["known_facts"] = facts
    failed |= not all(f["passed"] for f in facts)
    if "measure" in cfg["parts"]:
        t0 = time.perf_counter()
        n = len(cfg["methods"]) * len(cfg["steps"]) * len(cfg["ratios"])
        doc["worst_case"] = _run_part(lambda p: worst_case_table(cfg["methods"], cfg["steps"], cfg["ratios"],
                                                                 progress=p), n, "worst cases", progress)
        n = len(cfg["families"]) * len(RUN_METHODS) * 2
        doc["momenta"] = _run_part(lambda p: momenta_table(cfg["methods"], cfg["steps"], cfg["families"],
                                                           K=cfg["K"], seeds=seeds, dtypes=cfg["dtypes"],
                                                           progress=p), n, "momenta", progress)
        timings["measure"] = time.perf_counter() - t0
    if "bound" in cfg["parts"]:
        t0 = time.perf_counter()
        lmos = DEFAULT_LMOS
        n_ns = sum(1 for lmo in lmos if lmo[1] == "ns")
        n = len(cfg["families"]) * 2 * (len(lmos) - n_ns + n_ns * len(cfg["dtypes"]))
        doc["bound_check"] = _run_part(lambda p: bound_check(cfg["families"], lmos=lmos, K=cfg["K"], seeds=seeds,
                                                             ns_dtypes=tuple(cfg["dtypes"]), progress=p),
                                       n, "bound check", progress)
        failed |= any(not r["ok"] for r in doc["bound_check"])
        timings["bound"] = time.perf_counter() - t0
    if "kill" in cfg["parts"]:
        from gluon_mvr.experiments.studies.lmo.kill import fixed_effective_step, kill_table
        t0 = time.perf_counter()
        doc["kill"] = _run_part(lambda p: kill_table(progress=p), 4, "kill search", progress)
        doc["fixed_effective_step"] = fixed_effective_step()
        failed |= any(r["killed"] == (not r["mutant"]) for r in doc["kill"])
        timings["kill"] = time.perf_counter() - t0
    if "coupling" in cfg["parts"]:
        from gluon_mvr.experiments.studies.lmo.coupling import default_levels
        t0 = time.perf_counter()
        levels = default_levels()
        doc["coupling"] = _run_part(lambda p: coupling(cfg["coupling_problem"], cfg["coupling_params"],
                                                       K=cfg["coupling_K"], seeds=tuple(range(cfg["coupling_seeds"])),
                                                       levels=levels, progress=p),
                                    len(levels), "coupling levels", progress)
        failed |= doc["coupling"]["controls_rescaling_only"] is False
        timings["coupling"] = time.perf_counter() - t0
    doc["timings"] = timings
    doc["failed"] = bool(failed)
    return doc, failed


def format_doc(doc) -> str:
    from gluon_mvr.experiments.studies.lmo.report import (format_bound, format_coupling, format_facts, format_kill,
                                                           format_momenta, format_worst_case)
    out = ["inexact LMO (docs/theory.md §6): delta = spectral error ||lmo~ - lmo|| (float64 SVD), "
           "alignment 1 - <M, -lmo~>/||M||_*, overshoot ||lmo~|| - 1", format_facts(doc["known_facts"])]
    if "worst_case" in doc:
        out += ["", format_worst_case(doc["worst_case"]), "", format_momenta(doc["momenta"])]
    if "bound_check" in doc:
        out += ["", format_bound(doc["bound_check"])]
    if "kill" in doc:
        out += ["", format_kill(doc["kill"], doc["fixed_effective_step"])]
    if "coupling" in doc:
        out += ["", format_coupling(doc["coupling"])]
    out += ["", "time: " + ", ".join(f"{k} {v:.1f}s" for k, v in doc["timings"].items())]
    return "\n".join(out)


def lmo_error(parts=("measure", "bound", "kill"), *, methods=("ns-jordan", "ns-quintic", "polar-express"),
              steps=(1, 2, 3, 4, 5, 6, 8, 10), dtypes=("float64", "float32"), ratios=(1e-1, 1e-2, 1e-3, 1e-4),
              families=("quadratic", "l0l1"), K: int = 300, seeds: int = 4, coupling_problem="quadratic",
              coupling_params=None, coupling_K: int = 400, coupling_seeds: int = 4, progress: bool = False):
    """The inexact-LMO study from Python; returns a
    :class:`~gluon_mvr.experiments.studies.result.StudyResult` (rows: the worst-case table, measured
    delta beside the model's; the document has every part)."""
    from gluon_mvr.experiments.studies.result import StudyResult
    unknown = [p for p in parts if p not in PARTS]
    if unknown:
        raise ValueError(f"parts: allowed {', '.join(PARTS)}; got {unknown[0]!r}")
    cfg = {"parts": list(parts), "methods": list(methods), "steps": list(steps), "dtypes": list(dtypes),
           "ratios": list(ratios), "families": list(families), "K": int(K), "seeds": int(seeds),
           "coupling_problem": coupling_problem, "coupling_params": coupling_params, "coupling_K": int(coupling_K),
           "coupling_seeds": int(coupling_seeds), "json": None, "store": None}
    doc, _ = run(cfg, progress=progress)
    rows = list(doc.get("worst_case", [])) or list(doc.get("kill", []))
    return StudyResult("lmo-error", rows, doc, format_doc)
