"""One array namespace for NumPy and CuPy.

Hot code never imports numpy directly for array math: it asks :func:`array_namespace`
for the module that owns its arrays, so the same lines run on the CPU (NumPy) and on a GPU
(CuPy).  Only host-side bookkeeping (random seeds, results) uses NumPy explicitly.
"""
from __future__ import annotations

import functools

import numpy

DEVICES = ("cpu", "gpu")


@functools.lru_cache(maxsize=1)
def _cupy():
    """The cupy module, or None; looked up once (a failed import is not cached by Python)."""
    try:
        import cupy  # noqa: F401
    except Exception:  # ImportError, or a CUDA runtime error at import time
        return None
    return cupy


def array_namespace(*arrays):
    """Return ``numpy`` or ``cupy``: the module owning ``arrays`` (NumPy if none is CuPy)."""
    cupy = _cupy()
    if cupy is not None:
        for a in arrays:
            if isinstance(a, cupy.ndarray):
                return cupy
    return numpy


def get_backend(device: str = "cpu"):
    """Module for ``device`` ('cpu' -> numpy, 'gpu' -> cupy), with a clear error if missing."""
    if device not in DEVICES:
        raise ValueError(f"device must be one of {', '.join(DEVICES)}; got {device!r}")
    if device == "cpu":
        return numpy
    cupy = _cupy()
    if cupy is None:
        raise RuntimeError("device 'gpu' needs CuPy and a CUDA GPU: pip install -e .[gpu]")
    try:
        cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # no driver, no device
        raise RuntimeError(f"device 'gpu': CuPy is installed but no GPU is usable ({exc})") from exc
    return cupy


def to_numpy(a):
    """Host copy of an array from either backend (NumPy arrays pass through)."""
    if isinstance(a, numpy.ndarray) or numpy.isscalar(a):
        return numpy.asarray(a)
    get = getattr(a, "get", None)
    return numpy.asarray(get() if get is not None else a)


def gpu_available() -> bool:
    """True when CuPy imports and sees at least one device."""
    cupy = _cupy()
    if cupy is None:
        return False
    try:
        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


def to_python(obj):
    """JSON-safe host copy of ``obj``: NumPy/CuPy arrays and scalars become Python lists and
    numbers, dict keys strings, and non-finite floats ``None`` (JSON has no NaN)."""
    import math
    if isinstance(obj, dict):
        return {str(k): to_python(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_python(v) for v in obj]
    if isinstance(obj, numpy.ndarray) or hasattr(obj, "get") and hasattr(obj, "ndim"):
        return to_python(to_numpy(obj).tolist())
    if isinstance(obj, (numpy.floating, float)):
        v = float(obj)
        return v if math.isfinite(v) else None
    if isinstance(obj, numpy.integer):
        return int(obj)
    if isinstance(obj, numpy.bool_):
        return bool(obj)
    return obj
