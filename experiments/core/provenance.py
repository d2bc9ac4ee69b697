"""Provenance: what determines a stored number, and where it was computed.

Two things determine a cell's numbers besides its configuration: the package version and the
code that computes it.  :func:`code_fingerprint` hashes the source of that code (every ``.py``
file of the computing rooms, see :data:`COMPUTING_ROOMS`) once per process; the result store
keys every cell by ``(configuration, version, fingerprint)`` (:func:`experiments.core.cells.cell_key`),
so a rerun after a code change recomputes instead of silently reusing old numbers.

:func:`provenance` is the block every export row and JSON report carries (as benchopt's result
files do): package version, code fingerprint, git commit when the code is a git checkout,
numpy/scipy/sympy/BLAS versions, Python, platform and a UTC timestamp.
"""
from __future__ import annotations

import datetime
import functools
import hashlib
import os
import platform
import subprocess

#: sub-packages of ``gluon_mvr`` whose code computes stored numbers.  The command-line layer
#: (``experiments/cli``) and the figures (``paper_figs``: settings, which are part of every
#: key, and drawing) only present numbers, so editing them must not invalidate a store.
COMPUTING_ROOMS = ("methods", "problems", "theory", "experiments.core", "experiments.studies")
EXTRA_MODULES = ()


def _room_files():
    """Every ``.py`` file of :data:`COMPUTING_ROOMS` and :data:`EXTRA_MODULES`, sorted by the
    path relative to its room (so the fingerprint does not depend on where the package lives)."""
    import importlib
    import importlib.util
    files = []
    for room in COMPUTING_ROOMS:
        mod = importlib.import_module(f"gluon_mvr.{room}")
        for base in getattr(mod, "__path__", []):
            for dirpath, dirnames, filenames in os.walk(base):
                dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
                for f in sorted(filenames):
                    if f.endswith(".py"):
                        full = os.path.join(dirpath, f)
                        files.append((f"{room}/{os.path.relpath(full, base)}", full))
    for name in EXTRA_MODULES:
        spec = importlib.util.find_spec(f"gluon_mvr.{name}")
        if spec is not None and spec.origin:
            files.append((name.replace(".", "/") + ".py", spec.origin))
    return sorted(files)


@functools.lru_cache(maxsize=1)
def _fingerprint() -> str:
    h = hashlib.sha256()
    for rel, full in _room_files():
        with open(full, "rb") as fh:
            data = fh.read()
        h.update(rel.replace(os.sep, "/").encode() + b"\0" + hashlib.sha256(data).digest())
    return h.hexdigest()[:16]


def code_fingerprint() -> str:
    """SHA-256 (first 16 hex digits) over the sources of the code that computes stored numbers.

    Computed once per process (the files are read on the first call).  Tests patch this
    function to simulate a code change.
    """
    return _fingerprint()


def package_version() -> str:
    from gluon_mvr._version import __version__
    return __version__


@functools.lru_cache(maxsize=1)
def git_commit():
    """Commit of the checkout the package runs from (``+dirty`` when files differ), or None."""
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        out = subprocess.run(["git", "-C", here, "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=5)
        if out.returncode != 0:
            return None
        commit = out.stdout.strip()
        dirty = subprocess.run(["git", "-C", here, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5)
        return commit + ("+dirty" if dirty.returncode == 0 and dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


@functools.lru_cache(maxsize=1)
def _library_versions() -> dict:
    import numpy
    out = {"python": platform.python_version(), "numpy": numpy.__version__}
    for name in ("scipy", "sympy"):
        try:
            out[name] = __import__(name).__version__
        except ImportError:
            out[name] = None
    out["blas"] = None
    try:
        deps = numpy.show_config(mode="dicts").get("Build Dependencies", {})
        blas = deps.get("blas", {})
        out["blas"] = " ".join(str(blas[k]) for k in ("name", "version") if blas.get(k)) or None
    except Exception:   # numpy < 1.26 has no mode="dicts"; the BLAS is then unknown
        pass
    return out


def environment() -> dict:
    """Where a cell was computed: library versions, platform, interpreter, code fingerprint."""
    import sys
    return {**_library_versions(), "platform": platform.platform(), "machine": platform.machine(),
            "executable": sys.executable, "code_fingerprint": code_fingerprint(), "git_commit": git_commit()}


def provenance() -> dict:
    """The provenance block of exports and JSON reports (flat, JSON-able).

    Keys: ``package_version``, ``code_fingerprint``, ``git_commit`` (None outside a git
    checkout), ``python``, ``numpy``, ``scipy``, ``sympy``, ``blas``, ``platform``,
    ``timestamp`` (UTC, ISO 8601).
    """
    libs = _library_versions()
    return {"package_version": package_version(), "code_fingerprint": code_fingerprint(),
            "git_commit": git_commit(), **libs, "platform": platform.platform(),
            "timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
