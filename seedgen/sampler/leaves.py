"""Leaf distributions: what a tree leaf remembers about its real rows (statistics, never rows).

Numbers: the null share; point masses for values that at least `point_mass_min_rows` real rows share in the
whole column (zeros, round amounts, a rate table — detectors key on those, and a value many people share
identifies no one); the remaining values as equal-mass quantile bins drawn uniformly; and how round those
remaining values were (their granularity: 1000, 100, 1, 0.01 ...), so a drawn salary is 53,000 or 53,412
as often as in the real leaf, not 53,412.37. Categories: shares per class, null included.
"""

from __future__ import annotations

import numpy as np

from seedgen.sampler.model import CategoricalLeaves, NumericLeaves

#: values that at least this many real rows share are drawn exactly (never fewer)
POINT_MASS_MIN_ROWS = 5
#: at most this many point masses per column (the most shared ones) keep seeds.json small
MAX_POINT_MASSES = 3000
#: real values behind each quantile bin, and the most bins a leaf keeps
ROWS_PER_BIN = 4
MAX_BINS = 16


def frequent_values(values: np.ndarray, min_rows: int) -> np.ndarray:
    """Values of a numeric column shared by at least `min_rows` rows (sorted)."""
    v = values[~np.isnan(values)]
    if v.size == 0:
        return np.zeros(0)
    uniq, counts = np.unique(v, return_counts=True)
    keep = counts >= min_rows
    uniq, counts = uniq[keep], counts[keep]
    if uniq.size > MAX_POINT_MASSES:
        top = np.argsort(-counts, kind="stable")[:MAX_POINT_MASSES]
        uniq = np.sort(uniq[top])
    return uniq


def grain_levels(kind: str, decimals: int | None) -> list[float]:
    """Rounding granularities a column's values can show, finest first (none for dates). Numbers written
    with more decimals than 6 keep them (to 17, what a float holds): a program that wrote "0.1234567891"
    at full precision gets long numbers back, not ones rounded to 10^-6 among them."""
    if kind == "datetime":
        return []
    d = 6 if decimals is None else min(int(decimals), 17)
    finest = 0 if kind == "integer" else -d
    return [10.0**e for e in range(finest, 7)]


def grain_index(values: np.ndarray, grains: list[float]) -> np.ndarray:
    """Index of the coarsest granularity each value is a multiple of (0 = finest)."""
    idx = np.zeros(len(values), dtype=np.int64)
    for i, g in enumerate(grains):
        q = values / g
        r = np.round(q)
        # A multiple of g is at least g in size: without `r != 0`, 0.06 passed as a multiple of 10^6
        # (q = 6e-8 is within the absolute slack of 0) and small-valued columns were drawn as zeros.
        # The slack is a few units in the last place of the value (what parsing "12.34" leaves), no
        # more: a slack relative to q made every 16-digit key "a multiple of 10^6" (q ~ 1e10, remainder
        # < slack) and drew them with six trailing zeros.
        ok = (np.abs(values - r * g) <= 4 * np.spacing(np.abs(values))) & (r != 0)
        idx[ok] = i
    return idx


def numeric_leaves(
    values: np.ndarray, leaf: np.ndarray, n_leaves: int, frequent: np.ndarray, grains: list[float]
) -> NumericLeaves:
    """Per-leaf null share, point masses of frequent values, quantile bins of the rest, grain shares."""
    null_p, offsets, lo, hi, weight, grain_w = [], [0], [], [], [], []
    is_freq = np.isin(values, frequent) if frequent.size else np.zeros(len(values), bool)
    gidx = grain_index(np.nan_to_num(values), grains) if grains else None
    overall = (
        np.bincount(gidx[~np.isnan(values) & ~is_freq], minlength=len(grains)).astype(float)
        if grains
        else None
    )
    # Rows grouped by leaf and sorted by value inside it (NaN last): every slice below is sorted, so
    # shared values are runs and quantiles are read off by position (no per-leaf sort or partition).
    order = np.lexsort((values, leaf))
    bounds = np.searchsorted(leaf[order], np.arange(n_leaves + 1))
    for i in range(n_leaves):
        rows = order[bounds[i] : bounds[i + 1]]
        v = values[rows]
        nn = ~np.isnan(v)
        null_p.append(float(1 - nn.mean()) if len(v) else 0.0)
        total = max(int(nn.sum()), 1)
        f = v[nn & is_freq[rows]]
        if f.size:
            starts = np.flatnonzero(np.r_[True, f[1:] != f[:-1]])
            u, c = f[starts], np.diff(np.r_[starts, f.size])
            lo.extend(u.tolist())
            hi.extend(u.tolist())
            weight.extend((c / total).tolist())
        rest = v[nn & ~is_freq[rows]]
        if rest.size:
            b = int(np.clip(rest.size // ROWS_PER_BIN, 1, MAX_BINS))
            edges = _sorted_quantiles(rest, b + 1)
            lo.extend(edges[:-1].tolist())
            hi.extend(edges[1:].tolist())
            weight.extend([rest.size / b / total] * b)
        if grains:
            g = np.bincount(gidx[rows][nn & ~is_freq[rows]], minlength=len(grains)).astype(float)
            g = g if g.sum() > 0 else overall
            grain_w.append((g / max(g.sum(), 1.0)).round(6).tolist())
        offsets.append(len(lo))
    return NumericLeaves(
        null_p=null_p, offsets=offsets, lo=lo, hi=hi, weight=_r(weight), grain_weights=grain_w
    )


def _sorted_quantiles(sorted_values: np.ndarray, points: int) -> np.ndarray:
    """`np.quantile(sorted_values, np.linspace(0, 1, points))` (linear method) of an already sorted array."""
    pos = np.linspace(0.0, sorted_values.size - 1, points)
    below = np.floor(pos).astype(np.int64)
    above = np.minimum(below + 1, sorted_values.size - 1)
    frac = pos - below
    return sorted_values[below] + frac * (sorted_values[above] - sorted_values[below])


def categorical_leaves(
    codes: np.ndarray, leaf: np.ndarray, n_leaves: int, n_classes: int
) -> CategoricalLeaves:
    """Per-leaf class shares (code -1 = null), sparse."""
    c = np.where(codes < 0, n_classes, codes)
    width = n_classes + 1
    counts = np.bincount(leaf * width + c, minlength=n_leaves * width).reshape(n_leaves, width).astype(float)
    offsets, out_codes, weight = [0], [], []
    for i in range(n_leaves):
        nz = np.flatnonzero(counts[i])
        tot = counts[i].sum()
        out_codes.extend([int(k) if k < n_classes else -1 for k in nz])
        weight.extend((counts[i, nz] / max(tot, 1)).tolist())
        offsets.append(len(out_codes))
    return CategoricalLeaves(offsets=offsets, codes=out_codes, weight=_r(weight))


def _r(values: list[float]) -> list[float]:
    # Shares need no more than 7 significant digits; it keeps seeds.json compact.
    return [float(f"{v:.7g}") for v in values]
