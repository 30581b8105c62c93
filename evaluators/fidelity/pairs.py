"""Column-pair fidelity metrics: does the synthetic table keep how columns move together?

Numeric pairs compare Spearman correlations (rank-based, so one extreme income does not decide it);
pairs involving a category compare joint frequencies on shared bins (real quantile bins for numbers, top
real categories for the rest, a bin for missing). The block runner computes whole correlation matrices and
integer bin codes once and calls the `from_*` helpers per pair; `compute_breakdown` works on two-column
frames for direct use.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from seedgen.evaluation.base import Goal, Metric
from seedgen.evaluation.prepare import Columns


def spearman_matrix(df: pd.DataFrame | Columns, columns: list[str]) -> pd.DataFrame:
    """Spearman correlation matrix on pairwise-complete rows (dates as days); constant columns give NaN.

    Each column is ranked on its own non-missing values; each pair is then correlated (Pearson) over the
    rows where both are present, as `DataFrame.corr(min_periods=3)` does — but with five matrix products
    for all pairs at once instead of a loop over pairs.
    """
    view = df if isinstance(df, Columns) else Columns(df)
    if not columns:
        return pd.DataFrame(index=[], columns=[], dtype=float)
    ranks = np.column_stack([pd.Series(view.num(c)).rank().to_numpy() for c in columns])
    present = (~np.isnan(ranks)).astype(float)
    x = np.nan_to_num(ranks)
    n = present.T @ present  # rows where both columns of a pair are present
    s = x.T @ present  # s[i, j]: sum of column i over the rows where j is present too
    sq = (x * x).T @ present
    cross = x.T @ x
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_i, mean_j = s / n, (s / n).T
        cov = cross / n - mean_i * mean_j
        var_i = sq / n - mean_i**2
        var_j = var_i.T
        corr = cov / np.sqrt(var_i * var_j)
    # a spread that vanishes up to rounding (a constant column) has no correlation
    spread = np.sqrt(np.maximum(var_i, 0.0) * np.maximum(var_j, 0.0))
    corr[(n < 3) | ~(spread > 1e-9 * np.maximum(mean_i**2 + mean_j**2, 1.0))] = np.nan
    corr = np.clip(corr, -1.0, 1.0)
    np.fill_diagonal(corr, np.where(np.isnan(np.diag(corr)), np.nan, 1.0))
    return pd.DataFrame(corr, index=list(columns), columns=list(columns))


class CorrelationSimilarity(Metric):
    """1 − |ρ_real − ρ_syn| / 2 for a pair of numeric columns (Spearman)."""

    name = "fidelity.correlation_similarity"
    description = "1 − |ρ_real − ρ_syn| / 2 (Spearman) for numeric pairs"
    level = "pair"

    @staticmethod
    def from_correlations(r: float, s: float) -> float:
        if np.isnan(r) and np.isnan(s):
            return 1.0
        if np.isnan(r) or np.isnan(s):
            return 0.5
        return 1.0 - abs(r - s) / 2.0

    @classmethod
    def compute_breakdown(cls, real, synthetic, **context):
        a, b = list(real.columns)[:2]
        r = spearman_matrix(real, [a, b]).iloc[0, 1]
        s = spearman_matrix(synthetic, [a, b]).iloc[0, 1]
        return {"score": cls.from_correlations(r, s), "real": float(r), "synthetic": float(s)}


class ContingencySimilarity(Metric):
    """1 − total variation distance between the joint binned distributions of a pair."""

    name = "fidelity.contingency_similarity"
    description = "1 − TVD of the joint distribution on shared bins, for pairs with a categorical column"
    level = "pair"

    @staticmethod
    def joint(codes_a: np.ndarray, codes_b: np.ndarray, nb: int, size: int) -> np.ndarray:
        counts = np.bincount(codes_a * nb + codes_b, minlength=size).astype(float)
        return counts / max(counts.sum(), 1.0)

    @staticmethod
    def joints_with(
        codes_a: np.ndarray, na: int, codes_b: list[np.ndarray], nbs: list[int]
    ) -> list[np.ndarray]:
        """`joint(codes_a, b, nb, na·nb)` for many columns b at once: one bincount over offset keys
        instead of one per pair (the per-call overhead dominated at ~1,500 pairs)."""
        if not codes_b:
            return []
        nb = np.asarray(nbs, dtype=np.int64)
        sizes = na * nb
        offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        keys = codes_a[None, :] * nb[:, None] + np.stack(codes_b) + offsets[:, None]
        counts = np.bincount(keys.ravel(), minlength=int(sizes.sum())).astype(float)
        total = max(float(len(codes_a)), 1.0)
        return [counts[o : o + z] / total for o, z in zip(offsets, sizes, strict=True)]

    @staticmethod
    def from_joints(p: np.ndarray, q: np.ndarray) -> float:
        return 1.0 - 0.5 * float(np.abs(p - q).sum())

    @staticmethod
    def cramers_v(p: np.ndarray, na: int, nb: int, n: int) -> float:
        """Cramér's V of a joint distribution given as flat frequencies (association strength)."""
        table = p.reshape(na, nb)
        table = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]
        if min(table.shape) < 2:
            return 0.0
        expected = np.outer(table.sum(axis=1), table.sum(axis=0))
        chi2 = float(np.sum((table - expected) ** 2 / expected)) * n
        return float(np.sqrt(chi2 / (n * (min(table.shape) - 1))))

    @classmethod
    def compute_breakdown(cls, real, synthetic, **context):
        """`real`/`synthetic`: two-column frames of integer bin codes (see `seedgen.evaluation.prepare.Binner`)."""
        a, b = list(real.columns)[:2]
        na = int(max(real[a].max(), synthetic[a].max())) + 1
        nb = int(max(real[b].max(), synthetic[b].max())) + 1
        p = cls.joint(real[a].to_numpy(), real[b].to_numpy(), nb, na * nb)
        q = cls.joint(synthetic[a].to_numpy(), synthetic[b].to_numpy(), nb, na * nb)
        return {"score": cls.from_joints(p, q)}


class CorrelationMatrixDifference(Metric):
    """Mean absolute difference between the real and synthetic Spearman matrices (numeric columns)."""

    name = "fidelity.correlation_difference"
    description = "mean |ρ_real − ρ_syn| over all numeric pairs; 0 = same correlation matrix"
    goal = Goal.MINIMIZE
    level = "table"

    @staticmethod
    def from_matrices(r: pd.DataFrame, s: pd.DataFrame) -> float | None:
        n = len(r)
        if n < 2:
            return None
        iu = np.triu_indices(n, k=1)
        d = np.abs(r.to_numpy()[iu] - s.to_numpy()[iu])
        # a correlation defined on one side only counts as a full miss of 1
        d = np.where(
            np.isnan(d), np.where(np.isnan(r.to_numpy()[iu]) & np.isnan(s.to_numpy()[iu]), 0.0, 1.0), d
        )
        return float(d.mean())

    @classmethod
    def compute_breakdown(cls, real, synthetic, **context):
        cols = [c for c in real.columns if c in synthetic.columns]
        r, s = spearman_matrix(real, cols), spearman_matrix(synthetic, cols)
        return {"score": cls.from_matrices(r, s), "real": r, "synthetic": s}
