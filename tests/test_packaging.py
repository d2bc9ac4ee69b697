"""One namespace: the wheel holds gluon_mvr only, imports work from a fresh environment, generic
names are not installed, and no import cycle joins modules of different rooms."""
import ast
import os
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path

import pytest

import gluon_mvr

ROOT = Path(__file__).resolve().parents[1]
ROOMS = ("methods", "problems", "theory", "experiments", "paper_figs", "configs")


def test_version_is_the_one_in_pyproject():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert gluon_mvr.__version__ == meta["project"]["version"]
    assert meta["project"]["requires-python"] == ">=3.11"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation",
                           "-q", "-w", str(out)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    import shutil
    shutil.rmtree(ROOT / "build", ignore_errors=True)      # setuptools' build folder (ignored by git)
    (path,) = out.glob("gluon_mvr-*.whl")
    return path


def test_the_wheel_holds_one_namespace(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert tops == {"gluon_mvr"}
    for room in ROOMS:
        assert any(n.startswith(f"gluon_mvr/{room}/") for n in names), room
    assert "gluon_mvr/configs/star-tight.toml" in names          # shipped settings travel
    assert not any("benchmarks" in n or n.startswith("tests/") for n in names)


def test_a_fresh_environment_imports_gluon_mvr_and_not_generic_names(wheel, tmp_path):
    """Install the wheel into a new virtual environment whose only other packages are this
    environment's dependencies (a .pth file; the editable install's finder is not carried), then
    import from a folder outside the repository."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    py = venv / "bin" / "python"
    site = Path(subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--target", str(site),
                    str(wheel)], check=True)
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    code = ("import gluon_mvr, gluon_mvr.experiments.cli.main as cli; "
            "assert gluon_mvr.__file__.startswith(%r), gluon_mvr.__file__; "
            "assert cli.main(['--version']) == 0\n"
            "for name in ('methods', 'theory', 'experiments', 'problems', 'paper_figs', 'benchmarks'):\n"
            "    try:\n        __import__(name)\n    except ModuleNotFoundError:\n        continue\n"
            "    raise SystemExit('generic name installed: ' + name)\n") % str(site)
    proc = subprocess.run([str(py), "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert gluon_mvr.__version__ in proc.stdout


def _imports():
    """Static import graph of the package's modules: module -> set of imported modules."""
    mapping = {"gluon_mvr": ROOT / "gluon_mvr", **{f"gluon_mvr.{r}": ROOT / r for r in ROOMS}}
    modules = {}
    for pkg, folder in mapping.items():
        for path in folder.rglob("*.py"):
            rel = path.relative_to(folder).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            name = ".".join([pkg, *parts])
            if pkg == "gluon_mvr" and parts and parts[0] in ROOMS:
                continue
            modules[name] = path
    graph = {}
    for name, path in modules.items():
        deps = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                cands = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                cands = [a.name for a in node.names]
            else:
                continue
            deps |= {c for c in cands if c in modules}
        graph[name] = deps - {name}
    return graph


def _room(module):
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "gluon_mvr"


def _mixed_cycles(graph):
    """Strongly connected components (Tarjan) that contain modules of more than one room."""
    index, low, stack, on, comps, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            comps.append(comp)

    sys.setrecursionlimit(10000)
    for v in graph:
        if v not in index:
            visit(v)
    return [sorted(c) for c in comps if len({_room(m) for m in c if m != "gluon_mvr"}) > 1]


def test_no_import_cycle_joins_two_rooms():
    graph = _imports()
    assert len(graph) > 60 and "gluon_mvr.experiments.studies.rate_check" in graph
    assert _mixed_cycles(graph) == []


def test_the_cycle_check_can_fail():
    """Control: an injected import theory.claims -> methods.schedules closes a cycle between rooms."""
    graph = _imports()
    graph["gluon_mvr.theory.claims"] = graph["gluon_mvr.theory.claims"] | {"gluon_mvr.methods.schedules"}
    assert any("gluon_mvr.theory.claims" in c for c in _mixed_cycles(graph))
