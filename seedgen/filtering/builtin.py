"""Rules that always run, derived from seeds.json: formats, ranges, categories, nulls, discovered constraints.

Each function here is one rule family applied to every column (or every discovered constraint) it
concerns, vectorised per column. They take all their parameters from the profile, so they hold on the real
table by construction: ranges are the real ranges, categories the real spellings, and a discovered
constraint is enforced only when its support reaches `min_support`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from seedgen.filtering.context import RuleContext
from seedgen.filtering.registry import Check, rule
from seedgen.schema import NUMERIC_KINDS, parse_numbers

G = ("builtin",)
_TRUE = {"true", "yes", "y", "t", "1", "1.0"}
_FALSE = {"false", "no", "n", "f", "0", "0.0"}


def _numeric_columns(df: pd.DataFrame, ctx: RuleContext):
    for spec in ctx.columns:
        if spec.name in df.columns and (
            spec.kind in NUMERIC_KINDS or (spec.kind == "id" and spec.decimals is not None)
        ):
            yield spec


def _key(s: pd.Series) -> pd.Series:
    """Values as the strings a mapping is keyed by: 3.0 → "3", "B" → "B", null → NaN."""
    if pd.api.types.is_numeric_dtype(s):
        v = s.astype(float)
        integral = v.notna() & (v == np.round(v))
        out = v.astype(str).astype(object)
        out[integral] = v[integral].astype(np.int64).astype(str)
        return out.where(v.notna(), np.nan)
    return s.astype(object).where(s.notna(), np.nan)


# --------------------------------------------------------------------------- schema and formats


def _fix_parse(df: pd.DataFrame, ctx: RuleContext, failed: pd.Series) -> dict:
    out = {}
    for spec in ctx.columns:
        if ctx.raw is None or spec.name not in df.columns or spec.name not in ctx.raw.columns:
            continue
        raw = ctx.raw[spec.name]
        bad = failed & raw.notna() & df[spec.name].isna()
        if not bad.any():
            continue
        text = raw[bad].astype(str).str.strip()
        if spec.kind in NUMERIC_KINDS:
            # Thousands separators, currency and percent signs: written by people and LLMs alike.
            value = parse_numbers(text)
        elif spec.kind == "datetime":
            value = pd.to_datetime(text, errors="coerce", format="mixed")
        else:
            continue
        col = df[spec.name].copy()
        col[bad] = value
        out[spec.name] = col
    return out


@rule(
    "schema.format",
    code="SC01",
    groups=G,
    reason="{column}: value not readable in the column's format",
    fix=_fix_parse,
)
def schema_format(df: pd.DataFrame, ctx: RuleContext) -> list[Check]:
    """A value must be readable as its column's kind and written format (a number, a date as %b-%Y).

    Only checked when the input was read from text (``filter_rows``); a typed frame has no written form.
    The fix reads numbers with thousands separators, currency or percent signs, and dates in other
    common formats.

    **Anti-pattern**: ``price = "ten dollars"``, ``visit_month = "2018-03-01"`` (format %b-%Y).

    **Best practice**: ``price = 10``, ``visit_month = "Mar-2018"``.
    """
    if ctx.raw is None:
        return []
    checks = []
    for spec in ctx.columns:
        if spec.kind not in (*NUMERIC_KINDS, "datetime") or spec.name not in df.columns:
            continue
        if spec.name not in ctx.raw.columns:
            continue
        bad = ctx.raw[spec.name].notna().to_numpy() & df[spec.name].isna().to_numpy()
        if bad.any():
            what = f"a date as {spec.date_format}" if spec.kind == "datetime" else f"a {spec.kind} number"
            checks.append(
                Check(pd.Series(~bad, index=df.index), spec.name, f"{spec.name}: not readable as {what}")
            )
    return checks


def _off_precision(df: pd.DataFrame, ctx: RuleContext, spec) -> np.ndarray | None:
    d = 0 if spec.kind == "integer" else spec.decimals
    if d is None or d >= 12:
        return None

    def compute():
        v = df[spec.name].to_numpy(dtype=float)
        with np.errstate(invalid="ignore"):
            if d == 0:  # whole numbers are exact in floating point: no tolerance needed
                return (np.rint(v) != v) & (v == v)
            return np.abs(v - np.round(v, d)) > 1e-9 * np.maximum(1.0, np.abs(v))

    return ctx.memo(df, spec.name, "SC02", compute)


def _fix_precision(df: pd.DataFrame, ctx: RuleContext, failed: pd.Series) -> dict:
    out = {}
    for spec in _numeric_columns(df, ctx):
        off = _off_precision(df, ctx, spec)
        if off is not None and off.any():
            out[spec.name] = df[spec.name].round(0 if spec.kind == "integer" else spec.decimals)
    return out


@rule(
    "schema.precision",
    code="SC02",
    groups=G,
    reason="{column}: more decimals than the real data",
    fix=_fix_precision,
)
def schema_precision(df: pd.DataFrame, ctx: RuleContext) -> list[Check]:
    """An integer column holds whole numbers; a number has no more decimals than the real column.

    The fix rounds to the column's decimals (what writing the value would do anyway), and the rule
    reports it so the generator learns the format.

    **Anti-pattern**: ``age = 36.5`` in an integer column; ``weight_kg = 72.6137`` where the real data
    writes one decimal.

    **Best practice**: ``age = 36``; ``weight_kg = 72.6``.
    """
    checks = []
    for spec in _numeric_columns(df, ctx):
        off = _off_precision(df, ctx, spec)
        if off is not None and off.any():
            d = 0 if spec.kind == "integer" else spec.decimals
            label = "whole number" if d == 0 else f"at most {d} decimals"
            checks.append(Check(pd.Series(~off, index=df.index), spec.name, f"{spec.name}: not a {label}"))
    return checks


# --------------------------------------------------------------------------- categories, ranges, nulls


def _norm(values: pd.Series) -> pd.Series:
    s = values.astype(str).str.strip().str.casefold().str.replace(r"\s+", " ", regex=True)
    return s.str.replace(r"^(-?\d+)\.0+$", r"\1", regex=True)


def _known(spec) -> list[str]:
    return [c.value for c in spec.categories or []]


def _category_columns(df: pd.DataFrame, ctx: RuleContext):
    for spec in ctx.columns:
        known = _known(spec)
        if spec.kind in ("categorical", "boolean") and known and spec.name in df.columns:
            yield spec, known


def _unknown(df: pd.DataFrame, ctx: RuleContext, spec, known) -> np.ndarray:
    def compute():
        f = ctx.factor(df, spec.name)
        seen = set(known)
        return f.take([k not in seen for k in f.keys], False).astype(bool)

    return ctx.memo(df, spec.name, "CT01", compute)


def _fix_categories(df: pd.DataFrame, ctx: RuleContext, failed: pd.Series) -> dict:
    out = {}
    for spec, known in _category_columns(df, ctx):
        bad = failed.to_numpy() & _unknown(df, ctx, spec, known)
        if not bad.any():
            continue
        lookup = dict(zip(_norm(pd.Series(known)), known, strict=True))
        if spec.kind == "boolean":
            # Map any true/false spelling onto the real data's own spelling of it.
            for v in known:
                low = v.strip().casefold()
                for alias in _TRUE if low in _TRUE else _FALSE if low in _FALSE else ():
                    lookup.setdefault(alias, v)
        # Repair the few distinct wrong spellings, then gather per row.
        f = ctx.factor(df, spec.name)
        repaired = [lookup.get(n) for n in _norm(pd.Series(f.keys, dtype=object))]
        new = f.take(repaired, None)
        col = df[spec.name].to_numpy(dtype=object, copy=True)
        take = bad & pd.notna(new)
        col[take] = new[take]
        out[spec.name] = col
    return out


@rule(
    "categories.known",
    code="CT01",
    groups=G,
    reason="{column}: value not among the real categories",
    fix=_fix_categories,
)
def categories_known(df: pd.DataFrame, ctx: RuleContext) -> list[Check]:
    """A categorical or boolean value is one of the spellings seen in the real data.

    The fix maps a value that differs only in case, spacing or a trailing ``.0`` (and, for booleans,
    any yes/no, true/false, 1/0 spelling) onto the real spelling; anything else is rejected.

    **Anti-pattern**: ``blood_type = "ab "`` or ``"C"`` where the real values are A, B, AB, O.

    **Best practice**: ``blood_type = "AB"``.
    """
    checks = []
    for spec, known in _category_columns(df, ctx):
        bad = _unknown(df, ctx, spec, known)
        if bad.any():
            reason = f"{spec.name}: value not among the {len(known)} real categories"
            checks.append(Check(pd.Series(~bad, index=df.index), spec.name, reason))
    return checks


def _bound(spec, value):
    if value is None:
        return None
    if spec.kind == "datetime":
        t = pd.to_datetime(str(value), format=spec.date_format, errors="coerce")
        if pd.isna(t):
            t = pd.to_datetime(str(value), errors="coerce")
        return None if pd.isna(t) else t
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


@rule("range.observed", code="RG01", groups=G, reason="{column}: outside the real range")
def range_observed(df: pd.DataFrame, ctx: RuleContext) -> list[Check]:
    """A number or date lies within the range seen in the real data (up to the written rounding).

    No fix: clipping would pile values up at the bounds; an out-of-range row is regenerated instead.

    **Anti-pattern**: ``age = -5`` or ``visit_month = "Jan-1850"``.

    **Best practice**: values inside the real minimum and maximum, e.g. ``age = 65``.
    """
    checks = []
    for spec in ctx.columns:
        if spec.name not in df.columns or spec.kind not in (*NUMERIC_KINDS, "datetime"):
            continue
        lo, hi = _bound(spec, spec.min), _bound(spec, spec.max)
        if lo is None and hi is None:
            continue
        s = df[spec.name]
        if spec.kind == "datetime":
            if not pd.api.types.is_datetime64_any_dtype(s):
                continue
            ok = s.isna().to_numpy().copy()
            inside = np.ones(len(s), dtype=bool)
            if lo is not None:
                inside &= (s >= lo).to_numpy()
            if hi is not None:
                # A date written without a time of day covers that whole day.
                inside &= (s <= hi + pd.Timedelta(days=1) - pd.Timedelta(microseconds=1)).to_numpy()
            ok |= inside
            text = f"[{spec.min}, {spec.max}]"
        else:
            v = s.to_numpy(dtype=float)
            tol = ctx.half_unit(spec.name)
            with np.errstate(invalid="ignore"):
                ok = np.isnan(v) | (
                    (v >= (lo if lo is not None else -np.inf) - tol)
                    & (v <= (hi if hi is not None else np.inf) + tol)
                )
            text = f"[{spec.min:g}, {spec.max:g}]" if lo is not None and hi is not None else ""
        if not ok.all():
            checks.append(
                Check(
                    pd.Series(ok, index=df.index),
                    spec.name,
                    f"{spec.name}: outside the real range {text}".rstrip(),
                )
            )
    return checks


@rule("nulls.impossible", code="NL01", groups=G, reason="{column}: empty, but never empty in the real data")
def nulls_impossible(df: pd.DataFrame, ctx: RuleContext) -> list[Check]:
    """A column that is never empty in the real data is not empty in a synthetic row.

    **Anti-pattern**: ``loan_amount`` left blank when every real loan has an amount.

    **Best practice**: write a value for every column the real data always fills; leave empty only
    columns that are sometimes empty in the real data (e.g. ``annual_income_joint`` of individual loans).
    """
    checks = []
    for spec in ctx.columns:
        if spec.nullable or spec.null_rate > 0 or spec.name not in df.columns:
            continue
        null = ctx.isnull(df, spec.name)
        if df[spec.name].dtype == object:
            f = ctx.factor(df, spec.name)
            null = null | f.take([not k.strip() for k in f.keys], False).astype(bool)
        if null.any():
            checks.append(Check(pd.Series(~null, index=df.index), spec.name, None))
    return checks


# --------------------------------------------------------------------------- privacy


def row_hashes(rendered: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """64-bit hashes of rendered rows over `columns`: equal rows, equal hashes; no cross-join needed."""
    frame = rendered[columns].astype(object).where(rendered[columns].notna(), None)
    return pd.util.hash_pandas_object(frame, index=False).to_numpy()


@rule("privacy.exact_copy", code="PV01", groups=G, reason="identical to a real row")
def privacy_exact_copy(df: pd.DataFrame, ctx: RuleContext) -> pd.Series:
    """A synthetic row is never an exact copy of a real row (compared as written, id columns aside).

    Runs when the real table is given (``--real``; on by default in ``seedgen run``). Rows are compared
    by hashing them in the original formats, so the check is linear in both tables. Unique-key (id)
    columns are left out: a real row with a fresh id is still a copy.

    **Anti-pattern**: the generator memorised a real applicant and wrote their row verbatim.

    **Best practice**: rows that share the real data's statistics but no one's exact record.
    """
    if ctx.real_hashes is None or not ctx.privacy_columns:
        return pd.Series(True, index=df.index)
    from seedgen.schema import render

    specs = [s for s in ctx.columns if s.name in ctx.privacy_columns]
    h = row_hashes(render(df, specs), ctx.privacy_columns)
    return pd.Series(~np.isin(h, ctx.real_hashes), index=df.index)
