"""`check_rows` and `filter_rows` on the real loans table: repairs, every reason kept, files as profiled."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from seedgen.cli import main
from seedgen.errors import FilterFailures, RuleError, UserInputError
from seedgen.filtering import check_rows, filter_rows
from seedgen.io import read_table
from seedgen.schema import coerce, infer_schema
from seedgen.seeds import DomainRule, FunctionalDependency, ProfileSettings, SeedFile, SourceInfo, save_seeds


@pytest.fixture(scope="module")
def loans(loans_path):
    table = read_table(loans_path)
    columns = infer_schema(table)
    rules = [
        FunctionalDependency(
            lhs="sub_grade",
            rhs="grade",
            support=1.0,
            n=10000,
            mapping={f"{g}{i}": g for g in "ABCDEFG" for i in range(1, 6)},
        )
    ]
    seeds = SeedFile(
        source=SourceInfo(file="loans.csv", rows=len(table.data), columns=len(columns)),
        settings=ProfileSettings(),
        columns=columns,
        clusters=[],
        rules=rules,
    )
    raw = pd.read_csv(loans_path, dtype=str, keep_default_na=False, na_values=[""]).head(300)
    return seeds, raw.astype(object).where(raw.notna(), None)


def broken(raw: pd.DataFrame) -> pd.DataFrame:
    df = raw.copy()
    df.loc[0, "installment"] = "100.00"  # wrong EMI: fixable
    df.loc[1, "grade"] = "A"  # sub_grade C1: fixable from sub_grade
    df.loc[2, "state"] = "Atlantis"  # unknown category: not fixable
    df.loc[2, "loan_amount"] = "999999"  # and out of range
    df.loc[3, "homeownership"] = "rent "  # respelled: fixable
    df.loc[4, "loan_amount"] = "twelve"  # unreadable
    df.loc[5, "annual_income"] = None  # never empty in the real data
    return df


def test_every_failure_is_kept_and_fixes_repair(loans):
    seeds, raw = loans
    df = broken(raw)
    typed = coerce(df, seeds.columns)
    strict = check_rows(typed, seeds, rules=["lending"], fix=False, raw=df)
    assert strict.passed.iloc[6:].all()
    assert not strict.passed.iloc[:6].any()
    assert "LN01" in strict.reasons[0]
    assert "LN02" in strict.reasons[1] and "CN01 grade" in strict.reasons[1]
    assert "CT01 state" in strict.reasons[2] and "RG01 loan_amount" in strict.reasons[2]
    assert "SC01 loan_amount" in strict.reasons[4]
    assert strict.reasons[5] == "NL01 annual_income: empty, but never empty in the real data"
    assert set(strict.failures.columns) >= {"rule", "code", "column", "index", "failure_case", "reason"}

    fixed = check_rows(typed, seeds, rules=["lending"], fix=True, raw=df)
    assert fixed.passed[[0, 1, 3]].all() and not fixed.passed[[2, 4, 5]].any()
    assert fixed.frame.loc[0, "installment"] == 652.53
    assert fixed.frame.loc[1, "grade"] == "C" and fixed.frame.loc[3, "homeownership"] == "RENT"
    assert fixed.fixed[[0, 1, 3]].all() and not fixed.fixed.iloc[6:].any()
    stats = fixed.stats.set_index("code")
    assert stats.loc["LN01", "fixed"] == 2 and stats.loc["CT01", "failed"] == 1
    # the input frame is not modified
    assert typed.loc[0, "installment"] == 100.0


def test_lazy_false_stops_at_the_first_failing_rule(loans):
    seeds, raw = loans
    typed = coerce(broken(raw), seeds.columns)
    with pytest.raises(FilterFailures) as e:
        check_rows(typed, seeds, rules=["lending"], fix=False, lazy=False)
    assert e.value.failures is not None and e.value.failures["code"].nunique() == 1


def test_filter_rows_writes_profiled_columns_formats_and_reasons(loans, tmp_path, loans_path):
    seeds, raw = loans
    df = broken(raw)
    df["chatter"] = "extra column from the LLM"
    df.loc[200:219, "installment"] = "1.00"  # a habit of the generator: repaired, and fed back
    raw_path, out, rej = tmp_path / "raw.csv", tmp_path / "accepted.csv", tmp_path / "rejected.csv"
    df.to_csv(raw_path, index=False)
    seeds_path = tmp_path / "seeds.json"
    save_seeds(seeds, seeds_path)
    result = filter_rows(raw_path, seeds_path, out, rejected=rej, rules=["lending"], quiet=True)
    assert (result.accepted, result.rejected, result.total) == (297, 3, 300)
    header = list(pd.read_csv(loans_path, nrows=0).columns)
    accepted = pd.read_csv(out, dtype=str, keep_default_na=False)
    rejected = pd.read_csv(rej, dtype=str, keep_default_na=False)
    assert list(accepted.columns) == header
    assert list(rejected.columns) == [*header, "_reasons"]
    # untouched rows are written exactly as they were read: decimals, dates, spellings
    same = raw.iloc[6:200].fillna("").reset_index(drop=True)
    assert (accepted.iloc[3:197].to_numpy() == same.to_numpy()).all()
    assert accepted.loc[0, "installment"] == "652.53"
    assert rejected.loc[0, "state"] == "Atlantis"  # rejected rows keep what was written
    assert rejected.loc[0, "_reasons"].count(";") >= 1  # every rule it failed, not just the first
    assert rejected.loc[1, "loan_amount"] == "twelve"
    assert result.feedback and all(f.startswith("avoid: ") for f in result.feedback)
    assert result.feedback[0] == (
        "avoid: installment is not EMI(loan_amount, interest_rate, term) within 1% (repaired) (7% of rows)"
    )


def test_no_fix_rejects_what_fix_repairs(loans, tmp_path):
    seeds, raw = loans
    result = filter_rows(broken(raw), seeds, tmp_path / "a.csv", fix=False, rules=["lending"], quiet=True)
    assert result.rejected == 6 and result.fixed == 0
    assert (tmp_path / "rejected.csv").exists()  # default: next to the output


def test_privacy_rejects_exact_copies_of_real_rows(loans, tmp_path, loans_path):
    seeds, raw = loans
    df = raw.head(100).copy()
    df.loc[50:, "annual_income"] = "123456.78"  # new rows: no longer anyone's record
    result = filter_rows(df, seeds, tmp_path / "a.csv", real=loans_path, quiet=True)
    rejected = pd.read_csv(tmp_path / "rejected.csv", dtype=str)
    assert result.rejected == 50
    assert (rejected["_reasons"] == "PV01 identical to a real row").all()


def test_missing_columns_are_warned_and_rules_skipped(loans, tmp_path, caplog):
    seeds, raw = loans
    df = raw.drop(columns=["installment"]).head(20)
    logging.getLogger("seedgen").propagate = True
    with caplog.at_level(logging.INFO, logger="seedgen"):
        result = filter_rows(df, seeds, tmp_path / "a.csv", rules=["lending"], quiet=True)
        # a frame without the column: the rules that need it say they were skipped
        report = check_rows(coerce(df, seeds.columns), seeds, rules=["lending"])
    text = caplog.text
    assert "1 profiled column(s) missing, left empty: installment" in text
    # the written file has every profiled column, and installment is never empty in the real data
    assert result.rejected == 20
    assert "LN01 lending.emi_installment skipped: missing column installment" in text
    assert report.passed.all()
    assert report.stats.set_index("code").loc["LN01", "status"] == "skipped"


def test_seeds_domain_rules_are_enforced_without_naming_the_pack(loans):
    seeds, raw = loans
    typed = coerce(broken(raw), seeds.columns)
    plain = check_rows(typed, seeds, fix=False)
    assert "LN01" not in plain.reasons[0]
    with_domain = seeds.model_copy(
        update={
            "rules": [
                *seeds.rules,
                DomainRule(
                    name="lending.emi_installment",
                    code="LN01",
                    columns=["loan_amount", "interest_rate", "term", "installment"],
                    support=0.9999,
                    n=10000,
                ),
            ]
        }
    )
    assert "LN01" in check_rows(typed, with_domain, fix=False).reasons[0]
    weak = with_domain.model_copy(
        update={
            "rules": [
                *seeds.rules,
                DomainRule(
                    name="lending.emi_installment", code="LN01", columns=["loan_amount"], support=0.9, n=10000
                ),
            ]
        }
    )
    report = check_rows(typed, weak, fix=False)
    assert "LN01" not in report.reasons[0]
    assert report.stats.set_index("code").loc["LN01", "status"] == "advisory"


def test_index_is_kept_and_verdicts_align(loans):
    seeds, raw = loans
    typed = coerce(broken(raw), seeds.columns)
    typed.index = np.arange(1000, 1000 + len(typed))
    report = check_rows(typed, seeds, rules=["lending"])
    assert report.passed.index.equals(typed.index) and not report.passed[1002]


def test_unknown_pack_and_bad_input_are_one_line_errors(loans, tmp_path):
    seeds, raw = loans
    with pytest.raises(RuleError, match="unknown rule pack 'nope'"):
        check_rows(coerce(raw, seeds.columns), seeds, rules=["nope"])
    seeds_path = tmp_path / "seeds.json"
    save_seeds(seeds, seeds_path)
    (tmp_path / "raw.csv").write_text("a,b\n1,2\n")
    with pytest.raises(UserInputError, match="none of the profiled columns"):
        filter_rows(tmp_path / "raw.csv", seeds_path, tmp_path / "out.csv", quiet=True)
    raw.to_csv(tmp_path / "good.csv", index=False)
    result = CliRunner().invoke(
        main,
        [
            "filter",
            str(tmp_path / "good.csv"),
            "--seeds",
            str(seeds_path),
            "-o",
            str(tmp_path / "out.csv"),
            "--rules",
            "nope",
        ],
    )
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [result.output.strip()]
    assert "error: unknown rule pack 'nope'" in result.output


def test_cli_filter_end_to_end(loans, tmp_path):
    seeds, raw = loans
    seeds_path = tmp_path / "seeds.json"
    save_seeds(seeds, seeds_path)
    broken(raw).to_csv(tmp_path / "raw.csv", index=False)
    result = CliRunner().invoke(
        main,
        [
            "filter",
            str(tmp_path / "raw.csv"),
            "--seeds",
            str(seeds_path),
            "-o",
            str(tmp_path / "ok.csv"),
            "--rejected",
            str(tmp_path / "bad.csv"),
            "--rules",
            "lending",
            "--quiet",
        ],
    )
    assert result.exit_code == 0, result.output
    assert len(pd.read_csv(tmp_path / "ok.csv")) == 297
    assert len(pd.read_csv(tmp_path / "bad.csv")) == 3


def test_advisory_rules_feed_back_when_the_batch_drifts_from_the_real_rate(loans):
    from seedgen.filtering.feedback import feedback_lines

    seeds, raw = loans
    df = raw.copy()
    df["num_mort_accounts"] = "0"
    seeds = seeds.model_copy(
        update={
            "rules": [
                *seeds.rules,
                DomainRule(
                    name="lending.mortgage_accounts",
                    code="LN04",
                    columns=["homeownership", "num_mort_accounts"],
                    support=0.94,
                    n=10000,
                ),
            ]
        }
    )
    report = check_rows(coerce(df, seeds.columns), seeds)
    assert report.passed.all()  # advisory: never rejects
    share = (df["homeownership"] == "MORTGAGE").mean()
    lines = feedback_lines(report)
    want = (
        f"avoid: homeownership is MORTGAGE but num_mort_accounts is 0 (real data: 6%) ({share:.0%} of rows)"
    )
    assert want in lines
    assert "avoid: implausible rows (scored below 8 by the judge) (10% of rows)" in feedback_lines(
        report, judge_rejected=30, threshold=8
    )
