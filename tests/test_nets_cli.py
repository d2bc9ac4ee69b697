"""``gluon-mvr nets``: data with the network cut, the registry, the compare study and bad input."""
import json
import socket

import pytest

torch = pytest.importorskip("torch", reason="gluon_mvr.nets needs the [torch] extra (pip install -e '.[torch]')")

from gluon_mvr.experiments.cli.main import main  # noqa: E402


@pytest.fixture
def no_network(monkeypatch):
    """Any socket use fails: data must come from installed packages."""
    def refuse(*a, **k):
        raise OSError("network disabled in this test")
    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_no_network_fixture_blocks_sockets(no_network):
    """Control: the fixture really cuts the network."""
    with pytest.raises(OSError):
        socket.create_connection(("example.org", 80))


def test_data_loads_without_network(no_network):
    from gluon_mvr.nets import data
    data.shakespeare.cache_clear()
    data.shakespeare_text.cache_clear()
    data.digits.cache_clear()
    data.mnist5k.cache_clear()
    corpus = data.shakespeare()
    assert len(corpus.train) > 4_000_000 and len(corpus.val) > 400_000
    assert 60 <= len(corpus.vocab) <= 100 and "#" not in corpus.vocab     # headings dropped
    text = "".join(corpus.vocab[i] for i in corpus.train[:40].tolist())
    assert text.startswith("\nEnter THESEUS") or "THESEUS" in text
    xt, yt, xv, yv = data.digits()
    assert xt.shape == (1500, 64) and xv.shape == (297, 64) and float(xt.max()) <= 1.0
    assert set(yt.tolist()) == set(range(10))
    xt, yt, xv, yv = data.mnist5k()
    assert xt.shape == (4500, 784) and xv.shape == (500, 784) and float(xt.max()) <= 1.0
    assert set(yv.tolist()) == set(range(10))          # shuffled: the sorted file would give one class


def test_registry_models_train_one_step():
    from gluon_mvr.nets.models import get_task
    from gluon_mvr.nets.train import train
    task = get_task("gpt-tiny", d=16, n_layer=1, heads=2, ctx=16, batch=4, val_batches=1)
    r = train(task, "mvr2", 0.02, 3, seed=0, n_evals=1)
    assert r["iters"] == [0, 3] and r["grad_evals"] == [0, 5] and r["val_loss"][1] < r["val_loss"][0]
    r2 = train(task, "mvr2", 0.02, 3, seed=0, n_evals=1)
    assert r2["val_loss"] == r["val_loss"]                      # same seed, same numbers, bit for bit
    with pytest.raises(ValueError, match="model"):
        get_task("resnet")


def test_custom_task_with_user_module_and_loader():
    from torch import nn

    from gluon_mvr.nets.models import custom_task
    from gluon_mvr.nets.train import train
    g = torch.Generator().manual_seed(0)
    xs, ys = torch.randn(64, 5, generator=g), torch.randint(0, 2, (64,), generator=g)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(xs, ys), batch_size=16)
    task = custom_task(lambda seed: nn.Sequential(nn.Linear(5, 8, bias=False), nn.Tanh(), nn.Linear(8, 2, bias=False)),
                       loader, loader)
    r = train(task, "mvr1", 0.05, 8, seed=0, n_evals=1)
    assert r["grad_evals"][-1] == 15 and r["val_loss"][-1] < r["val_loss"][0]


def test_compare_quick_digits(tmp_path, capsys):
    """The full protocol end to end (tiny): table, pairs with intervals, cells stored and reused."""
    store, out = tmp_path / "s.sqlite", tmp_path / "r.json"
    argv = ["nets", "compare", "--quick", "--model", "mlp-digits", "--jobs", "1", "--no-progress",
            "--store", str(store), "--json", str(out), "--methods", "muon,mvr2"]
    assert main(argv) == 0
    rep = json.loads(out.read_text())
    assert set(rep["best"]) == {"muon", "mvr2"}
    p = [x for x in rep["pairs"] if x["a"] == "mvr2" and x["b"] == "muon"]
    assert {x["budget"] for x in p} == {"iterations", "grad_evals"}
    for x in p:
        lo, hi = x["ci95"]
        assert lo <= x["mean_diff"] <= hi and x["verdict"] in ("mvr2 better", "muon better", "unresolved")
    # equal gradient evaluations: MVR is read at about half the iterations
    c = rep["curves"]["mvr2"]
    assert c["grad_evals"][-1] == 2 * c["iters"][-1] - 1
    text = capsys.readouterr().out
    assert "mvr2 vs muon" in text
    import sqlite3
    n = sqlite3.connect(store).execute("select count(*) from cells where kind='nets'").fetchone()[0]
    assert n == 5            # 2 grid cells + 1 q alternative + seed 1 of both methods
    assert main(argv) == 0   # rerun: everything read from the store
    # the progress bar's total equals the updates it receives
    import gluon_mvr.nets.compare as C
    from gluon_mvr.experiments.core.store import ResultStore
    settings = {**C.QUICK, "task": "mlp-digits", "task_params": {}}
    ticks = []
    C.compare(settings, ("muon", "mvr2"), ResultStore(str(store)), jobs=1, progress=ticks.append)
    assert sum(ticks) == C.total_cells(settings, ("muon", "mvr2"))
    assert json.loads(out.read_text())["best"] == rep["best"]
    # the figure is drawn from the report alone
    from gluon_mvr.paper_figs import nets as figs
    assert figs.main(["--compare", str(out), "--out", str(tmp_path / "figs")]) == 0
    assert (tmp_path / "figs" / "nets-compare.png").stat().st_size > 10_000
    assert figs.main(["--compare", str(tmp_path / "missing.json")]) == 2


@pytest.mark.parametrize("argv,field", [
    (["nets", "compare", "--model", "resnet"], "--model"),
    (["nets", "compare", "--steps", "0"], "--steps"),
    (["nets", "compare", "--methods", "sgd"], "--methods"),
    (["nets", "compare", "--grid", "adam=fast"], "--grid"),
    (["nets", "compare", "--seeds", "x"], "--seeds"),
    (["nets", "smoothness", "--fit", "best"], "--fit"),
    (["nets", "coupling", "--ns-steps", "a,b"], "--ns-steps"),
    (["nets", "coupling", "--ns-steps", "-1"], "--ns-steps"),
])
def test_bad_input_one_line_exit_2(argv, field, capsys, tmp_path):
    assert main(argv + ["--store", str(tmp_path / "s.sqlite"), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and field in err[0] and "Traceback" not in err[0]


@pytest.mark.slow
def test_compare_quick_default_gpt(tmp_path):
    """The documented ``--quick`` (tiny GPT on Shakespeare, all six optimizers) under 2 minutes."""
    import time
    t0 = time.perf_counter()
    assert main(["nets", "compare", "--quick", "--no-progress", "--store", str(tmp_path / "s.sqlite"),
                 "--json", str(tmp_path / "r.json")]) == 0
    assert time.perf_counter() - t0 < 120
    assert len(json.loads((tmp_path / "r.json").read_text())["pairs"]) == 22


def test_interrupt_exits_130_with_one_line(monkeypatch, capsys, tmp_path):
    import gluon_mvr.nets.compare as C

    def interrupted(*a, **k):
        raise KeyboardInterrupt
    monkeypatch.setattr(C, "compare", interrupted)
    assert main(["nets", "compare", "--quick", "--no-progress", "--store", str(tmp_path / "s.sqlite")]) == 130
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "interrupted" in err[0] and "resume" in err[0]


def test_missing_torch_is_one_line_exit_2(monkeypatch, capsys, tmp_path):
    """Without torch the CLI says which extra to install (simulated by hiding the module)."""
    import builtins
    real = builtins.__import__

    def no_torch(name, *a, **k):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("No module named 'torch'")
        return real(name, *a, **k)
    monkeypatch.setattr(builtins, "__import__", no_torch)
    import sys
    for name in [m for m in sys.modules if m == "gluon_mvr.nets" or m.startswith("gluon_mvr.nets.")]:
        monkeypatch.delitem(sys.modules, name)
    assert main(["nets", "coupling", "--quick", "--store", str(tmp_path / "s.sqlite")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "gluon-mvr[torch]" in err[0]


def _torch_importers(folders):
    import ast
    import pathlib
    root = pathlib.Path(__file__).resolve().parents[1]
    hits = []
    for folder in folders:
        for path in (root / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                         else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
                if any(n == "torch" or n.startswith("torch.") for n in names):
                    hits.append(str(path.relative_to(root)))
    return hits


def test_nothing_outside_nets_imports_torch():
    assert _torch_importers(["gluon_mvr", "methods", "problems", "theory", "experiments", "paper_figs",
                             "configs"]) == []
    assert "nets/optim.py" in _torch_importers(["nets"])      # control: the scan sees an import
