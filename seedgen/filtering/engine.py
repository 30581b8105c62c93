"""The rule engine: run every rule over the whole frame, repair what can be repaired, collect every failure.

Vectorised throughout: a rule sees the whole batch and returns one mask; nothing loops over rows. Failures
are collected lazily (every rule runs, every failure is kept, as pandera's lazy validation does) into one
failure table with columns rule, code, column, index, failure_case, reason, so a rejected row can list
every rule it broke. `lazy=False` stops at the first enforced rule that fails, for debugging a rule pack.

Order: first the fixable rules run and repair the rows they fail (one pass, in registration order), then
every rule runs on the repaired frame; a row's verdict is that final check. Because rules and fixes are
row-wise, a row's verdict never depends on the other rows of the batch.
"""

from __future__ import annotations

import logging
import traceback
from dataclasses import dataclass

import numpy as np
import pandas as pd

from seedgen.errors import FilterFailures, RuleError
from seedgen.filtering.context import RuleContext
from seedgen.filtering.registry import Check, Rule, RuleSet

log = logging.getLogger("seedgen")

FAILURE_COLUMNS = ["rule", "code", "column", "index", "failure_case", "reason"]
BUILTIN_GROUP = "builtin"


@dataclass
class RuleReport:
    """The outcome of checking a frame: per-row verdicts, the repaired frame, and why rows failed."""

    frame: pd.DataFrame
    passed: pd.Series
    reasons: pd.Series
    failures: pd.DataFrame
    stats: pd.DataFrame
    fixed: pd.Series
    #: failures that a fix repaired (same columns as `failures`): what the generator got wrong but was saved
    repairs: pd.DataFrame | None = None

    @property
    def n(self) -> int:
        return len(self.passed)

    @property
    def n_passed(self) -> int:
        return int(self.passed.sum())

    @property
    def pass_rate(self) -> float:
        return self.n_passed / self.n if self.n else 1.0

    @property
    def pass_rates(self) -> dict[str, float]:
        """Share of rows passing each rule that ran (enforced or advisory), by code."""
        ran = self.stats[self.stats["status"] != "skipped"]
        return dict(zip(ran["code"], ran["pass_rate"], strict=True))

    def reason_counts(self) -> dict[str, int]:
        """Rejected rows per reason ("CODE reason"), most common first (advisory rules excluded)."""
        f = self.failures[self.failures["enforced"]] if len(self.failures) else self.failures
        if f.empty:
            return {}
        key = f["code"] + " " + f["reason"]
        counts = key.groupby(key).size().sort_values(ascending=False, kind="stable")
        return {k: int(v) for k, v in counts.items()}


def _normalise(rule: Rule, out, df: pd.DataFrame) -> list[Check]:
    """Turn what a rule returned (Series, DataFrame or list of Check) into checks with full-length masks."""
    default_col = rule.columns[-1] if rule.columns else None
    if isinstance(out, pd.Series):
        checks = [Check(out, default_col, None)]
    elif isinstance(out, pd.DataFrame):
        checks = [Check(out[c], str(c), None) for c in out.columns]
    elif isinstance(out, (list, tuple)) and all(isinstance(c, Check) for c in out):
        checks = list(out)
    else:
        raise RuleError(
            f"rule {rule.code} {rule.name} ({rule.source}) returned {type(out).__name__}",
            fix="return a boolean Series (True = row passes), a boolean DataFrame or a list of Check",
        )
    for c in checks:
        m = c.mask
        if not isinstance(m, pd.Series) or len(m) != len(df):
            raise RuleError(
                f"rule {rule.code} {rule.name} ({rule.source}) returned a mask of the wrong length",
                fix="return one boolean per row of the frame it was given",
            )
        if not m.index.equals(df.index):
            m = m.reindex(df.index)
        if m.dtype != bool:
            # Missing verdicts (NA from comparisons with nulls) pass: nulls are the null rules' business.
            m = m.astype("boolean").fillna(True).astype(bool)
        c.mask = m
        if c.reason is None:
            c.reason = _format_reason(rule.reason, column=c.column or "")
    return checks


def _format_reason(template: str, **values) -> str:
    try:
        return template.format(**values)
    except (KeyError, IndexError, ValueError):
        return template


def _run(rule: Rule, df: pd.DataFrame, ctx: RuleContext) -> list[Check]:
    try:
        out = rule(df, ctx)
    except RuleError:
        raise
    except Exception as e:
        raise RuleError(
            f"rule {rule.code} {rule.name} failed: {type(e).__name__}: {e} ({_where(e, rule)})",
            fix="fix the rule function; run check_rows(..., lazy=False) to debug",
        ) from e
    return _normalise(rule, out, df)


def _where(e: Exception, rule: Rule) -> str:
    """The line of the rule's own file the error came from (not pandas' internals), else the rule."""
    tb = traceback.extract_tb(e.__traceback__)
    own = rule.source.rpartition(":")[0]
    mine = [f for f in tb if f.filename == own]
    return f"{mine[-1].filename}:{mine[-1].lineno}" if mine else rule.source


def _apply_fix(rule: Rule, df: pd.DataFrame, ctx: RuleContext, failed: pd.Series) -> pd.DataFrame:
    try:
        repaired = rule.fix(df, ctx, failed)
    except Exception as e:
        raise RuleError(
            f"fix of rule {rule.code} {rule.name} failed: {type(e).__name__}: {e} ({_where(e, rule)})"
        ) from e
    if repaired is None:
        return df
    if isinstance(repaired, pd.Series):
        repaired = repaired.to_frame()
    if isinstance(repaired, pd.DataFrame):
        repaired = {c: repaired[c] for c in repaired.columns}
    if not repaired:
        return df
    out = df.copy(deep=False)
    rows = failed.to_numpy()
    changed = []
    for col, new in repaired.items():
        if col not in out.columns:
            continue
        if isinstance(new, pd.Series):
            new = new.reindex(df.index).to_numpy() if not new.index.equals(df.index) else new.to_numpy()
        new = np.asarray(new)
        old = out[col]
        # Only the failing rows take the repaired values: a fix can never touch a row that passed.
        if pd.api.types.is_float_dtype(old):
            values = old.to_numpy(dtype=float, copy=True)
            part = new[rows]
            if part.dtype.kind not in "fiub":
                part = pd.to_numeric(pd.Series(part, dtype=object), errors="coerce").to_numpy(dtype=float)
            values[rows] = part
        elif pd.api.types.is_datetime64_any_dtype(old):
            values = old.to_numpy(copy=True)
            part = new[rows]
            if part.dtype.kind != "M":
                part = pd.to_datetime(pd.Series(part, dtype=object), errors="coerce").to_numpy(
                    dtype=old.dtype
                )
            values[rows] = part
        else:
            values = old.to_numpy(dtype=object, copy=True)
            values[rows] = new.astype(object)[rows]
        out[col] = pd.Series(values, index=df.index, name=col, dtype=old.dtype)
        changed.append(col)
    ctx.carry(df, out, changed)
    return out


def _status(rule: Rule, df: pd.DataFrame, ctx: RuleContext) -> tuple[str, float | None, str]:
    """Whether a rule is enforced, only reported (advisory), or skipped; its real support; why."""
    missing = [c for c in rule.columns if c not in df.columns]
    if missing:
        return "skipped", None, "missing column " + ", ".join(missing)
    if BUILTIN_GROUP in rule.groups:
        return "enforced", None, ""
    support = reference_support(rule, df, ctx)
    if support is None:
        if rule.reference == "required":
            return "advisory", None, "no reference measured on the real data"
        return "enforced", None, ""
    if support < ctx.min_support:
        return "advisory", support, f"the real data satisfies it in only {support:.2%} of rows"
    return "enforced", support, ""


def reference_support(rule: Rule, df: pd.DataFrame, ctx: RuleContext) -> float | None:
    """The share of real rows a rule passes: from the seeds' DomainRule entry, else measured on the reference."""
    key = ("support", rule.code)
    if key in ctx._cache:
        return ctx._cache[key]
    support = None
    entry = ctx.domain_rule(rule)
    if entry is not None:
        support = float(entry.support)
    elif ctx.reference is not None and all(c in ctx.reference.columns for c in rule.columns):
        ref_ctx = RuleContext(
            seeds=ctx.seeds, min_support=ctx.min_support, reference=ctx.reference, config=ctx.config
        )
        ref_ctx._notes = ctx._notes
        ok = np.ones(len(ctx.reference), dtype=bool)
        for c in _run(rule, ctx.reference, ref_ctx):
            ok &= c.mask.to_numpy()
        support = float(ok.mean()) if len(ok) else None
    ctx._cache[key] = support
    return support


def run_rules(
    df: pd.DataFrame, rules: RuleSet, ctx: RuleContext, *, fix: bool = True, lazy: bool = True
) -> RuleReport:
    """Check (and with `fix`, repair) every row of `df` against `rules`; see the module docstring."""
    status = {}
    for r in rules:
        st, support, note = _status(r, df, ctx)
        status[r.code] = (st, support, note)
        if st == "skipped":
            ctx.note(f"rule {r.code} {r.name} skipped: {note}")
        elif st == "advisory":
            ctx.note(f"rule {r.code} {r.name} reported, not enforced: {note}")

    frame = df
    failed_before: dict[str, np.ndarray] = {}
    repairs: dict[str, pd.DataFrame] = {}
    if fix:
        for r in rules:
            if not r.fixable or status[r.code][0] != "enforced":
                continue
            checks = _run(r, frame, ctx)
            bad = _any_failed(checks, len(frame))
            if bad.any():
                failed_before[r.code] = bad
                repairs[r.code] = _failure_table(r, checks, frame, True)
                frame = _apply_fix(r, frame, ctx, pd.Series(bad, index=frame.index))

    n = len(frame)
    passed = np.ones(n, dtype=bool)
    tables, stats = [], []
    for r in rules:
        st, support, note = status[r.code]
        row = dict(
            code=r.code,
            rule=r.name,
            reason=_format_reason(r.reason, column=""),
            status=st,
            checked=0,
            failed=0,
            fixed=0,
            pass_rate=np.nan,
            reference_support=support,
            note=note,
        )
        if st == "skipped":
            stats.append(row)
            continue
        checks = _run(r, frame, ctx)
        bad = _any_failed(checks, n)
        enforced = st == "enforced"
        if enforced:
            passed &= ~bad
        before = failed_before.get(r.code)
        if r.code in repairs:
            t = repairs[r.code]
            repairs[r.code] = t[~np.isin(t["index"].to_numpy(), frame.index[bad])]
        row.update(
            checked=n,
            failed=int(bad.sum()),
            pass_rate=float(1 - bad.mean()) if n else 1.0,
            fixed=int((before & ~bad).sum()) if before is not None else 0,
        )
        stats.append(row)
        table = _failure_table(r, checks, frame, enforced)
        if table is not None:
            tables.append(table)
            if enforced and not lazy:
                raise FilterFailures(
                    f"{r.code} {r.name}: {row['failed']} of {n} rows fail ({table['reason'].iloc[0]}); "
                    f"first at index {table['index'].iloc[0]}",
                    failures=table,
                )

    failures = pd.concat(tables, ignore_index=True) if tables else _empty_failures()
    fixed_rows = np.zeros(n, dtype=bool)
    for b in failed_before.values():
        fixed_rows |= b
    return RuleReport(
        frame=frame,
        passed=pd.Series(passed, index=frame.index, name="passed"),
        reasons=_row_reasons(failures, frame.index),
        failures=failures,
        stats=pd.DataFrame(
            stats,
            columns=[
                "code",
                "rule",
                "reason",
                "status",
                "checked",
                "failed",
                "fixed",
                "pass_rate",
                "reference_support",
                "note",
            ],
        ),
        fixed=pd.Series(fixed_rows, index=frame.index, name="fixed"),
        repairs=pd.concat(repairs.values(), ignore_index=True) if repairs else _empty_failures(),
    )


def _any_failed(checks: list[Check], n: int) -> np.ndarray:
    bad = np.zeros(n, dtype=bool)
    for c in checks:
        bad |= ~c.mask.to_numpy()
    return bad


def _empty_failures() -> pd.DataFrame:
    return pd.DataFrame(
        {c: pd.Series(dtype=object) for c in FAILURE_COLUMNS} | {"enforced": pd.Series(dtype=bool)}
    )


def _failure_table(r: Rule, checks: list[Check], frame: pd.DataFrame, enforced: bool) -> pd.DataFrame | None:
    parts = []
    for c in checks:
        bad = ~c.mask.to_numpy()
        if not bad.any():
            continue
        idx = frame.index[bad]
        case = frame[c.column].to_numpy()[bad] if c.column in frame.columns else np.full(len(idx), None)
        n = len(idx)
        # object columns: pandas would otherwise convert every repeated string to an Arrow string array
        parts.append(
            pd.DataFrame(
                {
                    "rule": pd.Series(np.full(n, r.name, dtype=object), dtype=object),
                    "code": pd.Series(np.full(n, r.code, dtype=object), dtype=object),
                    "column": pd.Series(np.full(n, c.column, dtype=object), dtype=object),
                    "index": idx,
                    "failure_case": pd.Series(np.asarray(case, dtype=object), dtype=object),
                    "reason": pd.Series(np.full(n, c.reason, dtype=object), dtype=object),
                    "enforced": np.full(n, enforced),
                }
            )
        )
    return pd.concat(parts, ignore_index=True) if parts else None


def _row_reasons(failures: pd.DataFrame, index: pd.Index) -> pd.Series:
    """'CODE reason; CODE reason' per row for every enforced rule it failed; '' for rows that passed."""
    out = pd.Series("", index=index, dtype=object, name="_reasons")
    if failures.empty:
        return out
    f = failures[failures["enforced"]]
    if f.empty:
        return out
    # Sorted once, then one join per failing row: far cheaper than a pandas groupby-apply of str.join.
    pos = index.get_indexer(f["index"].to_numpy())
    order = np.argsort(pos, kind="stable")
    pos = pos[order]
    text = [
        f"{c} {r}"
        for c, r in zip(
            f["code"].to_numpy(dtype=object)[order], f["reason"].to_numpy(dtype=object)[order], strict=True
        )
    ]
    values = out.to_numpy(dtype=object, copy=True)
    starts = np.flatnonzero(np.r_[True, pos[1:] != pos[:-1]])
    ends = np.r_[starts[1:], len(pos)]
    for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
        values[pos[a]] = text[a] if b - a == 1 else "; ".join(text[a:b])
    return pd.Series(values, index=index, name="_reasons", dtype=object)
