"""Known-answer tests for `seedgen evaluate`/`compare` on the example tables.

Each synthetic set is built so the right answer is known: a copy of the training rows (perfect fidelity,
and a privacy leak), a column-shuffled table (perfect shapes, broken pairs), a 10 %-perturbed copy (no
exact copies, but still a leak), fresh real rows the generator never saw (near the ceilings, no leak), and
independent noise (useless for a model).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import seedgen
from seedgen.evaluation.metrics import Comparison
from seedgen.io import read_table


def _split(df: pd.DataFrame, seed: int = 0):
    """training rows (what a generator saw), holdout rows, and fresh real rows (a stand-in generator)."""
    rng = np.random.default_rng(seed)
    idx = rng.permutation(len(df))
    n = len(df) // 2
    m = (len(df) - n) // 2
    return (
        df.iloc[idx[:n]].reset_index(drop=True),
        df.iloc[idx[n : n + m]].reset_index(drop=True),
        df.iloc[idx[n + m :]].reset_index(drop=True),
    )


def _shuffled(df: pd.DataFrame, seed: int = 1) -> pd.DataFrame:
    """Every column permuted independently: the marginals survive, every dependence is destroyed."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({c: rng.permutation(df[c].to_numpy()) for c in df.columns})


def _perturbed(df: pd.DataFrame, seed: int = 2) -> pd.DataFrame:
    """Each number moved by noise of 10 % of its column's std; 10 % of category cells swapped for other values."""
    rng = np.random.default_rng(seed)
    out = df.copy()
    for c in df.columns:
        s = df[c]
        if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
            out[c] = (s + rng.normal(0, 0.1 * s.std(), len(s))).round(2)
        else:
            swap = rng.random(len(s)) < 0.1
            out.loc[swap, c] = rng.choice(s.dropna().to_numpy(), int(swap.sum()))
    return out


@pytest.fixture(scope="module")
def loans_result(tmp_path_factory):
    df = read_table("examples/lending_club/lending_club_loans.csv").data
    train, holdout, fresh = _split(df)
    out = tmp_path_factory.mktemp("loans_report")
    names = ["copy", "shuffled", "perturbed", "fresh"]
    comparison = seedgen.compare(
        train,
        [train.copy(), _shuffled(train), _perturbed(train), fresh],
        out,
        names=names,
        holdout=holdout,
        quiet=True,
    )
    return {n: m for n, m in zip(comparison.names, comparison.sets, strict=True)}, out


def test_identical_table_scores_at_the_ceiling(loans_result):
    sets, _ = loans_result
    m = sets["copy"]
    assert m.fidelity.shape.value == pytest.approx(1.0)
    assert m.fidelity.pairs.value == pytest.approx(1.0)
    assert m.fidelity.shape.value >= m.fidelity.shape.ceiling
    assert m.fidelity.pairs.value >= m.fidelity.pairs.ceiling
    assert m.fidelity.correlation_difference.value == pytest.approx(0.0, abs=1e-12)
    assert m.fidelity.category_coverage.value == pytest.approx(1.0)
    assert all(c.score.value == pytest.approx(1.0) for c in m.fidelity.columns)
    assert m.detection.auc.value < 0.56  # a classifier cannot tell a table from itself


def test_shuffled_columns_keep_shapes_but_lose_pairs(loans_result):
    sets, _ = loans_result
    m = sets["shuffled"]
    assert m.fidelity.shape.value > 0.99
    assert m.fidelity.pairs.value < m.fidelity.pairs.ceiling - 0.08
    assert m.fidelity.pairs.value < m.fidelity.shape.value - 0.08
    assert m.fidelity.correlation_difference.value > 5 * m.fidelity.correlation_difference.ceiling
    assert m.detection.auc.value > 0.7  # broken dependencies give rows away


def test_copy_of_training_rows_is_flagged(loans_result):
    sets, _ = loans_result
    p = sets["copy"].privacy
    assert p.flagged
    assert p.exact_match_share.value == pytest.approx(1.0)
    assert p.exact_match_share.ceiling < 0.01
    # training is subsampled to the holdout's size, so a full copy scores 0.5 + 0.5 · 2500/5000 = 0.75
    assert p.dcr_share.value > 0.7
    assert p.dcr_median.value == pytest.approx(0.0)
    assert any("exact copies" in r for r in p.reasons)


def test_perturbed_copy_is_flagged_without_exact_copies(loans_result):
    sets, _ = loans_result
    p = sets["perturbed"].privacy
    assert p.exact_match_share.value < 0.01  # the naive check is fooled ...
    assert p.flagged  # ... the distance checks are not
    assert p.dcr_share.value > 0.65
    assert p.too_close_share.value > 0.5


def test_fresh_real_rows_are_not_flagged_and_near_ceilings(loans_result):
    sets, _ = loans_result
    m = sets["fresh"]
    assert not m.privacy.flagged, m.privacy.reasons
    assert 0.4 < m.privacy.dcr_share.value < 0.6
    assert abs(m.fidelity.shape.value - m.fidelity.shape.ceiling) < 0.02
    assert abs(m.fidelity.pairs.value - m.fidelity.pairs.ceiling) < 0.02
    assert m.detection.auc.value < 0.6


def test_compare_writes_one_report_and_a_valid_metrics_json(loans_result):
    sets, out = loans_result
    html = (out / "report.html").read_text()
    for name in sets:
        assert name in html
    assert "<script src" not in html and "http://" not in html.replace("http://www.w3.org", "")
    data = json.loads((out / "metrics.json").read_text())
    back = Comparison.model_validate(data)
    assert back.names == ["copy", "shuffled", "perturbed", "fresh"]
    assert back.sets[0].holdout is not None


def test_report_holds_no_real_row(loans_result, tmp_path):
    """Distinctive real strings (free-text job titles) never reach the report; aggregates only."""
    _, out = loans_result
    html = (out / "report.html").read_text()
    df = read_table("examples/lending_club/lending_club_loans.csv").data
    titles = df["emp_title"].dropna().astype(str).str.strip()
    distinctive = titles[titles.str.len() > 25].unique()[:200]
    assert len(distinctive) > 20
    assert not [t for t in distinctive if t in html]


@pytest.fixture(scope="module")
def credit_result(tmp_path_factory):
    df = read_table("examples/credit_minority/lending_club_credit.csv").data
    train, holdout, fresh = _split(df, seed=3)
    out = tmp_path_factory.mktemp("credit_report")
    comparison = seedgen.compare(
        train,
        [fresh, _shuffled(train)],
        out,
        names=["fresh", "noise"],
        holdout=holdout,
        target="Class",
        quiet=True,
    )
    out = {n: m for n, m in zip(comparison.names, comparison.sets, strict=True)}
    out["fresh_rows"] = fresh
    return out


def test_independent_noise_scores_low_on_utility(credit_result):
    good, noise = credit_result["fresh"].utility, credit_result["noise"].utility
    assert good.task == "classification" and good.main_metric == "roc_auc"
    assert "holdout" in good.test_set
    assert {m.model for m in good.models} == {"logistic_regression", "random_forest", "gradient_boosting"}
    for mu in good.models:
        assert set(mu.trtr) == {"accuracy", "precision", "recall", "f1", "roc_auc"}
        assert mu.trtr["roc_auc"] > 0.6
    assert good.score.value > 0.7
    assert noise.score.value < 0.3
    # TSTR and TRTR models train on the same number of rows (the synthetic sets here are the smaller side)
    assert good.train_rows == good.real_train_rows == len(credit_result["fresh_rows"])
    assert noise.train_rows == noise.real_train_rows <= 3000
    assert all(mu.tstr["roc_auc"] < 0.6 for mu in noise.models)
