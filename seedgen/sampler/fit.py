"""Fitting the sampler model from the real table (called by `seedgen profile`).

The model is sequential: columns are drawn in an order chosen from the discovered constraints (see
`seedgen.sampler.plan`), each from a small tree conditioned on the cluster label and the columns drawn
before it. Leaves hold at least `min_leaf` real rows, and their distributions are statistics (shares,
quantile bins, point masses of values many rows share) — so the model cannot reproduce a real row, unlike
synthpop-style CART that draws donor rows from small leaves.
"""

from __future__ import annotations

import logging
import math

import numpy as np
import pandas as pd

from seedgen.errors import UserInputError
from seedgen.sampler.boost import fit_boosted, fit_boosted_mean
from seedgen.sampler.ids import fit_id
from seedgen.sampler.leaves import (
    POINT_MASS_MIN_ROWS,
    categorical_leaves,
    frequent_values,
    grain_levels,
    numeric_leaves,
)
from seedgen.sampler.model import TARGET_TEMPERATURE, BoostedMean, SamplerModel, SamplerStep
from seedgen.sampler.plan import Derivation, make_plan
from seedgen.sampler.select import MAX_PREDICTORS, select_predictors
from seedgen.sampler.trees import category_encoding, fit_tree, to_arrays
from seedgen.schema import ColumnSpec

log = logging.getLogger("seedgen")

CLUSTER = "__cluster__"
#: fewest real rows behind a leaf distribution (privacy and smoothness; measured in quality_bench: with 20
#: the credit table's DCR share sat at 0.53-0.55 — rows nearer the training rows than the holdout — and
#: 40 brings it to 0.51 on both example tables, detection staying far below every non-copying baseline)
MIN_LEAF = 40
#: most leaves per tree; on big tables the leaf size grows instead (keeps seeds.json small)
MAX_LEAVES = 400
#: the model is fitted on at most this many rows (a seeded sample); the statistics barely change beyond it
MAX_FIT_ROWS = 200_000
#: most class labels a tree's split search distinguishes besides null (the rarer ones are pooled)
SPLIT_CLASSES = 64
#: a tree's splits are learned from at most this many of those rows (a seeded subset), its leaf
#: distributions from all of them: split search costs O(rows log rows) per feature and dominated the
#: profile of large tables, while ≤ MAX_LEAVES leaves are placed as well from this many rows
TREE_FIT_ROWS = 20_000
#: fewest real rows behind a leaf of the `--target` column's tree (drawn last, from every other column):
#: larger leaves estimate P(target | row) with less noise, which is what a model trained on the synthetic
#: rows has to learn (the loans example's target, labels drawn from the tree for the real rows: TSTR/TRTR 0.946 with
#: 50-row leaves, 0.928 with 20; 80 and 120 scored lower in the full bench)
TARGET_MIN_LEAF = 50
#: on small tables the leaf minimums shrink to a hundredth of the rows, never below this: with 40-row
#: leaves a 124-row table kept 3 leaves per tree and TSTR/TRTR fell to 0.64 (wine, 70/30 split; 0.98 with
#: 20, DCR share 0.54 -> 0.59 on its 54-row holdout); tables of 4,000+ rows keep MIN_LEAF and
#: TARGET_MIN_LEAF
SMALL_TABLE_LEAF = 20
#: a categorical target with fewer classes than this is drawn from boosted probabilities (one tree per
#: class and stage, so many-class targets keep their single tree)
BOOST_MAX_CLASSES = 20
#: a numeric target whose values are mostly point masses (shared by many rows) keeps its leaf draws
POINT_MASS_SHARE = 0.5
#: a date is drawn as an earlier date plus an offset when the offset's interquartile range is under this
#: share of the date's own (a ship date a few days after the order date)
OFFSET_SPREAD = 0.1
_NUMERIC = ("numeric", "integer", "datetime")
_DISCRETE = ("categorical", "boolean", "text")


def to_float(s: pd.Series, kind: str) -> np.ndarray:
    """Numbers as float64; dates as float days since the epoch (NaN = null)."""
    if kind == "datetime":
        d = pd.to_datetime(s, errors="coerce")
        out = d.to_numpy(dtype="datetime64[ns]").astype("int64").astype(float) / 86_400e9
        out[d.isna().to_numpy()] = np.nan
        return out
    return pd.to_numeric(s, errors="coerce").to_numpy(dtype=float)


def _classes(s: pd.Series) -> list[str]:
    vc = s.dropna().astype(str).value_counts(sort=True)
    return [str(k) for k in vc.index]


def _codes(s: pd.Series, classes: list[str]) -> np.ndarray:
    """Index of each value's spelling in `classes`; -1 for nulls and values not listed."""
    out = np.full(len(s), -1, dtype=np.int64)
    nn = s.notna().to_numpy()
    if nn.any():
        out[nn] = pd.Index(classes, dtype=object).get_indexer(s[nn].astype(str).astype(object))
    return out


def fit_sampler(
    data: pd.DataFrame,
    columns: list[ColumnSpec],
    labels: np.ndarray,
    rules: list,
    seed: int = 0,
    temperature: float = TARGET_TEMPERATURE,
) -> SamplerModel:
    """Fit the sampler on the coerced (typed) real data, with each row's cluster label.

    Contract: `data` is `seedgen.schema.coerce(...)` output with every column of `columns`; `labels` has
    one KMeans cluster id per row; `rules` are the discovered constraints (seeds.Constraint). The returned
    model holds statistics only, never a real row. `temperature` sharpens the draws of a `--target` drawn
    as classes (see `seedgen.sampler.boost._share_offsets`).
    """
    if len(data) == 0:
        raise UserInputError("cannot fit the sampler on an empty table", fix="profile a table with rows")
    labels = np.zeros(len(data), dtype=int) if labels is None else np.asarray(labels)
    if len(labels) != len(data):
        raise UserInputError(f"sampler: {len(labels)} cluster labels for {len(data)} rows")
    rng = np.random.default_rng(seed)
    if len(data) > MAX_FIT_ROWS:
        keep = np.sort(rng.choice(len(data), MAX_FIT_ROWS, replace=False))
        data, labels = data.iloc[keep].reset_index(drop=True), labels[keep]
    else:
        data = data.reset_index(drop=True)
    n = len(data)
    min_leaf = max(_small(MIN_LEAF, n), math.ceil(n / MAX_LEAVES))
    fit_rows = None
    if n > TREE_FIT_ROWS:
        fit_rows = np.sort(rng.choice(n, TREE_FIT_ROWS, replace=False))
    # Leaves hold ≥ fit_leaf rows of the subset, hence ≥ fit_leaf (≥ MIN_LEAF) of all rows, and about
    # min_leaf of them on average, as if the tree had been fitted on every row.
    fit_leaf = min_leaf if fit_rows is None else max(MIN_LEAF, math.ceil(TREE_FIT_ROWS / MAX_LEAVES))
    point_min = POINT_MASS_MIN_ROWS

    clusters, cluster_codes = np.unique(labels, return_inverse=True)
    weights = np.bincount(cluster_codes) / n

    steps: dict[str, SamplerStep] = {}
    modelled: list[str] = []
    n_unique: dict[str, int] = {}
    near_zero: set[str] = set()
    classes: dict[str, list[str]] = {}
    for spec in columns:
        if spec.name not in data.columns:
            raise UserInputError(f"sampler: column {spec.name!r} is missing from the data")
        s = data[spec.name]
        nonnull = s.dropna()
        if spec.kind == "id":
            steps[spec.name] = SamplerStep(column=spec.name, method="id", kind="id", id=fit_id(s))
        elif nonnull.empty or (nonnull.nunique() == 1 and len(nonnull) == n):
            value = None if nonnull.empty else nonnull.iloc[0]
            if spec.kind == "datetime" and value is not None:
                value = str(pd.Timestamp(value))
            elif isinstance(value, (np.floating, np.integer)):
                value = float(value)
            steps[spec.name] = SamplerStep(
                column=spec.name, method="constant", kind=spec.kind, constant=value
            )
        else:
            modelled.append(spec.name)
            n_unique[spec.name] = int(nonnull.nunique()) + int(len(nonnull) < n)
            if spec.kind in ("numeric", "integer") and _reaches_zero(nonnull):
                near_zero.add(spec.name)
            if spec.kind in _DISCRETE:
                cl = _classes(s)
                if spec.kind == "text":
                    # Free text keeps only values many rows share: a rare string can identify a person.
                    counts = nonnull.astype(str).value_counts()
                    cl = [str(k) for k in counts.index[counts >= point_min]]
                    if not cl:
                        cl = _word_phrases(nonnull, point_min, rng)
                classes[spec.name] = cl

    plan = make_plan(columns, rules, modelled, n_unique, n, near_zero)
    specs = {c.name: c for c in columns}
    features = [CLUSTER] + [c for c in plan.order if specs[c].kind != "text"]
    fidx = {f: i for i, f in enumerate(features)}

    # Global feature matrix of the real rows: numbers as floats, categories as codes (NaN = null).
    X = np.full((n, len(features)), np.nan)
    X[:, 0] = cluster_codes
    codes: dict[str, np.ndarray] = {}
    for name in plan.order:
        spec = specs[name]
        if spec.kind in _DISCRETE:
            codes[name] = _codes(
                data[name],
                classes[name] if name in classes else _lookup_classes(plan.derived[name], data[name]),
            )
            if spec.kind == "text":
                codes[name] = _spread_rare(codes[name], data[name], rng, len(classes.get(name) or []))
        if name in fidx:
            if spec.kind in _DISCRETE:
                X[:, fidx[name]] = np.where(codes[name] >= 0, codes[name], np.nan)
            else:
                X[:, fidx[name]] = to_float(data[name], spec.kind)
    n_classes = {name: len(classes.get(name) or []) for name in plan.order}

    sel = slice(None) if fit_rows is None else fit_rows
    for pos, name in enumerate(plan.order):
        spec = specs[name]
        if name in plan.derived:
            steps[name] = _derived_step(plan.derived[name], spec, data[name], classes)
            if spec.kind in _DISCRETE:
                classes[name] = steps[name].classes
                n_classes[name] = len(classes[name])
                codes[name] = _codes(data[name], classes[name])
                if name in fidx:
                    X[:, fidx[name]] = np.where(codes[name] >= 0, codes[name], np.nan)
            continue
        preds = [CLUSTER] + [c for c in plan.order[:pos] if c in fidx]
        pcols = [fidx[p] for p in preds]
        if spec.kind in _DISCRETE:
            k = len(classes[name])
            y = np.where(codes[name] >= 0, codes[name], k)
            if k > SPLIT_CLASSES:
                # Classes are ordered by frequency: the rarest share one label for the split search only
                # (its cost grows with the classes: 3,000 free-text values took 4 s per tree); the leaves
                # still count every class.
                y = np.where(y == k, SPLIT_CLASSES + 1, np.minimum(y, SPLIT_CLASSES))
            target = y
        else:
            values = real = X[:, fidx[name]] if name in fidx else to_float(data[name], spec.kind)
            anchor = _offset_anchor(values, preds, specs, X, fidx) if spec.kind == "datetime" else None
            if anchor is not None:
                # the leaves (and the splits placing them) describe the offset, not the column
                base = X[:, fidx[anchor[0]]]
                values = values - np.where(np.isnan(base), anchor[1], base)
            nn = ~np.isnan(values)
            rank = np.full(n, 0.5)
            if nn.any():
                rank[nn] = pd.Series(values[nn]).rank(pct=True).to_numpy()
            target = np.column_stack([(~nn).astype(float), rank])
        xl = X[:, pcols].copy()
        encodings = {}
        for j, p in enumerate(preds):
            if p == CLUSTER or specs[p].kind in _DISCRETE:
                kcat = len(clusters) if p == CLUSTER else n_classes[p]
                pc = np.nan_to_num(X[:, fidx[p]], nan=-1).astype(np.int64)
                # The encoding only places the splits, so the rows the splits are learned from suffice.
                enc = category_encoding(pc[sel], kcat, target[sel])
                encodings[p] = [float(f"{v:.9g}") for v in enc]
                xl[:, j] = np.where(pc >= 0, enc[np.clip(pc, 0, None)], np.nan)
        if len(pcols) > MAX_PREDICTORS:
            # Wide tables: only the earlier columns that explain most of this one (see sampler.select).
            keep = select_predictors(
                xl[sel],
                (y if spec.kind in _DISCRETE else target)[sel],
                classify=spec.kind in _DISCRETE,
                seed=seed,
            )
            kept = {preds[i] for i in keep}
            xl, pcols = xl[:, keep], [pcols[i] for i in keep]
            encodings = {p: e for p, e in encodings.items() if p in kept}
        tree, nodes = fit_tree(
            xl,
            y if spec.kind in _DISCRETE else target,
            classify=spec.kind in _DISCRETE,
            min_leaf=_leaf_size(spec, fit_leaf, n),
            max_leaves=MAX_LEAVES,
            seed=seed,
            fit_rows=fit_rows,
        )
        arrays, leaf_of = to_arrays(tree, pcols, encodings)
        leaf = np.asarray(arrays.leaf, dtype=np.int64)[nodes]
        step = SamplerStep(column=name, method="tree", kind=spec.kind, tree=arrays, decimals=spec.decimals)
        if spec.target:
            # The boosted target's trees re-encode categorical predictors from their raw codes.
            boosting = dict(
                min_leaf=_leaf_size(spec, fit_leaf, n),
                seed=seed,
                feature_ids=pcols,
                encodings=encodings,
                rows=fit_rows,
                categories={
                    p: (pcols.index(fidx[p]), np.nan_to_num(X[:, fidx[p]], nan=-1).astype(np.int64), len(e))
                    for p, e in encodings.items()
                },
            )
        if spec.target and spec.kind in _DISCRETE and len(classes[name]) < BOOST_MAX_CLASSES:
            # The target's classes are drawn from boosted probabilities (see sampler.boost); the tree's
            # leaves stay in the model as its description and for older readers.
            step.boost = fit_boosted(
                xl,
                np.where(codes[name] >= 0, codes[name], len(classes[name])),
                temperature=temperature,
                **boosting,
            )
        if spec.kind in _DISCRETE:
            step.classes = classes[name]
            step.categorical = categorical_leaves(codes[name], leaf, len(leaf_of), len(classes[name]))
        else:
            grains = grain_levels(spec.kind, spec.decimals)
            step.grains = grains
            frequent = frequent_values(values, point_min)
            step.numeric = numeric_leaves(values, leaf, len(leaf_of), frequent, grains)
            if anchor is not None:
                step.boost_mean = BoostedMean(
                    init=0.0,
                    linear_features=[fidx[anchor[0]]],
                    linear_coef=[1.0],
                    linear_fill=[anchor[1]],
                    trees=[],
                    values=[],
                    low=float(np.nanmin(real)),
                    high=float(np.nanmax(real)),
                )
            if spec.target and spec.kind != "datetime":
                _boost_number(step, xl, values, leaf, len(leaf_of), frequent, boosting, temperature)
        steps[name] = step

    ordered = [steps[c] for c in plan.order] + [steps[c.name] for c in columns if c.name not in plan.order]
    log.info(
        "sampler: %d columns modelled (%d computed), leaves of ≥ %d rows",
        len(plan.order),
        len(plan.derived),
        min_leaf,
    )
    return SamplerModel(
        min_leaf=min_leaf,
        point_mass_min_rows=point_min,
        clusters=[int(c) for c in clusters],
        cluster_weights=[float(w) for w in weights],
        features=features,
        steps=ordered,
        checks=plan.checks,
        columns=[c.name for c in columns],
    )


def _boost_number(step, xl, values, leaf, n_leaves, frequent, boosting: dict, temperature: float) -> None:
    """A numeric `--target` drawn from boosting rather than from its tree's leaves (see sampler.boost).

    A few distinct values (a score, a 0/1 flag, a count) are classes: drawn from boosted class
    probabilities, as a categorical target is. Otherwise a continuous target is the boosted mean plus a
    residual from its leaf, unless most of its values are point masses (a zero-inflated amount): the mean
    plus a residual would smear them, so such a column keeps its leaf draws.
    """
    nn = ~np.isnan(values)
    distinct = np.unique(values[nn])
    if 2 <= len(distinct) < BOOST_MAX_CLASSES:
        codes = np.where(nn, np.searchsorted(distinct, np.nan_to_num(values)), len(distinct))
        # A 0/1 flag is sharpened like a category; with more values the row's expected number matters
        # (a regression on them sees it), and sharpening would pull it toward the row's likeliest value.
        step.boost = fit_boosted(
            xl, codes, temperature=temperature if len(distinct) == 2 else 1.0, **boosting
        )
        if step.boost is not None:
            step.boost.numbers = [float(v) for v in distinct]
        return
    if frequent.size and np.isin(values[nn], frequent).mean() >= POINT_MASS_SHARE:
        return
    fitted = fit_boosted_mean(xl, values, **boosting)
    if fitted is None:
        return
    step.boost_mean, mean = fitted
    step.boost_mean.low, step.boost_mean.high = float(distinct[0]), float(distinct[-1])
    # The leaves hold residuals: no point masses or rounding grains (those apply to the drawn value).
    step.grains = []
    step.numeric = numeric_leaves(values - mean, leaf, n_leaves, np.zeros(0), [])


def _offset_anchor(values, preds: list[str], specs, X, fidx) -> tuple[str, float] | None:
    """The earlier date this date column is drawn as an offset from, and the day standing in for its nulls.

    Leaves of ≥ min_leaf rows give a column's range given its predictors, which for a date shipped 1–5
    days after the order date is far wider than the real gap (drawn gaps were 0–14 days). Drawn as the
    order date plus a gap from the leaves, the gap keeps its real distribution, point masses included.
    Only for a strong relation: the gap's interquartile range under OFFSET_SPREAD of the date's own.

    Numbers are left to their trees: on the loans, an amount drawn as another plus an offset was easier
    to detect (detection AUC 0.535 → 0.549 over 9 draws), as residuals of rows with different amounts mix.
    """
    own = _iqr(values)
    if own is None or own == 0:
        return None
    best, best_ratio = None, OFFSET_SPREAD
    for p in preds:
        if p not in specs or specs[p].kind != "datetime":  # the cluster feature is not a column
            continue
        base = X[:, fidx[p]]
        both = ~np.isnan(values) & ~np.isnan(base)
        if both.sum() < 0.9 * (~np.isnan(values)).sum() or both.sum() < 50:
            continue
        spread = _iqr(values[both] - base[both])
        if spread is not None and spread / own < best_ratio:
            best, best_ratio = p, spread / own
    if best is None:
        return None
    return best, float(np.nanmedian(X[:, fidx[best]]))


def _iqr(v: np.ndarray) -> float | None:
    v = v[~np.isnan(v)]
    if v.size == 0:
        return None
    q1, q3 = np.percentile(v, [25, 75])
    return float(q3 - q1)


def _reaches_zero(values: pd.Series) -> bool:
    """Whether a number column comes near 0 (its smallest magnitude under 1 % of its median one): dividing
    by it would blow up the noise of whatever it divides (see `make_plan`)."""
    mag = np.abs(pd.to_numeric(values, errors="coerce").to_numpy(dtype=float))
    mag = mag[~np.isnan(mag)]
    return mag.size == 0 or mag.min() < 0.01 * np.median(mag)


def _small(size: int, n: int) -> int:
    """A leaf minimum for a table of `n` rows: `size`, or n/100 (≥ SMALL_TABLE_LEAF) on small tables."""
    return max(SMALL_TABLE_LEAF, min(size, n // 100))


def _leaf_size(spec: ColumnSpec, fit_leaf: int, n: int) -> int:
    """Fewest rows (of those the splits are learned from) in a leaf of this column's tree."""
    return max(fit_leaf, _small(TARGET_MIN_LEAF, n)) if spec.target else fit_leaf


def _spread_rare(codes: np.ndarray, s: pd.Series, rng: np.random.Generator, n_classes: int = 0) -> np.ndarray:
    """Text rows holding a rare value get a frequent value instead (drawn by frequency), nulls stay null.

    When no row holds a shared value (the classes are composed phrases), rare rows get a phrase uniformly.
    """
    rare = (codes < 0) & s.notna().to_numpy()
    known = codes[codes >= 0]
    if rare.any() and (known.size or n_classes):
        codes = codes.copy()
        codes[rare] = rng.choice(known, rare.sum()) if known.size else rng.integers(0, n_classes, rare.sum())
    return codes


def _word_phrases(
    texts: pd.Series, min_rows: int, rng: np.random.Generator, n_phrases: int = 64
) -> list[str]:
    """Phrases of words that at least `min_rows` rows use, for free text where no whole value is shared.

    Sampler mode must not leave such a column empty (the real one is not), nor copy a rare value: the
    phrases take only shared words, as many per phrase as real values have, in their usual order, so no
    name, number or other rare word can reach the output. Empty when no word is shared either.
    """
    words = texts.astype(str).str.split()
    flat = words.explode().dropna()
    if flat.empty:
        return []
    row = flat.index.to_numpy()
    rows_per_word = pd.Series(row, index=flat.to_numpy()).groupby(level=0).nunique()
    frequent = rows_per_word[rows_per_word >= min_rows]
    if frequent.empty:
        return []
    lengths = words.str.len().to_numpy()
    position = pd.Series(
        flat.groupby(level=0).cumcount().to_numpy()
        / np.maximum(lengths[pd.Index(words.index).get_indexer(flat.index)] - 1, 1),
        index=flat.to_numpy(),
    )
    order = position.groupby(level=0).mean().reindex(frequent.index)
    vocab = frequent.index.to_numpy()
    p = frequent.to_numpy(dtype=float) / frequent.sum()
    phrases: set[str] = set()
    for k in rng.choice(lengths, n_phrases):
        k = int(min(max(k, 1), len(vocab)))
        pick = rng.choice(len(vocab), k, replace=False, p=p)
        pick = pick[np.argsort(order.to_numpy()[pick], kind="stable")]
        phrases.add(" ".join(vocab[pick]))
    return sorted(phrases)


def _lookup_classes(d: Derivation, s: pd.Series) -> list[str]:
    values = sorted({str(v) for v in d.rule.get("mapping", {}).values()} | set(_classes(s)))
    return values


def _derived_step(
    d: Derivation, spec: ColumnSpec, real: pd.Series, classes: dict[str, list[str]]
) -> SamplerStep:
    r = d.rule
    step = SamplerStep(column=d.target, method=d.method, kind=spec.kind, decimals=spec.decimals)
    if d.method == "linear":
        step.terms = {k: float(v) for k, v in r["terms"].items()}
        step.intercept = float(r.get("intercept", 0.0))
    elif d.method == "product":
        step.terms = {k: float(v) for k, v in r["factors"].items()}
        step.intercept = float(r.get("scale", 1.0))
    else:
        step.lhs = d.inputs[0]
        step.mapping = {str(k): str(v) for k, v in r["mapping"].items()}
        common = real.dropna()
        step.default = str(common.astype(str).mode().iloc[0]) if not common.empty else None
        if spec.kind in _DISCRETE:
            step.classes = _lookup_classes(d, real)
    return step
