"""``nets smoothness`` and ``nets coupling``: measurements, the constants-log format, directions."""
import copy
import json

import pytest

torch = pytest.importorskip("torch", reason="gluon_mvr.nets needs the [torch] extra (pip install -e '.[torch]')")

from gluon_mvr.experiments.cli.main import main  # noqa: E402
from gluon_mvr.nets import lmo as L  # noqa: E402
from gluon_mvr.nets.models import get_task  # noqa: E402
from gluon_mvr.nets.presets import ROLE_NORMS, make_optimizer, param_roles  # noqa: E402
from gluon_mvr.nets.smoothness import measure  # noqa: E402


def test_smoothness_pairs_equal_an_independent_recomputation():
    """The first row of every layer: recompute grad at X^0 and X^1 on batch 0 from scratch."""
    task = get_task("mlp-digits", width=16)
    rows = measure(task, lr=0.05, beta=0.9, steps=1, every=1, seed=3)
    model = task.make_model(3)
    X0 = copy.deepcopy(model)
    gen = torch.Generator().manual_seed(1_000_003 * 4)
    x, y = task.sample(gen)
    make_optimizer(model, "gluon", 0.05, beta=0.9).step(lambda f: task.loss(f(x), y))
    gX = torch.autograd.grad(task.loss(X0(x), y), list(X0.parameters()))
    gY = torch.autograd.grad(task.loss(model(x), y), list(model.parameters()))
    roles = param_roles(model)
    for r, (n, p), p0, a, b in zip(rows, model.named_parameters(), X0.parameters(), gX, gY):
        norm = ROLE_NORMS[roles[n]]
        assert r["layer"] == n
        assert r["L_hat"] == pytest.approx(L.dual_norm(a - b, norm) / L.primal_norm(p0 - p, norm), rel=1e-9)
        assert r["grad_norm"] == pytest.approx(L.dual_norm(a, norm), rel=1e-9)
        # control: the ratio with the gradient at Y alone (a mutant of the difference) is another number
        assert r["L_hat"] != pytest.approx(L.dual_norm(b, norm) / L.primal_norm(p0 - p, norm), rel=1e-3)


def test_smoothness_quick_cli_and_constants_log_roundtrip(tmp_path, capsys):
    store, out, log = tmp_path / "s.sqlite", tmp_path / "r.json", tmp_path / "pairs.csv"
    assert main(["nets", "smoothness", "--quick", "--model", "mlp-digits", "--jobs", "1", "--no-progress",
                 "--store", str(store), "--json", str(out), "--log", str(log)]) == 0
    rep = json.loads(out.read_text())
    assert set(rep["groups"]) == {"hidden", "head"}          # the MLP has no embedding
    for g in rep["groups"].values():
        assert set(g["sweep_losses"]) == {"0.5", "1.0", "2.0"}
        assert g["tuned_radius"] in (0.01, 0.02, 0.04)
    from gluon_mvr.paper_figs import nets as figs
    assert figs.main(["--smoothness", str(out), "--out", str(tmp_path / "figs")]) == 0
    assert (tmp_path / "figs" / "nets-smoothness.pdf").exists()
    # the log reads back with 'constants --from-log' and gives the same per-layer fit
    capsys.readouterr()
    assert main(["constants", "--from-log", str(log), "--fit", "penalized", "--json", "-"]) == 0
    back = {r["layer"]: r for r in json.loads(capsys.readouterr().out)["layers"]}
    for n, r in rep["layers"].items():
        assert back[n]["L1"] == pytest.approx(r["L1"], rel=1e-6)


def test_coupling_quick_cli(tmp_path, capsys):
    out = tmp_path / "r.json"
    argv = ["nets", "coupling", "--quick", "--model", "mlp-digits", "--jobs", "1", "--no-progress",
            "--store", str(tmp_path / "s.sqlite"), "--ns-steps", "0,1,8"]
    assert main(argv + ["--json", str(out)]) == 0
    rep = json.loads(out.read_text())
    capsys.readouterr()
    assert main(argv + ["--json", "-"]) == 0                 # stdout carries the JSON document alone
    assert json.loads(capsys.readouterr().out)["per_precision"] == rep["per_precision"]
    d = {p["ns_steps"]: p["delta"] for p in rep["per_precision"]}
    assert d[0]["rel_frobenius"] == 0.0
    assert d[1]["rel_frobenius"] > d[8]["rel_frobenius"] > 0        # more steps, smaller delta
    assert d[1]["alignment"] > d[8]["alignment"]
    assert rep["lr_vs_delta"] in ("agrees", "disagrees", "flat")


def test_monotone_direction_check_can_fail():
    from gluon_mvr.nets.coupling import _monotone
    assert _monotone([0.0, 0.2, 0.8], [0.05, 0.02, 0.01], decreasing=True) == "agrees"
    assert _monotone([0.0, 0.2, 0.8], [0.01, 0.02, 0.05], decreasing=True) == "disagrees"
    assert _monotone([0.0, 0.2, 0.8], [0.02, 0.02, 0.02], decreasing=True) == "flat"
