"""Business rules of a (hypothetical) lender, plugged into `seedgen filter` / `seedgen run`.

Load with `seedgen filter raw.csv --seeds seeds.json -o accepted.csv --rules examples/lending_club/my_rules.py`
or `[filter] rules = ["lending", "my_rules.py"]` in pipeline.toml. Each rule receives the typed rows (numbers
as floats, dates as datetimes, categories as strings; nulls as NaN/None) and returns a boolean Series: True
for rows that pass. Rows that fail are rejected and land in rejected.csv with the rule's code in `_reasons`;
a rule with a `fix` repairs the failing rows instead (when the filter runs with fixing on, the default).
Every rule here holds on all 10,000 real loans: a rule that rejects real rows is wrong, not strict.
"""

import pandas as pd

from seedgen.filtering import rule


@rule("my_lender.loan_amount_limits", code="ML01", columns=["loan_amount"])
def loan_amount_limits(df):
    """Loan amounts lie within the product limits, $1,000 to $40,000.

    The lender does not write loans outside these limits, so such a row can't be in its books.

    **Anti-pattern**: loan_amount = 55000

    **Best practice**: loan_amount = 28000
    """
    return df["loan_amount"].between(1000, 40000)


@rule(
    "my_lender.joint_income_iff_joint",
    code="ML02",
    columns=["application_type", "annual_income_joint"],
)
def joint_income_iff_joint(df):
    """A joint application states the joint income, and an individual one doesn't.

    The joint income is only collected for joint applications.

    **Anti-pattern**: application_type = individual with annual_income_joint = 120000

    **Best practice**: application_type = joint with annual_income_joint = 120000
    """
    joint = df["application_type"].eq("joint")
    return joint == df["annual_income_joint"].notna()


def _cap_balance(df, ctx, failed):
    """Fix for ML03: cap the balance at the loan amount. Returns the repaired column for every row; the
    filter writes back only the failing rows, then checks them again."""
    return df[["balance"]].clip(upper=df["loan_amount"], axis=0)


@rule(
    "my_lender.balance_within_amount",
    code="ML03",
    columns=["balance", "loan_amount"],
    fix=_cap_balance,
)
def balance_within_amount(df):
    """The outstanding balance is at most the loan amount.

    Interest is paid as it accrues, so the balance only goes down from the amount lent.

    **Anti-pattern**: loan_amount = 10000, balance = 10400

    **Best practice**: loan_amount = 10000, balance = 9650.12 (the fix caps it at 10000)
    """
    return df["balance"].isna() | (df["balance"] <= df["loan_amount"] + 0.005)


@rule("my_lender.job_title_is_a_job_title", code="ML04", columns=["emp_title"])
def job_title_is_a_job_title(df):
    """The job title reads like one: has letters, is not a column name, no markup, at most 40 characters.

    A small model asked for job titles sometimes answers with the table's column names or pieces of the
    prompt; the rejection reason goes back into the next prompts ("avoid: ...").

    **Anti-pattern**: emp_title = "annual_income", emp_title = "Employee 1: [P", emp_title = "1.0,2;6.3;TN"

    **Best practice**: emp_title = "registered nurse"
    """
    title = df["emp_title"].astype("string").str.strip()
    column_names = {c.lower() for c in df.columns}
    ok = (
        ~title.str.lower().isin(column_names)
        & ~title.str.contains(r"[\[\]{}\"<>;]|_.*_", regex=True)  # markup, or snake_case_names
        & (title.str.len() <= 40)
        & title.str.contains(r"[a-zA-Z]", regex=True)
    )
    return df["emp_title"].isna() | ok.fillna(False).astype(bool)


def _lower_title(df, ctx, failed):
    """Fix for ML05: write the title in lower case, as the lender stores them."""
    return pd.DataFrame({"emp_title": df["emp_title"].astype("string").str.lower().astype(object)})


@rule("my_lender.job_title_lower_case", code="ML05", columns=["emp_title"], fix=_lower_title)
def job_title_lower_case(df):
    """Job titles are stored in lower case.

    The lender normalises what applicants type; every real title is lower case.

    **Anti-pattern**: emp_title = "Registered Nurse"

    **Best practice**: emp_title = "registered nurse" (the fix lower-cases it)
    """
    title = df["emp_title"].astype("string")
    return (title.isna() | (title == title.str.lower())).fillna(True).astype(bool)
