"""Benchmark 5: how the time of one iteration grows with layer size and with the number of
layers, and what dominates a small problem (a cProfile of one run, top functions by self time).

Time per iteration is ``Trajectory.wall_time / K`` of ``methods.run`` (best of ``repeats``),
with ``K`` chosen per size so that one timed run lasts about ``target_s``.  The exponents are
least-squares slopes of ``log t`` against ``log n`` (square ``n x n`` layers) and against
``log p`` (number of layers); the fixed per-iteration overhead is the time at the smallest size.
"""
from __future__ import annotations

import cProfile
import io
import os
import pstats

from gluon_mvr import methods
from gluon_mvr.problems import get_problem

from .common import Figure, fit_exponent, numpy_thread_limit, numpy_threads

BENCH = "5 scaling"


def _choose_K(problem, S, method, target_s, max_K):
    per = min(methods.run(problem, method, K=2, seeds=S).wall_time for _ in range(2)) / 2   # warm-up, probe
    return int(min(max_K, max(3, target_s / max(per, 1e-6))))


def iteration_times(cases, S: int = 16, method: str = "mvr1", target_s: float = 0.3, repeats: int = 3,
                    max_K: int = 400):
    """Best seconds per iteration of ``method`` on ``layers`` square ``dim x dim`` quadratics for
    each ``(layers, dim)`` in ``cases``; the repeats go round all cases in turn, so that a burst
    of load from other work spoils one repeat of several cases rather than every repeat of one."""
    problems = [get_problem("quadratic", layers=p, dim=n) for p, n in cases]
    Ks = [_choose_K(pr, S, method, target_s, max_K) for pr in problems]
    best = [float("inf")] * len(cases)
    for _ in range(max(1, repeats)):
        for j, (pr, K) in enumerate(zip(problems, Ks)):
            best[j] = min(best[j], methods.run(pr, method, K=K, seeds=S).wall_time / K)
    return best, Ks


def iteration_time(layers: int, dim: int, S: int = 16, method: str = "mvr1", target_s: float = 0.3,
                   repeats: int = 3, max_K: int = 400):
    """Best seconds per iteration for one size (see :func:`iteration_times`)."""
    (t,), (K,) = iteration_times([(layers, dim)], S, method, target_s, repeats, max_K)
    return t, K


def scaling(dims=(8, 16, 32, 64, 128), layer_counts=(1, 2, 4, 8, 16), S: int = 16, layers: int = 4,
            dim_for_layers: int = 16, method: str = "mvr1", target_s: float = 0.3, repeats: int = 3):
    cases = [(layers, n) for n in dims] + [(p, dim_for_layers) for p in layer_counts]
    times, Ks = iteration_times(cases, S, method, target_s, repeats)
    rows = [{"n": n, "layers": p, "ms": 1e3 * t, "K_timed": K} for (p, n), t, K in zip(cases, times, Ks)]
    rows_n, rows_p = rows[:len(dims)], rows[len(dims):]
    floor, K_floor = iteration_time(1, 2, 1, method, target_s, repeats)
    e_n = fit_exponent([r["n"] for r in rows_n], [r["ms"] for r in rows_n])
    half = rows_n[len(rows_n) // 2:]
    e_n_large = fit_exponent([r["n"] for r in half], [r["ms"] for r in half]) if len(half) > 1 else float("nan")
    e_p = fit_exponent([r["layers"] for r in rows_p], [r["ms"] for r in rows_p])
    base = rows_n[0]
    sizes = ", ".join(f"n={r['n']}: {r['ms']:.2f}" for r in rows_n)
    counts = ", ".join(f"p={r['layers']}: {r['ms']:.2f}" for r in rows_p)
    common = {"S": S, "method": method}
    return [
        Figure(BENCH, f"exponent of time/iteration vs n ({layers} layers n x n, S={S})", e_n, "", None, ">=",
               f"ms/iter {sizes}", {**common, "rows": rows_n}),
        Figure(BENCH, f"exponent vs n on the upper half (n >= {half[0]['n']})", e_n_large, "", None, ">=",
               "asymptotic growth (flops of the SVDs: 3)", {**common, "rows": half}),
        Figure(BENCH, f"exponent of time/iteration vs layers ({dim_for_layers}x{dim_for_layers}, S={S})", e_p,
               "", None, ">=", f"ms/iter {counts}", {**common, "rows": rows_p}),
        Figure(BENCH, f"fixed overhead: time/iteration at the smallest size ({base['layers']}x{base['n']}x{base['n']}, S={S})",
               base["ms"], "ms", None, ">=", "", {**common, **base}),
        Figure(BENCH, f"time/iteration at 1 layer {dim_for_layers}x{dim_for_layers}, S={S}", rows_p[0]["ms"], "ms",
               None, ">=", "", {**common, **rows_p[0]}),
        Figure(BENCH, "floor: time/iteration at 1 layer 2x2, S=1 (Python and call overhead)", 1e3 * floor, "ms",
               None, ">=", "", {"S": 1, "method": method, "layers": 1, "n": 2, "K_timed": K_floor}),
    ]


def thread_effect(cases=((4, 8), (4, 32), (4, 64)), S: int = 16, method: str = "mvr1", target_s: float = 0.3,
                  repeats: int = 3):
    """Time per iteration at numpy's default BLAS threads over the time at one thread (> 1: the
    extra threads slow the small LAPACK calls down); needs threadpoolctl."""
    default = numpy_threads()
    if default == 1:
        return []
    out = []
    for layers, dim in cases:
        problem = get_problem("quadratic", layers=layers, dim=dim)
        K = _choose_K(problem, S, method, target_s, 400)
        t_def = t_one = float("inf")
        for _ in range(max(1, repeats)):        # alternate the two settings
            t_def = min(t_def, methods.run(problem, method, K=K, seeds=S).wall_time / K)
            with numpy_thread_limit(1) as limited:
                if not limited:
                    return [Figure(BENCH, "BLAS threads: default / 1 thread", float("nan"),
                                   note="skipped (threadpoolctl not installed)")]
                t_one = min(t_one, methods.run(problem, method, K=K, seeds=S).wall_time / K)
        K1 = K2 = K
        out.append(Figure(BENCH, f"time/iteration at {default} BLAS threads / at 1 ({layers}x{dim}x{dim}, S={S})",
                          t_def / t_one, "ratio", None, "<=",
                          f"{1e3 * t_def:.2f} ms vs {1e3 * t_one:.2f} ms",
                          {"layers": layers, "n": dim, "S": S, "threads": default, "ms_default": 1e3 * t_def,
                           "ms_one_thread": 1e3 * t_one, "K_timed": [K1, K2]}))
    return out


def _short(fn_key):
    filename, line, name = fn_key
    if filename == "~":
        return name
    parts = filename.replace(os.sep, "/").split("/")
    for anchor in ("methods", "problems", "experiments", "numpy", "torch"):
        if anchor in parts:
            parts = parts[parts.index(anchor):]
            break
    else:
        parts = parts[-1:]
    return f"{'/'.join(parts)}:{line}({name})"


def profile(layers: int = 4, dim: int = 8, S: int = 16, K: int = 500, method: str = "mvr1", top: int = 12):
    """cProfile of one run; the top functions by self time, with their share of the total."""
    problem = get_problem("quadratic", layers=layers, dim=dim)
    methods.run(problem, method, K=2, seeds=S)
    prof = cProfile.Profile()
    prof.enable()
    traj = methods.run(problem, method, K=K, seeds=S)
    prof.disable()
    stats = pstats.Stats(prof, stream=io.StringIO())
    total = sum(v[2] for v in stats.stats.values())     # sum of self times
    rows = sorted(((_short(k), v[1], v[2], v[3]) for k, v in stats.stats.items()), key=lambda r: -r[2])
    entries = [{"function": f, "calls": c, "self_s": tt, "cum_s": ct, "self_share": tt / total if total else 0.0}
               for f, c, tt, ct in rows[:top]]
    calls_per_iter = sum(v[1] for v in stats.stats.values()) / K
    desc = f"{layers}x{dim}x{dim}, S={S}, {method}, K={K}"
    return [Figure(BENCH, f"profile ({desc}): Python function calls per iteration", calls_per_iter, "calls",
                   None, ">=", f"run wall {traj.wall_time:.2f} s under cProfile; top: "
                   + "; ".join(f"{e['function']} {100 * e['self_share']:.0f}%" for e in entries[:4]),
                   {"top_self_time": entries, "total_self_s": total, "profiled": desc})]
