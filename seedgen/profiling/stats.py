"""Per-cluster statistics: the numbers a seed instruction states and a sampler draws from.

For each cluster: size and weight; for numeric and integer columns mean, std, skew, excess kurtosis, min,
max and quantiles at `QUANTILE_LEVELS`; for categorical and boolean columns the frequency of every value
(rare values kept); the null rate of every column; and a Gaussian-copula correlation matrix on normal
scores (rank → Φ⁻¹) of the numeric, datetime and categorical columns (a categorical enters through its
frequency-ordered codes, so the most common value scores lowest).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import ndtri

from seedgen.schema import ColumnSpec
from seedgen.seeds import QUANTILE_LEVELS, ClusterProfile, Correlation, NumericStats

#: rows per cluster used for the copula correlation (ranks of a larger sample change it by < 0.01)
CORRELATION_ROWS = 100_000
#: categorical columns with more levels than this stay out of the correlation matrix
CORRELATION_MAX_LEVELS = 1_000


def _r(v: float, digits: int = 6) -> float:
    v = float(v)
    return float(f"{v:.{digits}g}") if np.isfinite(v) else 0.0


def numeric_stats(x: np.ndarray) -> NumericStats | None:
    """Moments and quantiles of the finite values of `x`, or None if there are none."""
    x = x[np.isfinite(x)]
    if x.size == 0:
        return None
    mean = x.mean()
    d = x - mean
    d2 = d * d  # products, not d**3 / d**4: float powers are several times slower on large columns
    m2 = d2.mean()
    std = np.sqrt(m2)
    if std > 1e-12 * max(1.0, abs(mean)) and x.size > 2:
        skew = np.mean(d2 * d) / std**3
        kurt = np.mean(d2 * d2) / m2**2 - 3.0
    else:
        skew = kurt = 0.0
    qs = np.quantile(x, QUANTILE_LEVELS)
    return NumericStats(
        mean=_r(mean),
        std=_r(np.sqrt(m2 * x.size / (x.size - 1)) if x.size > 1 else 0.0),
        skew=_r(skew, 4),
        kurtosis=_r(kurt, 4),
        min=float(x.min()),
        max=float(x.max()),
        quantiles=[_r(q, 8) for q in qs],
    )


def _frequency_order(codes: np.ndarray) -> np.ndarray:
    """Integer codes (-1 = null) re-numbered by frequency in `codes` (most common = 0); NaN for nulls."""
    ok = codes >= 0
    out = np.full(len(codes), np.nan)
    if not ok.any():
        return out
    counts = np.bincount(codes[ok])
    rank = np.empty(len(counts), dtype=np.int64)
    rank[np.argsort(-counts, kind="stable")] = np.arange(len(counts))
    out[ok] = rank[codes[ok]]
    return out


def _normal_scores(x: np.ndarray) -> np.ndarray:
    """Normal scores of the finite values (average ranks → Φ⁻¹); missing values score 0 (the median)."""
    out = np.zeros(len(x))
    ok = np.isfinite(x)
    if ok.sum() < 2:
        return out
    ranks = pd.Series(x[ok]).rank(method="average").to_numpy()
    out[ok] = ndtri(ranks / (ok.sum() + 1))
    return out


def _copula_sources(data: pd.DataFrame, columns: list[ColumnSpec], cat_codes: dict) -> dict[str, tuple]:
    """Per correlated column, its values over all rows: ("num", floats) or ("cat", integer codes)."""
    out: dict[str, tuple] = {}
    for spec in columns:
        if spec.kind in ("id", "text") or spec.name not in data:
            continue
        s = data[spec.name]
        if spec.kind in ("numeric", "integer"):
            out[spec.name] = ("num", pd.to_numeric(s, errors="coerce").to_numpy(dtype=np.float64))
        elif spec.kind == "datetime":
            x = s.to_numpy(dtype="datetime64[ns]").astype(np.int64).astype(np.float64)
            x[s.isna().to_numpy()] = np.nan
            out[spec.name] = ("num", x)
        elif spec.name in cat_codes and len(cat_codes[spec.name][1]) <= CORRELATION_MAX_LEVELS:
            out[spec.name] = ("cat", cat_codes[spec.name][0])
    return out


def copula_correlation(sources: dict[str, tuple], rows: np.ndarray) -> Correlation | None:
    """Gaussian-copula correlation on normal scores of the given rows (categories ordered by frequency)."""
    names = list(sources)
    if len(names) < 2 or len(rows) < 3:
        return None
    z = np.empty((len(rows), len(names)))
    for j, name in enumerate(names):
        kind, values = sources[name]
        x = values[rows] if kind == "num" else _frequency_order(values[rows])
        z[:, j] = _normal_scores(x)
    sd = z.std(axis=0)
    zc = (z - z.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
    corr = (zc.T @ zc) / len(zc)
    corr[:, sd == 0] = 0.0
    corr[sd == 0, :] = 0.0
    np.fill_diagonal(corr, 1.0)
    corr = np.clip(corr, -1.0, 1.0)
    return Correlation(columns=names, matrix=[[round(float(v), 4) for v in row] for row in corr])


def _null_rates(
    data: pd.DataFrame, labels: np.ndarray, k: int, numbers: dict[str, np.ndarray], cat_codes: dict
) -> np.ndarray:
    """(k, columns) share of nulls per cluster, from masks the caller already has where it can.

    Counted with one bincount of the null rows' labels per column: no (rows × columns) mask is built,
    and string columns are not scanned again when their category codes already mark the nulls.
    """
    sizes = np.maximum(np.bincount(labels, minlength=k), 1)
    out = np.zeros((k, data.shape[1]))
    for j, name in enumerate(data.columns):
        if name in numbers:
            miss = np.isnan(numbers[name])
        elif name in cat_codes:
            miss = cat_codes[name][0] < 0
        else:
            miss = data[name].isna().to_numpy()
        if miss.any():
            out[:, j] = np.bincount(labels[miss], minlength=k) / sizes
    return out


def cluster_profiles(
    data: pd.DataFrame, columns: list[ColumnSpec], labels: np.ndarray, seed: int = 0
) -> list[ClusterProfile]:
    """One ClusterProfile per cluster label (0..K-1)."""
    rng = np.random.default_rng(seed)
    n = len(data)
    k = int(labels.max()) + 1 if n else 1
    order = np.argsort(labels, kind="stable")
    bounds = np.searchsorted(labels[order], np.arange(k + 1))
    num_specs = [c for c in columns if c.kind in ("numeric", "integer")]
    cat_specs = [c for c in columns if c.kind in ("categorical", "boolean")]
    # Categories as integer codes once, then counted per cluster with bincount (no per-cluster strings).
    cat_codes = {}
    for spec in cat_specs:
        codes, uniques = pd.factorize(data[spec.name], sort=False)
        cat_codes[spec.name] = (codes, [str(u) for u in uniques])
    sources = _copula_sources(data, columns, cat_codes)
    # Numbers once as float columns: gathering a cluster's rows of one contiguous column is cheap even
    # at 1M rows.
    num = [
        sources[spec.name][1]
        if spec.name in sources
        else pd.to_numeric(data[spec.name], errors="coerce").to_numpy(dtype=np.float64)
        for spec in num_specs
    ]
    null_rates = _null_rates(
        data, labels, k, dict(zip([c.name for c in num_specs], num, strict=True)), cat_codes
    )
    profiles = []
    for cid in range(k):
        idx = order[bounds[cid] : bounds[cid + 1]]
        size = len(idx)
        prof = ClusterProfile(id=cid, size=size, weight=round(size / n, 8) if n else 0.0)
        if size == 0:
            profiles.append(prof)
            continue
        for j, spec in enumerate(num_specs):
            st = numeric_stats(num[j][idx])
            if st is not None:
                prof.numeric[spec.name] = st
        for spec in cat_specs:
            codes, uniques = cat_codes[spec.name]
            c = codes[idx]
            counts = np.bincount(c[c >= 0], minlength=len(uniques))
            total = counts.sum()
            order_c = np.argsort(-counts, kind="stable")
            prof.categorical[spec.name] = {
                uniques[u]: round(float(counts[u] / total), 8) for u in order_c if counts[u] > 0
            }
        prof.null_rates = {c: round(float(r), 6) for c, r in zip(data.columns, null_rates[cid], strict=True)}
        corr_idx = idx if size <= CORRELATION_ROWS else rng.choice(idx, CORRELATION_ROWS, replace=False)
        prof.correlation = copula_correlation(sources, np.sort(corr_idx))
        profiles.append(prof)
    return profiles
