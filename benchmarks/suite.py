"""The benchmark suite: which benchmarks run with which sizes (full or ``--quick``), the table
and the JSON report."""
from __future__ import annotations

import json
import math
import time

from .common import Figure, environment, load_average, skipped
from .gpu_speedup import gpu_speedup
from .ns_flops import ns_rate
from .rate_check_wall import rate_check_wall
from .kernels import kernels
from .scaling import profile, scaling, thread_effect
from .seed_batching import seed_batching
from .torch_peer import torch_peer

FULL = {
    1: lambda o: seed_batching(S=32, K=2000, K_timed=200, n_single=8),
    2: lambda o: ns_rate(repeats=3),
    3: lambda o: torch_peer(K=10, repeats=3),
    4: lambda o: rate_check_wall(timeout=o.get("rate_check_timeout", 240.0)),
    5: lambda o: scaling() + profile(K=500) + thread_effect() + kernels(),
    6: lambda o: gpu_speedup(),
}

QUICK = {
    1: lambda o: seed_batching(S=32, K=2000, K_timed=40, n_single=4),
    2: lambda o: ns_rate(cases=((4, 256, "float32"), (4, 256, "float64"), (1, 1024, "float32"),
                                (1, 1024, "float64")), repeats=1, min_total=0.3),
    3: lambda o: torch_peer(K=5, repeats=1, single_thread_too=False),
    4: lambda o: [skipped("4 default rate check", "default rate check wall time (fresh store)",
                          "--quick", 60.0, "<", "s")],
    5: lambda o: scaling(dims=(8, 16, 32, 64), layer_counts=(1, 4, 16), target_s=0.1, repeats=1)
    + profile(K=100) + thread_effect(cases=((4, 32),), target_s=0.1, repeats=1)
    + kernels(shapes=((64, 32, 32), (64, 8, 8)), repeats=2),
    6: lambda o: gpu_speedup(layers=8, dim=256, S=8, K_cpu=(1, 3), K_gpu=(1, 6)),
}

TINY = {   # the smoke test: every code path at toy size
    1: lambda o: seed_batching(S=4, K=20, K_timed=5, n_single=2, dim=4),
    2: lambda o: ns_rate(cases=((2, 16, "float32"), (2, 16, "float64")), repeats=1, min_total=0.0),
    3: lambda o: torch_peer(S=2, layers=2, dim=4, K=2, repeats=1),
    4: lambda o: rate_check_wall(timeout=60, extra_args=o.get("rate_check_args", ())),
    5: lambda o: scaling(dims=(4, 8), layer_counts=(1, 2), S=2, target_s=0.01, repeats=1)
    + profile(layers=2, dim=4, S=2, K=5) + thread_effect(cases=((1, 4),), S=2, target_s=0.01, repeats=1)
    + kernels(shapes=((2, 4, 4),), repeats=1),
    6: lambda o: gpu_speedup(layers=2, dim=4, S=2, K_cpu=(1, 3), K_gpu=(1, 4)),
}

MODES = {"full": FULL, "quick": QUICK, "tiny": TINY}


def run_suite(mode: str = "full", only=None, options=None, echo=None):
    """Run the benchmarks of ``mode`` (all, or the numbers in ``only``); returns the report dict."""
    table = MODES[mode]
    options = options or {}
    figures, timings = [], {}
    start = time.perf_counter()
    env = environment()
    for key in sorted(table):
        if only and key not in only:
            continue
        t = time.perf_counter()
        try:
            figs = table[key](options)
        except Exception as exc:   # one broken benchmark must not hide the others
            figs = [Figure(f"{key}", f"benchmark {key}", float("nan"), note=f"error: {type(exc).__name__}: {exc}")]
        timings[key] = time.perf_counter() - t
        figures.extend(figs)
        if echo is not None:
            for f in figs:
                echo(f)
    env["load_average_at_end"] = load_average()
    return {"mode": mode, "environment": env, "figures": [f.as_dict() for f in figures],
            "bench_seconds": {str(k): v for k, v in timings.items()}, "total_seconds": time.perf_counter() - start,
            "all_targets_met": all(f.passed is not False and not f.broken for f in figures)}


def _fmt(v, unit=""):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if unit in ("s",):
        return f"{v:.1f} s"
    if unit == "ms":
        return f"{v:.3g} ms"
    if unit == "us/matrix":
        return f"{v:.0f} us" if v >= 100 else f"{v:.3g} us"
    if unit == "x faster":
        return f"{v:.2f}x"
    if abs(v) >= 100:
        return f"{v:.0f}"
    return f"{v:.3g}"


def format_row(f) -> str:
    d = f.as_dict() if isinstance(f, Figure) else f
    target = "-" if d["target"] is None else f"{d['op']} {_fmt(d['target'], d['unit'])}"
    verdict = ("ERROR" if d.get("broken") else
               {True: "PASS", False: "FAIL", None: ("skip" if "skipped" in d["note"] else "info")}[d["passed"]])
    line = f"{d['bench'][:26]:<26} {d['name'][:78]:<78} {_fmt(d['value'], d['unit']):>10} {target:>10}  {verdict}"
    if d["note"]:
        line += f"\n{'':<27}  {d['note']}"
    return line


def header() -> str:
    return f"{'benchmark':<26} {'figure':<78} {'value':>10} {'target':>10}  result\n" + "-" * 134


def format_environment(env) -> str:
    blas = "; ".join(f"{b.get('internal_api')} {b.get('version')} ({b.get('num_threads')} threads"
                     f"{', ' + b['architecture'] if b.get('architecture') else ''})" for b in env["blas"])
    return (f"python {env['python']}, numpy {env['numpy']}, scipy {env.get('scipy')}, "
            f"torch {env['torch'] or 'not installed'}\n"
            f"cpu {env.get('cpu')}, {env['cores']} cores; BLAS {blas}; numpy threads {env['numpy_threads']}"
            f"{', torch threads %s' % env['torch_threads'] if env['torch'] else ''}\n"
            f"load average at start {env['load_average_at_start']}")


def write_json(report, path):
    def clean(x):
        if isinstance(x, float) and not math.isfinite(x):
            return None
        if isinstance(x, dict):
            return {k: clean(v) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return [clean(v) for v in x]
        if hasattr(x, "item") and not isinstance(x, (str, bytes)):
            return clean(x.item())
        return x
    with open(path, "w") as fh:
        json.dump(clean(report), fh, indent=1)
