r"""Inexact spectral LMOs: Newton–Schulz iterations and a controlled-error oracle (docs/theory.md §6).

Newton–Schulz [C, Jordan 2024; Polar Express, arXiv 2505.16932]: normalise
:math:`X_0 = G/(c\|G\|_F + \epsilon)`, work in the wide orientation (``m <= n``, transposing a
tall ``G``), and repeat

.. math::  X \leftarrow a X + b (X X^\top) X + c (X X^\top)^2 X,

which maps every singular value by :math:`p(s) = a s + b s^3 + c s^5` and leaves the singular
vectors alone, so the result approximates the polar factor :math:`U V^\top`.
"""
from __future__ import annotations



import numpy

from gluon_mvr.methods.backend import array_namespace
from gluon_mvr.methods.norms import Norm, ScaledSpectralNorm, SpectralNorm, get_norm, register_norm

_PE_RAW = (
    (8.28721201814563, -23.595886519098837, 17.300387312530933),
    (4.107059111542203, -2.9478499167379106, 0.5448431082926601),
    (3.9486908534822946, -2.908902115962949, 0.5518191394370137),
    (3.3184196573706015, -2.488488024314874, 0.51004894012372),
    (2.300652019954817, -1.6689039845747493, 0.4188073119525673),
    (1.891301407787398, -1.2679958271945868, 0.37680408948524835),
    (1.8750014808534479, -1.2500016453999487, 0.3750001645474248),
)
# Polar Express [C]: every listed step divided by (1.01, 1.01^3, 1.01^5) for a safety margin
# (all but the undivided tail); the input is normalised by 1.01 ||G||_F; past the list, the
# tail (1.875, -1.25, 0.375).
_PE = tuple((a / 1.01, b / 1.01 ** 3, c / 1.01 ** 5) for a, b, c in _PE_RAW)
_PE_TAIL = (1.875, -1.25, 0.375)

COEFFICIENTS = {
    "jordan": (3.4445, -4.7750, 2.0315),      # [C] Muon's quintic: fast, plateaus
    "cubic": (1.5, -0.5, 0.0),                # classic Newton–Schulz
    "quintic": (15 / 8, -10 / 8, 3 / 8),      # classic quintic
    "polar-express": None,                    # per-step table above
}
NS_NAMES = tuple(COEFFICIENTS)


def ns_coefficients(name: str, steps: int):
    """The ``steps`` coefficient triples ``(a, b, c)`` used by :func:`newton_schulz`."""
    if name not in COEFFICIENTS:
        raise ValueError(f"unknown Newton–Schulz coefficients {name!r}; allowed: {', '.join(COEFFICIENTS)}")
    if steps < 0 or int(steps) != steps:
        raise ValueError(f"Newton–Schulz steps must be an integer >= 0; got {steps!r}")
    if name == "polar-express":
        return [(_PE[j] if j < len(_PE) else _PE_TAIL) for j in range(steps)]
    return [COEFFICIENTS[name]] * steps


def ns_input_scale(name: str) -> float:
    """Factor ``c`` in the normalisation ``G / (c ||G||_F + eps)``."""
    return 1.01 if name == "polar-express" else 1.0


def singular_value_map(s, steps: int = 5, coefficients: str = "jordan"):
    """Apply the scalar iteration :math:`s \\mapsto p_j(s)` to normalised singular values ``s``
    (exactly what :func:`newton_schulz` does to each singular value, without matrices)."""
    s = numpy.asarray(s, dtype=float)
    for a, b, c in ns_coefficients(coefficients, steps):
        s2 = s * s
        s = s * (a + s2 * (b + c * s2))
    return s


def newton_schulz(G, steps: int = 5, coefficients: str = "jordan", dtype=None, eps: float = 1e-7):
    r"""Approximate polar factor :math:`U V^\top` of ``G`` (shape ``(..., m, n)``).

    Parameters
    ----------
    G : array
        Batch of matrices (NumPy or CuPy).
    steps : int
        Number of iterations.
    coefficients : {'jordan', 'cubic', 'quintic', 'polar-express'}
    dtype : dtype, optional
        Working precision (e.g. ``'float32'``); the result is cast back to ``G.dtype``.
    eps : float
        Guard in the normalisation :math:`G/(c\|G\|_F + \epsilon)` (Muon's 1e-7).
    """
    xp = array_namespace(G)
    coeffs = ns_coefficients(coefficients, steps)
    out_dtype = G.dtype
    X = G.astype(dtype if dtype is not None else G.dtype, copy=False)
    tall = X.shape[-2] > X.shape[-1]
    if tall:
        X = xp.swapaxes(X, -1, -2)
    fro = xp.sqrt(xp.sum(X * X, axis=(-2, -1), keepdims=True))
    X = X / (ns_input_scale(coefficients) * fro + eps)
    for a, b, c in coeffs:
        A = X @ xp.swapaxes(X, -1, -2)
        B = b * A + c * (A @ A)
        X = a * X + B @ X
    if tall:
        X = xp.swapaxes(X, -1, -2)
    return X.astype(out_dtype, copy=False)


class NewtonSchulzSpectralNorm(SpectralNorm):
    """Spectral geometry whose LMO is ``-newton_schulz(G) / scale``: Muon as it is run."""

    name = "spectral-ns"
    base = SpectralNorm

    def __init__(self, steps: int = 5, coefficients: str = "jordan", dtype=None):
        ns_coefficients(coefficients, steps)   # validates
        self.steps, self.coefficients, self.dtype = int(steps), coefficients, dtype

    def lmo(self, G):
        m, n = G.shape[-2:]
        return -newton_schulz(G, self.steps, self.coefficients, self.dtype) / self.scale(m, n)

    def __repr__(self):
        return f"{type(self).__name__}(steps={self.steps}, coefficients={self.coefficients!r}, dtype={self.dtype!r})"


class NewtonSchulzScaledSpectralNorm(NewtonSchulzSpectralNorm, ScaledSpectralNorm):
    """Scion's scaled spectral geometry with a Newton–Schulz LMO."""

    name = "scaled-spectral-ns"


ERROR_MODES = ("random", "adversarial", "overshoot")


class _ErrorLMO(Norm):
    """An approximate LMO of the norm ``self.base``: the norm, its dual and rho are the base's."""

    def norm(self, X):
        return self.base.norm(X)

    def dual_norm(self, G):
        return self.base.dual_norm(G)

    def rho(self, shape):
        return self.base.rho(shape)


class ControlledErrorLMO(_ErrorLMO):
    r"""Exact LMO plus a controlled error: :math:`\widetilde{\mathrm{lmo}}(M) = \mathrm{lmo}(M) + \delta E`,
    :math:`\|E\| \le 1` in the layer's norm (the error model of docs/theory.md §6).

    ``mode``: ``'adversarial'`` takes :math:`E = -\mathrm{lmo}(M)` (alignment exactly
    :math:`1-\delta`, the worst case of :math:`\langle M,\widetilde{\mathrm{lmo}}\rangle \le -(1-\delta)\|M\|_*`);
    ``'overshoot'`` takes :math:`E = +\mathrm{lmo}(M)` (norm exactly :math:`1+\delta`);
    ``'random'`` draws a Gaussian direction normalised to norm 1 from ``seed``'s generator.
    """

    name = "controlled"

    def __init__(self, base: str = "spectral", delta: float = 0.1, mode: str = "random", seed: int = 0):
        d = float(delta)
        if not (0.0 <= d < 1.0):
            raise ValueError(f"controlled LMO delta must lie in [0, 1); got {delta!r}")
        if mode not in ERROR_MODES:
            raise ValueError(f"controlled LMO mode must be one of {ERROR_MODES}; got {mode!r}")
        self.base = get_norm(base) if isinstance(base, str) else base
        self.delta, self.mode = d, mode
        self._rng = numpy.random.default_rng(seed)

    def lmo(self, G):
        xp = array_namespace(G)
        exact = self.base.lmo(G)
        if self.mode == "adversarial":
            E = -exact
        elif self.mode == "overshoot":
            E = exact
        else:
            E = xp.asarray(self._rng.standard_normal(G.shape), dtype=G.dtype)
            E = E / self.base.norm(E)[..., None, None]
        return exact + self.delta * E

    def __repr__(self):
        return f"ControlledErrorLMO(base={self.base.name!r}, delta={self.delta}, mode={self.mode!r})"


class RotationErrorLMO(_ErrorLMO):
    r"""A pure *direction* error at a controlled gain: the exact spectral LMO rotated within the ball.

    Defined here [R] (docs/theory.md §6) as the test of the coupling claim that separates "the
    error changes the step length" from "the error changes the direction".  With
    :math:`P=UV^\top` the polar factor of :math:`M` (wide or square orientation, :math:`m\le n`),
    :math:`g=1-\delta`, :math:`s=\sqrt{1-g^2}` and a fresh random skew-symmetric orthogonal
    :math:`W=QJQ^\top` (:math:`Q` Haar, :math:`J` = blocks :math:`\begin{smallmatrix}0&1\\-1&0
    \end{smallmatrix}`, :math:`W^\top=-W`, :math:`W^\top W=I` for even :math:`m`),

    .. math:: \widetilde{\mathrm{lmo}}(M)=-(gI+sW)P/c .

    Then, exactly [R, one line each]: :math:`\langle M,WP\rangle=\mathrm{tr}(\Sigma U^\top WU)=0`
    (a skew matrix has zero diagonal), so the gain :math:`\langle M,-\widetilde{\mathrm{lmo}}\rangle
    /\|M\|_*=g=1-\delta` exactly as for the rescaling error :math:`(1-\delta)\mathrm{lmo}`;
    :math:`(gI+sW)^\top(gI+sW)=(g^2+s^2)I=I`, so :math:`\|\widetilde{\mathrm{lmo}}\|=1` (on the
    ball's boundary, like the exact LMO; for odd :math:`m` one singular value is :math:`g`, the norm
    is still 1); the spectral error is :math:`\|(g-1)I+sW\|=\sqrt{2\delta}` and the effective
    :math:`\delta_{\rm eff}=\max(\delta_{\rm align},\delta_{\rm over},0)=\delta`.  Tall layers use
    :math:`P(gI-sW)` (:math:`W` of size :math:`n`), the transpose of the same construction.
    Only spectral geometries (``spectral``, ``scaled-spectral``).

    ``stretch=True`` makes *both* consequences of the error model tight at once [R]:
    :math:`\widetilde{\mathrm{lmo}}(M)=-(1+\delta)(g'I+s'W)P/c` with :math:`g'=(1-\delta)/(1+\delta)`,
    :math:`s'=\sqrt{1-g'^2}`: gain exactly :math:`1-\delta`, every singular value exactly
    :math:`1+\delta` (even :math:`m`), spectral error :math:`\sqrt{\delta^2+4\delta}`,
    :math:`\delta_{\rm eff}=\delta`.  On a quadratic with a full-rank square layer of even size the
    descent lemma of docs/theory.md §4 then holds with equality (the instance of
    :mod:`experiments.studies.lmo.kill`).
    """

    name = "rotation"

    def __init__(self, base: str = "spectral", delta: float = 0.1, seed: int = 0, stretch: bool = False):
        d = float(delta)
        if not (0.0 <= d < 1.0):
            raise ValueError(f"rotation LMO delta must lie in [0, 1); got {delta!r}")
        self.base = get_norm(base) if isinstance(base, str) else base
        if not isinstance(self.base, SpectralNorm):
            raise ValueError(f"rotation LMO needs a spectral base norm; got {self.base.name!r}")
        self.delta, self.stretch = d, bool(stretch)
        self.length = 1.0 + d if self.stretch else 1.0
        self.gain = 1.0 - d
        g = self.gain / self.length                  # cosine of the rotation
        self._g, self._s = g, float(numpy.sqrt(max(0.0, 1.0 - g * g)))
        self._rng = numpy.random.default_rng(seed)

    def skew_orthogonal(self, batch, k, xp=numpy, dtype="float64"):
        """A batch ``(*batch, k, k)`` of random skew-symmetric :math:`W=QJQ^\top` (Haar :math:`Q`)."""
        Z = self._rng.standard_normal(tuple(batch) + (k, k))
        Q, R = numpy.linalg.qr(Z)
        Q = Q * numpy.sign(numpy.diagonal(R, axis1=-2, axis2=-1))[..., None, :]
        J = numpy.zeros((k, k))
        idx = numpy.arange(0, k - 1, 2)
        J[idx, idx + 1], J[idx + 1, idx] = 1.0, -1.0
        W = Q @ J @ numpy.swapaxes(Q, -1, -2)
        return xp.asarray(W, dtype=dtype)

    def lmo(self, G):
        xp = array_namespace(G)
        m, n = G.shape[-2:]
        P = self.base.polar(G)
        if self.delta == 0.0:
            return -P / self.base.scale(m, n)
        tall = m > n
        W = self.skew_orthogonal(G.shape[:-2], n if tall else m, xp, G.dtype)
        rot = (P @ W) if tall else (W @ P)
        return -self.length * (self._g * P + (-self._s if tall else self._s) * rot) / self.base.scale(m, n)

    def __repr__(self):
        return f"RotationErrorLMO(base={self.base.name!r}, delta={self.delta}, stretch={self.stretch})"


register_norm("spectral-ns", NewtonSchulzSpectralNorm)
register_norm("scaled-spectral-ns", NewtonSchulzScaledSpectralNorm)
register_norm("controlled", ControlledErrorLMO)
register_norm("rotation", RotationErrorLMO)


def spectral_error(G, approx):
    r"""Spectral error :math:`\max_j|\phi(s_j) - 1|` of an approximate polar factor, measured as
    :math:`\|\widetilde P - UV^\top\|_{op}` against the float64 SVD (the same number when
    ``approx`` shares ``G``'s singular vectors, as Newton–Schulz does)."""
    xp = array_namespace(G)
    exact = SpectralNorm().polar(G.astype("float64"))
    return xp.linalg.svd(approx.astype("float64") - exact, compute_uv=False)[..., 0]


