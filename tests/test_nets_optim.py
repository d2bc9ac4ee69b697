"""The PyTorch bridge's optimizers: LMO identities, the MVR two-point oracle, counts, Muon parity."""
import copy
import math

import pytest

torch = pytest.importorskip("torch", reason="gluon_mvr.nets needs the [torch] extra (pip install -e '.[torch]')")

from torch import nn  # noqa: E402

from gluon_mvr.nets import lmo as L  # noqa: E402
from gluon_mvr.nets.optim import Gluon  # noqa: E402
from gluon_mvr.nets.presets import make_optimizer, muon_hidden_options  # noqa: E402


class Net(nn.Module):
    def __init__(self, dropout=0.0, bn=False):
        super().__init__()
        self.a = nn.Linear(6, 8, bias=False)
        self.b = nn.Linear(8, 5, bias=False)
        self.c = nn.Linear(5, 3, bias=False)
        self.drop = nn.Dropout(dropout)
        self.bn = nn.BatchNorm1d(8) if bn else nn.Identity()

    def forward(self, x):
        return self.c(torch.tanh(self.b(self.drop(self.bn(torch.tanh(self.a(x)))))))


def batch(seed, n=16):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 6, generator=g), torch.randint(0, 3, (n,), generator=g)


def closure_for(x, y):
    return lambda fwd: nn.functional.cross_entropy(fwd(x), y)


@pytest.mark.parametrize("norm", L.NORMS)
def test_lmo_identities(norm):
    """<G, lmo(G)> = -||G||_* and ||lmo(G)|| = 1 for every geometry (exact oracle)."""
    G = torch.randn(7, 4, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    D = L.direction(G, norm)
    assert float((G * -D).sum()) == pytest.approx(-L.dual_norm(G, norm), rel=1e-10)
    assert L.primal_norm(D, norm) == pytest.approx(1.0, rel=1e-10)


def test_lmo_identity_can_fail():
    """Control: pairing a direction with the wrong dual norm breaks the identity."""
    G = torch.randn(7, 4, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    D = L.direction(G, "spectral")
    assert float((G * D).sum()) != pytest.approx(L.dual_norm(G, "scaled-spectral"), rel=1e-3)


def test_newton_schulz_converges_to_polar():
    G = torch.randn(8, 5, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    exact = L.polar(G)
    assert L.lmo_error(G, 30, "quintic", "float64")["rel_frobenius"] < 1e-6
    few = L.lmo_error(G, 1, "quintic", "float64")
    assert few["rel_frobenius"] > 1e-2 and few["alignment"] > 1e-3     # one step is visibly inexact
    assert torch.allclose(L.newton_schulz(G, 12, "polar-express", "float64"), exact, atol=1e-3)


@pytest.mark.parametrize("method,dropout,bn", [("mvr1", 0.0, False), ("mvr2", 0.3, False), ("mvr3", 0.3, True)])
def test_two_point_gradient_equals_reloaded_reference(method, dropout, bn):
    """g_old (same minibatch at X^{k-1}) equals the gradient of a copy reloaded with the old
    weights and buffers, evaluated under the same random state — bit for bit."""
    torch.manual_seed(0)
    model = Net(dropout, bn)
    opt = make_optimizer(model, method, 0.05, lmo="exact")
    torch.manual_seed(123)
    old_state = copy.deepcopy(model.state_dict())        # X^0 (params + buffers): X^{k-1} of step 1
    opt.step(closure_for(*batch(0)))
    x, y = batch(1)
    rng = torch.get_rng_state()
    _, g, g_old = opt.gradients(closure_for(x, y))
    # reference: a fresh copy with the old weights, same minibatch, same random state
    ref = copy.deepcopy(model)
    ref.load_state_dict(old_state)
    torch.set_rng_state(rng)
    loss = closure_for(x, y)(ref)
    ref_g = torch.autograd.grad(loss, list(ref.parameters()))
    assert all(torch.equal(a, b) for a, b in zip(g_old, ref_g))
    # control: the current point's gradient differs (the check can fail)
    assert not all(torch.equal(a, b) for a, b in zip(g, ref_g))


def test_two_point_reference_fails_with_other_rng():
    """Control for the dropout case: another random state gives another gradient."""
    torch.manual_seed(0)
    model = Net(0.3)
    opt = make_optimizer(model, "mvr1", 0.05, lmo="exact")
    old_state = copy.deepcopy(model.state_dict())
    opt.step(closure_for(*batch(0)))
    x, y = batch(1)
    torch.manual_seed(5)
    _, _, g_old = opt.gradients(closure_for(x, y))
    ref = copy.deepcopy(model)
    ref.load_state_dict(old_state)
    torch.manual_seed(6)
    ref_g = torch.autograd.grad(closure_for(x, y)(ref), list(ref.parameters()))
    assert not all(torch.equal(a, b) for a, b in zip(g_old, ref_g))


@pytest.mark.parametrize("method,expected", [("gluon", 5), ("mvr1", 9), ("mvr2", 9), ("mvr3", 9), ("adam", 5),
                                             ("muon", 5)])
def test_gradient_evaluation_counts(method, expected):
    """One gradient per Gluon/Adam/Muon step; MVR two per step after the first (5 steps)."""
    torch.manual_seed(0)
    model = Net()
    opt = make_optimizer(model, method, 0.01)
    for k in range(5):
        opt.step(closure_for(*batch(k)))
    assert opt.grad_evals == expected


def test_mvr_estimators_match_formulas():
    """M^1 of MVR-1/2/3 (docs/theory.md §3) from the oracle's g, g_old; step = -t UV^T(M^1)."""
    for method in ("mvr1", "mvr2", "mvr3"):
        torch.manual_seed(0)
        model = Net()
        beta, q, t = 0.7, 0.2, 0.1
        opt = Gluon(list(model.parameters()), lr=t, method=method, model=model, beta=beta, q=q, lmo="exact")
        opt.step(closure_for(*batch(0)))
        M0 = [opt.state[p]["M"].clone() for p in model.parameters()]
        G0 = [opt.state[p]["G"].clone() for p in model.parameters()]
        X1 = [p.detach().clone() for p in model.parameters()]
        kept = {n: t.clone() for n, t in opt._old.items()}
        _, g, go = opt.gradients(closure_for(*batch(1)))  # what the step below will see
        opt._old = kept
        opt.step(closure_for(*batch(1)))
        for p, x1, m0, g0, gk, gp in zip(model.parameters(), X1, M0, G0, g, go):
            if method == "mvr1":
                M = gk + beta * (m0 - gp)
            else:
                G1 = gk + (1 - q) * (g0 - gp)
                M = beta * m0 + (1 - beta) * G1 + (beta * (gk - gp) if method == "mvr3" else 0)
            assert torch.allclose(opt.state[p]["M"], M, atol=1e-7)
            assert torch.allclose(p.detach(), x1 - t * L.polar(M), atol=1e-6)


def _muon_pair(steps=3, wd=0.1):
    torch.manual_seed(0)
    a = Net()
    b = copy.deepcopy(a)
    params_a, params_b = list(a.parameters()), list(b.parameters())
    ref = torch.optim.Muon(params_a, lr=0.02, momentum=0.95, nesterov=True, weight_decay=wd)
    ours = Gluon(params_b, **muon_hidden_options(0.02, beta=0.95, weight_decay=wd))
    for k in range(steps):
        x, y = batch(k)
        for m, o in ((a, ref), (b, ours)):
            o.zero_grad()
            nn.functional.cross_entropy(m(x), y).backward()
            o.step()
    return params_a, params_b


@pytest.mark.skipif(not hasattr(torch.optim, "Muon"), reason="this torch has no torch.optim.Muon")
def test_muon_preset_equals_torch_muon():
    """The ``muon`` preset reproduces torch.optim.Muon bit for bit (3 steps, tall and wide layers)."""
    pa, pb = _muon_pair()
    assert all(torch.equal(x, y) for x, y in zip(pa, pb))


@pytest.mark.skipif(not hasattr(torch.optim, "Muon"), reason="this torch has no torch.optim.Muon")
def test_muon_parity_can_fail():
    """Mutant: the preset with its Newton–Schulz in float32 instead of bfloat16 no longer matches."""
    torch.manual_seed(0)
    a = Net()
    b = copy.deepcopy(a)
    ref = torch.optim.Muon(list(a.parameters()), lr=0.02, momentum=0.95, nesterov=True, weight_decay=0.1)
    ours = Gluon(list(b.parameters()), **{**muon_hidden_options(0.02, beta=0.95, weight_decay=0.1),
                                          "ns_dtype": "float32"})
    x, y = batch(0)
    for m, o in ((a, ref), (b, ours)):
        nn.functional.cross_entropy(m(x), y).backward()
        o.step()
    assert not all(torch.equal(x, y) for x, y in zip(a.parameters(), b.parameters()))


def test_bad_options_name_the_field():
    model = Net()
    with pytest.raises(ValueError, match="norm"):
        Gluon(model.parameters(), norm="nuclear")
    with pytest.raises(ValueError, match="model="):
        Gluon(model.parameters(), method="mvr2")
    with pytest.raises(ValueError, match="closure"):
        Gluon(list(model.parameters()), method="mvr2", model=model).step()


def test_rms_scale_restores_exact_norm():
    """update_scale='rms': a 1-step Newton–Schulz update has the exact oracle's Frobenius norm."""
    torch.manual_seed(0)
    steps = {}
    for lmo, steps_ns in (("exact", 5), ("ns", 1)):
        torch.manual_seed(0)
        model = Net()
        before = [p.detach().clone() for p in model.parameters()]
        opt = make_optimizer(model, "gluon", 0.1, lmo=lmo, ns_steps=steps_ns, update_scale="rms",
                             ns_coeffs="quintic")
        opt.step(closure_for(*batch(0)))
        steps[lmo] = [float((p.detach() - b).norm()) for p, b in zip(model.parameters(), before)]
    hidden = slice(0, 2)
    assert steps["ns"][hidden] == pytest.approx(steps["exact"][hidden], rel=1e-5)
    assert math.isfinite(sum(steps["ns"]))
    # control: without the RMS scaling the 1-step update is visibly shorter than the exact one
    torch.manual_seed(0)
    model = Net()
    before = [p.detach().clone() for p in model.parameters()]
    make_optimizer(model, "gluon", 0.1, lmo="ns", ns_steps=1, ns_coeffs="quintic").step(closure_for(*batch(0)))
    raw = [float((p.detach() - b).norm()) for p, b in zip(model.parameters(), before)]
    assert all(r < 0.9 * e for r, e in zip(raw[hidden], steps["exact"][hidden]))
