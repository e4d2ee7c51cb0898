"""The predictions, proven end to end on published results: CDNOW's 1/10th sample (2,357
customers of a CD retailer, tests/fixtures/cdnow) run through strata as an orders-only shop,
with the calibration period ending 1997-09-30 as in Fader, Hardie and Lee (2005).

strata fits in days; the papers in weeks (alpha and beta / 7). Published estimates: BG/NBD
r = 0.243, alpha = 4.414, a = 0.793, b = 2.426 (Fader, Hardie and Lee 2005); Pareto/NBD r = 0.55,
alpha = 10.58, s = 0.61, beta = 11.67 (their note on the Pareto/NBD); MBG/NBD r = 0.525,
alpha = 6.183, a = 0.891, b = 1.614 (BTYDplus); Gamma-Gamma p = 6.25, q = 3.74, v = 15.44.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner
from orders_csv import write_orders_csv

from strata.cli import main
from strata.report import build_report

# one worker for the module: its tests share a module-scoped build
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("predictions_cdnow")]

SAMPLE = (
    Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "cdnow" / "CDNOW_sample.txt"
)
CALIBRATION_END = "1997-09-30"
PAPER_BGNBD = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
PAPER_GAMMA_GAMMA = {"p": 6.25, "q": 3.74, "v": 15.44}
PAPER_PARETO = {"r": 0.55, "alpha": 10.58, "s": 0.61, "beta": 11.67}
BTYDPLUS_MBG = {"r": 0.525, "alpha": 6.183, "a": 0.891, "b": 1.614}


def cdnow_orders(folder: Path) -> int:
    """The sample's transactions as strata orders: one order per line, the sample's customer id
    as the user, the day at noon UTC, completed, in USD."""
    rows = []
    for number, line in enumerate(SAMPLE.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        _, customer, day, _, dollars = line.split()
        rows.append(
            [f"t{number}", customer, f"{day[:4]}-{day[4:6]}-{day[6:]}T12:00:00Z", "completed",
             dollars, "USD"]
        )  # fmt: skip
    return write_orders_csv(folder, rows)


@pytest.fixture(scope="module")
def cdnow(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cdnow")
    cdnow_orders(root / "raw")
    db = root / "warehouse.duckdb"
    # what the tests read, with their data tests: the fits, dim_users and the back-test
    result = CliRunner().invoke(
        main,
        ["run", "--raw-dir", str(root / "raw"), "--db", str(db), "--as-of", CALIBRATION_END,
         "--no-publish", "--select", "+fct_customer_model_fits +rpt_prediction_calibration"
         " +dim_users"],
        env={"DBT_INDIRECT_SELECTION": "cautious"},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return db


def fit(db: Path, model: str) -> dict:
    with duckdb.connect(str(db), read_only=True) as con:
        cursor = con.execute(
            "select * from marts.fct_customer_model_fits where purpose = 'current' and model = ?",
            [model],
        )
        names = [column[0] for column in cursor.description]
        return dict(zip(names, cursor.fetchone(), strict=True))


def test_bgnbd_reproduces_the_paper_on_cdnow(cdnow: Path) -> None:
    bg = fit(cdnow, "bgnbd")
    assert bg["is_converged"], bg["message"]
    assert (bg["customers_used"], bg["repeat_buyers_used"]) == (2357, 946)
    weeks = {"r": bg["r"], "alpha": bg["alpha"] / 7, "a": bg["a"], "b": bg["b"]}
    for name, published in PAPER_BGNBD.items():
        assert weeks[name] == pytest.approx(published, abs=0.005), name
    assert bg["log_likelihood"] is not None


@pytest.mark.parametrize(
    ("model", "published"), [("pareto_nbd", PAPER_PARETO), ("mbgnbd", BTYDPLUS_MBG)]
)
def test_the_alternative_models_reproduce_their_published_fits(
    cdnow: Path, model: str, published: dict
) -> None:
    found = fit(cdnow, model)
    assert found["is_converged"], found["message"]
    weeks = {name: found[name] / (7 if name in ("alpha", "beta") else 1) for name in published}
    for name, value in published.items():
        assert weeks[name] == pytest.approx(value, abs=0.01), name


def test_one_model_is_chosen_by_the_back_test_and_the_report_shows_it(
    cdnow: Path, tmp_path: Path
) -> None:
    with duckdb.connect(str(cdnow), read_only=True) as con:
        candidates = con.execute(
            "select model, holdout_mean_absolute_error, is_chosen"
            " from marts.fct_customer_model_fits"
            " where purpose = 'calibration' and model <> 'gamma_gamma'"
        ).fetchall()
        models = con.execute("select distinct purchase_model from marts.dim_users").fetchall()
    assert len(candidates) == 3 and all(error is not None for _, error, _ in candidates)
    best = min(candidates, key=lambda row: row[1])
    assert [row[0] for row in candidates if row[2]] == [best[0]]
    assert {row[0] for row in models} - {None} == {best[0]}
    report = build_report(cdnow, tmp_path / "report.html", as_of=CALIBRATION_END).path.read_text()
    assert "Which model: three models of repeat purchasing, back-tested" in report
    assert f"chosen for every prediction: {best[0]}." in report


def test_gamma_gamma_reproduces_the_note_on_cdnow(cdnow: Path) -> None:
    gg = fit(cdnow, "gamma_gamma")
    assert gg["is_converged"], gg["message"]
    assert gg["customers_used"] == 946
    for name, published in PAPER_GAMMA_GAMMA.items():
        assert gg[name] == pytest.approx(published, abs=0.05), name


def test_every_buyer_has_predictions_and_the_back_test_has_rows(cdnow: Path) -> None:
    with duckdb.connect(str(cdnow), read_only=True) as con:
        buyers, predicted, risks = con.execute(
            "select count(*), count(p_alive), count(distinct churn_risk) from marts.dim_users"
            " where buyer_status <> 'prospect'"
        ).fetchone()
        single = con.execute(
            "select min(p_alive), max(p_alive), any_value(purchase_model) from marts.dim_users"
            " where buyer_status = 'one_time'"
        ).fetchone()
        calibration = con.execute(
            "select breakdown, count(*), sum(buyers) from marts.rpt_prediction_calibration"
            " group by breakdown order by breakdown"
        ).fetchall()
    assert buyers == predicted == 2357
    assert risks == 3
    if single[2] == "bgnbd":
        assert single[:2] == (1.0, 1.0)  # no dropout before a repeat purchase in the BG/NBD
    else:  # the Pareto/NBD and the MBG/NBD let a one-time buyer be gone
        assert 0 < single[0] <= single[1] < 1
    totals = dict((name, total) for name, _, total in calibration)
    assert totals["total"] == totals["repeat_purchase_days"] == totals["rfm_segment"] > 0
