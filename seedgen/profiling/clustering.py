"""KMeans clustering of the real rows, the segments every seed instruction describes.

Features: numeric, integer, boolean and datetime columns go through an empirical quantile transform (each
column's rank mapped to a unit-variance uniform score), so a long tail such as income cannot dominate the
distance; missing values take the median score and add a 0/1 "was missing" feature. Categoricals are
one-hot encoded on their `MAX_LEVELS` most frequent values plus "other". Constant, id, free-text, dropped and
all-null columns are left out (`ColumnSpec.excluded` or their kind).

K: fixed by `--clusters K`, or chosen (`auto`) by the mean silhouette score of k-means on a sample of at most
`SILHOUETTE_ROWS` rows for K in 2..10, the smallest K within `SILHOUETTE_TIE` of the best winning. A table
with fewer than `MIN_ROWS_PER_CLUSTER` rows per cluster for K=2 gets one cluster. Large tables are clustered
with mini-batch k-means fitted on a 200,000-row sample, then every row is assigned to its nearest centre
(the centres differ little from a full fit and the cost stops growing with the table).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from seedgen.errors import UserInputError
from seedgen.schema import ColumnSpec

log = logging.getLogger("seedgen")

MAX_LEVELS = 20
K_RANGE = range(2, 11)
SILHOUETTE_ROWS = 5_000
#: rows of that sample on which the silhouette itself is scored (it costs rows² distances)
SILHOUETTE_SCORED = 2_000
SILHOUETTE_TIE = 0.005
MIN_ROWS_PER_CLUSTER = 50
MINIBATCH_ABOVE = 100_000
#: rows mini-batch k-means is fitted on in large tables (all rows are then assigned)
FIT_ROWS = 200_000
_QUANTILE_POINTS = 201


@dataclass
class Clustering:
    labels: np.ndarray
    k: int
    criterion: str
    scores: dict[int, float]
    features: list[str]


def clustering_columns(columns: list[ColumnSpec]) -> list[ColumnSpec]:
    """The columns that shape the clusters: everything but excluded, id and free-text columns."""
    return [c for c in columns if not c.excluded and c.kind not in ("id", "text")]


def _quantile_scores(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Map values to unit-variance uniform scores through the empirical quantiles of a sample."""
    finite = x[np.isfinite(x)]
    if finite.size > 50_000:
        finite = rng.choice(finite, 50_000, replace=False)
    qs = np.quantile(finite, np.linspace(0, 1, _QUANTILE_POINTS))
    # Ties (point masses such as zeros) share one score: interpolate on the unique quantiles.
    qs_u, idx = np.unique(qs, return_index=True)
    levels = np.linspace(0, 1, _QUANTILE_POINTS)[idx]
    if qs_u.size == 1:
        return np.zeros_like(x, dtype=np.float32)
    u = np.interp(x, qs_u, levels)
    return ((u - 0.5) * np.sqrt(12.0)).astype(np.float32)


def _is_number_like(spec: ColumnSpec, s: pd.Series) -> bool:
    return spec.kind in ("numeric", "integer", "datetime") or (
        spec.kind == "boolean" and pd.api.types.is_numeric_dtype(s)
    )


def encode(data: pd.DataFrame, columns: list[ColumnSpec], seed: int = 0) -> tuple[np.ndarray, list[str]]:
    """The clustering feature matrix (float32) and its feature names.

    Written into one preallocated matrix (no list of per-feature arrays stacked at the end), which halves
    the peak memory of this step on large tables.
    """
    rng = np.random.default_rng(seed)
    specs = clustering_columns(columns)
    n = len(data)
    # Upper bound of the width: a score + a null flag per number; top levels + other + null per category.
    cap = sum(2 if _is_number_like(c, data[c.name]) else min(c.n_unique, MAX_LEVELS) + 2 for c in specs)
    # Column-major: every feature is written as one contiguous column (row-major writes touch a cache
    # line per row per feature, which was most of this step on a million rows).
    out = np.zeros((n, max(cap, 1)), dtype=np.float32, order="F")
    names: list[str] = []
    rows = np.arange(n)
    flat = out.reshape(-1, order="F")  # a view: one index per one-hot cell instead of two
    for spec in specs:
        s = data[spec.name]
        j = len(names)
        if _is_number_like(spec, s):
            if spec.kind == "datetime":
                x = s.to_numpy(dtype="datetime64[ns]").astype(np.int64).astype(np.float64)
                x[s.isna().to_numpy()] = np.nan
            else:
                x = pd.to_numeric(s, errors="coerce").to_numpy(dtype=np.float64)
            miss = ~np.isfinite(x)
            if miss.all():
                continue
            z = _quantile_scores(x, rng)
            z[miss] = 0.0  # the median score
            out[:, j] = z
            names.append(spec.name)
            if miss.any():
                out[:, j + 1] = miss
                names.append(f"{spec.name}=<null>")
        else:
            codes, uniques = pd.factorize(s.astype(object), sort=False)
            if len(uniques) == 0:
                continue
            counts = np.bincount(codes[codes >= 0], minlength=len(uniques))
            top = np.argsort(-counts, kind="stable")[: min(MAX_LEVELS, cap - j - 2)]
            names += [f"{spec.name}={uniques[t]}" for t in top]
            # Column of each code: its rank among the top levels, else "other"; nulls get their own.
            lut = np.full(len(uniques), -1, dtype=np.int64)
            lut[top] = np.arange(len(top))
            pos = np.where(codes >= 0, lut[np.maximum(codes, 0)], -2)
            if (pos == -1).any():
                pos[pos == -1] = len(names) - j
                names.append(f"{spec.name}=<other>")
            if (pos == -2).any():
                pos[pos == -2] = len(names) - j
                names.append(f"{spec.name}=<null>")
            flat[(j + pos) * n + rows] = 1.0
    return out[:, : len(names)], names


def _kmeans(k: int, n_rows: int, seed: int):
    from sklearn.cluster import KMeans, MiniBatchKMeans

    if n_rows > MINIBATCH_ABOVE:
        return MiniBatchKMeans(n_clusters=k, random_state=seed, n_init=3, batch_size=4096, max_iter=20)
    return KMeans(n_clusters=k, random_state=seed, n_init=3)


def choose_k(x: np.ndarray, seed: int = 0) -> tuple[int, dict[int, float]]:
    """K in 2..10 by mean silhouette on a sample; the smallest K within SILHOUETTE_TIE of the best."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    rng = np.random.default_rng(seed)
    sample = x if len(x) <= SILHOUETTE_ROWS else x[rng.choice(len(x), SILHOUETTE_ROWS, replace=False)]
    distinct = len(np.unique(sample, axis=0)) if len(sample) <= SILHOUETTE_ROWS else len(sample)
    k_max = min(max(K_RANGE), len(x) // MIN_ROWS_PER_CLUSTER, distinct - 1)
    scores: dict[int, float] = {}
    for k in K_RANGE:
        if k > k_max:
            break
        labels = KMeans(n_clusters=k, random_state=seed, n_init=3).fit_predict(sample)
        if len(np.unique(labels)) < 2:
            continue
        size = min(len(sample), SILHOUETTE_SCORED)
        scores[k] = round(float(silhouette_score(sample, labels, sample_size=size, random_state=seed)), 4)
    if not scores:
        return 1, scores
    best = max(scores.values())
    return min(k for k, s in scores.items() if s >= best - SILHOUETTE_TIE), scores


def parse_clusters(clusters) -> int | str:
    """`auto` or a positive integer (also given as a string by the CLI)."""
    if clusters is None or (isinstance(clusters, str) and clusters.strip().lower() == "auto"):
        return "auto"
    try:
        k = int(str(clusters).strip())
    except ValueError:
        raise UserInputError(
            f"--clusters {clusters!r}: not a number", fix="give a positive integer or auto"
        ) from None
    if k < 1:
        raise UserInputError(f"--clusters {k}: must be at least 1", fix="give a positive integer or auto")
    return k


def cluster_rows(data: pd.DataFrame, columns: list[ColumnSpec], clusters="auto", seed: int = 0) -> Clustering:
    """Label every row with its k-means cluster (0..K-1, cluster 0 the largest)."""
    from threadpoolctl import threadpool_limits

    # One BLAS/OpenMP thread: on a small shared machine, k-means threads spinning against other
    # processes made each fit ten times slower than running single-threaded.
    with threadpool_limits(limits=1):
        return _cluster_rows(data, columns, clusters, seed)


def _cluster_rows(data: pd.DataFrame, columns: list[ColumnSpec], clusters, seed: int) -> Clustering:
    n = len(data)
    k_req = parse_clusters(clusters)
    x, names = encode(data, columns, seed)
    scores: dict[int, float] = {}
    if x.shape[1] == 0 or n < 2:
        k, criterion = 1, "one cluster: no clustering features" if n >= 2 else "one cluster: a single row"
    elif k_req == "auto":
        k, scores = choose_k(x, seed)
        if k == 1:
            criterion = f"one cluster: fewer than {MIN_ROWS_PER_CLUSTER} rows per cluster for K=2"
        else:
            criterion = (
                f"mean silhouette (scored on {min(n, SILHOUETTE_SCORED):,} rows) of k-means fitted on a "
                f"{min(n, SILHOUETTE_ROWS):,}-row sample, K in 2..10, smallest K within {SILHOUETTE_TIE} of the best"
            )
    else:
        k = int(k_req)
        distinct = len(np.unique(x, axis=0)) if n <= 50_000 else n
        if k > min(n, distinct):
            log.warning(
                "--clusters %d: the table has only %d distinct rows; using %d", k, distinct, min(n, distinct)
            )
            k = min(n, distinct)
        criterion = "fixed by --clusters"
    if k == 1:
        return Clustering(np.zeros(n, dtype=np.int32), 1, criterion, scores, names)
    labels = _kmeans(k, n, seed).fit(x).labels_ if n <= MINIBATCH_ABOVE else _fit_large(x, k, seed)
    labels = labels.astype(np.int32)
    # Renumber by size so that cluster 0 is the largest (stable, readable ids).
    counts = np.bincount(labels, minlength=k)
    order = np.argsort(-counts, kind="stable")
    remap = np.empty(k, dtype=np.int32)
    remap[order] = np.arange(k, dtype=np.int32)
    labels = remap[labels]
    k_used = int((counts > 0).sum())
    return Clustering(labels.astype(np.int32), k_used, criterion, scores, names)


def _fit_large(x: np.ndarray, k: int, seed: int) -> np.ndarray:
    """Mini-batch k-means fitted on a FIT_ROWS sample, then every row assigned to its nearest centre.

    Centres estimated from 200k random rows differ from full-table centres by far less than the spread
    of a cluster, and the fit no longer grows with the table.
    """
    rng = np.random.default_rng(seed)
    fit_on = x[np.sort(rng.choice(len(x), FIT_ROWS, replace=False))] if len(x) > FIT_ROWS else x
    model = _kmeans(k, len(x), seed).fit(fit_on)
    labels = np.empty(len(x), dtype=np.int32)
    step = 200_000
    for i in range(0, len(x), step):
        labels[i : i + step] = model.predict(x[i : i + step])
    return labels
