"""Schema inference: each column's kind and written format, and the round trip back to the same strings."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from seedgen.io import read_table
from seedgen.schema import coerce, infer_schema, render, spec_by_name


@pytest.fixture()
def mixed_csv(tmp_path):
    rng = np.random.default_rng(1)
    n = 300
    months = pd.date_range("2015-01-01", periods=36, freq="MS").strftime("%b-%Y")
    words = ["nurse", "teacher", "driver", "engineer", "clerk", "manager", "cook", "pilot"]
    df = pd.DataFrame(
        {
            "account": [f"AC{100000 + i}" for i in range(n)],
            "rate": [f"{v:.2f}" for v in rng.uniform(5, 30, n)],
            "ratio": [f"{v:.1f}" for v in rng.uniform(0, 1, n)],
            "count": rng.poisson(3, n),
            "issued": rng.choice(months, n),
            "paid": rng.choice(["true", "false"], n),
            "grade": rng.choice(list("ABCDE"), n),
            "title": [f"{rng.choice(words)} {rng.choice(words)} {i}" for i in range(n)],
            "zip": [f"{v:05d}" for v in rng.integers(0, 2000, n)],
        }
    )
    path = tmp_path / "mixed.csv"
    df.to_csv(path, index=False)
    return path


def test_kinds_and_formats(mixed_csv):
    specs = spec_by_name(infer_schema(read_table(mixed_csv)))
    assert specs["account"].kind == "id" and specs["account"].excluded
    assert specs["rate"].kind == "numeric" and specs["rate"].decimals == 2 and specs["rate"].fixed_decimals
    assert specs["ratio"].kind == "numeric" and specs["ratio"].decimals == 1
    assert specs["count"].kind == "integer" and specs["count"].decimals == 0
    assert specs["issued"].kind == "datetime" and specs["issued"].date_format == "%b-%Y"
    assert specs["paid"].kind == "boolean"
    assert specs["grade"].kind == "categorical"
    assert {c.value for c in specs["grade"].categories} == set("ABCDE")
    assert abs(sum(c.frequency for c in specs["grade"].categories) - 1) < 1e-6
    assert specs["title"].kind == "text" and specs["title"].llm
    # Leading zeros keep a code a string, never a number.
    assert specs["zip"].kind in ("categorical", "text", "id")


def test_render_round_trips_the_written_strings(mixed_csv):
    table = read_table(mixed_csv)
    specs = infer_schema(table)
    typed = coerce(table.data, specs)
    assert typed["issued"].dtype.kind == "M"
    assert typed["rate"].dtype == np.float64
    out = render(typed, specs)
    raw = pd.read_csv(mixed_csv, dtype=str, keep_default_na=False)
    for col in ["rate", "ratio", "count", "issued", "grade", "title", "zip"]:
        assert out[col].tolist() == raw[col].tolist(), col


def test_null_rate_rare_categories_and_constant(tmp_path):
    n = 1000
    df = pd.DataFrame(
        {
            "city": ["Paris"] * 900 + ["Lyon"] * 98 + ["Brest"] * 2,
            "const": ["x"] * n,
            "income": [None if i % 10 == 0 else 1000.5 + i for i in range(n)],
        }
    )
    path = tmp_path / "t.csv"
    df.to_csv(path, index=False)
    specs = spec_by_name(infer_schema(read_table(path)))
    assert specs["city"].kind == "categorical"
    assert {c.value for c in specs["city"].categories} == {"Paris", "Lyon", "Brest"}  # rare kept
    assert specs["const"].excluded and specs["const"].exclude_reason == "constant"
    assert specs["income"].null_rate == pytest.approx(0.1)
    assert specs["income"].nullable


def test_drop_and_target(mixed_csv):
    specs = spec_by_name(infer_schema(read_table(mixed_csv), drop=["grade"], target="paid"))
    assert specs["grade"].excluded and "drop" in specs["grade"].exclude_reason
    assert specs["paid"].target and not specs["paid"].llm


def test_loans_example_kinds(loans_path):
    specs = spec_by_name(infer_schema(read_table(loans_path)))
    assert specs["emp_title"].kind == "text"
    assert specs["issue_month"].kind == "datetime" and specs["issue_month"].date_format == "%b-%Y"
    assert specs["interest_rate"].kind == "numeric" and specs["interest_rate"].decimals == 2
    assert specs["loan_amount"].kind == "integer"
    assert specs["sub_grade"].kind == "categorical" and len(specs["sub_grade"].categories) == 32
    assert specs["annual_income_joint"].null_rate > 0.8


def test_numbers_written_with_currency_percent_and_commas_round_trip(tmp_path):
    """`$27,100.00` and `13.56%` are numbers (as raw Lending Club files write them), written back alike."""
    rng = np.random.default_rng(2)
    n = 200
    amounts = rng.integers(-50, 4000, n) * 25.0
    rates = rng.uniform(5, 30, n).round(2)
    df = pd.DataFrame(
        {
            "amount": [f"-${-a:,.2f}" if a < 0 else f"${a:,.2f}" for a in amounts],
            "rate": [f"{r:.2f}%" for r in rates],
            "units": [f"{v:,}" for v in rng.integers(0, 3_000_000, n)],
            "label": [f"{v}% off" for v in rng.integers(1, 90, n)],  # words too: stays text/categorical
        }
    )
    path = tmp_path / "formatted.csv"
    df.to_csv(path, index=False)
    table = read_table(path)
    specs = spec_by_name(infer_schema(table))
    assert specs["amount"].kind == "numeric" and specs["amount"].number_format.prefix == "$"
    assert specs["amount"].number_format.thousands and specs["amount"].decimals == 2
    assert specs["rate"].kind == "numeric" and specs["rate"].number_format.suffix == "%"
    assert specs["units"].kind == "integer" and specs["units"].number_format.thousands
    assert specs["label"].number_format is None and specs["label"].kind in ("categorical", "text")
    typed = coerce(table.data, list(specs.values()))
    assert np.allclose(typed["amount"], amounts) and np.allclose(typed["rate"], rates)
    back = render(typed, list(specs.values()))
    for col in ["amount", "rate", "units"]:
        assert back[col].tolist() == df[col].tolist(), col


@pytest.mark.parametrize(
    ("written", "fmt"),
    [
        ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%SZ"),
        ("%Y-%m-%d %H:%M:%S+00:00", "%Y-%m-%d %H:%M:%S+00:00"),
        ("%Y-%m-%d %H:%M:%S UTC", "%Y-%m-%d %H:%M:%S UTC"),
    ],
)
def test_timestamps_with_one_zone_are_dates_drawn_on_their_step(tmp_path, written, fmt):
    from seedgen.profiling import profile
    from seedgen.sampler.draw import sample_rows

    stamps = pd.date_range("2021-03-01", periods=400, freq="7h")
    rng = np.random.default_rng(0)
    path = tmp_path / "events.csv"
    pd.DataFrame({"at": stamps.strftime(written), "v": rng.normal(size=400).round(3)}).to_csv(
        path, index=False
    )
    spec = spec_by_name(infer_schema(read_table(path)))["at"]
    assert (spec.kind, spec.date_format, spec.date_step) == ("datetime", fmt, 3600)
    seeds = profile(path, clusters=2, seed=0, quiet=True)
    drawn = render(sample_rows(seeds, 300, seed=1), seeds.columns)["at"].dropna()
    parsed = pd.to_datetime(drawn, format=fmt)
    assert parsed.notna().all() and (parsed.dt.minute == 0).all() and (parsed.dt.second == 0).all()
    assert len(set(parsed) - set(stamps)) > 0  # drawn, not copied: the times between are new


def test_a_column_mixing_zone_offsets_stays_text(tmp_path):
    path = tmp_path / "local.csv"
    at = [f"2021-03-{d:02d} 08:00:00+0{1 + d % 2}:00" for d in range(1, 29)]
    pd.DataFrame({"at": at}).to_csv(path, index=False)
    assert spec_by_name(infer_schema(read_table(path)))["at"].kind != "datetime"


def test_dates_written_without_leading_zeros_are_written_back_so(tmp_path):
    path = tmp_path / "excel.csv"
    stamps = pd.date_range("2021-01-01 08:05", periods=300, freq="37h")
    written = [f"{t.month}/{t.day}/{t.year} {(t.hour - 1) % 12 + 1}:{t.minute:02d} {t:%p}" for t in stamps]
    pd.DataFrame({"at": written, "v": range(300)}).to_csv(path, index=False)
    table = read_table(path)
    spec = spec_by_name(infer_schema(table))["at"]
    assert (spec.kind, spec.date_format, spec.date_unpadded) == ("datetime", "%m/%d/%Y %I:%M %p", True)
    back = render(coerce(table.data, [spec]), [spec])["at"]
    assert back.tolist() == written
