"""Property tests: the EMI rule against the loan formula, and row-wise independence of the engine."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from seedgen.rules.lending import emi

from seedgen.filtering import check_rows
from seedgen.io import read_table
from seedgen.schema import ColumnSpec, coerce, infer_schema
from seedgen.seeds import FunctionalDependency, ProfileSettings, SeedFile, SourceInfo

LOAN_SEEDS = SeedFile(
    source=SourceInfo(file="loans.csv", rows=1, columns=4),
    settings=ProfileSettings(),
    columns=[
        ColumnSpec(name="loan_amount", kind="integer", decimals=0),
        ColumnSpec(name="interest_rate", kind="numeric", decimals=2, max=35.0),
        ColumnSpec(name="term", kind="integer", decimals=0),
        ColumnSpec(name="installment", kind="numeric", decimals=2),
    ],
    clusters=[],
)

loans = st.lists(
    st.tuples(
        st.integers(500, 50_000),
        st.integers(0, 3500).map(lambda r: r / 100),
        st.sampled_from([6, 12, 24, 36, 48, 60, 72, 84]),
    ),
    min_size=1,
    max_size=20,
)


def frame(rows, installment):
    df = pd.DataFrame(rows, columns=["loan_amount", "interest_rate", "term"]).astype(float)
    df["installment"] = installment(df)
    return df


@settings(max_examples=40, deadline=None)
@given(loans)
def test_emi_rounded_passes_and_pays_back_the_principal(rows):
    df = frame(rows, lambda d: np.round(emi(d.loan_amount, d.interest_rate, d.term), 2))
    report = check_rows(df, LOAN_SEEDS, rules=["lending"], select=["LN01"], fix=False)
    assert report.passed.all()
    total = emi(df.loan_amount, df.interest_rate, df.term) * df.term
    assert (total >= df.loan_amount - 1e-6).all()
    # a higher rate never lowers the instalment
    assert (
        emi(df.loan_amount, df.interest_rate + 1, df.term) > emi(df.loan_amount, df.interest_rate, df.term)
    ).all()


@settings(max_examples=40, deadline=None)
@given(loans, st.sampled_from([0.5, 0.97, 1.03, 2.0]))
def test_emi_off_by_more_than_one_percent_fails_and_is_recomputed(rows, factor):
    df = frame(rows, lambda d: emi(d.loan_amount, d.interest_rate, d.term) * factor)
    strict = check_rows(df, LOAN_SEEDS, rules=["lending"], select=["LN01"], fix=False)
    assert not strict.passed.any()
    fixed = check_rows(df, LOAN_SEEDS, rules=["lending"], select=["LN01"], fix=True)
    assert fixed.passed.all()
    want = np.round(emi(df.loan_amount, df.interest_rate, df.term), 2)
    np.testing.assert_allclose(fixed.frame["installment"], want, rtol=0, atol=1e-9)


# --------------------------------------------------------------------------- engine independence


def _set(**values):
    def corrupt(row: pd.Series) -> pd.Series:
        row = row.copy()
        for k, v in values.items():
            row[k] = v(row) if callable(v) else v
        return row

    return corrupt


CORRUPTIONS = {
    "none": _set(),
    "emi": _set(installment=lambda r: r["installment"] * 1.5),
    "grade": _set(grade="A"),
    "state": _set(state="Atlantis"),
    "null": _set(loan_amount=np.nan),
    "spelling": _set(homeownership=lambda r: str(r["homeownership"]).lower()),
    "range": _set(interest_rate=55.0),
    "sum": _set(paid_total=lambda r: r["paid_total"] + 500),
}


@pytest.fixture(scope="module")
def pool(loans_path):
    table = read_table(loans_path)
    columns = infer_schema(table)
    typed = coerce(table.data.head(60), columns)
    rules = [
        FunctionalDependency(
            lhs="sub_grade",
            rhs="grade",
            support=1.0,
            n=1,
            mapping={f"{g}{i}": g for g in "ABCDEFG" for i in range(1, 6)},
        )
    ]
    from seedgen.seeds import LinearIdentity

    rules.append(
        LinearIdentity(
            target="paid_total",
            terms={"paid_principal": 1, "paid_interest": 1, "paid_late_fees": 1},
            tolerance=0.01,
            support=1.0,
            n=1,
        )
    )
    seeds = SeedFile(
        source=SourceInfo(file="loans.csv", rows=1, columns=len(columns)),
        settings=ProfileSettings(),
        columns=columns,
        clusters=[],
        rules=rules,
    )
    return seeds, typed


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(st.tuples(st.integers(0, 59), st.sampled_from(sorted(CORRUPTIONS))), min_size=2, max_size=25),
    st.data(),
)
def test_a_rows_verdict_does_not_depend_on_the_batch(pool, picks, data):
    seeds, typed = pool
    batch = pd.DataFrame([CORRUPTIONS[c](typed.iloc[i]) for i, c in picks]).reset_index(drop=True)
    batch = coerce(batch, seeds.columns)
    keep = data.draw(st.lists(st.integers(0, len(batch) - 1), min_size=1, unique=True))
    whole = check_rows(batch, seeds, rules=["lending"])
    part = check_rows(batch.loc[sorted(keep)], seeds, rules=["lending"])
    idx = part.passed.index
    assert whole.passed[idx].equals(part.passed)
    assert whole.reasons[idx].equals(part.reasons)
    assert whole.fixed[idx].equals(part.fixed)
    pd.testing.assert_frame_equal(whole.frame.loc[idx], part.frame)
