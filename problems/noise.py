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


def draw_gaussian(rngs, layout, scales, xp=numpy, dtype="float64", df=None):
    """Per-group arrays ``(S, G, m, n)``; layer ``i`` scaled so ``E||Z_i||_F^2 = scales[i]^2``.

    ``df`` (degrees of freedom) switches to a Student-t normalised to unit variance.
    """
    out = []
    for (m, n), layers in zip(layout.group_shapes, layout.group_layers):
        shape = (len(layers), m, n)
        if df is None:
            z = numpy.empty((len(rngs),) + shape)
            for s, rng in enumerate(rngs):     # each seed from its own stream, in place
                rng.standard_normal(out=z[s])
        else:
            z = numpy.stack([rng.standard_t(df, shape) for rng in rngs]) * math.sqrt((df - 2) / df)
        scale = numpy.asarray([scales[i] / math.sqrt(m * n) for i in layers])[None, :, None, None]
        out.append(xp.asarray(z * scale, dtype=dtype))
    return out
