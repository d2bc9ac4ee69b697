r"""``twolayer``: teacher-student regression with a tanh network; constants *estimated*.

Data: :math:`N` inputs :math:`x_n\sim N(0, I)` and labels :math:`y_n = T(x_n) + \epsilon_n`
from a teacher :math:`T` of the same architecture (``label_noise`` :math:`\ge 0` scales
:math:`\epsilon_n\sim N(0, I)`), all from the problem's ``seed``.  The student with layers
:math:`W_1, \dots, W_p` (``layers = 2``: one hidden layer) computes
:math:`u(x) = W_p\tanh(W_{p-1}\cdots\tanh(W_1x))` and

.. math::  f(W) = \frac{1}{2N}\sum_{n=1}^N \|u(x_n) - y_n\|_2^2 .

With ``label_noise = 0`` the teacher attains :math:`f^* = 0`; otherwise :math:`f^*` is unknown
(``None``).  Noise ``minibatch``: a sample is :math:`B` indices drawn uniformly with
replacement (one draw per seed), :math:`\nabla f_\xi` the gradient on that batch (unbiased);
the same indices can be evaluated at two points, and their difference is not exact (A3 with
:math:`\ell > 0`).  ``additive`` / ``heavy`` add :mod:`problems.noise_models` noise to the
full-batch gradient instead.

**Constants are estimated, not derived** (a network couples its layers, so A1 holds, if at all,
on pairs that move every layer, on a bounded region; docs/theory.md §2: a pair that barely moves
layer :math:`i` while moving layer :math:`j` makes the layer-:math:`i` ratio unbounded).
Region: :math:`W` in the ball :math:`\|W_i - W^0_i\|_F \le R_i` = ``region``
:math:`\times\|W^0_i - T_i\|_F` (it contains the teacher); *balanced* pairs :math:`(W, V)`:
:math:`\|W_i - V_i\|_{(i)} \le` ``radius`` in every layer and
:math:`\max_i\|W_i - V_i\|_{(i)} \le 4\min_i\|W_i - V_i\|_{(i)}`, as a Gluon step with
comparable radii.  At build time the family measures
A1 points on ``estimate_pairs`` sampled pairs (a quarter with :math:`W` on the segment from
:math:`W^0` to the teacher), on the consecutive iterates of ``estimate_steps`` Gluon iterations
(constant radius ``radius``/2, :math:`\beta = 0.9`, 4 seeds, run by :func:`methods.run`) and on
balanced random moves from the visited points, and declares

- :math:`(L_{0,i}, L_{1,i})` = ``safety`` :math:`\times` the LP envelope of the measured points
  (:func:`problems.constants_estimation.fit_envelope`);
- minibatch :math:`\sigma_i` = ``safety`` :math:`\times\max\sqrt{E\|\nabla_i f_\xi - \nabla_i f\|_F^2}`
  over the sampled points, with the exact with-replacement formula
  :math:`E\|\cdot\|_F^2 = \frac{1}{BN}\sum_n\|\nabla_i f_n - \nabla_i f\|_F^2`;
- minibatch :math:`\ell`: with :math:`c_i = \max E\|D_i\|_F^2/\sum_j\|W_j - V_j\|_F^2` over the
  pairs (same exact formula on per-sample differences), :math:`\ell_j` = ``safety``
  :math:`\times\rho_j(\sum_i\rho_i^2c_i)^{1/2}` (derived here: :math:`E\|D_i\|_*^2\le\rho_i^2
  E\|D_i\|_F^2 \le \rho_i^2 c_i\sum_j\rho_j^2\|W_j-V_j\|_{(j)}^2`, summed over :math:`i`, is the
  A3 form of docs/theory.md with these :math:`\ell_j`).

These are estimates with a margin, not proofs: ``gluon-mvr constants`` re-measures them on
fresh pairs and on optimizer trajectories and reports whether the declaration still dominates.
"""
from __future__ import annotations

import math

import numpy

from gluon_mvr.methods.backend import array_namespace
from gluon_mvr.methods.layout import Layout
from gluon_mvr.methods.norms import NORM_NAMES, get_norm

from gluon_mvr.problems.base import Constants, Problem
from gluon_mvr.problems.noise_models import make_noise
from gluon_mvr.problems.norm_equivalence import rho as rho_of
from gluon_mvr.problems.registry import Param, register_family
from gluon_mvr.problems import constants_estimation as est
from gluon_mvr.problems.families.quadratic import shapes_from

TWOLAYER_NOISES = ("minibatch", "additive", "heavy")
BALANCE = 4.0    # largest ratio of two layers' moves in a pair of the declared region


class TwoLayerProblem(Problem):
    """See the module docstring."""

    name = "twolayer"

    def __init__(self, shapes=((8, 8), (8, 8)), n_data=256, batch=8, teacher_scale=1.5, init_scale=1.0,
                 label_noise=0.0, sigma=1.0, noise="minibatch", df=5.0, region=1.5, radius=0.1,
                 safety=2.0, estimate_pairs=256, estimate_steps=200, norm="spectral", seed=0):
        self._kwargs = dict(shapes=shapes, n_data=n_data, batch=batch, teacher_scale=teacher_scale,
                            init_scale=init_scale, label_noise=label_noise, sigma=sigma, noise=noise, df=df,
                            region=region, radius=radius, safety=safety, estimate_pairs=estimate_pairs,
                            estimate_steps=estimate_steps, norm=norm, seed=seed)
        shapes = tuple((int(m), int(n)) for m, n in shapes)
        if len(shapes) < 2:
            raise ValueError("problem 'twolayer' param 'layers': must be >= 2 (a hidden layer is needed)")
        for i in range(1, len(shapes)):
            if shapes[i][1] != shapes[i - 1][0]:
                raise ValueError(f"problem 'twolayer' param 'shapes': layer {i} takes {shapes[i][1]} inputs "
                                 f"but layer {i - 1} gives {shapes[i - 1][0]} outputs")
        if noise not in TWOLAYER_NOISES + ("none",):
            raise ValueError(f"problem 'twolayer' param 'noise': allowed values {', '.join(TWOLAYER_NOISES)}; "
                             f"got {noise!r}")
        self.layout = Layout(shapes)
        self.norm, self.noise, self.batch, self.n_data = norm, noise, int(batch), int(n_data)
        p = self.layout.n_layers
        rng = numpy.random.default_rng(seed)
        self._teacher = [rng.standard_normal(s) * teacher_scale / math.sqrt(s[1]) for s in shapes]
        self._X0 = [rng.standard_normal(s) * init_scale / math.sqrt(s[1]) for s in shapes]
        self._inputs = rng.standard_normal((n_data, shapes[0][1]))
        clean = self._forward_host(self._teacher, self._inputs)
        self._labels = clean + label_noise * rng.standard_normal(clean.shape)
        self.rho = tuple(rho_of(norm, s) for s in shapes)
        self.region_radius = tuple(region * float(numpy.linalg.norm(w0 - t))
                                   for w0, t in zip(self._X0, self._teacher))
        self.pair_radius = (float(radius),) * p
        self.f_star = 0.0 if label_noise == 0 else None
        self._cache = {}
        self._noise_model = make_noise("none" if noise in ("minibatch", "none") else noise, p,
                                       (sigma,) * p, df=df)
        self.constants = self._estimate_constants(safety, int(estimate_pairs), seed, int(estimate_steps))

    # --- network ----------------------------------------------------------------------------
    def _forward_host(self, weights, inputs):
        a = inputs.T
        for i, W in enumerate(weights):
            a = W @ a if i == len(weights) - 1 else numpy.tanh(W @ a)
        return a.T

    def _data(self, xp, dtype):
        key = (xp.__name__, str(dtype))
        if key not in self._cache:
            self._cache[key] = (xp.asarray(self._inputs, dtype=dtype), xp.asarray(self._labels, dtype=dtype))
        return self._cache[key]

    def _batch(self, X, idx):
        """Inputs ``(S or 1, n0, B)`` and labels ``(S or 1, m_p, B)``; full data when ``idx`` is None."""
        xp = array_namespace(X[0])
        inputs, labels = self._data(xp, X[0].dtype)
        if idx is None:
            return inputs.T[None], labels.T[None]
        return xp.swapaxes(inputs[idx], 1, 2), xp.swapaxes(labels[idx], 1, 2)

    def _backprop(self, W, a0, y, per_sample=False):
        """Loss ``(S,)`` and per-layer gradients ``(S, m, n)`` (or ``(S, B, m, n)`` per sample)."""
        xp = array_namespace(W[0])
        acts = [a0]
        for i, w in enumerate(W):
            z = w @ acts[-1]
            acts.append(z if i == len(W) - 1 else xp.tanh(z))
        B = a0.shape[-1]
        res = acts[-1] - y
        loss = 0.5 * xp.sum(res * res, axis=(1, 2)) / B
        grads = [None] * len(W)
        delta = res / B
        for i in range(len(W) - 1, -1, -1):
            if per_sample:
                grads[i] = delta.transpose(0, 2, 1)[..., :, None] * acts[i].transpose(0, 2, 1)[..., None, :]
            else:
                grads[i] = delta @ xp.swapaxes(acts[i], 1, 2)
            if i > 0:
                delta = (xp.swapaxes(W[i], 1, 2) @ delta) * (1.0 - acts[i] * acts[i])
        return loss, grads

    def _loss_and_grad(self, X, idx=None):
        a0, y = self._batch(X, idx)
        loss, grads = self._backprop(self.layout.to_layers(X), a0, y)
        return loss, self.layout.from_layers(grads, array_namespace(X[0]))

    # --- protocol ---------------------------------------------------------------------------
    def initial_point(self, S, xp=numpy, dtype="float64"):
        return [xp.repeat(xp.asarray(g, dtype=dtype), S, axis=0)
                for g in self.layout.from_layers([w[None] for w in self._X0])]

    def hypotheses_region(self, xp=numpy, dtype="float64"):
        """The ball around :math:`W^0` where the constants are certified (:meth:`in_region`)."""
        return self.initial_point(1, xp, dtype), tuple(self.region_radius)

    def teacher(self, S=1, xp=numpy, dtype="float64"):
        """The teacher's weights (a global minimiser when ``label_noise = 0``)."""
        return [xp.repeat(xp.asarray(g, dtype=dtype), S, axis=0)
                for g in self.layout.from_layers([w[None] for w in self._teacher])]

    def value(self, X):
        return self._loss_and_grad(X)[0]

    def grad(self, X):
        return self._loss_and_grad(X)[1]

    def sample(self, rngs, xp=numpy, dtype="float64"):
        if self.noise == "minibatch":
            idx = numpy.stack([rng.integers(0, self.n_data, size=self.batch) for rng in rngs])
            return xp.asarray(idx)
        return self._noise_model.draw(rngs, self.layout, xp, dtype)

    def stochastic_grad(self, X, sample):
        if self.noise == "minibatch":
            return self._loss_and_grad(X, sample)[1]
        return self._noise_model.apply(self.grad(X), X, sample, None)

    def without_noise(self):
        # same data, teacher and start; the A1 estimate is kept (it does not depend on the
        # noise), so the quiet copy skips re-estimating it
        quiet = type(self)(**{**self._kwargs, "noise": "none", "estimate_pairs": 4, "estimate_steps": 0})
        quiet.constants = self.constants.without_noise()
        quiet._kwargs = {**self._kwargs, "noise": "none"}
        return quiet

    # --- region and estimation -----------------------------------------------------------------
    def balanced_moves(self, rng, n: int):
        r"""``n`` moves (stacked params) :math:`v_iV_i`, :math:`\|V_i\|_{(i)} = 1`,
        :math:`v_i = v_0 2^{-e_i}\times` ``radius``, :math:`v_0` log-uniform in
        :math:`[10^{-3}, 1]` shared by the layers, :math:`e_i\sim U[0, 2]`: balanced pairs."""
        geom = get_norm(self.norm)
        v0 = 10.0 ** rng.uniform(-3, 0, n)
        moves = []
        for i, (m, k) in enumerate(self.layout.shapes):
            V = rng.standard_normal((n, m, k))
            V /= numpy.asarray(geom.norm(V))[:, None, None]
            moves.append((self.pair_radius[i] * v0 * 2.0 ** -rng.uniform(0, 2, n))[:, None, None] * V)
        return self.layout.from_layers(moves)

    def sample_pairs(self, rng, n: int):
        r"""``n`` pairs in the stated region: :math:`X_i = W^0_i + uR_iU_i`
        (:math:`\|U_i\|_F = 1`, :math:`u\sim U[0,1]`), a quarter of them on the segment from
        :math:`W^0` to the teacher instead, and :math:`Y = X +` :meth:`balanced_moves`."""
        t = rng.uniform(0, 1, n)
        on_segment = numpy.arange(n) < n // 4
        Xs = []
        for i, (m, k) in enumerate(self.layout.shapes):
            U = rng.standard_normal((n, m, k))
            U /= numpy.linalg.norm(U, axis=(1, 2), keepdims=True)
            ball = self._X0[i][None] + (rng.uniform(0, 1, n) * self.region_radius[i])[:, None, None] * U
            seg = self._X0[i][None] + t[:, None, None] * (self._teacher[i] - self._X0[i])[None]
            Xs.append(numpy.where(on_segment[:, None, None], seg, ball))
        X = self.layout.from_layers(Xs)
        return X, [x + d for x, d in zip(X, self.balanced_moves(rng, n))]

    def in_region(self, X, Y=None):
        """``(S,)`` bool: ``X`` in the ball around :math:`W^0` and, for pairs, every layer moved
        by at most ``radius`` in its norm (the region of the declared constants)."""
        ok = numpy.ones(X[0].shape[0], dtype=bool)
        W0 = self.initial_point(1)
        r2 = est.frobenius_sq(self.layout, [numpy.asarray(x) - w for x, w in zip(X, W0)])
        ok &= (r2 <= numpy.asarray(self.region_radius) ** 2 * (1 + 1e-9)).all(axis=1)
        if Y is not None:
            d = est.layer_norms(self.layout, (self.norm,) * self.layout.n_layers,
                                [x - y for x, y in zip(X, Y)], dual=False)
            ok &= (d <= numpy.asarray(self.pair_radius) * (1 + 1e-9)).all(axis=1)
            ok &= d.max(axis=1) <= BALANCE * d.min(axis=1) * (1 + 1e-9)
        return ok

    def per_sample_grads(self, X):
        """Per-sample gradients on the whole data set, per layer ``(S, N, m, n)`` (host)."""
        a0, y = self._batch(X, None)
        # per_sample divides by the batch size N: multiply back to get each sample's own gradient
        _, grads = self._backprop(self.layout.to_layers(X), a0, y, per_sample=True)
        return [g * self.n_data for g in grads]

    def _minibatch_moments(self, X, Y=None, chunk=32):
        """Per point ``(S, p)``: exact :math:`E\\|\\cdot\\|_F^2` of the batch noise at ``X`` (or of
        the same-sample difference between ``X`` and ``Y``)."""
        out = []
        for s0 in range(0, X[0].shape[0], chunk):
            Xc = [g[s0:s0 + chunk] for g in X]
            G = self.per_sample_grads(Xc)
            if Y is not None:
                G = [a - b for a, b in zip(G, self.per_sample_grads([g[s0:s0 + chunk] for g in Y]))]
            cols = [numpy.sum((g - g.mean(axis=1, keepdims=True)) ** 2, axis=(2, 3)).mean(axis=1) / self.batch
                    for g in G]
            out.append(numpy.stack(cols, axis=-1))
        return numpy.concatenate(out, axis=0)

    def _estimate_trajectory(self, steps, seed):
        """Iterates of Gluon (constant radii ``radius/2`` and ``radius``, the region's largest
        step; beta 0.9, minibatch noise) from :math:`W^0`, so the estimate also sees the points
        an optimizer visits, with steps up to the edge of the region; ``(X, Y)`` pairs."""
        from gluon_mvr.methods import constant_schedule, run
        Xs, Ys = [], []
        for frac in (0.5, 1.0):
            traj = run(self, "gluon", steps, 4, root_seed=seed,
                       schedule=constant_schedule(frac * self.pair_radius[0], self.layout.n_layers, beta=0.9),
                       record_params=True)
            snaps = [s for s in traj.params if all(numpy.isfinite(g).all() for g in s)]
            X, Y = est.trajectory_pairs(snaps)
            keep = self.in_region(X, Y)
            Xs.append([g[keep] for g in X])
            Ys.append([g[keep] for g in Y])
        return ([numpy.concatenate(parts) for parts in zip(*Xs)],
                [numpy.concatenate(parts) for parts in zip(*Ys)])

    def _estimate_constants(self, safety, n_pairs, seed, steps):
        p = self.layout.n_layers
        norms = (self.norm,) * p
        rng = numpy.random.default_rng(numpy.random.SeedSequence(seed, spawn_key=(2**31 - 1,)))
        X, Y = self.sample_pairs(rng, n_pairs)
        # provisional constants: the trajectory run needs the problem's norms
        self.constants = Constants(norms=norms, L0=0.0, L1=0.0, ell=0.0, sigma=0.0, rho=self.rho)
        pts = est.smoothness_points(self, X, Y, norms=norms)
        if steps > 0:
            TX, TY = self._estimate_trajectory(steps, seed)
            if TX[0].shape[0]:
                pts = pts.extend(est.smoothness_points(self, TX, TY, norms=norms, source="trajectory"))
                # balanced random moves from the visited points probe the curvature there
                idx = rng.integers(0, TX[0].shape[0], n_pairs)
                PX = [g[idx] for g in TX]
                PY = [x + d for x, d in zip(PX, self.balanced_moves(rng, n_pairs))]
                pts = pts.extend(est.smoothness_points(self, PX, PY, norms=norms, source="near trajectory"))
        fits = [est.fit_envelope(pts.ratio[i], pts.grad_norm[i]) for i in range(p)]
        if self.noise == "minibatch":
            var = self._minibatch_moments(X).max(axis=0)
            sigma = [safety * math.sqrt(v) for v in var]
            dist_sq = est.frobenius_sq(self.layout, [a - b for a, b in zip(X, Y)]).sum(axis=1)
            c = (self._minibatch_moments(X, Y) / dist_sq[:, None]).max(axis=0)
            total = math.sqrt(sum(r * r * ci for r, ci in zip(self.rho, c)))
            ell = [safety * r * total for r in self.rho]
        elif self.noise == "none":
            sigma, ell = [0.0] * p, [0.0] * p
        else:
            sigma, ell = list(self._noise_model.declared_sigma(p)), [0.0] * p
        radii = ", ".join(f"{r:.3g}" for r in self.region_radius)
        return Constants(norms=norms, L0=[safety * f.L0 for f in fits], L1=[safety * f.L1 for f in fits],
                         ell=ell, sigma=sigma, rho=self.rho, sigma_norm="frobenius",
                         region=f"W in the ball ||W_i - W0_i||_F <= R_i = ({radii}); pairs with "
                                f"||W_i - V_i||_(i) <= radius = {self.pair_radius[0]:g} in every layer, "
                                f"largest move <= {BALANCE:g} x smallest",
                         source=f"estimated: LP envelope on {n_pairs} sampled pairs and exact minibatch "
                                f"moments, times safety {safety:g} (not a proof)")


@register_family("twolayer", summary="teacher-student tanh network, minibatch noise, estimated constants",
                 params={
    "layers": Param(int, 2, "number of weight layers (>= 2)", low=2),
    "dim": Param(int, 8, "width = input = output dimension (layers are dim x dim)", low=1),
    "shapes": Param(str, "", "explicit chain of shapes MxN,... with N of layer i+1 = M of layer i"),
    "n_data": Param(int, 256, "data set size N", low=1),
    "batch": Param(int, 8, "minibatch size B (noise=minibatch)", low=1),
    "teacher_scale": Param(float, 1.5, "teacher weights ~ N(0, scale^2/fan_in)", positive=True),
    "init_scale": Param(float, 1.0, "student start ~ N(0, scale^2/fan_in)", positive=True),
    "label_noise": Param(float, 0.0, "std of label noise (0: realizable, f* = 0)", low=0.0),
    "sigma": Param(float, 1.0, "noise level for noise=additive/heavy (minibatch: set by batch)", low=0.0),
    "noise": Param(str, "minibatch", "noise model", choices=TWOLAYER_NOISES),
    "df": Param(float, 5.0, "heavy: Student-t degrees of freedom (must be > 2)", low=2.0),
    "region": Param(float, 1.5, "region radius R_i = region * ||W0_i - teacher_i||_F", positive=True),
    "radius": Param(float, 0.1, "A1 pairs: ||W_i - V_i||_(i) <= radius (>= the Gluon radius)", positive=True),
    "safety": Param(float, 2.0, "factor on the estimated constants", low=1.0),
    "estimate_pairs": Param(int, 256, "pairs sampled to estimate the constants", low=4),
    "estimate_steps": Param(int, 200, "Gluon iterations whose pairs also enter the estimate (0: none)", low=0),
    "norm": Param(str, "spectral", "layer norm the constants are stated in", choices=NORM_NAMES),
    "seed": Param(int, 0, "seed of the data, teacher and start", low=0),
})
def build_twolayer(layers, dim, shapes, n_data, batch, teacher_scale, init_scale, label_noise, sigma, noise,
                   df, region, radius, safety, estimate_pairs, estimate_steps, norm, seed):
    return TwoLayerProblem(shapes=shapes_from(layers, dim, shapes), n_data=n_data, batch=batch,
                           teacher_scale=teacher_scale, init_scale=init_scale, label_noise=label_noise,
                           sigma=sigma, noise=noise, df=df, region=region, radius=radius, safety=safety,
                           estimate_pairs=estimate_pairs, estimate_steps=estimate_steps, norm=norm, seed=seed)
