"""Bad input to `seedgen evaluate`: one clear line and exit 2, or a warning and "not computed, because ..."
with the report still rendered. Also: the metric registry contract and escaping of user-controlled names.
"""

from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import seedgen
from seedgen.cli import main
from seedgen.errors import UserInputError
from seedgen.evaluation.base import Goal
from seedgen.evaluation.metrics import Metrics
from seedgen.evaluation.registry import METRICS


def _table(n: int = 600, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(50, 10, n)
    return pd.DataFrame(
        {
            "amount": np.round(x * 100, 2),
            "rate": np.round(x / 10 + rng.normal(0, 0.5, n), 2),
            "grade": np.where(x > 55, "A", np.where(x > 45, "B", "C")),
            "flag": rng.random(n) < 0.3,
            "opened": pd.date_range("2020-01-01", periods=n, freq="D").strftime("%Y-%m-%d"),
            "label": np.where(x + rng.normal(0, 5, n) > 50, "yes", "no"),
        }
    )


@pytest.fixture
def tables(tmp_path):
    real, syn, hold = _table(seed=0), _table(seed=1), _table(400, seed=2)
    paths = {}
    for name, df in (("real", real), ("syn", syn), ("hold", hold)):
        paths[name] = tmp_path / f"{name}.csv"
        df.to_csv(paths[name], index=False)
    return paths, real, syn, hold


def _cli(*args):
    return CliRunner().invoke(main, ["evaluate", *map(str, args), "--quiet"])


def test_cli_evaluate_writes_report_and_metrics(tables, tmp_path):
    paths, *_ = tables
    out = tmp_path / "report"
    result = _cli(paths["real"], paths["syn"], "-o", out, "--holdout", paths["hold"], "--target", "label")
    assert result.exit_code == 0, result.output
    m = Metrics.model_validate(json.loads((out / "metrics.json").read_text()))
    assert m.utility.score.value is not None and m.fidelity.shape.ceiling is not None
    assert (out / "report.html").stat().st_size > 10_000


def test_holdout_with_other_columns_exits_2_with_one_line(tables, tmp_path):
    paths, _, _, hold = tables
    bad = tmp_path / "bad_hold.csv"
    hold.drop(columns=["rate"]).assign(extra=1).to_csv(bad, index=False)
    result = _cli(paths["real"], paths["syn"], "-o", tmp_path / "r", "--holdout", bad)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert "missing: rate" in lines[0] and "extra: extra" in lines[0]
    assert not (tmp_path / "r" / "report.html").exists()


def test_unknown_target_exits_2(tables, tmp_path):
    paths, *_ = tables
    result = _cli(paths["real"], paths["syn"], "-o", tmp_path / "r", "--target", "nope")
    assert result.exit_code == 2
    assert "target column 'nope' is not in the real table" in result.stderr
    assert "Traceback" not in result.output


def test_compare_with_wrong_number_of_names_exits_2(tables, tmp_path):
    paths, *_ = tables
    result = CliRunner().invoke(
        main,
        [
            "compare",
            str(paths["real"]),
            str(paths["syn"]),
            str(paths["hold"]),
            "--names",
            "A",
            "-o",
            str(tmp_path / "r"),
            "--quiet",
        ],
    )
    assert result.exit_code == 2
    assert "1 name(s) for 2 synthetic table(s)" in result.stderr


def test_missing_and_extra_synthetic_columns_warn_and_still_render(tables, tmp_path, caplog):
    _, real, syn, _ = tables
    syn = syn.drop(columns=["rate"]).assign(bonus=1.0)
    with caplog.at_level(logging.WARNING, logger="seedgen"):
        m = seedgen.evaluate(real, syn, tmp_path / "r", quiet=True)
    assert m.fidelity.not_computed["rate"] == "missing from the synthetic table"
    assert any("missing from the synthetic table: rate" in w for w in m.warnings)
    assert any("bonus" in w and "ignored" in w for w in m.warnings)
    assert "rate" not in {c.name for c in m.fidelity.columns}
    html = (tmp_path / "r" / "report.html").read_text()
    assert "missing from the synthetic table" in html


def test_mistyped_synthetic_column_is_not_computed(tables, tmp_path):
    _, real, syn, _ = tables
    syn["amount"] = "lots"
    m = seedgen.evaluate(real, syn, tmp_path / "r", quiet=True)
    assert "are not numbers" in m.fidelity.not_computed["amount"]
    assert m.fidelity.shape.value is not None


def test_target_with_one_class_marks_utility_not_computed(tables, tmp_path):
    _, real, syn, _ = tables
    real = real.assign(label="yes")
    m = seedgen.evaluate(real, syn, tmp_path / "r", target="label", quiet=True)
    assert m.utility.score.value is None
    assert "1 distinct value" in m.utility.score.not_computed
    assert "Not computed, because" in (tmp_path / "r" / "report.html").read_text()


def test_synthetic_target_with_one_class_marks_tstr_not_computed(tables, tmp_path):
    _, real, syn, hold = tables
    m = seedgen.evaluate(
        real, syn.assign(label="no"), tmp_path / "r", holdout=hold, target="label", quiet=True
    )
    assert m.utility.score.value is None
    assert "single class" in m.utility.score.not_computed
    assert all(mu.trtr["roc_auc"] is not None and mu.tstr == {} for mu in m.utility.models)


def test_all_null_column_is_not_computed(tables, tmp_path):
    _, real, syn, _ = tables
    real = real.assign(empty=None)
    syn = syn.assign(empty=None)
    m = seedgen.evaluate(real, syn, tmp_path / "r", quiet=True)
    assert m.fidelity.not_computed["empty"] == "all null in the real table"
    assert any("empty" in w and "all null" in w for w in m.warnings)


def test_empty_synthetic_column_scores_zero_not_crash(tables, tmp_path):
    _, real, syn, _ = tables
    syn["rate"] = np.nan
    m = seedgen.evaluate(real, syn, tmp_path / "r", quiet=True)
    col = next(c for c in m.fidelity.columns if c.name == "rate")
    assert col.score.value == 0.0 and "no values" in col.note


def test_synthetic_sharing_no_column_is_a_user_error(tables, tmp_path):
    _, real, _, _ = tables
    with pytest.raises(UserInputError, match="shares no column"):
        seedgen.evaluate(real, pd.DataFrame({"x": [1, 2]}), tmp_path / "r", quiet=True)


def test_rule_conformance_with_the_lending_pack(tmp_path):
    """Real rules from the filter engine on the loans example: broken sub_grade rows fail the pack."""
    from seedgen.io import read_table

    df = read_table("examples/lending_club/lending_club_loans.csv").data.head(3000)
    syn = df.copy()
    syn.loc[: len(syn) // 2, "sub_grade"] = "A1"  # grade/sub-grade alignment broken in ~half the rows
    m = seedgen.evaluate(df, syn, tmp_path / "r", rules=["lending"], quiet=True)
    assert m.conformance.all_rules.value is not None and m.conformance.all_rules.value < 0.7
    assert m.conformance.rules and min(m.conformance.rules.values()) < 0.7
    without = seedgen.evaluate(df, syn, tmp_path / "r2", quiet=True)
    assert "no rules given" in without.conformance.all_rules.not_computed


def test_user_controlled_names_are_escaped(tables, tmp_path):
    _, real, syn, _ = tables
    evil = "<script>alert(1)</script>"
    real, syn = real.rename(columns={"grade": evil}), syn.rename(columns={"grade": evil})
    seedgen.compare(real, [syn], tmp_path / "r", names=["<b>set</b>"], quiet=True)
    html = (tmp_path / "r" / "report.html").read_text()
    assert evil not in html and "&lt;script&gt;" in html
    assert "<b>set</b>" not in html


def test_every_registered_metric_declares_goal_and_bounds():
    assert len(METRICS) >= 15
    for name, metric in METRICS.items():
        assert metric.name == name and "." in name
        assert isinstance(metric.goal, Goal)
        assert metric.min_value < metric.max_value
        assert metric.description and metric.__doc__
        assert metric.level in ("column", "pair", "table")


def test_compute_is_the_breakdown_score():
    real, syn = _table(seed=0), _table(seed=1)
    amount_r, amount_s = real["amount"], syn["amount"]
    for key in (
        "fidelity.ks_complement",
        "fidelity.wasserstein",
        "fidelity.js_distance",
        "fidelity.range_coverage",
    ):
        metric = METRICS[key]
        assert metric.compute(amount_r, amount_s) == metric.compute_breakdown(amount_r, amount_s)["score"]
    tv = METRICS["fidelity.tv_complement"]
    assert (
        tv.compute(real["grade"], syn["grade"]) == tv.compute_breakdown(real["grade"], syn["grade"])["score"]
    )
    assert tv.compute(real["grade"], real["grade"]) == 1.0
    assert METRICS["fidelity.ks_complement"].normalize(0.8) == pytest.approx(0.8)
    assert METRICS["fidelity.wasserstein"].normalize(0.0) == 1.0


def test_numeric_target_is_regressed(tables, tmp_path):
    _, real, syn, hold = tables
    m = seedgen.evaluate(real, syn, tmp_path / "r", holdout=hold, target="rate", quiet=True)
    assert m.utility.task == "regression" and m.utility.main_metric == "r2"
    assert {"r2", "mae", "rmse"} == set(m.utility.models[0].trtr)
    assert m.utility.models[0].trtr["r2"] > 0.5  # rate follows amount closely in these tables
    assert m.utility.score.value > 0.5  # an independent sample of the same process is useful


def test_gain_ratio_is_relative_to_chance():
    from seedgen.evaluators.utility.tstr import gain_ratio

    assert gain_ratio(0.9, 0.9, 0.5) == 1.0
    assert gain_ratio(0.7, 0.9, 0.5) == pytest.approx(0.5)
    assert gain_ratio(0.45, 0.9, 0.5) == pytest.approx(-0.125)  # worse than chance stays visible
    assert gain_ratio(0.8, 0.5, 0.5) is None  # real models at chance: the ratio means nothing
