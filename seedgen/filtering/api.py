"""`check_rows` (frames in, verdicts out) and `filter_rows` (files in, accepted/rejected files out)."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from seedgen.errors import UserInputError
from seedgen.filtering.context import DEFAULT_MIN_SUPPORT, RuleContext
from seedgen.filtering.engine import BUILTIN_GROUP, RuleReport, run_rules
from seedgen.filtering.feedback import feedback_lines
from seedgen.filtering.plugins import builtin_rules, find_rule, resolve
from seedgen.filtering.registry import RuleSet
from seedgen.io import NA_VALUES, table_format, write_table
from seedgen.schema import NUMERIC_KINDS, coerce, render
from seedgen.seeds import DomainRule, SeedFile, load_seeds

log = logging.getLogger("seedgen")


@dataclass
class FilterResult:
    """What `filter_rows` did: counts, reasons, feedback for synthesis, and where it wrote."""

    accepted: int
    rejected: int
    fixed: int
    total: int
    reasons: dict[str, int] = field(default_factory=dict)
    feedback: list[str] = field(default_factory=list)
    rule_stats: pd.DataFrame | None = None
    judge: dict[str, Any] | None = None
    output: str | None = None
    rejected_path: str | None = None
    #: the accepted rows as written (original formats), for callers that go on without re-reading
    accepted_rows: pd.DataFrame | None = None

    @property
    def acceptance_rate(self) -> float:
        return self.accepted / self.total if self.total else 0.0


def _seeds(seeds) -> SeedFile:
    if isinstance(seeds, SeedFile):
        return seeds
    return load_seeds(seeds)


def _typed(df: pd.DataFrame, seeds: SeedFile) -> pd.DataFrame:
    """The canonical typed frame; columns already typed (float numbers, datetime64 dates) are kept as is."""
    from seedgen.io import plain_values

    df = plain_values(df)
    redo = []
    for spec in seeds.columns:
        if spec.name not in df.columns:
            continue
        s = df[spec.name]
        numeric = spec.kind in NUMERIC_KINDS or (spec.kind == "id" and spec.decimals is not None)
        if numeric:
            wrong = s.dtype != np.float64
        elif spec.kind == "datetime":
            wrong = not pd.api.types.is_datetime64_any_dtype(s)
        else:
            wrong = s.dtype != object
        if wrong:
            redo.append(spec)
    if not redo:
        return df
    out = df.copy(deep=False)
    fixed = coerce(df[[s.name for s in redo]], redo)
    for c in fixed.columns:
        out[c] = fixed[c]
    return out


def _reference(real, seeds: SeedFile) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The real table typed (a rule's reference) and rendered in the original formats (privacy)."""
    from seedgen.io import read_table

    data = read_table(real).data if isinstance(real, (str, os.PathLike)) else real
    typed = _typed(data, seeds)
    return typed, render(typed, [c for c in seeds.columns if c.name in typed.columns])


def rule_set(seeds: SeedFile | None, rules: Iterable = (), *, select: Iterable[str] | None = None) -> RuleSet:
    """Built-ins + pack rules the seeds list as DomainRule + the packs/files/rules in `rules`."""
    rs = builtin_rules()
    if seeds is not None:
        for c in seeds.rules:
            if isinstance(c, DomainRule) and c.name not in rs and c.code not in rs:
                r = find_rule(c.name) or find_rule(c.code)
                if r is None:
                    log.warning(
                        "seeds list rule %s %s, but no installed pack defines it; not checked", c.code, c.name
                    )
                else:
                    rs.add(r)
    for r in resolve(rules):
        rs.add(r)
    return rs.select(select) if select else rs


def check_rows(
    df_typed: pd.DataFrame,
    seeds,
    *,
    rules=(),
    fix: bool = True,
    min_support: float | None = None,
    real=None,
    reference=None,
    lazy: bool = True,
    config: dict | None = None,
    select: Iterable[str] | None = None,
    raw: pd.DataFrame | None = None,
) -> RuleReport:
    """Check (and with `fix`, repair) a typed frame against the built-in rules, the seeds' constraints and
    `rules` (pack names, .py paths); `real` (path or frame) adds the exact-copy privacy rule and serves as
    the reference rules are measured on (`reference` gives a reference without the privacy rule).
    `select` keeps only the named rules (codes, names, groups); `lazy=False` raises at the first failure.
    """
    seeds = _seeds(seeds)
    if min_support is not None and not 0 <= min_support <= 1:
        raise UserInputError(
            f"--min-support {min_support:g} is not a share between 0 and 1", fix="e.g. 0.999"
        )
    df = df_typed
    if not df.index.is_unique:
        # verdicts and reasons are keyed by row index: make it unique (and keep `raw` aligned)
        df = df.reset_index(drop=True)
        raw = raw.reset_index(drop=True) if raw is not None else None
    df = _typed(df, seeds)
    ctx = RuleContext(
        seeds=seeds,
        min_support=DEFAULT_MIN_SUPPORT if min_support is None else float(min_support),
        raw=raw,
        config=dict(config or {}),
    )
    if reference is not None:
        ctx.reference = _reference(reference, seeds)[0]
    if real is not None:
        typed_real, rendered_real = _reference(real, seeds)
        if ctx.reference is None:
            ctx.reference = typed_real
        # Unique keys aside: a real row with a fresh id is still a copy of that person.
        ctx.privacy_columns = [
            c.name
            for c in seeds.columns
            if c.kind != "id" and c.name in df.columns and c.name in rendered_real.columns
        ]
        from seedgen.filtering.builtin import row_hashes

        ctx.real_hashes = np.unique(row_hashes(rendered_real, ctx.privacy_columns))
    rs = rule_set(seeds, rules, select=select)
    return run_rules(df, rs, ctx, fix=fix, lazy=lazy)


def domain_rules(
    data: pd.DataFrame, seeds_or_columns, *, packs: Iterable[str] | None = None
) -> list[DomainRule]:
    """Measure installed pack rules on a real table, as DomainRule entries for seeds.json.

    For the profile: every rule of the installed packs (or of `packs`) whose columns the table has is run
    on the real rows; its support is the share of rows with all its columns filled that pass. The filter
    then enforces the rules whose support reaches `min_support` without being asked to.
    """
    from seedgen.filtering.plugins import all_installed_rules, load_pack

    columns = seeds_or_columns.columns if isinstance(seeds_or_columns, SeedFile) else list(seeds_or_columns)
    seeds = SeedFile.model_construct(columns=columns, rules=[])
    typed = _typed(data, seeds)
    rules = [r for name in packs for r in load_pack(name)] if packs is not None else all_installed_rules()
    out = []
    for r in rules:
        if BUILTIN_GROUP in r.groups or not r.columns or any(c not in typed.columns for c in r.columns):
            continue
        ctx = RuleContext(seeds=seeds, reference=typed)
        applicable = typed[list(r.columns)].notna().all(axis=1).to_numpy()
        from seedgen.filtering.engine import _run

        ok = np.ones(len(typed), dtype=bool)
        for c in _run(r, typed, ctx):
            ok &= c.mask.to_numpy()
        n = int(applicable.sum())
        if n == 0:
            continue
        support = float(ok[applicable].mean())
        out.append(
            DomainRule(
                name=r.name,
                code=r.code,
                columns=list(r.columns),
                support=round(support, 6),
                n=n,
                description=r.reason,
            )
        )
    return out


# --------------------------------------------------------------------------- files


def _read_raw(raw) -> tuple[pd.DataFrame, bool]:
    """The rows to filter as written (strings), or a given frame; and whether they are strings."""
    if isinstance(raw, pd.DataFrame):
        strings = all(
            pd.api.types.is_object_dtype(raw[c]) or pd.api.types.is_string_dtype(raw[c]) for c in raw.columns
        )
        return raw.reset_index(drop=True), strings
    path = str(raw)
    if not os.path.isfile(path):
        raise UserInputError(
            f"{path}: no such file", fix="give the raw table written by `seedgen synthesize`"
        )
    fmt = table_format(path)
    try:
        if fmt == "parquet":
            data = pd.read_parquet(path)
            return data.astype("string").astype(object).where(data.notna(), None), True
        data = pd.read_csv(
            path,
            dtype=str,
            keep_default_na=False,
            na_values=NA_VALUES,
            sep="\t" if fmt == "tsv" else ",",
            encoding="utf-8-sig",
        )
    except pd.errors.EmptyDataError as e:
        raise UserInputError(f"{path}: the file is empty", fix="give a table with a header row") from e
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as e:
        raise UserInputError(f"{path}: cannot read ({' '.join(str(e).split())[:200]})") from e
    return data.astype(object).where(data.notna(), None), True


def _align(df: pd.DataFrame, seeds: SeedFile, where: str) -> pd.DataFrame:
    """Exactly the profiled columns in order: near-miss names mapped, extras dropped, missing ones empty."""
    names = seeds.column_names
    norm = {str(c).strip().casefold(): c for c in df.columns}
    rename = {}
    for name in names:
        if name not in df.columns and name.strip().casefold() in norm:
            rename[norm[name.strip().casefold()]] = name
    if rename:
        log.warning(
            "%s: columns renamed to the profiled names: %s",
            where,
            ", ".join(f"{a!r}→{b!r}" for a, b in rename.items()),
        )
        df = df.rename(columns=rename)
    missing = [c for c in names if c not in df.columns]
    if len(missing) == len(names):
        raise UserInputError(
            f"{where}: none of the profiled columns are present",
            fix="filter a table written from the same seeds.json",
        )
    extra = [c for c in df.columns if c not in names]
    if extra:
        log.warning(
            "%s: dropped %d column(s) not in the profile: %s",
            where,
            len(extra),
            ", ".join(map(str, extra[:10])),
        )
    if missing:
        log.warning(
            "%s: %d profiled column(s) missing, left empty: %s", where, len(missing), ", ".join(missing[:10])
        )
    out = df.reindex(columns=names)
    return out.astype(object).where(out.notna(), None) if missing else out


def _default_rejected(output) -> str | None:
    if output is None:
        return None
    out = str(output)
    return os.path.join(
        os.path.dirname(os.path.abspath(out)), "rejected" + (os.path.splitext(out)[1] or ".csv")
    )


def filter_rows(
    raw,
    seeds,
    output,
    *,
    rejected=None,
    rules=(),
    fix: bool = True,
    judge: bool = False,
    judge_provider: str = "local",
    judge_model: str | None = None,
    judge_base_url: str | None = None,
    threshold: float = 8,
    keep_scores: bool = False,
    min_support: float | None = None,
    real=None,
    quiet: bool = False,
) -> FilterResult:
    """Repair or reject the rows of `raw` (path or frame) and write the accepted ones to `output`.

    Rejected rows go to `rejected` (default: rejected.csv next to `output`) with `_reasons` naming every
    rule each failed. With `judge`, rows that pass the rules are scored 1–10 by an LLM and kept at or above
    `threshold`; `keep_scores` adds `_judge_score`. `real` rejects exact copies of real rows.
    """
    seeds = _seeds(seeds)
    resolve(rules)  # a bad --rules value fails before any data is read
    if judge and not 1 <= threshold <= 10:
        raise UserInputError(f"--threshold {threshold:g} is outside the judge's 1-10 scale")
    where = raw if isinstance(raw, (str, os.PathLike)) else "rows"
    data, strings = _read_raw(raw)
    aligned = _align(data, seeds, str(where))
    typed = coerce(aligned, seeds.columns) if strings else _typed(aligned, seeds)
    report = check_rows(
        typed,
        seeds,
        rules=rules,
        fix=fix,
        min_support=min_support,
        real=real,
        raw=aligned if strings else None,
    )
    passed = report.passed.to_numpy().copy()
    reasons = report.reasons.copy()
    scores = None
    judge_stats = None
    judge_rejected = 0
    if judge:
        from seedgen.evaluators.judge import judge_rows

        candidates = render(report.frame[passed], seeds.columns)
        verdict = judge_rows(
            candidates,
            seeds,
            provider=judge_provider,
            model=judge_model,
            base_url=judge_base_url,
            threshold=threshold,
            quiet=quiet,
        )
        scores = pd.Series(np.nan, index=report.frame.index)
        scores.loc[verdict.scores.index] = verdict.scores.to_numpy()
        low = verdict.rejected_reasons()
        judge_rejected = len(low)
        passed[report.frame.index.get_indexer(low.index)] = False
        reasons.loc[low.index] = low.to_numpy()
        judge_stats = verdict.stats()
    elif keep_scores:
        log.warning("--keep-scores has no effect without --judge")

    accepted_rows = render(report.frame[passed], seeds.columns)
    if keep_scores and scores is not None:
        accepted_rows["_judge_score"] = scores[passed].to_numpy()
    bad = ~passed
    # Rejected rows as they were written (the evidence), or rendered when given a typed frame.
    rejected_rows = aligned[bad].copy() if strings else render(report.frame[bad], seeds.columns)
    rejected_rows["_reasons"] = reasons[bad].to_numpy()
    if output is not None:
        write_table(accepted_rows, output)
    rejected_path = str(rejected) if rejected is not None else _default_rejected(output)
    if rejected_path is not None:
        write_table(rejected_rows, rejected_path)

    counts = report.reason_counts()
    if judge_rejected:
        counts["JG01 judge: scored below threshold or gave no score"] = judge_rejected
    result = FilterResult(
        accepted=int(passed.sum()),
        rejected=int(bad.sum()),
        fixed=int((report.fixed.to_numpy() & passed).sum()),
        total=len(passed),
        reasons=counts,
        feedback=feedback_lines(
            report, judge_rejected=judge_rejected, threshold=threshold if judge else None
        ),
        rule_stats=report.stats,
        judge=judge_stats,
        output=str(output) if output is not None else None,
        rejected_path=rejected_path,
        accepted_rows=accepted_rows,
    )
    log.info(
        "filter: %d of %d rows accepted (%d repaired), %d rejected%s",
        result.accepted,
        result.total,
        result.fixed,
        result.rejected,
        f" → {rejected_path}" if rejected_path and result.rejected else "",
    )
    for line in result.feedback:
        log.info("  %s", line)
    return result
