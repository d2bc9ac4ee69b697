r"""Certify a problem's declared constants against measurements: a verdict per layer.

For each layer :math:`i` the declaration *dominates* the measurement when

- **A1**: no measured point :math:`(\|\nabla_i f(X)\|_*, \hat L_i)` from sampled pairs or from
  consecutive iterates of a real optimizer run (inside the declared region) lies above the
  declared line :math:`L_{0,i} + L_{1,i} g` (beyond round-off).  The fitted envelope
  (:func:`problems.constants_estimation.fit_envelope`) is reported beside the declared
  constants; since the declared pair is feasible for that LP, the fit never exceeds it in the
  LP's objective, but the verdict is the point-wise test, not a comparison of coefficients;
- **A2**: at every sampled point, the Monte Carlo mean of :math:`\|\nabla_i f_\xi - \nabla_i f\|_F^2`
  minus ``Z`` standard errors is at most :math:`\sigma_i^2` (an exact declaration such as the
  additive model's is met with equality on average, so a bare mean would fail half the time);
- the columns ``L0_needed`` (``L1_needed``) are the least :math:`L_0` (:math:`L_1`) that makes
  the line dominate every point when the other coefficient is the declared one: both are at
  most the declared values exactly when A1 is dominated;
- ``ell_measured``: where :math:`\ell_i > 0`, the declared :math:`\ell_i` scaled by the
  square root of the worst ratio of the two sides of A3's sum form (the uniform factor the
  declaration could shrink by); where :math:`\ell_i = 0`, the per-layer
  :math:`\max\sqrt{E\|D_i\|_*^2}/\|X_i-Y_i\|`;
- **A3** (its sum form, a property of the whole problem): at every sampled pair, the mean of
  :math:`\sum_i\|D_i\|_*^2` minus ``Z`` standard errors is at most
  :math:`\sum_i\ell_i^2\|X_i - Y_i\|^2` (plus round-off).

Points outside the declared region (e.g. trajectory steps longer than a family's A1 radius)
are counted and reported, not used for the verdict.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy

from gluon_mvr.methods.backend import to_python

from gluon_mvr.problems import constants_estimation as est

Z = 4.0   # standard errors allowed to Monte Carlo means (several points and layers are tested)


@dataclass
class LayerCertificate:
    """Declared vs measured constants of one layer, and the verdict."""

    layer: int
    norm: str
    L0_declared: float
    L1_declared: float
    L0_fit: float
    L1_fit: float
    n_points: int
    n_trajectory_points: int
    n_above_declared: int
    max_usage: float           # max over points of L_hat / (L0 + L1 g): <= 1 when dominated
    L0_needed: float           # least L0 that dominates the points with the declared L1
    L1_needed: float           # least L1 that dominates the points with the declared L0
    sigma_declared: float
    sigma_measured: float
    sigma_se: float
    sigma_ok: bool
    ell_declared: float
    ell_measured: float
    smoothness_ok: bool
    dominates: bool = False


@dataclass
class Certificate:
    """Per-layer certificates plus the problem-wide A3 verdict."""

    problem: str
    constants: dict
    layers: list
    ell_ok: bool
    ell_max_usage: float
    trajectory: str
    n_outside_region: int
    notes: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.dominates for c in self.layers)

    def as_dict(self) -> dict:
        d = asdict(self)
        d["ok"] = self.ok
        return to_python(d)


def default_pairs(problem, rng, n):
    """Pairs for a problem without ``sample_pairs``: around :math:`X^0` at its own scale."""
    from gluon_mvr.methods.norms import get_norm
    X0 = problem.layout.to_layers(problem.initial_point(1))
    Xs, Ys = [], []
    for i, (m, k) in enumerate(problem.layout.shapes):
        geom = get_norm(problem.constants.norms[i])
        scale = max(float(numpy.linalg.norm(X0[i])), 1.0)
        U = rng.standard_normal((n, m, k))
        U /= numpy.linalg.norm(U, axis=(1, 2), keepdims=True)
        X = X0[i] + (rng.uniform(0, 1, n) * scale)[:, None, None] * U
        V = rng.standard_normal((n, m, k))
        V /= numpy.asarray(geom.norm(V))[:, None, None]
        Xs.append(X)
        Ys.append(X + (scale * 10.0 ** rng.uniform(-3, 0, n))[:, None, None] * V)
    return problem.layout.from_layers(Xs), problem.layout.from_layers(Ys)


def in_region(problem, X, Y=None):
    r"""Which pairs lie inside the region where ``problem`` declares its constants.

    A family may declare its constants on part of the space only (e.g. A1 for pairs closer than
    its ``pair_radius``, or :math:`\sigma` in a ball around a centre); it then has a method
    ``in_region(X, Y)``.  Pairs outside are no evidence against the declaration.

    Parameters
    ----------
    problem : Problem
    X, Y : list of arrays
        Stacked params: per block an array whose leading axis indexes the ``S`` pairs
        :math:`(X_s, Y_s)`; ``Y`` may be ``None`` for single points.

    Returns
    -------
    numpy.ndarray of bool, shape ``(S,)``
        ``problem.in_region(X, Y)``, or all ``True`` for a family declared everywhere.
    """
    fn = getattr(problem, "in_region", None)
    return numpy.ones(X[0].shape[0], dtype=bool) if fn is None else numpy.asarray(fn(X, Y))


def take_batch(params, index):
    """The pairs (or points) ``index`` of stacked params: ``[block[index] for block in params]``.

    Parameters
    ----------
    params : list of arrays
        Stacked params, the leading axis of every block indexing the pairs.
    index : boolean mask or integer array over that axis

    Returns
    -------
    list of arrays
        The same blocks restricted to ``index`` on the leading axis.
    """
    return [g[index] for g in params]


@dataclass
class SmoothnessMeasurements:
    """The A1 points :func:`certify` judges, inside the declared region.

    Attributes
    ----------
    X, Y : list of arrays
        The sampled pairs inside the region (stacked params).
    sampled : problems.constants_estimation.SmoothnessPoints
        Points from those pairs.
    trajectory : SmoothnessPoints or None
        Points from consecutive iterates inside the region (possibly none), or ``None`` when no
        trajectory of at least two iterates was given.
    n_outside_region : int
        Trajectory pairs left out because they lie outside the region.
    trajectory_note : str
        Where the trajectory came from (``'none'`` without one).
    """

    X: list
    Y: list
    sampled: est.SmoothnessPoints
    trajectory: est.SmoothnessPoints | None
    n_outside_region: int
    trajectory_note: str

    @property
    def points(self) -> est.SmoothnessPoints:
        """Sampled and trajectory points together."""
        return self.sampled if self.trajectory is None else self.sampled.extend(self.trajectory)


def measure_smoothness(problem, n_pairs: int = 256, seed: int = 0, trajectory=None, method: str = "gluon",
                       steps: int = 200, run_seeds: int = 4) -> SmoothnessMeasurements:
    r"""Measured A1 points of ``problem``, from sampled pairs and from an optimizer's iterates.

    Per layer :math:`i` and pair :math:`(X, Y)` (both orders) a point is
    :math:`(g, \hat L) = (\|\nabla_i f(X)\|_*,\ \|\nabla_i f(X) - \nabla_i f(Y)\|_*/\|X_i - Y_i\|)`
    (:func:`problems.constants_estimation.smoothness_points`); A1 holds at it when
    :math:`\hat L \le L_{0,i} + L_{1,i}\,g`.  Pairs come from the family's ``sample_pairs``
    (or :func:`default_pairs`), drawn with the generator of ``SeedSequence(seed, spawn_key=(1,))``,
    and from consecutive iterates of a trajectory; only pairs :func:`in_region` are kept.  This is
    the measurement :func:`certify` makes, and the one figure 5 of ``paper_figs`` plots.

    Parameters
    ----------
    problem : Problem
    n_pairs : int
        Sampled pairs.
    seed : int
        Seed of the sampling.
    trajectory : list of params, ``'run'`` or ``None``
        Recorded iterates (see :func:`problems.constants_estimation.trajectory_pairs`);
        ``'run'`` runs ``method`` for ``steps`` iterations on ``run_seeds`` seeds
        (:func:`problems.constants_estimation.run_trajectory`); ``None``: no trajectory.

    Returns
    -------
    SmoothnessMeasurements
    """
    rng = numpy.random.default_rng(numpy.random.SeedSequence(seed, spawn_key=(1,)))
    sampler = getattr(problem, "sample_pairs", None)
    X, Y = sampler(rng, n_pairs) if sampler is not None else default_pairs(problem, rng, n_pairs)
    keep = in_region(problem, X, Y)
    X, Y = take_batch(X, keep), take_batch(Y, keep)
    sampled = est.smoothness_points(problem, X, Y, source="sampled pairs")
    note, points, outside = "none", None, 0
    if isinstance(trajectory, str) and trajectory == "run":
        trajectory = est.run_trajectory(problem, method, steps, run_seeds)
        note = f"methods.run({method!r}, K={steps}, seeds={run_seeds})"
    elif trajectory is not None:
        note = f"{len(trajectory)} recorded iterates"
    if trajectory is not None and len(trajectory) >= 2:
        TX, TY = est.trajectory_pairs(trajectory)
        inside = in_region(problem, TX, TY)
        outside = int((~inside).sum())
        TX, TY = take_batch(TX, inside), take_batch(TY, inside)
        if TX[0].shape[0]:
            points = est.smoothness_points(problem, TX, TY, source="trajectory")
        else:   # no pair inside: no points (empty arrays of the sampled points' dtypes)
            points = est.SmoothnessPoints([a[:0] for a in sampled.ratio], [a[:0] for a in sampled.grad_norm],
                                          [a[:0] for a in sampled.slack], "trajectory")
    return SmoothnessMeasurements(X, Y, sampled, points, outside, note)


def certify(problem, n_pairs: int = 256, noise_points: int = 16, draws: int = 200, seed: int = 0,
            trajectory=None, method: str = "gluon", steps: int = 200, run_seeds: int = 4) -> Certificate:
    """Measure ``problem``'s constants and compare with its declaration.

    Parameters
    ----------
    problem : Problem
    n_pairs : int
        Sampled pairs for A1 (each gives two points per layer).
    noise_points, draws : int
        Points (and pairs) for the Monte Carlo of A2 and A3, and draws per point.
    seed : int
        Seed of the sampling.
    trajectory : list of params, ``'run'`` or ``None``
        Recorded iterates (see :func:`problems.constants_estimation.trajectory_pairs`);
        ``'run'`` runs ``method`` for ``steps`` iterations on ``run_seeds`` seeds with
        :func:`methods.run`; ``None`` skips trajectories.
    """
    meas = measure_smoothness(problem, n_pairs, seed, trajectory, method, steps, run_seeds)
    X, Y, points, outside = meas.X, meas.Y, meas.points, meas.n_outside_region
    n_traj = [0] * problem.layout.n_layers if meas.trajectory is None else [len(r) for r in meas.trajectory.ratio]
    notes = []
    if outside:
        notes.append(f"{outside} trajectory pairs lie outside the declared region and were not used")

    c = problem.constants
    # noise: pairs spread evenly over the sample (samplers may order their pairs by kind)
    m = min(noise_points, X[0].shape[0])
    pick = numpy.unique(numpy.linspace(0, X[0].shape[0] - 1, m).astype(int))
    NX, NY = take_batch(X, pick), take_batch(Y, pick)
    var = est.noise_variance(problem, NX, draws=draws, seed=seed)
    ms, dist, slack = est.mean_square_smoothness(problem, NX, NY, draws=draws, seed=seed + 1)
    ell2 = numpy.asarray(c.ell) ** 2
    lhs = ms.mean.sum(axis=1) - Z * numpy.sqrt((ms.se ** 2).sum(axis=1))
    rhs = (ell2 * dist ** 2).sum(axis=1) * (1 + 1e-9) + slack.sum(axis=1)
    ell_ok = bool(numpy.all(lhs <= rhs))
    with numpy.errstate(divide="ignore", invalid="ignore"):
        usage = ms.mean.sum(axis=1) / numpy.maximum(rhs, 1e-300)
        ell_meas = numpy.sqrt(numpy.max(numpy.where(dist > 0, numpy.maximum(ms.mean - slack, 0) / dist ** 2, 0.0),
                                        axis=0))

    ell_usage = float(numpy.max(usage)) if usage.size else 0.0
    layers = []
    for i in range(problem.layout.n_layers):
        r, g, sl = points.ratio[i], points.grad_norm[i], points.slack[i]
        fit = est.fit_envelope(r, g)
        L0d, L1d = c.L0[i], c.L1[i]
        above = est.count_above(L0d, L1d, r, g, sl)
        with numpy.errstate(divide="ignore", invalid="ignore"):
            line = L0d + L1d * g
            max_usage = float(numpy.max(numpy.where(line > 0, r / line, numpy.where(r > 0, numpy.inf, 0.0)))) \
                if r.size else float("nan")
        L0_needed = float(max(numpy.max(r - L1d * g - sl), 0.0)) if r.size else float("nan")
        with numpy.errstate(divide="ignore", invalid="ignore"):
            need = numpy.where(g > 0, (r - sl - L0d) / g, numpy.where(r - sl > L0d, numpy.inf, 0.0))
        L1_needed = float(max(numpy.max(need), 0.0)) if r.size else float("nan")
        s2 = c.sigma[i] ** 2
        worst = int(numpy.argmax(var.mean[:, i]))
        sigma_ok = bool(numpy.all(var.mean[:, i] - Z * var.se[:, i] <= s2 * (1 + 1e-9) + 1e-300))
        cert = LayerCertificate(
            layer=i, norm=c.norms[i], L0_declared=L0d, L1_declared=L1d, L0_fit=fit.L0, L1_fit=fit.L1,
            n_points=int(r.size), n_trajectory_points=int(n_traj[i]), n_above_declared=above,
            max_usage=max_usage, L0_needed=L0_needed, L1_needed=L1_needed, sigma_declared=c.sigma[i], sigma_measured=math.sqrt(var.mean[worst, i]),
            sigma_se=float(var.se[worst, i] / (2 * math.sqrt(max(var.mean[worst, i], 1e-300)))),
            sigma_ok=sigma_ok, ell_declared=c.ell[i],
            ell_measured=float(c.ell[i] * math.sqrt(max(ell_usage, 0.0))) if c.ell[i] > 0 else float(ell_meas[i]),
            smoothness_ok=(above == 0))
        cert.dominates = cert.smoothness_ok and cert.sigma_ok and ell_ok
        layers.append(cert)
    if c.sigma_norm != "frobenius":
        notes.append("sigma is declared in the dual norm; it is measured in Frobenius here")
    return Certificate(problem=problem.name, constants=c.as_dict(), layers=layers, ell_ok=ell_ok,
                       ell_max_usage=float(numpy.max(usage)) if usage.size else float("nan"),
                       trajectory=meas.trajectory_note, n_outside_region=outside, notes=notes)
