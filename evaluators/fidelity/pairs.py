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
    """Spearman correlation matrix on pairwise-complete rows (dates as days); constant columns give NaN."""
    view = df if isinstance(df, Columns) else Columns(df)
    ranks = pd.DataFrame({c: pd.Series(view.num(c)).rank() for c in columns})
    return ranks.corr(method="pearson", min_periods=3)


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
