"""Runs every fidelity metric for one (real, other) pair of tables and aggregates the headline scores.

`other` is a synthetic table, or the holdout when computing ceilings. The real side (bin codes, joint
distributions, correlation matrix) is computed once in a `RealSide` and reused for every other table. A
metric that fails on one column becomes a note on that column, never an aborted evaluation.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
from seedgen.evaluators.fidelity.columns import (
    CategoryCoverage,
    ChiSquaredTest,
    JensenShannonDistance,
    KSComplement,
    RangeCoverage,
    StatisticSimilarity,
    TVComplement,
    WassersteinDistance,
)
from seedgen.evaluators.fidelity.pairs import (
    ContingencySimilarity,
    CorrelationMatrixDifference,
    CorrelationSimilarity,
    spearman_matrix,
)

from seedgen.evaluation.metrics import ColumnFidelity, Fidelity, PairFidelity, Score
from seedgen.evaluation.prepare import NUMERIC_LIKE, Binner, Columns, Vocabulary
from seedgen.schema import ColumnSpec

log = logging.getLogger("seedgen")

#: a pair counts as associated in the real table when |ρ| or Cramér's V reaches this
ASSOCIATION_FLOOR = 0.1


@dataclass
class RealSide:
    """Real-table quantities shared by every comparison."""

    columns: list[ColumnSpec]
    real: Columns
    binner: Binner
    codes: dict[str, np.ndarray]
    numeric: list[str]
    corr: pd.DataFrame
    joints: dict[tuple[str, str], np.ndarray]
    association: dict[tuple[str, str], float]

    @classmethod
    def build(cls, real: Columns, columns: list[ColumnSpec], vocab: Vocabulary | None = None) -> RealSide:
        binner = Binner(real, columns, vocab or Vocabulary(real, columns))
        codes = {c.name: binner.codes(real, c.name) for c in columns}
        numeric = [c.name for c in columns if c.kind in NUMERIC_LIKE]
        corr = spearman_matrix(real, numeric)
        corr_np, at = corr.to_numpy(), {n: i for i, n in enumerate(numeric)}
        joints, assoc = {}, {}
        names = [c.name for c in columns]
        for i, a in enumerate(names):
            for b in names[i + 1 :]:
                if a in at and b in at:
                    r = corr_np[at[a], at[b]]
                    assoc[(a, b)] = 0.0 if np.isnan(r) else abs(float(r))
            for b, p in _contingency_joints(binner, codes, names, i, at).items():
                joints[(a, b)] = p
                assoc[(a, b)] = ContingencySimilarity.cramers_v(
                    p, binner.n_bins(a), binner.n_bins(b), len(real)
                )
        return cls(columns, real, binner, codes, numeric, corr, joints, assoc)


def _contingency_joints(binner: Binner, codes: dict, names: list[str], i: int, numeric) -> dict:
    """Joint bin frequencies of column i with every later column it forms a contingency pair with (any pair
    that is not two numeric columns)."""
    a = names[i]
    later = [b for b in names[i + 1 :] if not (a in numeric and b in numeric)]
    ps = ContingencySimilarity.joints_with(
        codes[a], binner.n_bins(a), [codes[b] for b in later], [binner.n_bins(b) for b in later]
    )
    return dict(zip(later, ps, strict=True))


def _safe(metric, real, other, note: list[str], **ctx) -> dict:
    try:
        return metric.compute_breakdown(real, other, **ctx)
    except Exception as e:  # a failing column becomes a note, not an aborted report (STYLE.md row 10)
        log.debug("metric %s failed", metric.name, exc_info=True)
        note.append(f"{metric.name} failed: {type(e).__name__}: {e}")
        return {"score": None}


def _null_rate(table: Columns, spec: ColumnSpec) -> float:
    """Share of missing values of one column."""
    if len(table) == 0:
        return 1.0
    if spec.kind in NUMERIC_LIKE:
        return float(np.isnan(table.num(spec.name)).mean())
    return float((table.factorized(spec.name)[0] < 0).mean())


def column_fidelity(spec: ColumnSpec, real: Columns, other: Columns) -> ColumnFidelity:
    notes: list[str] = []
    numeric = spec.kind in NUMERIC_LIKE
    # each side converted once (and cached): every metric below reads the same float arrays / counts
    r, o = (
        (real.sorted(spec.name), other.sorted(spec.name))
        if numeric
        else (real.counts(spec.name), other.counts(spec.name))
    )
    main = _safe(KSComplement if numeric else TVComplement, r, o, notes)
    if main.get("note"):
        notes.append(main["note"])
    js = _safe(JensenShannonDistance, r, o, notes, kind=spec.kind)
    rm = rs = sm = ss = wass = None
    if numeric:
        test = {"score": main.get("p_value"), "statistic": main.get("statistic")}
        wass = _safe(WassersteinDistance, r, o, notes)["score"]
        coverage = _safe(RangeCoverage, r, o, notes)["score"]
        st = _safe(StatisticSimilarity, r, o, notes)
        rm, sm, rs, ss = (st.get(k) for k in ("real_mean", "synthetic_mean", "real_std", "synthetic_std"))
    else:
        test = _safe(ChiSquaredTest, r, o, notes)
        coverage = _safe(CategoryCoverage, r, o, notes)["score"]
    return ColumnFidelity(
        name=spec.name,
        kind=spec.kind,
        metric="ks_complement" if numeric else "tv_complement",
        score=Score(value=main.get("score")),
        wasserstein=wass,
        js_distance=js.get("score"),
        test="ks" if numeric else "chi2",
        statistic=test.get("statistic"),
        p_value=test.get("score"),
        coverage=coverage,
        real_mean=rm,
        synthetic_mean=sm,
        real_std=rs,
        synthetic_std=ss,
        real_null_rate=_null_rate(real, spec),
        synthetic_null_rate=_null_rate(other, spec),
        note="; ".join(notes) or None,
    )


def _mean(values) -> float | None:
    v = [x for x in values if x is not None and not np.isnan(x)]
    return float(np.mean(v)) if v else None


def _opt(x: float) -> float | None:
    return None if np.isnan(x) else float(x)


def compute_fidelity(
    side: RealSide, other: Columns, not_computed: dict[str, str]
) -> tuple[Fidelity, pd.DataFrame]:
    """Fidelity of `other` against the real table; also returns other's correlation matrix (for plots)."""
    columns = [c for c in side.columns if other.has(c.name) and c.name not in not_computed]
    per_column = [column_fidelity(c, side.real, other) for c in columns]
    names = [c.name for c in columns]
    numeric = [n for n in side.numeric if n in names]
    other_corr = spearman_matrix(other, numeric)
    real_np = side.corr.to_numpy()
    real_at = {n: i for i, n in enumerate(side.numeric)}
    other_np, other_at = other_corr.to_numpy(), {n: i for i, n in enumerate(numeric)}
    codes = {n: side.binner.codes(other, n) for n in names}
    pairs: list[PairFidelity] = []
    # model_construct: the values are computed here, so pydantic's validation of ~1,500 pair rows is skipped
    make = PairFidelity.model_construct
    for i, a in enumerate(names):
        joints = _contingency_joints(side.binner, codes, names, i, other_at)
        for b in names[i + 1 :]:
            if a in other_at and b in other_at:
                r, s = real_np[real_at[a], real_at[b]], other_np[other_at[a], other_at[b]]
                pairs.append(
                    make(
                        a=a,
                        b=b,
                        metric="correlation_similarity",
                        score=CorrelationSimilarity.from_correlations(r, s),
                        real_association=side.association[(a, b)],
                        real_correlation=_opt(r),
                        synthetic_correlation=_opt(s),
                    )
                )
            else:
                q = joints[b]
                pairs.append(
                    make(
                        a=a,
                        b=b,
                        metric="contingency_similarity",
                        score=ContingencySimilarity.from_joints(side.joints[(a, b)], q),
                        real_association=side.association[(a, b)],
                        real_correlation=None,
                        synthetic_correlation=None,
                    )
                )
    shape = _mean(c.score.value for c in per_column)
    strong = [p.score for p in pairs if p.real_association >= ASSOCIATION_FLOOR]
    pair_all = _mean(p.score for p in pairs)
    pair_score = _mean(strong) if strong else pair_all
    overall = _mean([shape, pair_score]) if pair_score is not None else shape
    corr_diff = CorrelationMatrixDifference.from_matrices(side.corr.loc[numeric, numeric], other_corr)
    cat_cov = _mean(c.coverage for c in per_column if c.kind not in NUMERIC_LIKE)
    range_cov = _mean(c.coverage for c in per_column if c.kind in NUMERIC_LIKE)
    why_pairs = None if pairs else "fewer than two comparable columns"
    fid = Fidelity(
        shape=Score(value=shape, not_computed=None if per_column else "no comparable column"),
        pairs=Score(value=pair_score, not_computed=why_pairs),
        pairs_all=Score(value=pair_all, not_computed=why_pairs),
        overall=Score(value=overall),
        correlation_difference=Score(
            value=corr_diff,
            goal="minimize",
            not_computed=None if corr_diff is not None else "fewer than two numeric columns",
        ),
        category_coverage=Score(
            value=cat_cov, not_computed=None if cat_cov is not None else "no categorical column"
        ),
        range_coverage=Score(
            value=range_cov, not_computed=None if range_cov is not None else "no numeric column"
        ),
        columns=per_column,
        pair_details=pairs,
        not_computed=dict(not_computed),
    )
    return fid, other_corr


def attach_ceilings(fid: Fidelity, ceiling: Fidelity) -> None:
    """Put the holdout's scores next to the synthetic ones (same names, same columns)."""
    for key in (
        "shape",
        "pairs",
        "pairs_all",
        "overall",
        "correlation_difference",
        "category_coverage",
        "range_coverage",
    ):
        getattr(fid, key).ceiling = getattr(ceiling, key).value
    by_name = {c.name: c for c in ceiling.columns}
    for col in fid.columns:
        if col.name in by_name:
            col.score.ceiling = by_name[col.name].score.value
