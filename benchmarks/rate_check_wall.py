"""Benchmark 4: wall time of the default rate check (``python -m gluon_mvr rate-check``) in a
subprocess with a fresh temporary store, so nothing is reused.  The CPU seconds of the
subprocess and its workers are reported beside the wall time (on a machine shared with other
work the wall time can exceed CPU time / cores)."""
from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time

from .common import Figure, load_average

BENCH = "4 default rate check"


def _children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def rate_check_wall(timeout: float = 240.0, target: float = 60.0, extra_args=()):
    name = "default rate check wall time (fresh store)"
    with tempfile.TemporaryDirectory(prefix="gluon-bench-") as tmp:
        cmd = [sys.executable, "-m", "gluon_mvr", "rate-check", "--store", os.path.join(tmp, "rc.sqlite"),
               "--no-progress", *extra_args]
        load0, cpu0 = load_average(), _children_cpu()
        start = time.perf_counter()
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            wall = time.perf_counter() - start
            return [Figure(BENCH, name, wall, "s", target, "<",
                           f"stopped at the {timeout:.0f} s cap: the wall time is at least this",
                           {"command": " ".join(cmd[1:]), "timed_out": True, "load_average_before": load0})]
        wall = time.perf_counter() - start
        cpu = _children_cpu() - cpu0
    # exit 1 is a finished check with a `slower`/`faster` verdict or a bound violation: a result
    if proc.returncode not in (0, 1):
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        return [Figure(BENCH, name, float("nan"), "s", target, "<", "failed: " + " | ".join(tail),
                       {"returncode": proc.returncode})]
    return [Figure(BENCH, name, wall, "s", target, "<",
                   f"{cpu:.0f} CPU s in the subprocess and its workers; load before {load0}"
                   + ("; the check exited 1 (a verdict other than match)" if proc.returncode else ""),
                   {"returncode": proc.returncode, "command": " ".join(cmd[1:]), "cpu_s": cpu, "load_average_before": load0,
                    "load_average_after": load_average(), "table": proc.stdout.strip().splitlines()[:8]})]
