r"""Tables and the two known facts of the ``lmo-error`` report (docs/theory.md §6).

Known facts [C, docs/theory.md §6] checked on every run (independently of the selection):

- Jordan's iteration plateaus: singular values settle in about [0.68, 1.13], so its worst-case
  spectral error never drops below about 0.3 however many steps (checked: the smallest worst case
  over 1..10 steps on [0.1, 1] lies in [0.25, 0.35]);
- Polar Express, 5 steps, on normalised singular values in [1e-3, 1]: about 0.16 (checked: < 0.2).
"""
from __future__ import annotations

import numpy

from gluon_mvr.experiments.studies.lmo.error import worst_case

FACT_STEPS = range(1, 11)


def known_facts() -> list:
    """``[{name, value, expected, passed}]`` for the two facts of the module docstring."""
    plateau = min(worst_case("ns-jordan", T, 1e-1)["spectral"] for T in FACT_STEPS)
    late = [worst_case("ns-jordan", T, r)["spectral"] for T in (8, 9, 10) for r in (1e-1, 1e-2, 1e-3)]
    pe = worst_case("polar-express", 5, 1e-3)["spectral"]
    return [
        {"name": "Jordan NS plateaus near 0.3 (min over 1..10 steps, [0.1, 1])", "value": plateau,
         "expected": "[0.25, 0.35]", "passed": 0.25 <= plateau <= 0.35},
        {"name": "Jordan NS 8..10 steps on [1e-3, 1]: still >= 0.25", "value": min(late),
         "expected": ">= 0.25", "passed": min(late) >= 0.25},
        {"name": "Polar Express 5 steps on [1e-3, 1]", "value": pe, "expected": "about 0.16 (< 0.2)",
         "passed": 0.12 <= pe < 0.2},
    ]


def _f(v, w=7, p=3):
    if v is None or (isinstance(v, float) and not numpy.isfinite(v)):
        return f"{'-':>{w}}"
    return f"{v:>{w}.{p}f}"


def format_worst_case(rows) -> str:
    ratios = sorted({r["ratio"] for r in rows}, reverse=True)
    dim = rows[0].get("dim", "?") if rows else "?"
    head = f"{'approximation':<14}{'T':>3} " + "".join(f"{'r=' + format(r, 'g'):>9}" for r in ratios) \
        + "   " + "".join(f"{'al/al_pw/ov r=' + format(r, 'g'):>22}" for r in ratios) \
        + f"{'spec dev':>10}{'f32':>9}{'align dev':>10}"
    lines = [f"(a) worst case over normalised spectra of {dim} values u_j in [r, 1], sum u_j^2 = 1: spectral "
             "error max|phi_T(u)-1| (attained); al = alignment, attainable worst case (scipy search over the "
             "simplex of squared singular values, attained by a realised matrix); al_pw = pointwise sup of the "
             "alignment, an upper bound NOT attained in this dimension; ov = overshoot (attained); dev = "
             "|measured on an actual matrix - table|", head, "-" * len(head)]
    keys = list(dict.fromkeys((r["approximation"], r["steps"]) for r in rows))
    by = {(r["approximation"], r["steps"], r["ratio"]): r for r in rows}
    for a, T in keys:
        cells = [by[a, T, r] for r in ratios if (a, T, r) in by]
        dev = max(abs(c["matrix"]["float64"]["spectral"] - c["matrix"]["predicted"]) for c in cells)
        dev32 = max(abs(c["matrix"]["float32"]["spectral"] - c["matrix"]["predicted"]) for c in cells)
        adev = max(abs(c["matrix"].get("alignment_float64", numpy.nan) - c["alignment"]) for c in cells)
        lines.append(f"{a:<14}{T:>3} " + "".join(f"{c['spectral']:>9.4f}" for c in cells) + "   "
                     + "".join(f"{c['alignment']:>8.3f}/{c.get('alignment_pointwise', numpy.nan):.3f}/"
                               f"{c['overshoot']:<7.3f}" for c in cells)
                     + f"{dev:>10.1e}{dev32:>9.1e}{adev:>10.1e}")
    return "\n".join(lines)


def _agg(rows, key, how):
    vals = [r[key] for r in rows if numpy.isfinite(r[key])]
    return (max(vals) if how == "max" else float(numpy.median(vals))) if vals else float("nan")


def format_momenta(rows) -> str:
    fams = list(dict.fromkeys(r["family"] for r in rows))
    dtypes = list(dict.fromkeys(r["dtype"] for r in rows))
    keys = list(dict.fromkeys((r["approximation"], r["steps"]) for r in rows))
    group = {}
    for r in rows:
        group.setdefault((r["approximation"], r["steps"], r["family"], r["dtype"]), []).append(r)
    cols = [(f, d) for f in fams for d in dtypes]
    w = 24
    head = f"{'approximation':<14}{'T':>3} " + "".join(f"{f[:9] + ' ' + d[-2:]:>{w}}" for f, d in cols)
    sub = " " * 18 + "".join(f"{'max spec/med spec/eff':>{w}}" for _ in cols)
    u = {f: numpy.median([r["u_min_median"] for r in rows if r["family"] == f]) for f in fams}
    lines = ["(b) on the momenta met by Gluon and MVR-1 runs (max over layers, runs, snapshots; "
             "med = median over snapshots, max over layers; eff = max(alignment, overshoot, 0))",
             "    median normalised smallest singular value u_min: "
             + ", ".join(f"{f} {u[f]:.3g}" for f in fams), head, sub, "-" * len(head)]
    for a, T in keys:
        cells = []
        for f, d in cols:
            g = group.get((a, T, f, d), [])
            cells.append(f"{_agg(g, 'spectral', 'max'):.3f}/{_agg(g, 'spectral_median', 'max'):.3f}/"
                         f"{_agg(g, 'effective', 'max'):.3f}" if g else "-")
        lines.append(f"{a:<14}{T:>3} " + "".join(f"{c:>{w}}" for c in cells))
    return "\n".join(lines)


def format_facts(facts) -> str:
    return "\n".join(f"{'PASS' if f['passed'] else 'FAIL'}  {f['name']}: {f['value']:.4f} (expected {f['expected']})"
                     for f in facts)


def format_bound(rows) -> str:
    head = (f"{'family':<10} {'method':<6} {'lmo':<26} {'ns':>3} {'G_K':>8} {'dspec':>6} {'deff':>6} "
            f"{'B(dspec)':>10} {'G/B':>8} {'B(deff)':>10} {'G/B':>7} {'status':>7}")
    lines = ["(c) bound check: seed-mean G_K against the theory bound at the measured delta "
             "(per layer, max over the run); '-' = the bound does not apply (conditions fail)", head,
             "-" * len(head)]
    for r in rows:
        lines.append(f"{r['family']:<10} {r['method']:<6} {r['lmo']:<26} {r['ns_dtype'][-2:]:>3} {r['G']:>8.4g} "
                     f"{max(r['delta']['spectral']):>6.3f} {max(r['delta']['effective']):>6.3f} "
                     f"{_g(r['bound_spec']):>10} {_g(r['tightness_spec'], 3):>8} {_g(r['bound_eff']):>10} "
                     f"{_g(r['tightness_eff'], 3):>7} {'ok' if r['ok'] else 'FAIL':>7}")
    for r in rows:
        for v in r["violations"]:
            lines.append(f"!! BOUND CHECK FAILED: {r['family']} {r['method']} {r['lmo']}: {v}")
    t = [r["tightness_eff"] for r in rows if r["tightness_eff"]]
    if t:
        lines.append(f"tightness G/B(deff): min {min(t):.3g}, median {numpy.median(t):.3g}, max {max(t):.3g} "
                     f"over {len(t)} runs with an applicable bound; B(dspec) applies on "
                     f"{sum(1 for r in rows if r['bound_spec'])}/{len(rows)} runs")
    return "\n".join(lines)


def _g(v, p=4):
    return "-" if v is None else f"{v:.{p}g}"


def _ci_str(ci, w=5, p=3):
    if not ci:
        return f"[{'-':>{w}},{'-':>{w}}]"
    return f"[{ci[0]:>{w}.{p}f},{ci[1]:>{w}.{p}f}]"


def format_coupling(rep) -> str:
    lines = [f"(d) coupling on '{rep['problem']}' {rep['params']}, Gluon, K={rep['K']}, {len(rep['seeds'])} seeds; "
             f"grid t = t_H x [{rep['t_grid'][0] / rep['t_ref']:.3g}..{rep['t_grid'][-1] / rep['t_ref']:.3g}] "
             f"({len(rep['t_grid'])} pts), 1-beta in {[round(v, 4) for v in rep['h_grid']]}; "
             f"t_H = {rep['t_ref']:.4g}, h_H = {rep['h_ref']:.4g}",
             "    levels ordered by the MEASURED delta_eff = max(alignment, overshoot, 0) at the best cell (max over "
             "iterations, seeds, layers); best = log-centre of the cells within ~"
             f"{100 * rep.get('tau', 0.05):.0f}% of the best G_K;",
             "    gain = <M, -lmo~(M)>/||M||_* (mean there), eff. step x = radius x gain; shifts relative to the exact "
             "LMO with 95% paired seed-bootstrap intervals;",
             f"    verdict: 'direction effect' when the interval of the effective-step or 1-beta shift lies outside "
             f"[1/{1 + rep['tol']:.2f}, {1 + rep['tol']:.2f}], else 'rescaling only' (the radius shift is what the "
             f"gain forces); theory [R]: radius x (1+d)^-1/4, 1-beta x (1+d)^1/2"]
    head = (f"{'lmo':<27} {'delta':>5} {'radius':>8} {'shift':>6} {'95% CI':>13} {'gain':>6} {'95% CI':>13} "
            f"{'eff.step':>8} {'shift':>6} {'95% CI':>13} {'1-beta':>7} {'shift':>6} {'95% CI':>13} "
            f"{'th.r':>5} {'th.h':>5}  verdict")
    lines += [head, "-" * len(head)]
    for r in rep["levels"]:
        edge = "E" if (r.get("t_edge") or r.get("h_edge")) else " "
        lines.append(
            f"{r['lmo']:<27} {r['delta_eff']:>5.3f} {r['best_t']:>8.4g} {r['t_shift']:>6.3f} "
            f"{_ci_str(r['t_shift_ci'])} "
            f"{r['gain']:>6.3f} {_ci_str(r['gain_ci'])} {r['best_x']:>8.4g} {r['x_shift']:>6.3f} "
            f"{_ci_str(r['x_shift_ci'])} {r['best_h']:>7.4g} {r['h_shift']:>6.3f} {_ci_str(r['h_shift_ci'])} "
            f"{r['theory_t_shift']:>5.3f} {r['theory_h_shift']:>5.3f} {edge}{r['verdict']}"
            + (f" ({r['verdict_detail']})" if r["verdict"] == "direction effect" else ""))
    ctl = rep.get("controls_rescaling_only")
    if ctl is not None:
        lines.append("rescaling controls ((1-delta) lmo, (1+delta) lmo): "
                     + ("all 'rescaling only', as they must be" if ctl else
                        "!! NOT all 'rescaling only': the effective-step estimate is not resolving what it claims"))
    return "\n".join(lines)


def format_kill(rows, eff_rows) -> str:
    lines = ["(e) the instance where delta matters [R]: Gluon, 1-beta = 1, deterministic quadratic (one 8x8 "
             "spectral layer), stretched rotation oracle (gain 1-delta, step norm 1+delta): the descent lemma "
             "is an equality, G_K moves with delta at a fixed effective step (1-delta) t:"]
    oracles = list(dict.fromkeys(r["oracle"] for r in eff_rows))
    deltas = list(dict.fromkeys(r["delta"] for r in eff_rows))
    by = {(r["oracle"], r["delta"]): r for r in eff_rows}
    lines.append(f"    {'G_K / G_K(exact), same eff. step':<34}"
                 + "".join(f"{'d=' + format(d, 'g'):>8}" for d in deltas))
    for o in oracles:
        lines.append(f"    {o:<34}" + "".join(f"{by[o, d]['G_ratio']:>8.3f}" for d in deltas))
    lines.append("    kill search over delta x radius x K (measured / bound; > 1 kills; points whose measured "
                 "delta_eff exceeds the declared one excluded):")
    for r in rows:
        status = ("KILLED" if r["killed"] else "survives")
        want = "must be killed" if r["mutant"] else "must survive"
        ok = r["killed"] == r["mutant"]
        where = ", ".join(f"{k}={v:g}" if isinstance(v, (int, float)) else f"{k}={v}"
                          for k, v in (r["where"] or {}).items())
        lines.append(f"    {r['bound']:<22} worst ratio {r['worst_ratio']:>8.4g} at {where:<34} {status:<9} "
                     f"({want}{'' if ok else ' -- !! CHECK FAILED'}) [{r['n_applicable']}/{r['n_points']} points]")
    return "\n".join(lines)
