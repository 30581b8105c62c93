"""Constraint discovery: the real rules of the loans table are found with their support; independent
random columns yield nothing; planted rules of every kind are found on small generated tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from seedgen.io import Table, read_table
from seedgen.profiling.constraints import discover
from seedgen.schema import coerce, infer_schema


def _discover(df: pd.DataFrame, seed: int = 0):
    table = Table(data=df, raw=df.astype(str).astype(object).where(df.notna(), None), path="<test>")
    specs = infer_schema(table)
    return discover(coerce(df, specs), specs, seed=seed)


@pytest.fixture(scope="module")
def loan_rules(loans_path):
    table = read_table(loans_path)
    specs = infer_schema(table)
    return discover(coerce(table.data, specs), specs)


def test_loans_required_constraints(loan_rules):
    by_kind = {}
    for r in loan_rules:
        by_kind.setdefault(r.kind, []).append(r)
        assert 0.99 <= r.support <= 1 and r.n >= 30, r
    fds = {(r.lhs, r.rhs): r for r in by_kind["functional_dependency"]}
    fd = fds[("sub_grade", "grade")]
    assert fd.support == 1.0 and fd.n == 10_000 and fd.mapping["C3"] == "C"
    band = next(
        r for r in by_kind["category_band"] if r.category == "sub_grade" and r.column == "interest_rate"
    )
    assert len(band.bands) == 32
    lo, hi = band.bands["A1"]
    assert 5 <= lo <= hi <= 8  # A1 loans carry the lowest rates
    assert any(
        r.left == "open_credit_lines" and r.right == "total_credit_lines" for r in by_kind["inequality"]
    )
    linear = {(r.target, frozenset(r.terms.items())): r for r in by_kind["linear"]}
    paid = linear[
        ("paid_total", frozenset({("paid_principal", 1.0), ("paid_interest", 1.0), ("paid_late_fees", 1.0)}))
    ]
    assert paid.support >= 0.99
    # balance = loan_amount - paid_principal, in its all-positive form.
    assert ("loan_amount", frozenset({("balance", 1.0), ("paid_principal", 1.0)})) in linear


def test_loans_conditional_range_and_null_pattern(loan_rules):
    cond = [r for r in loan_rules if r.kind == "conditional_range"]
    assert any(
        r.when_column == "inquiries_last_12m"
        and r.when == "positive"
        and r.column == "months_since_last_credit_inquiry"
        and r.high == 12
        for r in cond
    )
    nulls = [r for r in loan_rules if r.kind == "null_pattern"]
    assert any({r.column, r.when_column} == {"annual_income_joint", "debt_to_income_joint"} for r in nulls)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_nothing_spurious_on_independent_columns(seed):
    rng = np.random.default_rng(seed)
    n = 3000
    df = pd.DataFrame(
        {
            "normal": rng.normal(50, 10, n).round(2),
            "uniform": rng.uniform(0, 100, n).round(2),
            "expo": rng.exponential(1000, n).round(2),
            "counts": rng.poisson(0.2, n),
            "counts2": rng.poisson(0.1, n),
            "counts3": rng.poisson(0.05, n),
            "small": rng.integers(1, 6, n),
            "small2": rng.integers(1, 6, n),
            "big": rng.integers(100, 200, n),
            "gappy": np.where(rng.random(n) < 0.3, np.nan, rng.normal(0, 1, n).round(3)),
            "gappy2": np.where(rng.random(n) < 0.3, np.nan, rng.normal(0, 1, n).round(3)),
            "color": rng.choice(["red", "green", "blue", "grey"], n),
            "shape": rng.choice(["circle", "square"], n, p=[0.97, 0.03]),
            "code": rng.choice([f"K{i}" for i in range(200)], n),
            "flag": rng.choice(["yes", "no"], n),
        }
    )
    rules = _discover(df, seed)
    assert rules == [], [r.description for r in rules]


def test_planted_rules_of_every_kind():
    rng = np.random.default_rng(7)
    n = 2000
    qty = rng.integers(1, 20, n)
    price = rng.uniform(1, 100, n).round(2)
    a = rng.uniform(0, 1000, n).round(2)
    b = rng.uniform(0, 500, n).round(2)
    region = rng.choice([f"R{i}" for i in range(12)], n)
    zone = np.array([f"Z{int(r[1:]) % 3}" for r in region])
    tier = rng.choice(["t1", "t2", "t3", "t4"], n)
    fee = np.select([tier == "t1", tier == "t2", tier == "t3"], [1.0, 5.0, 9.0], 13.0) + rng.uniform(0, 1, n)
    visits = rng.poisson(1.0, n)
    days_since = np.where(visits > 0, rng.integers(0, 31, n), rng.integers(31, 400, n))
    partner = rng.random(n) < 0.4
    df = pd.DataFrame(
        {
            "qty": qty,
            "price": price,
            "total": (qty * price).round(2),
            "a": a,
            "b": b,
            "a_plus_b": (a + b).round(2),
            "low": (a * rng.uniform(0.1, 0.9, n)).round(2),
            "region": region,
            "zone": zone,
            "tier": tier,
            "fee": fee.round(2),
            "visits": visits,
            "days_since": days_since,
            "partner_income": np.where(partner, rng.normal(5e4, 1e4, n).round(0), np.nan),
            "partner_age": np.where(partner, rng.integers(20, 70, n), np.nan),
        }
    )
    rules = _discover(df)
    kinds = {
        (r.kind, getattr(r, "target", None) or getattr(r, "rhs", None) or getattr(r, "column", None))
        for r in rules
    }
    assert ("product", "total") in kinds
    assert ("linear", "a_plus_b") in kinds
    assert any(r.kind == "inequality" and (r.left, r.right) == ("low", "a") for r in rules)
    assert any(r.kind == "functional_dependency" and (r.lhs, r.rhs) == ("region", "zone") for r in rules)
    assert any(r.kind == "category_band" and (r.category, r.column) == ("tier", "fee") for r in rules)
    assert any(
        r.kind == "conditional_range"
        and r.when_column == "visits"
        and r.column == "days_since"
        and r.high == 30
        for r in rules
    )
    assert any(
        r.kind == "null_pattern" and {r.column, r.when_column} == {"partner_income", "partner_age"}
        for r in rules
    )
    product = next(r for r in rules if r.kind == "product" and r.target == "total")
    assert product.factors == {"qty": 1, "price": 1} and product.scale == 1


def test_too_few_rows_gives_no_rules():
    df = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [2.0, 4.0, 6.0]})
    assert _discover(df) == []


def _stays(n: int = 1500, seed: int = 0) -> pd.DataFrame:
    """Hospital-like stays: discharge after admission by a length of stay kept in its own column."""
    rng = np.random.default_rng(seed)
    admitted = pd.Timestamp("2021-01-01") + pd.to_timedelta(rng.integers(0, 900, n), unit="D")
    stay = rng.integers(1, 15, n)
    return pd.DataFrame(
        {
            "admitted": admitted.strftime("%d/%m/%Y"),
            "discharged": (admitted + pd.to_timedelta(stay, unit="D")).strftime("%d/%m/%Y"),
            "stay_days": stay,
            "ward": rng.choice(["a", "b", "c"], n),
            "followup": (admitted + pd.to_timedelta(rng.integers(-400, 400, n), unit="D")).strftime(
                "%d/%m/%Y"
            ),
        }
    )


def test_date_order_and_difference_are_found_and_drawn_exactly():
    from seedgen.profiling import profile
    from seedgen.sampler.draw import sample_rows

    rules = _discover(_stays())
    orders = {(r.left, r.right) for r in rules if r.kind == "inequality"}
    assert orders == {("admitted", "discharged")}  # the unrelated follow-up date is ordered by chance only
    (diff,) = [r for r in rules if r.kind == "linear"]
    assert diff.target == "stay_days" and diff.terms == {"discharged": 1.0, "admitted": -1.0}
    assert diff.support == 1.0

    seeds = profile(_stays(), quiet=True)
    rows = sample_rows(seeds, 2000, seed=1)
    days = (rows["discharged"] - rows["admitted"]).dt.days
    assert (days == rows["stay_days"]).all() and (days >= 1).all()
    real = _stays()["stay_days"]
    assert abs(rows["stay_days"].mean() - real.mean()) < 0.3  # the stay keeps its own distribution
