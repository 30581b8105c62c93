"""Gradient boosting for the `--target` column: class probabilities, or the mean of a number.

The target is drawn last, from every other column; a model trained on the synthetic rows then learns
P(target | row) from the draws, so their quality is the sampler's TSTR/TRTR. One tree's leaf shares are a
coarse, noisy estimate of it (a staircase over a few hundred leaves); a few dozen small trees fitted to the
log-loss gradient (multinomial boosting with Newton leaf values) estimate it far better (quality bench,
the loans example's target, mean of 3 draws: TSTR/TRTR 0.990 against 0.965 with one tree of 50-row leaves).
Classes are drawn from the scores divided by a temperature (default 0.8) with offsets that keep the real
class shares: less noisy labels than the fitted probabilities give, which models trained on the rows learn
better from (`_share_offsets` says why and what it costs).

A numeric target gets least-squares boosting of its mean instead (`fit_boosted_mean`): a drawn value is
the boosted mean of its row plus a residual drawn from the residuals of the real rows in the same leaf of
the column's tree, so both E[target | row] and the spread around it are the real ones. Boosting starts
from a linear fit where held-out rows show the trees alone missing a proportional relation.

Privacy is as for any tree: every leaf value is a statistic of at least `min_leaf` real rows. The trees are
stored as `TreeArrays` with one value per leaf and traversed in numpy like the others.
"""

from __future__ import annotations

import numpy as np
from sklearn.tree import DecisionTreeRegressor

from seedgen.sampler.model import TARGET_TEMPERATURE, BoostedClasses, BoostedMean, TreeArrays
from seedgen.sampler.trees import CompiledTree, to_arrays

#: boosting stages, learning rate, leaves per tree, share of rows per stage (stochastic boosting) and
#: most rows per stage (the fit costs STAGES × classes small trees; this keeps it to seconds on any table)
STAGES = 20
RATE = 0.35
LEAVES = 16
SUBSAMPLE = 0.5
STAGE_ROWS = 4_000

#: fixed-point steps that put the sharpened class shares back on the real ones
SHARE_STEPS = 50


#: the linear start of a numeric target: folds that test it, how much less held-out squared error than
#: boosting from the mean it must give to be used, and its ridge penalty per row on standardized columns
LINEAR_FOLDS = 3
LINEAR_GAIN = 0.15
LINEAR_RIDGE = 1e-3
LINEAR_CHECK_ROWS = 10_000

#: categories with fewer rows (of a stage's subsample) than this are encoded as the global mean in its
#: tree: an encoding of one or two rows would describe those rows' residuals
MIN_CATEGORY_ROWS = 5
#: pseudo-rows pulling a category's mean residual toward 0 (the global mean of a residual)
CATEGORY_SMOOTHING = 10.0


def _encode_categories(x, r, sub, categories):
    """Re-encode each categorical predictor of `x` by its categories' mean residual on rows `sub`.

    One fixed ordering of a column's categories (the sampler's encoding, placed for the column's own tree)
    serves a multi-class target badly: a category may raise one minority class and leave the others alone.
    Ordering the categories by the gradient each tree fits makes its best split over them the optimal
    two-set partition (Fisher's result for regression trees; what LightGBM does for categories).
    Returns the re-encoded matrix and the encodings to store with the tree.
    """
    if not categories:
        return x, {}
    x = x.copy()
    enc = {}
    for name, (j, codes, k) in categories.items():
        c = codes[sub]
        ok = c >= 0
        count = np.bincount(c[ok], minlength=k).astype(float)
        total = np.bincount(c[ok], weights=r[sub][ok], minlength=k)
        e = np.where(count >= MIN_CATEGORY_ROWS, total / (count + CATEGORY_SMOOTHING), 0.0)
        e = np.asarray([float(f"{v:.7g}") for v in e])
        x[:, j] = np.where(codes >= 0, e[np.clip(codes, 0, None)], np.nan)
        enc[name] = e.tolist()
    return x, enc


def _stage_tree(x, r, h, sub, *, min_leaf, seed, feature_ids, encodings, categories=None, scale=1.0):
    """One boosting tree fitted to the gradient `r` on rows `sub`, with Newton leaf values Σr / Σh (from
    those rows): (arrays, leaf values, leaf index of every row of `x`). `categories` (name → (column of
    `x`, codes, number of categories)) are re-encoded for this tree (see `_encode_categories`)."""
    x, stage_enc = _encode_categories(x, r, sub, categories)
    reg = DecisionTreeRegressor(min_samples_leaf=min_leaf, max_leaf_nodes=LEAVES, random_state=seed)
    reg.fit(x[sub], r[sub])
    arrays, leaf_of = to_arrays(reg, feature_ids, {**encodings, **stage_enc})
    leaf = np.asarray(arrays.leaf, dtype=np.int64)[reg.apply(x)]
    num = np.bincount(leaf[sub], weights=r[sub], minlength=len(leaf_of))
    den = np.bincount(leaf[sub], weights=h[sub], minlength=len(leaf_of))
    gamma = scale * num / np.maximum(den, 1e-9)
    return arrays, gamma, leaf


def _subset(categories: dict | None, rows: np.ndarray) -> dict | None:
    if not categories:
        return categories
    return {name: (j, codes[rows], k) for name, (j, codes, k) in categories.items()}


def _stage_rows(n: int, min_leaf: int) -> int:
    """Rows each stage's trees are fitted on: SUBSAMPLE of the `n` rows, at most STAGE_ROWS, and never so
    few that a tree could not hold four leaves of `min_leaf` rows."""
    return min(max(int(SUBSAMPLE * n), min(n, 4 * min_leaf)), max(STAGE_ROWS, 4 * min_leaf))


def _softmax(raw: np.ndarray) -> np.ndarray:
    z = np.exp(raw - raw.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def fit_boosted(
    x: np.ndarray,
    y: np.ndarray,
    *,
    min_leaf: int,
    seed: int,
    feature_ids: list[int],
    encodings: dict[str, list[float]],
    rows: np.ndarray | None = None,
    categories: dict | None = None,
    temperature: float = TARGET_TEMPERATURE,
) -> BoostedClasses | None:
    """Fit multinomial boosting of `y` (class codes) on `x` (NaN = missing); None with fewer than 2 classes.

    With `rows`, only those rows are used (the subset the splits of large tables are learned from).
    `categories` maps a categorical predictor's name to (its column in `x`, its codes with -1 = null, its
    number of categories): each tree orders them by its own gradient. `temperature` is stored with the
    model, with the offsets that keep the class shares at the fitted rows' (see `_share_offsets`).
    """
    if rows is not None:
        x, y = x[rows], y[rows]
        categories = _subset(categories, rows)
    labels, yi = np.unique(y, return_inverse=True)
    k, n = len(labels), len(y)
    if k < 2 or n < 4 * min_leaf:
        return None
    if x.shape[1] == 0:
        x = np.zeros((n, 1))
    onehot = np.eye(k)[yi]
    prior = np.clip(onehot.mean(axis=0), 1e-6, None)
    init = np.log(prior)
    # Binary targets need one tree per stage (the second class's score stays at its prior).
    fitted = [1] if k == 2 else list(range(k))
    raw = np.tile(init, (n, 1))
    rng = np.random.default_rng(seed + 104_729)
    take = _stage_rows(n, min_leaf)
    trees: list[TreeArrays] = []
    tree_class: list[int] = []
    values: list[list[float]] = []
    for stage in range(STAGES):
        p = _softmax(raw)
        sub = np.sort(rng.choice(n, take, replace=False))
        for c in fitted:
            r = onehot[:, c] - p[:, c]
            arrays, gamma, leaf = _stage_tree(
                x,
                r,
                np.abs(r) * (1 - np.abs(r)),
                sub,
                min_leaf=min_leaf,
                seed=seed + stage,
                feature_ids=feature_ids,
                encodings=encodings,
                categories=categories,
                scale=1.0 if k == 2 else (k - 1) / k,
            )
            gamma = np.clip(gamma, -4.0, 4.0) * RATE
            raw[:, c] += gamma[leaf]
            trees.append(arrays)
            tree_class.append(c)
            values.append([float(f"{v:.7g}") for v in gamma])
    return BoostedClasses(
        codes=[int(v) for v in labels],
        init=[float(v) for v in init],
        trees=trees,
        tree_class=tree_class,
        values=values,
        temperature=temperature,
        offsets=_share_offsets(raw, onehot.mean(axis=0), temperature),
    )


def _share_offsets(raw: np.ndarray, shares: np.ndarray, temperature: float) -> list[float]:
    """Per-class offsets that make the mean of softmax(raw / temperature + offsets) over the fitted rows
    equal the real class `shares`.

    Why sharpen at all: a model trained on the synthetic rows learns from labels drawn from an estimate
    of P(class | row), not from the real labels. A calibrated estimate draws labels as noisy as the real
    ones and adds its own estimation error on top, so models trained on its draws rank real rows worse
    than models trained on real rows (loans homeownership: the held-out log-loss optimum, rate 0.15 × 25
    stages, scored TSTR/TRTR 0.957 against 0.967 for the default's over-fitted 20 stages at 0.35).
    Dividing the scores by a temperature below 1 draws less noisy labels (at 0.8: 0.987; see
    docs/sampler.md). The cost: P(class | row) in the synthetic rows is more extreme than the real one, so
    a model trained on them is over-confident (`--target-temperature 1` draws the fitted probabilities).
    Sharpening alone would also move the class shares toward the majority class (a shape a detector
    sees); the offsets keep them at the real shares. Empty at temperature 1 (nothing to correct).
    """
    if temperature == 1.0:
        return []
    scaled = raw / temperature
    offsets = np.zeros(raw.shape[1])
    target = np.log(np.clip(shares, 1e-12, None))
    for _ in range(SHARE_STEPS):
        offsets += target - np.log(np.clip(_softmax(scaled + offsets).mean(axis=0), 1e-12, None))
    return [float(f"{v:.7g}") for v in offsets]


def class_probabilities(boost: BoostedClasses, x: np.ndarray, features: list[str]) -> np.ndarray:
    """P(class) per row of the global feature matrix `x`, columns in `boost.codes` order: the softmax of
    the boosted scores divided by the model's temperature, plus its share offsets."""
    raw = np.tile(np.asarray(boost.init), (x.shape[0], 1))
    for arrays, c, vals in zip(boost.trees, boost.tree_class, boost.values, strict=True):
        leaf = CompiledTree(arrays, features).apply(x)
        raw[:, c] += np.asarray(vals)[leaf]
    if boost.temperature != 1.0:
        raw = raw / boost.temperature
    if boost.offsets:
        raw = raw + np.asarray(boost.offsets)
    return _softmax(raw)


def fit_boosted_mean(
    x: np.ndarray,
    y: np.ndarray,
    *,
    min_leaf: int,
    seed: int,
    feature_ids: list[int],
    encodings: dict[str, list[float]],
    rows: np.ndarray | None = None,
    categories: dict | None = None,
) -> tuple[BoostedMean, np.ndarray] | None:
    """Least-squares boosting of the number `y` (NaN = null, left out) on `x`: the model and its mean for
    every row of `x`; None with too few non-null rows. With `rows`, the trees are fitted on those rows.
    Boosting starts from a linear fit in the numeric columns where that predicts held-out rows clearly
    better (see `_linear_helps`), else from the mean."""
    fit = np.flatnonzero(~np.isnan(y))
    if rows is not None:
        fit = np.intersect1d(fit, rows)
    if len(fit) < 4 * min_leaf:
        return None
    if x.shape[1] == 0:
        x = np.zeros((len(y), 1))
    kw = dict(
        min_leaf=min_leaf, seed=seed, feature_ids=feature_ids, encodings=encodings, categories=categories
    )
    numeric = [j for j in range(x.shape[1]) if j not in {c[0] for c in (categories or {}).values()}]
    line = _linear_fit(x, y, fit, numeric) if _linear_helps(x, y, fit, numeric, kw) else None
    # without a linear start, a line with no columns: the mean
    line = line or _Line([], [], [], float(y[fit].mean()))
    trees, values, mean = _boost_mean(x, y, fit, line.predict(x), kw)
    boost = BoostedMean(
        init=line.intercept,
        linear_features=[feature_ids[j] for j in line.cols],
        linear_coef=line.coef,
        linear_fill=line.fill,
        trees=trees,
        values=values,
    )
    return boost, mean


def _boost_mean(x, y, fit, base, kw) -> tuple[list[TreeArrays], list[list[float]], np.ndarray]:
    """STAGES least-squares trees fitted on rows `fit` to what `base` (a mean per row) leaves of `y`:
    (trees, leaf values, the boosted mean of every row)."""
    mean = base.copy()
    rng = np.random.default_rng(kw["seed"] + 104_729)
    take = _stage_rows(len(fit), kw["min_leaf"])
    ones = np.ones(len(y))
    trees: list[TreeArrays] = []
    values: list[list[float]] = []
    for stage in range(STAGES):
        sub = np.sort(rng.choice(fit, take, replace=False))
        arrays, gamma, leaf = _stage_tree(
            x, np.nan_to_num(y - mean), ones, sub, **{**kw, "seed": kw["seed"] + stage}
        )
        gamma = [float(f"{v:.7g}") for v in gamma * RATE]
        mean += np.asarray(gamma)[leaf]
        trees.append(arrays)
        values.append(gamma)
    return trees, values, mean


class _Line:
    """A linear fit in raw units: intercept + Σ coef · column (a null read as `fill`, the column's mean)."""

    def __init__(self, cols: list[int], coef: list[float], fill: list[float], intercept: float):
        self.cols, self.coef, self.fill, self.intercept = cols, coef, fill, intercept

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.intercept + _linear(x, self.cols, self.coef, self.fill)


def _linear(x: np.ndarray, cols: list[int], coef: list[float], fill: list[float]) -> np.ndarray:
    z = x[:, cols]
    z = np.where(np.isnan(z), np.asarray(fill), z)
    return z @ np.asarray(coef)


def _linear_fit(x, y, fit, numeric: list[int]) -> _Line | None:
    """Ridge regression of `y` on the numeric columns of `x` over rows `fit` (standardized columns, a small
    penalty since products of columns are collinear); None without a varying numeric column."""
    if not numeric:
        return None
    z = x[np.ix_(fit, numeric)]
    known = ~np.isnan(z)
    mu = np.where(known, z, 0.0).sum(axis=0) / np.maximum(known.sum(axis=0), 1)
    z = np.where(known, z, mu)
    sd = z.std(axis=0)
    use = sd > 0
    if not use.any():
        return None
    z = (z[:, use] - mu[use]) / sd[use]
    yf = y[fit] - y[fit].mean()
    coef = np.linalg.solve(z.T @ z + LINEAR_RIDGE * len(fit) * np.eye(z.shape[1]), z.T @ yf) / sd[use]
    return _Line(
        [numeric[j] for j in np.flatnonzero(use)],
        [float(f"{v:.10g}") for v in coef],
        [float(f"{v:.10g}") for v in mu[use]],
        float(y[fit].mean() - coef @ mu[use]),
    )


def _linear_helps(x, y, fit, numeric: list[int], kw) -> bool:
    """Whether boosting from a linear fit predicts held-out rows (LINEAR_FOLDS folds of `fit`) with at least
    LINEAR_GAIN less squared error than boosting from the mean.

    Trees of leaves of ≥ min_leaf rows describe a proportional relation in steps, worst in the tail, where
    one leaf spans the largest values: on statsmodels' star98 (212 training rows), pupils above a level
    against pupils below it, 0.91 correlated, came out 0.31 correlated; a linear start keeps it (held-out R²
    0.10 → 0.48). Where trees already follow the relation, the start only mixes residuals of rows with
    different means: a skewed amount of 7,000 loans (held-out R² 0.566 → 0.588) was easier to detect
    (0.546 → 0.581), so the start must earn its place.
    """
    if not numeric or len(fit) < 4 * kw["min_leaf"] * LINEAR_FOLDS / (LINEAR_FOLDS - 1):
        return False
    rng = np.random.default_rng(kw["seed"] + 3_571)
    if len(fit) > LINEAR_CHECK_ROWS:
        # the check fits boosting 2 × LINEAR_FOLDS times: on a sample, its cost stays that of a small table
        rows = np.sort(rng.choice(fit, LINEAR_CHECK_ROWS, replace=False))
        x, y, fit = x[rows], y[rows], np.arange(LINEAR_CHECK_ROWS)
        kw = {**kw, "categories": _subset(kw["categories"], rows)}
    fold = rng.permutation(len(fit)) % LINEAR_FOLDS
    err = np.zeros(2)
    for f in range(LINEAR_FOLDS):
        train, test = fit[fold != f], fit[fold == f]
        line = _linear_fit(x, y, train, numeric)
        if line is None:
            return False
        for i, base in enumerate((np.full(len(y), y[train].mean()), line.predict(x))):
            err[i] += float(np.sum((y[test] - _boost_mean(x, y, train, base, kw)[2][test]) ** 2))
    return err[1] <= (1 - LINEAR_GAIN) * err[0]


def boosted_mean(boost: BoostedMean, x: np.ndarray, features: list[str]) -> np.ndarray:
    """The boosted mean per row of the global feature matrix `x`."""
    out = np.full(x.shape[0], boost.init)
    if boost.linear_features:
        out += _linear(x, boost.linear_features, boost.linear_coef, boost.linear_fill)
    for arrays, vals in zip(boost.trees, boost.values, strict=True):
        out += np.asarray(vals)[CompiledTree(arrays, features).apply(x)]
    return out
