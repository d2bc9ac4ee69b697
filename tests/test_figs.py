"""paper_figs: every figure builds from a small store (quick mode) and plots the stored numbers."""
from __future__ import annotations

import numpy
import pytest

from gluon_mvr.experiments.core.store import ResultStore
from gluon_mvr.paper_figs.build import FIGURES, build_all
from gluon_mvr.paper_figs.data import QUICK


#: figure file name -> the matplotlib Figure that was saved (filled by the ``built`` fixture)
FIGS = {}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    from gluon_mvr.paper_figs import style
    root = tmp_path_factory.mktemp("figs")
    store = root / "store.sqlite"
    out = root / "out"
    real = style.save

    def save(fig, out_dir, name, dpi=250):
        FIGS[name] = fig                      # save() closes it; its artists stay inspectable
        return real(fig, out_dir, name, dpi)
    style.save = save
    try:
        res = build_all(out, store, quick=True)
    finally:
        style.save = real
    return res, ResultStore(store), out


def _rate_rows(store, problem, kind="rate"):
    """(method, K) -> stored result, for the cells of ``problem`` with every seed (not noise-off)."""
    out = {}
    for row in store.rows(kind):
        c = row["config"]
        if c["problem"] == problem and c["noise"]:
            out.setdefault((c["method"], c["K"]), []).append(row["result"])
    return out


def test_every_figure_written_as_png_and_pdf(built):
    res, _, out = built
    assert set(res) == set(FIGURES)
    for name, r in res.items():
        png, pdf = r["paths"]
        assert png.endswith(".png") and pdf.endswith(".pdf")
        with open(png, "rb") as fh:
            assert fh.read(8) == b"\x89PNG\r\n\x1a\n"
        with open(pdf, "rb") as fh:
            assert fh.read(5) == b"%PDF-"


def test_convergence_plots_stored_curves(built):
    res, store, _ = built
    rows = _rate_rows(store, QUICK.rate["problem"])
    data = res["convergence"]["data"]
    assert {K for _, K in data} == set(QUICK.convergence_horizons)
    for (m, K), d in data.items():
        (r,) = [r for r in rows[m, K] if len(r["seeds"]) == QUICK.rate["seeds"]]
        k = numpy.asarray(r["curve_iterations"], float)
        C = numpy.asarray(r["curve"], float)[:, k >= 1]
        numpy.testing.assert_allclose(d["k"], k[k >= 1])
        numpy.testing.assert_allclose(d["median"], numpy.median(C, axis=0))
        numpy.testing.assert_allclose(d["q25"], numpy.quantile(C, 0.25, axis=0))
        numpy.testing.assert_allclose(d["calls"], 1 + (1 if m == "gluon" else 2) * d["k"])
        # the last recorded oracle count of the run is the plotted one at the last recorded k
        if d["k"][-1] == K - 1:
            assert d["calls"][-1] == r["oracle_calls"]


def test_rates_plot_stored_means_and_the_rate_checks_fit(built):
    res, store, _ = built
    d = res["rates"]["data"]
    rows = _rate_rows(store, QUICK.rate["problem"])
    for m, p in d["theory"].items():
        for K, mean, lo, hi in zip(p["K"], p["mean"], p["lo"], p["hi"]):
            (r,) = [r for r in rows[m, int(K)] if len(r["seeds"]) == QUICK.rate["seeds"]]
            assert mean == pytest.approx(numpy.mean(r["G"]))
            assert lo <= mean <= hi
    from gluon_mvr.experiments.core.fitting import fit_rate
    for m, f in d["fits_theory"].items():
        G = numpy.array([next(r["G"] for r in rows[m, K] if len(r["seeds"]) == QUICK.rate["seeds"])
                         for K in QUICK.rate["horizons"]]).T
        fit = fit_rate(QUICK.rate["horizons"], G, tail=QUICK.rate["tail"], n_boot=QUICK.rate["bootstrap"])
        assert f["slope"] == pytest.approx(fit.slope)
    # reference slopes: -1/4 and -1/3 on log-log axes
    for s, (K, y) in d["refs"][0].items():
        slope = numpy.polyfit(numpy.log(K), numpy.log(y), 1)[0]
        assert slope == pytest.approx(s)
    assert set(d["refs"][0]) == {-0.25, -1 / 3}
    # tuned panel: the stored best cells (kind 'tuned', every seed)
    tuned = _rate_rows(store, QUICK.tuned["problem"], kind="tuned")
    for m, p in d["tuned"].items():
        for K, mean in zip(p["K"], p["mean"]):
            full = [numpy.mean(r["G"]) for r in tuned[m, int(K)] if len(r["seeds"]) == QUICK.tuned["seeds"]]
            # quick mode searches on every seed, so the plotted cell is the best stored one
            assert QUICK.tuned_search_seeds >= QUICK.tuned["seeds"]
            assert mean == pytest.approx(min(full))


def test_star_gap_matches_store(built):
    res, store, _ = built
    d = res["star"]["data"]
    rows = _rate_rows(store, "star")
    assert set(d["points"]) == set(QUICK.star["methods"])
    for m, p in d["points"].items():
        for K, mean in zip(p["K"], p["mean"]):
            (r,) = [r for r in rows[m, int(K)] if len(r["seeds"]) == QUICK.star["seeds"]]
            assert mean == pytest.approx(numpy.mean(r["gap"]))
    assert d["fits"]["gluon"]["log_power"] == pytest.approx(1 / 3)
    assert d["fits"]["mvr1"]["log_power"] == pytest.approx(0.5)


def test_inexact_lmo_figure(built):
    res, store, _ = built
    from gluon_mvr.experiments.studies.lmo.error import worst_case
    d = res["lmo"]["data"]
    steps = d["delta"]["steps"]
    assert steps == list(QUICK.lmo_steps)
    for name, vals in d["delta"]["worst"].items():
        assert vals[-1] == pytest.approx(worst_case(name, steps[-1], QUICK.lmo_ratio)["spectral"])
    stored = [r for r in store.rows("figure-data") if r["config"]["figure"] == "lmo-coupling"]
    assert len(stored) == 1
    doc = stored[0]["result"]
    rows = d["rows"]
    assert len(rows) == 1 + len(QUICK.coupling["steps"])
    assert rows[0]["lmo"] == "exact" and rows[0]["delta"] == 0
    for r in rows:
        lv = next(v for v in doc["levels"] if v["lmo"] == r["lmo"])
        numpy.testing.assert_allclose(r["G"], [g[0] for g in lv["G_grid"]])
        assert numpy.nanmin(r["rel"]) == pytest.approx(1.0)
        assert r["theory_t"] == pytest.approx(rows[0]["best_t"] * (1 + r["delta"]) ** -0.25)


def test_constants_figure(built):
    res, _, _ = built
    from gluon_mvr.problems import constants_estimation as est
    from gluon_mvr.problems import get_problem
    c = QUICK.constants
    problem = get_problem(c["problem"], **c["params"])
    layers = res["constants"]["data"]["layers"]
    assert len(layers) == problem.layout.n_layers
    for i, ly in enumerate(layers):
        assert ly["declared"] == pytest.approx((problem.constants.L0[i], problem.constants.L1[i]))
        g = numpy.concatenate([ly["sampled"][0], ly["trajectory"][0]])
        L = numpy.concatenate([ly["sampled"][1], ly["trajectory"][1]])
        fit = est.fit_envelope(L, g)
        assert ly["fit"] == pytest.approx((fit.L0, fit.L1), rel=1e-6)
        # the fitted pair is feasible (no point above its line) and the drawn frontier is the least
        # feasible L0 at each L1 (up to the round-off allowance)
        assert ly["fit"][0] >= numpy.max(L - ly["fit"][1] * g) - 1e-9
        L1x, L0f = ly["frontier"]
        exact = numpy.maximum(numpy.max(L[None] - L1x[:, None] * g[None], axis=1), 0)
        numpy.testing.assert_allclose(L0f, exact, rtol=1e-4, atol=1e-9)


def test_bounds_figure(built):
    res, store, _ = built
    rows = res["bounds"]["data"]["rows"]
    fams = {(r["family"], r["criterion"]) for r in rows}
    assert ("quadratic", "stationarity") in fams and ("star", "gap") in fams
    for r in rows:
        stored = _rate_rows(store, r["family"])[r["method"], r["K"]]
        field = "gap" if r["criterion"] == "gap" else "G"
        assert any(r["measured"] == pytest.approx(numpy.mean(s[field])) for s in stored)
        assert r["ratio"] == pytest.approx(r["measured"] / r["bound"])


def test_second_run_reuses_the_store(built, tmp_path):
    _, store, _ = built
    n = store.count()
    build_all(tmp_path, store.path, quick=True, only=["rates", "lmo", "constants"])
    assert store.count() == n


def test_cli(built, tmp_path, capsys):
    from gluon_mvr.experiments.cli.main import main
    assert main(["figs", "--quick", "--only", "nope", "--store", str(tmp_path / "s.sqlite")]) == 2
    assert "--only" in capsys.readouterr().err
    _, store, _ = built
    assert main(["figs", "--quick", "--quiet", "--only", "star", "--store", store.path,
                 "--out", str(tmp_path)]) == 0
    assert (tmp_path / "fig3_star_gap.pdf").exists()


def test_every_figure_file_carries_its_provenance(built):
    """PNG text chunks and the PDF Info dictionary name the config hash, package version and
    code fingerprint (control: a figure saved without provenance has none)."""
    from PIL import Image

    from gluon_mvr.experiments.core.provenance import code_fingerprint, package_version
    from gluon_mvr.paper_figs import style
    from gluon_mvr.paper_figs.build import config_hash
    res, _, out = built
    want = {"config_hash": config_hash(QUICK), "package_version": package_version(),
            "code_fingerprint": code_fingerprint()}
    for name, r in res.items():
        png, pdf = r["paths"]
        info = Image.open(png).text
        for k, v in want.items():
            assert info[f"gluon-mvr {k}"] == v, (name, k)
        assert info["gluon-mvr figure"] == name
        raw = open(pdf, "rb").read()
        for k, v in want.items():
            assert f"{k}={v}".encode() in raw, (name, k)
    saved = dict(style.PROVENANCE)
    try:
        style.PROVENANCE.clear()
        fig, _ = style.figure()
        png, _pdf = style.save(fig, out / "control", "bare")
        assert "gluon-mvr code_fingerprint" not in Image.open(png).text
    finally:
        style.PROVENANCE.update(saved)


def test_rates_markers_sit_on_their_horizons_and_ratio_panel_is_paired(built):
    """Fig 2: every marker at its own K (control: the old dodge moved them off), and the ratio
    panel's points are mean(method)/mean(reference) of the stored seeds."""
    from gluon_mvr.paper_figs import style
    res = built[0]["rates"]
    top = FIGS["fig2_rates"].axes[0]
    Ks = set(map(float, QUICK.rate["horizons"]))
    xs = [x for line in top.get_lines() if line.get_marker() not in (None, "None", "")
          for x in line.get_xdata()]
    assert xs and set(map(float, xs)) <= Ks
    assert not set(map(float, style.dodge(sorted(Ks), 0, 2))) <= Ks        # control
    rat = res["data"]["ratios_theory"]
    assert set(rat) == {"gluon"}                                           # QUICK: gluon vs mvr1
    rd = res["data"]["theory"]
    numpy.testing.assert_allclose(rat["gluon"]["mean"], rd["gluon"]["mean"] / rd["mvr1"]["mean"], rtol=1e-12)
    assert all(lo <= m <= hi for lo, m, hi in zip(rat["gluon"]["lo"], rat["gluon"]["mean"], rat["gluon"]["hi"]))


def test_log_ticks_label_a_value_below_one_on_many_decade_axes():
    """Fig 1's complaint: an axis from 0.3 to 30 had no label under 1 (control: NullFormatter)."""
    from gluon_mvr.paper_figs import style
    fig, ax = style.figure()
    ax.set_yscale("log")
    ax.set_ylim(0.25, 300)
    style.log_ticks(ax)
    fig.canvas.draw()
    minor = ax.yaxis.get_minor_formatter()
    labels = [minor(v) for v in (0.3, 0.5, 2.0, 20.0)]
    assert labels[1] == "0.5" and labels[2] == "" and labels[3] == ""      # only under the first major
    ax.set_ylim(0.9, 300)                                                  # nothing to label under 1
    style.log_ticks(ax)
    assert ax.yaxis.get_minor_formatter()(0.95) == ""


def test_bounds_panel_a_spans_its_data(built):
    """Fig 6a: each axis spans its own data (within a factor 1.6 each side), not a shared square."""
    fig = FIGS["fig6_bounds"]
    rows = built[0]["bounds"]["data"]["rows"]
    a = fig.axes[0]
    lo, hi = a.get_ylim()
    assert lo == pytest.approx(min(r["measured"] for r in rows) / 1.6)
    assert hi == pytest.approx(max(r["measured"] for r in rows) * 1.6)
    lo, hi = a.get_xlim()
    assert lo == pytest.approx(min(r["bound"] for r in rows) / 1.6)
    assert len(fig.axes) == 1 + len({(r["family"], r["criterion"]) for r in rows})    # small multiples
