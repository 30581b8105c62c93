"""The lending rules: EMI installment, grade/sub-grade alignment, rate band per sub-grade, mortgage accounts."""

from __future__ import annotations

import numpy as np
import pandas as pd

from seedgen.filtering import Check, RuleContext, rule

G = ("lending",)
EMI_COLUMNS = ("loan_amount", "interest_rate", "term", "installment")


def emi(principal, annual_rate_percent, months):
    """Equated monthly instalment of an amortising loan: P·r / (1 − (1 + r)^−n), r the monthly rate.

    Vectorised over numpy arrays; a zero rate gives P / n.
    """
    p = np.asarray(principal, dtype=float)
    r = np.asarray(annual_rate_percent, dtype=float) / 1200.0
    n = np.asarray(months, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        annuity = p * r / (1.0 - np.power(1.0 + r, -n))
        return np.where(r == 0, p / n, annuity)


def _numbers(s: pd.Series) -> np.ndarray:
    """Numbers from a numeric column or from text such as " 36 months" (Lending Club's raw term)."""
    if pd.api.types.is_numeric_dtype(s):
        return s.to_numpy(dtype=float)
    return pd.to_numeric(
        s.astype("string").str.extract(r"(-?\d+(?:\.\d+)?)", expand=False), errors="coerce"
    ).to_numpy(dtype=float)


def _rate_percent(df: pd.DataFrame, ctx: RuleContext) -> np.ndarray:
    """Interest rates in percent: a column whose real maximum is ≤ 1 is written as a fraction (0.1261)."""
    rate = _numbers(df["interest_rate"])
    spec = ctx.spec("interest_rate")
    if spec is not None and isinstance(spec.max, float):
        return rate * 100 if spec.max <= 1 else rate
    with np.errstate(invalid="ignore"):
        return np.where(rate <= 1, rate * 100, rate)


def _expected_installment(df: pd.DataFrame, ctx: RuleContext) -> np.ndarray:
    return emi(_numbers(df["loan_amount"]), _rate_percent(df, ctx), _numbers(df["term"]))


def _emi_ok(df: pd.DataFrame, ctx: RuleContext) -> tuple[np.ndarray, np.ndarray]:
    tol = ctx.options(emi_installment)["tolerance"]
    expected = _expected_installment(df, ctx)
    actual = _numbers(df["installment"])
    slack = ctx.half_unit("installment") if ctx.spec("installment") else 0.005
    with np.errstate(invalid="ignore"):
        ok = (
            ~np.isfinite(expected)
            | np.isnan(actual)
            | (np.abs(actual - expected) <= tol * np.abs(expected) + slack)
        )
    return ok, expected


def _fix_emi(df: pd.DataFrame, ctx: RuleContext, failed: pd.Series) -> dict:
    _, expected = _emi_ok(df, ctx)
    value = np.round(expected, ctx.decimals("installment", 2))
    col = df["installment"].to_numpy(dtype=float, copy=True)
    take = failed.to_numpy() & np.isfinite(value)
    col[take] = value[take]
    return {"installment": col}


@rule(
    "lending.emi_installment",
    code="LN01",
    groups=G,
    columns=EMI_COLUMNS,
    fix=_fix_emi,
    config={"tolerance": 0.01},
    reason="installment is not EMI(loan_amount, interest_rate, term) within 1%",
)
def emi_installment(df: pd.DataFrame, ctx: RuleContext) -> pd.Series:
    """The installment is the loan's EMI: P·r / (1 − (1 + r)^−n) for the monthly rate r and term n, within 1 %.

    LLMs write installments that look plausible but are not the loan formula (in SDS's Lending Club
    workflow only 42 % matched). The fix recomputes the installment from amount, rate and term, rounded
    to the column's decimals. Rates are read as percent unless the real column is a fraction; a text
    term such as "36 months" is read as its number.

    **Anti-pattern**: ``loan_amount = 10000, interest_rate = 10.0, term = 36, installment = 250.00``.

    **Best practice**: ``installment = 322.67`` (EMI of 10,000 at 10 % over 36 months).
    """
    ok, _ = _emi_ok(df, ctx)
    return pd.Series(ok, index=df.index)


def _grade_check(df: pd.DataFrame, ctx: RuleContext) -> tuple[np.ndarray, np.ndarray]:
    """Per row: does sub_grade start with grade; and the grade letter the sub-grade implies."""
    sub, grade = ctx.factor(df, "sub_grade"), ctx.factor(df, "grade")
    letters = [k.strip()[:1] for k in sub.keys]
    # Compare in grade's code space (stripped spellings): integers per row, no string work per row.
    canon: dict[str, int] = {}
    gid = [canon.setdefault(k.strip(), len(canon)) for k in grade.keys]
    row_grade = grade.take(gid, -1).astype(np.int64)
    row_sub = sub.take([canon.get(x, -2) for x in letters], -3).astype(np.int64)
    ok = sub.null | grade.null | (row_grade == row_sub)
    return ok, sub.take(letters, None)


def _fix_grade(df: pd.DataFrame, ctx: RuleContext, failed: pd.Series) -> dict:
    ok, letter = _grade_check(df, ctx)
    spec = ctx.spec("grade")
    allowed = {c.value for c in spec.categories} if spec is not None and spec.categories else None
    take = failed.to_numpy() & ~ok & pd.notna(letter)
    if allowed is not None:
        take &= np.isin(letter, list(allowed))
    grade = df["grade"].to_numpy(dtype=object, copy=True)
    grade[take] = letter[take]
    return {"grade": grade}


@rule(
    "lending.grade_subgrade",
    code="LN02",
    groups=G,
    columns=("sub_grade", "grade"),
    fix=_fix_grade,
    reason="sub_grade does not start with grade",
)
def grade_subgrade(df: pd.DataFrame, ctx: RuleContext) -> pd.Series:
    """The sub-grade starts with the grade letter (C3 belongs to grade C).

    The fix takes the grade from the sub-grade (the finer, more informative field), if that letter is a
    grade the real data knows.

    **Anti-pattern**: ``grade = "A", sub_grade = "C3"``.

    **Best practice**: ``grade = "C", sub_grade = "C3"``.
    """
    ok, _ = _grade_check(df, ctx)
    return pd.Series(ok, index=df.index)


def robust_bands(
    reference: pd.DataFrame, category: str = "sub_grade", column: str = "interest_rate", spread: float = 3.0
) -> dict[str, tuple[float, float]]:
    """Per-category [low, high] of `column`: the 1–99 % quantile range widened by `spread` times itself.

    Robust to the odd mis-keyed real value (a 6.00 % rate on a D2 loan) yet as tight as the real bands
    are (Lending Club sets one rate per sub-grade and period).
    """
    ref = reference[[category, column]].dropna()
    g = ref.groupby(ref[category].astype(str))[column]
    q1, q99 = g.quantile(0.01), g.quantile(0.99)
    width = q99 - q1
    return {k: (float(q1[k] - spread * width[k]), float(q99[k] + spread * width[k])) for k in q1.index}


def _bands(ctx: RuleContext) -> dict[str, tuple[float, float]] | None:
    if ctx.seeds is not None:
        for c in ctx.seeds.rules:
            if c.kind == "category_band" and c.category == "sub_grade" and c.column == "interest_rate":
                return dict(c.bands)
    if ctx.reference is not None and {"sub_grade", "interest_rate"} <= set(ctx.reference.columns):
        if "lending.bands" not in ctx._cache:
            ctx._cache["lending.bands"] = robust_bands(ctx.reference)
        return ctx._cache["lending.bands"]
    return None


@rule(
    "lending.rate_band",
    code="LN03",
    groups=G,
    columns=("sub_grade", "interest_rate"),
    reason="interest_rate outside the band of its sub_grade",
)
def rate_band(df: pd.DataFrame, ctx: RuleContext) -> pd.Series:
    """The interest rate lies inside the real band of its sub-grade.

    Bands come from the seeds' discovered ``category_band`` (sub_grade → interest_rate), else from the
    real table (``--real``): the 1–99 % range per sub-grade, widened so that real rows pass. Without
    either there is nothing to compare with and the rule passes every row (and says so).

    **Anti-pattern**: ``sub_grade = "A1", interest_rate = 24.50`` (real A1 rates are 5.31–5.32 %).

    **Best practice**: ``sub_grade = "A1", interest_rate = 5.31``.
    """
    bands = _bands(ctx)
    if not bands:
        ctx.note(
            "rule LN03 lending.rate_band has no bands (no category_band in seeds, no --real): not checked"
        )
        return pd.Series(True, index=df.index)
    key = ctx.factor(df, "sub_grade")
    stripped = [k.strip() for k in key.keys]
    lo = key.take([bands.get(k, (np.nan, np.nan))[0] for k in stripped], np.nan).astype(float)
    hi = key.take([bands.get(k, (np.nan, np.nan))[1] for k in stripped], np.nan).astype(float)
    rate = _numbers(df["interest_rate"])
    tol = ctx.half_unit("interest_rate") + 1e-9
    with np.errstate(invalid="ignore"):
        ok = np.isnan(rate) | np.isnan(lo) | ((rate >= lo - tol) & (rate <= hi + tol))
    return pd.Series(ok, index=df.index)


@rule(
    "lending.mortgage_accounts",
    code="LN04",
    groups=G,
    columns=("homeownership", "num_mort_accounts"),
    reference="required",
    config={"value": "MORTGAGE"},
    reason="homeownership is MORTGAGE but num_mort_accounts is 0",
)
def mortgage_accounts(df: pd.DataFrame, ctx: RuleContext) -> list[Check]:
    """A borrower whose home is mortgaged has at least one mortgage account — where the real data agrees.

    This is a regularity, not a law: in the Lending Club sample 12 % of MORTGAGE borrowers list no
    mortgage account (paid off, or held elsewhere). So the rule needs a reference: it is enforced only
    when the real data keeps it in at least ``min_support`` of rows (seeds' DomainRule or ``--real``);
    otherwise its pass rate is reported next to the real one, never used to reject rows.

    **Anti-pattern**: on a table where every MORTGAGE borrower has a mortgage account, a synthetic
    ``homeownership = "MORTGAGE", num_mort_accounts = 0``.

    **Best practice**: ``homeownership = "MORTGAGE", num_mort_accounts = 1``.
    """
    value = str(ctx.options(mortgage_accounts)["value"]).casefold()
    home = ctx.factor(df, "homeownership")
    is_value = home.take([k.strip().casefold() == value for k in home.keys], False).astype(bool)
    accounts = _numbers(df["num_mort_accounts"])
    with np.errstate(invalid="ignore"):
        ok = ~is_value | np.isnan(accounts) | (accounts >= 1)
    return [Check(pd.Series(ok, index=df.index), "num_mort_accounts", None)]
