"""Small conditional trees: fitted with scikit-learn, stored as plain arrays, traversed in numpy.

A tree predicts one column from the columns drawn before it. Categorical predictors enter through an
encoding learned for that target (the first principal axis of the per-category target means: for a numeric
target its null share and mean rank, for a categorical target its class shares), so one threshold can
separate any useful set of categories. At draw time `apply` walks all rows down the tree at once, one
depth level per numpy step; no scikit-learn object is kept or pickled.
"""

from __future__ import annotations

import numpy as np
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from seedgen.sampler.model import TreeArrays


def category_encoding(codes: np.ndarray, n_categories: int, target: np.ndarray) -> np.ndarray:
    """Score each category on the first principal axis of its mean target vector (weighted by counts).

    `codes` are category codes (-1 = null: left as NaN so the tree routes it itself). `target` is either an
    (n, m) matrix ([is-null, rank] of a numeric target) or a 1-d array of class codes 0..m-1 of a
    categorical target (then the means are the class shares). Unseen categories score 0 (the global mean).
    """
    ok = codes >= 0
    c = codes[ok]
    counts = np.bincount(c, minlength=n_categories).astype(float)
    if c.size == 0:
        return np.zeros(n_categories)
    if target.ndim == 1:
        t = target[ok].astype(np.int64)
        m = int(target.max()) + 1
        sums = np.bincount(c * m + t, minlength=n_categories * m).reshape(n_categories, m).astype(float)
        mu = np.bincount(t, minlength=m) / len(t)
    else:
        y = target[ok]
        sums = np.column_stack(
            [np.bincount(c, weights=y[:, j], minlength=n_categories) for j in range(y.shape[1])]
        )
        mu = y.mean(axis=0)
    # A pseudo-count of 1 pulls tiny categories toward the global mean.
    means = (sums + mu) / (counts[:, None] + 1.0)
    centred = (means - mu) * np.sqrt(counts)[:, None]
    if not np.any(centred):
        return np.zeros(n_categories)
    score = (means - mu) @ _first_axis(centred)
    score[counts == 0] = 0.0
    return score


def _first_axis(a: np.ndarray) -> np.ndarray:
    """The first right singular vector of `a`, from the eigenvectors of its smaller Gram matrix.

    Same axis as `np.linalg.svd(a)[2][0]` up to sign, at a fraction of the cost when `a` is a wide
    categories × classes matrix (hundreds of each for free-text targets).
    """
    if a.shape[0] < a.shape[1]:
        _, u = np.linalg.eigh(a @ a.T)
        v = a.T @ u[:, -1]
    else:
        _, w = np.linalg.eigh(a.T @ a)
        v = w[:, -1]
    norm = np.linalg.norm(v)
    return v / norm if norm > 0 else v


def fit_tree(
    x: np.ndarray,
    y: np.ndarray,
    *,
    classify: bool,
    min_leaf: int,
    max_leaves: int,
    seed: int,
    fit_rows: np.ndarray | None = None,
) -> tuple[object, np.ndarray]:
    """Fit a scikit-learn tree; return it and every row's leaf node id.

    With `fit_rows`, the splits are learned from those rows only (`min_leaf` counts them) and every row is
    then routed down the tree: a leaf holds at least `min_leaf` rows of the subset, so at least as many of
    all rows, while its distribution is estimated from all of them.
    """
    if x.shape[1] == 0:
        x = np.zeros((len(y), 1))
    cls = DecisionTreeClassifier if classify else DecisionTreeRegressor
    tree = cls(min_samples_leaf=min_leaf, max_leaf_nodes=max_leaves, random_state=seed)
    if fit_rows is None:
        tree.fit(x, y)
    else:
        tree.fit(x[fit_rows], y[fit_rows])
    return tree, tree.apply(x)


def to_arrays(
    tree, feature_ids: list[int], encodings: dict[str, list[float]]
) -> tuple[TreeArrays, dict[int, int]]:
    """Convert a fitted scikit-learn tree into TreeArrays; also return node id → leaf index."""
    t = tree.tree_
    left = t.children_left.astype(int)
    leaves = np.flatnonzero(left == -1)
    leaf_of = {int(node): i for i, node in enumerate(leaves)}
    leaf = np.full(t.node_count, -1)
    leaf[leaves] = np.arange(len(leaves))
    feat = np.where(left == -1, 0, t.feature)
    ids = np.asarray(feature_ids + [0]) if feature_ids else np.zeros(1, int)
    arrays = TreeArrays(
        left=left.tolist(),
        right=t.children_right.astype(int).tolist(),
        feature=[int(ids[f]) for f in feat],
        threshold=[float(v) if left[i] != -1 else 0.0 for i, v in enumerate(t.threshold)],
        missing_left=t.missing_go_to_left.astype(int).tolist(),
        leaf=leaf.tolist(),
        encodings=encodings,
    )
    return arrays, leaf_of


class CompiledTree:
    """TreeArrays as numpy arrays plus a flat category-encoding table, ready for `apply`."""

    def __init__(self, tree: TreeArrays, features: list[str]):
        self.left = np.asarray(tree.left, dtype=np.int64)
        self.right = np.asarray(tree.right, dtype=np.int64)
        self.feature = np.asarray(tree.feature, dtype=np.int64)
        self.threshold = np.asarray(tree.threshold, dtype=float)
        self.missing_left = np.asarray(tree.missing_left, dtype=bool)
        self.leaf = np.asarray(tree.leaf, dtype=np.int64)
        # enc_off[f] = start of feature f's encoding in enc_flat, -1 for numeric features.
        self.enc_off = np.full(len(features) + 1, -1, dtype=np.int64)
        flat: list[float] = []
        index = {name: i for i, name in enumerate(features)}
        for name, values in tree.encodings.items():
            self.enc_off[index[name]] = len(flat)
            flat.extend(values)
        self.enc_flat = np.asarray(flat + [0.0], dtype=float)

    def apply(self, x: np.ndarray) -> np.ndarray:
        """Leaf index of every row of the global feature matrix `x` (NaN = missing)."""
        n = x.shape[0]
        node = np.zeros(n, dtype=np.int64)
        active = np.arange(n) if self.left[0] != -1 else np.zeros(0, dtype=np.int64)
        while active.size:
            nd = node[active]
            f = self.feature[nd]
            v = x[active, f]
            off = self.enc_off[f]
            cat = (off >= 0) & ~np.isnan(v)
            if cat.any():
                codes = v[cat].astype(np.int64)
                v = v.copy()
                v[cat] = self.enc_flat[off[cat] + codes]
            go_left = np.where(np.isnan(v), self.missing_left[nd], v <= self.threshold[nd])
            nxt = np.where(go_left, self.left[nd], self.right[nd])
            node[active] = nxt
            active = active[self.left[nxt] != -1]
        return self.leaf[node]


def draw_entries(
    offsets: np.ndarray, weights: np.ndarray, leaf: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Pick one entry per row from its leaf's weighted list (flat CSR lists), fully vectorised.

    Each leaf's cumulative shares are shifted by the leaf index, so one `searchsorted` over the flat array
    finds every row's entry: row r with leaf l and uniform u lands in [l, l+1).
    """
    n_leaves = len(offsets) - 1
    owner = np.repeat(np.arange(n_leaves), np.diff(offsets))
    w = weights.astype(float)
    totals = np.bincount(owner, weights=w, minlength=n_leaves)
    share = w / np.where(totals[owner] > 0, totals[owner], 1.0)
    cum = np.cumsum(share)
    # cumulative within leaf: subtract the sum of previous leaves
    start = np.concatenate([[0.0], cum])[offsets[:-1]]
    shifted = owner + np.clip(cum - start[owner], 0, 1)
    shifted[offsets[1:][np.diff(offsets) > 0] - 1] = np.arange(n_leaves)[np.diff(offsets) > 0] + 1.0
    u = leaf + rng.random(len(leaf)) * (1 - 1e-12)
    pos = np.searchsorted(shifted, u, side="right")
    # Guard against float edge cases: stay inside the row's own leaf.
    return np.clip(pos, offsets[leaf], np.maximum(offsets[leaf + 1] - 1, offsets[leaf]))
