r"""Noise models: how a sample perturbs the exact gradient.

Each model draws one sample per seed from that seed's own ``numpy.random.Generator`` (so a
batch reproduces single runs bit for bit) and turns an exact gradient into a stochastic one.

- ``additive``: :math:`\nabla f_\xi(X) = \nabla f(X) + Z`, :math:`Z_i` Gaussian with
  :math:`E\|Z_i\|_F^2 = \sigma_i^2` (entries i.i.d. :math:`N(0, \sigma_i^2/(m_i n_i))`).
  The same sample at two points cancels exactly, so A3 holds with :math:`\ell_i = 0`.
"""
from __future__ import annotations

import math

import numpy

from gluon_mvr.methods.lapack_threads import thread_budget, worker_pool


# Per-seed blocks at least this large are drawn on threads (NumPy's generators release the GIL
# while filling): a whole draw 1.6x faster at 8 x 256 x 256 per seed and 2.2x at 8 x 512 x 512 on
# 2 cores; below it the pool costs more than it saves.  Each seed still fills its own block from
# its own stream, so the numbers are the same.  Threads: the process's BLAS thread budget
# (joblib and Dask workers get their share), as for the LAPACK calls.
_THREADED_BLOCK = 1 << 16


def _fill_standard_normal(rngs, z):
    """``z[s] ~ N(0, 1)`` from ``rngs[s]``, in place; threaded for large blocks of distinct
    generators (one generator listed twice must draw its blocks in order)."""
    threads = min(len(rngs), thread_budget()) if len(rngs) > 1 and z[0].size >= _THREADED_BLOCK else 1
    if threads > 1 and len({id(r) for r in rngs}) == len(rngs):
        list(worker_pool(threads).map(lambda s: rngs[s].standard_normal(out=z[s]), range(len(rngs))))
    else:
        for s, rng in enumerate(rngs):
            rng.standard_normal(out=z[s])


def draw_gaussian(rngs, layout, scales, xp=numpy, dtype="float64", df=None):
    """Per-group arrays ``(S, G, m, n)``; layer ``i`` scaled so ``E||Z_i||_F^2 = scales[i]^2``.

    ``df`` (degrees of freedom) switches to a Student-t normalised to unit variance.  Samples are
    drawn on the host (one stream per seed, the same numbers on every device and in every batch)
    and copied to the device of ``xp`` once per group of equal-shape layers.
    """
    out = []
    for (m, n), layers in zip(layout.group_shapes, layout.group_layers):
        shape = (len(layers), m, n)
        if df is None:
            z = numpy.empty((len(rngs),) + shape)
            _fill_standard_normal(rngs, z)
        else:
            z = numpy.stack([rng.standard_t(df, shape) for rng in rngs]) * math.sqrt((df - 2) / df)
        z *= numpy.asarray([scales[i] / math.sqrt(m * n) for i in layers])[None, :, None, None]
        out.append(xp.asarray(z, dtype=dtype))
    return out
