"""Rules enforcing the constraints the profile discovered in the real data (seeds.json `rules`).

One rule per constraint kind, applied to every constraint of that kind whose support reaches
`min_support` (the others are logged as not enforced). Tolerances add the written rounding of the
columns involved, so a real row written with two decimals never fails an identity it satisfies.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from seedgen.filtering.context import RuleContext
from seedgen.filtering.registry import Check, rule

G = ("builtin", "constraints")


def _usable(c, df: pd.DataFrame, ctx: RuleContext, *columns: str) -> bool:
    missing = [x for x in columns if x not in df.columns]
    if missing:
        ctx.note(f"{c.kind} constraint on {', '.join(columns)} skipped: missing column {', '.join(missing)}")
        return False
    return True


def _num(df: pd.DataFrame, col: str) -> np.ndarray:
    """A column as floats; dates as days since the epoch (the unit of discovered date differences)."""
    s = df[col]
    if pd.api.types.is_datetime64_any_dtype(s):
        days = s.to_numpy(dtype="datetime64[ns]").astype(np.int64) / 86_400e9
        days[s.isna().to_numpy()] = np.nan
        return days
    return pd.to_numeric(s, errors="coerce").to_numpy(dtype=float)


def _label(c, default: str) -> str:
    return c.description or default


# --------------------------------------------------------------------------- functional dependency


def _fd(df: pd.DataFrame, ctx: RuleContext, c) -> tuple[np.ndarray, np.ndarray]:
    """Per row: does rhs hold the value lhs determines; and that value (None where lhs maps to nothing)."""
    lhs, rhs = ctx.factor(df, c.lhs), ctx.factor(df, c.rhs)
    expected = [c.mapping.get(k) for k in lhs.keys]
    # Compare in rhs's code space: integers per row, no string comparisons.
    index = {k: i for i, k in enumerate(rhs.keys)}
    want = lhs.take([-3 if e is None else index.get(e, -2) for e in expected], -3).astype(np.int64)
    ok = (want == -3) | rhs.null | (rhs.codes == want)
    return ok, lhs.take(expected, None)


def _fix_fd(df: pd.DataFrame, ctx: RuleContext, failed: pd.Series) -> dict:
    out = {}
    for c in ctx.constraints("functional_dependency"):
        if not (c.lhs in df.columns and c.rhs in df.columns):
            continue
        ok, expected = _fd(df, ctx, c)
        take = failed.to_numpy() & ~ok & pd.notna(expected)
        if not take.any():
            continue
        base = out.get(c.rhs, df[c.rhs])
        if pd.api.types.is_numeric_dtype(base):
            col = np.asarray(base, dtype=float).copy()
            col[take] = pd.to_numeric(pd.Series(expected[take]), errors="coerce").to_numpy(dtype=float)
        else:
            col = np.asarray(base, dtype=object).copy()
            col[take] = expected[take]
        out[c.rhs] = col
    return out


@rule(
    "constraints.functional_dependency",
    code="CN01",
    groups=G,
    fix=_fix_fd,
    reason="{column}: does not match what the other column determines",
)
def functional_dependency(df: pd.DataFrame, ctx: RuleContext) -> list[Check]:
    """A value determined by another column (city → country) is the one the real data pairs with it.

    The fix writes the determined value.

    **Anti-pattern**: ``city = "Lyon"`` with ``country = "Spain"`` when every real Lyon row is in France.

    **Best practice**: ``city = "Lyon"``, ``country = "France"``.
    """
    checks = []
    for c in ctx.constraints("functional_dependency"):
        if not _usable(c, df, ctx, c.lhs, c.rhs):
            continue
        ok, _ = _fd(df, ctx, c)
        checks.append(
            Check(pd.Series(ok, index=df.index), c.rhs, f"{c.rhs}: not the value {c.lhs} determines")
        )
    return checks


# --------------------------------------------------------------------------- bands, inequalities, ranges


@rule("constraints.category_band", code="CN02", groups=G, reason="{column}: outside the band of its category")
def category_band(df: pd.DataFrame, ctx: RuleContext) -> list[Check]:
    """A number lies in the band the real data shows for its category (a tariff per plan).

    **Anti-pattern**: ``plan = "basic"`` with ``monthly_fee = 49.0`` when real basic plans cost 9.99–10.99.

    **Best practice**: ``plan = "basic"``, ``monthly_fee = 9.99``.
    """
    checks = []
    for c in ctx.constraints("category_band"):
        if not _usable(c, df, ctx, c.category, c.column):
            continue
        key = ctx.factor(df, c.category)
        lo = key.lookup({k: v[0] for k, v in c.bands.items()}).astype(float)
        hi = key.lookup({k: v[1] for k, v in c.bands.items()}).astype(float)
        v = _num(df, c.column)
        tol = ctx.half_unit(c.column) + 1e-9
        with np.errstate(invalid="ignore"):
            ok = np.isnan(v) | np.isnan(lo) | ((v >= lo - tol) & (v <= hi + tol))
        checks.append(
            Check(
                pd.Series(ok, index=df.index), c.column, f"{c.column}: outside the band of its {c.category}"
            )
        )
    return checks


@rule(
    "constraints.inequality", code="CN03", groups=G, reason="{column}: breaks an inequality of the real data"
)
def inequality(df: pd.DataFrame, ctx: RuleContext) -> list[Check]:
    """An ordering between two columns that holds in the real data holds in every row.

    **Anti-pattern**: ``admitted = "2024-03-09"`` with ``discharged = "2024-03-02"``.

    **Best practice**: ``admitted = "2024-03-02"``, ``discharged = "2024-03-09"`` (admitted ≤ discharged).
    """
    checks = []
    for c in ctx.constraints("inequality"):
        if not _usable(c, df, ctx, c.left, c.right):
            continue
        left, right = df[c.left], df[c.right]
        if pd.api.types.is_datetime64_any_dtype(left) and pd.api.types.is_datetime64_any_dtype(right):
            na = (left.isna() | right.isna()).to_numpy()
            cmp = (left <= right) if c.op == "<=" else (left < right)
            ok = na | cmp.to_numpy()
        else:
            a, b = _num(df, c.left), _num(df, c.right)
            tol = ctx.half_unit(c.left) + ctx.half_unit(c.right)
            with np.errstate(invalid="ignore"):
                ok = np.isnan(a) | np.isnan(b) | ((a <= b + tol) if c.op == "<=" else (a < b + tol))
        checks.append(Check(pd.Series(ok, index=df.index), c.left, f"{c.left}: not {c.op} {c.right}"))
    return checks


def _condition(df: pd.DataFrame, ctx: RuleContext, col: str, when: str) -> np.ndarray:
    if when == "null":
        return ctx.isnull(df, col)
    if when == "not_null":
        return ~ctx.isnull(df, col)
    v = _num(df, col)
    with np.errstate(invalid="ignore"):
        return (v > 0) if when == "positive" else (v == 0)


@rule(
    "constraints.conditional_range", code="CN06", groups=G, reason="{column}: outside its range for this case"
)
def conditional_range(df: pd.DataFrame, ctx: RuleContext) -> list[Check]:
    """When one column is in a given state (positive, zero, empty, filled), another stays in its real range.

    **Anti-pattern**: ``delinq_2y = 0`` with ``months_since_last_delinq = 3`` when the real data never
    has a recent delinquency without one counted.

    **Best practice**: keep the dependent column inside the range the real data shows for that case.
    """
    checks = []
    for c in ctx.constraints("conditional_range"):
        if not _usable(c, df, ctx, c.when_column, c.column):
            continue
        cond = _condition(df, ctx, c.when_column, c.when)
        v = _num(df, c.column)
        tol = ctx.half_unit(c.column)
        lo = -np.inf if c.low is None else c.low - tol
        hi = np.inf if c.high is None else c.high + tol
        with np.errstate(invalid="ignore"):
            ok = ~cond | np.isnan(v) | ((v >= lo) & (v <= hi))
        checks.append(
            Check(
                pd.Series(ok, index=df.index),
                c.column,
                f"{c.column}: outside [{c.low}, {c.high}] when {c.when_column} is {c.when}",
            )
        )
    return checks


# --------------------------------------------------------------------------- identities


def _linear(df: pd.DataFrame, c) -> np.ndarray:
    pred = np.full(len(df), float(c.intercept))
    for term, coef in c.terms.items():
        pred = pred + coef * _num(df, term)
    return pred


def _product(df: pd.DataFrame, c) -> np.ndarray:
    pred = np.full(len(df), float(c.scale))
    with np.errstate(divide="ignore", invalid="ignore"):
        for term, exp in c.factors.items():
            pred = pred * np.power(_num(df, term), float(exp))
    return pred


def _identity_checks(df, ctx, kind):
    for c in ctx.constraints(kind):
        cols = [c.target, *(c.terms if kind == "linear" else c.factors)]
        if not _usable(c, df, ctx, *cols):
            continue
        pred = _linear(df, c) if kind == "linear" else _product(df, c)
        t = _num(df, c.target)
        # The written rounding of every term adds up; a real row satisfies the identity within it.
        slack = ctx.half_unit(c.target) + sum(
            abs(w) * ctx.half_unit(x) for x, w in (c.terms.items() if kind == "linear" else [])
        )
        tol = (c.tolerance if kind == "linear" else c.rel_tolerance * np.abs(pred)) + slack + 1e-9
        with np.errstate(invalid="ignore"):
            ok = np.isnan(t) | ~np.isfinite(pred) | (np.abs(t - pred) <= tol)
        yield c, pred, ok


def _fix_identity(kind):
    def fix(df: pd.DataFrame, ctx: RuleContext, failed: pd.Series) -> dict:
        out = {}
        for c, pred, ok in _identity_checks(df, ctx, kind):
            d = ctx.decimals(c.target)
            value = np.round(pred, d) if d is not None else pred
            col = out.get(c.target, df[c.target]).to_numpy(dtype=float, copy=True)
            take = ~ok & np.isfinite(value)
            col[take] = value[take]
            out[c.target] = col
        return out

    return fix


@rule(
    "constraints.linear",
    code="CN04",
    groups=G,
    fix=_fix_identity("linear"),
    reason="{column}: not the sum the real data shows",
)
def linear(df: pd.DataFrame, ctx: RuleContext) -> list[Check]:
    """A column that is a sum or difference of others in the real data is so in every row.

    The fix recomputes the total from its parts, rounded to the column's decimals.

    **Anti-pattern**: ``total = 500`` with ``subtotal = 300`` and ``tax = 150``.

    **Best practice**: ``total = 450`` (= 300 + 150).
    """
    return [
        Check(pd.Series(ok, index=df.index), c.target, f"{c.target}: not {_label(c, 'the sum of its parts')}")
        for c, _, ok in _identity_checks(df, ctx, "linear")
    ]


@rule(
    "constraints.product",
    code="CN05",
    groups=G,
    fix=_fix_identity("product"),
    reason="{column}: not the product the real data shows",
)
def product(df: pd.DataFrame, ctx: RuleContext) -> list[Check]:
    """A column that is a product or ratio of others in the real data is so in every row (relative tolerance).

    The fix recomputes it, rounded to the column's decimals.

    **Anti-pattern**: ``total = 90`` with ``price = 10`` and ``quantity = 3``.

    **Best practice**: ``total = 30``.
    """
    return [
        Check(
            pd.Series(ok, index=df.index),
            c.target,
            f"{c.target}: not {_label(c, 'the product of its factors')}",
        )
        for c, _, ok in _identity_checks(df, ctx, "product")
    ]


# --------------------------------------------------------------------------- null patterns


def _fix_null_pattern(df: pd.DataFrame, ctx: RuleContext, failed: pd.Series) -> dict:
    out = {}
    for c in ctx.constraints("null_pattern"):
        if not (c.column in df.columns and c.when_column in df.columns):
            continue
        cond = _condition(df, ctx, c.when_column, c.when)
        base = out.get(c.column, df[c.column])
        take = failed.to_numpy() & cond & ~base.isna().to_numpy()
        if not take.any():
            continue
        col = base.to_numpy(copy=True)
        col[take] = np.nan if pd.api.types.is_float_dtype(base) else None
        out[c.column] = col
    return out


@rule(
    "constraints.null_pattern",
    code="CN07",
    groups=G,
    fix=_fix_null_pattern,
    reason="{column}: filled or empty against the real pattern",
)
def null_pattern(df: pd.DataFrame, ctx: RuleContext) -> list[Check]:
    """A column is empty exactly when the real data leaves it empty (when another column is empty or zero).

    The fix empties the column where the pattern says it must be empty; a missing required value is
    rejected.

    **Anti-pattern**: ``spouse_income = 80000`` on a single applicant's row (spouse fields empty).

    **Best practice**: spouse columns filled only where ``spouse_name`` is.
    """
    checks = []
    for c in ctx.constraints("null_pattern"):
        if not _usable(c, df, ctx, c.column, c.when_column):
            continue
        cond = _condition(df, ctx, c.when_column, c.when)
        ok = ctx.isnull(df, c.column) == cond
        checks.append(
            Check(
                pd.Series(ok, index=df.index),
                c.column,
                f"{c.column}: must be empty exactly when {c.when_column} is {c.when}",
            )
        )
    return checks
