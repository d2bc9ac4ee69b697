"""Layer layout: which layers share a shape, so they can be stacked into one array.

A model is a list of layers ``X_1, ..., X_p``; layer ``i`` is an ``m_i x n_i`` matrix (a vector
is a ``m x 1`` matrix).  For speed, layers of equal shape are stacked: the parameters are a
list of *groups*, group ``g`` an array of shape ``(S, G_g, m_g, n_g)`` where ``S`` is the seed
batch.  ``Layout`` maps the flat layer index ``i`` to its ``(group, slot)`` and converts
per-layer quantities between the two orders.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy


@dataclass(frozen=True)
class Layout:
    """Shapes of the layers, in model order.

    Parameters
    ----------
    shapes : tuple of (m, n)
        ``shapes[i]`` is the shape of layer ``i``.
    """

    shapes: tuple
    group_shapes: tuple = field(init=False, repr=False)
    group_layers: tuple = field(init=False, repr=False)

    def __post_init__(self):
        shapes = tuple((int(m), int(n)) for m, n in self.shapes)
        if not shapes:
            raise ValueError("layout.shapes: at least one layer is needed")
        for i, (m, n) in enumerate(shapes):
            if m < 1 or n < 1:
                raise ValueError(f"layout.shapes[{i}]: sides must be >= 1; got {(m, n)}")
        order = {}
        for i, s in enumerate(shapes):
            order.setdefault(s, []).append(i)
        object.__setattr__(self, "shapes", shapes)
        object.__setattr__(self, "group_shapes", tuple(order))
        object.__setattr__(self, "group_layers", tuple(tuple(v) for v in order.values()))

    @property
    def n_layers(self) -> int:
        return len(self.shapes)

    @property
    def n_groups(self) -> int:
        return len(self.group_shapes)

    def zeros(self, S: int, xp=numpy, dtype="float64"):
        """Parameters of all zeros: list of ``(S, G_g, m, n)`` arrays."""
        return [xp.zeros((S, len(ls), m, n), dtype=dtype)
                for (m, n), ls in zip(self.group_shapes, self.group_layers)]

    def split(self, per_layer, xp=numpy, dtype="float64"):
        """Per-layer values ``(p,)`` (or ``(..., p)``) -> list of ``(..., G_g)`` per group."""
        v = xp.asarray(per_layer, dtype=dtype)
        return [v[..., list(ls)] for ls in self.group_layers]

    def merge(self, per_group):
        """List of ``(..., G_g)`` per group -> ``(..., p)`` in layer order."""
        xp = numpy if isinstance(per_group[0], numpy.ndarray) else _ns(per_group[0])
        lead = per_group[0].shape[:-1]
        out = xp.empty(lead + (self.n_layers,), dtype=per_group[0].dtype)
        for ls, vals in zip(self.group_layers, per_group):
            out[..., list(ls)] = vals
        return out

    def layer(self, params, i: int):
        """Layer ``i`` of stacked parameters: array ``(S, m_i, n_i)``."""
        for g, ls in enumerate(self.group_layers):
            if i in ls:
                return params[g][:, ls.index(i)]
        raise IndexError(f"layer {i} out of range 0..{self.n_layers - 1}")

    def from_layers(self, layers, xp=numpy):
        """List of per-layer arrays ``(S, m_i, n_i)`` -> stacked groups."""
        return [xp.stack([layers[i] for i in ls], axis=1) for ls in self.group_layers]

    def to_layers(self, params):
        """Stacked groups -> list of per-layer arrays ``(S, m_i, n_i)`` in layer order."""
        out = [None] * self.n_layers
        for g, ls in enumerate(self.group_layers):
            for j, i in enumerate(ls):
                out[i] = params[g][:, j]
        return out


def _ns(a):
    from gluon_mvr.methods.backend import array_namespace
    return array_namespace(a)
