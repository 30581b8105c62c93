"""Machine-learning utility: train on synthetic, test on real (TSTR) against train on real (TRTR).

Three model families (logistic/linear regression, random forest, histogram gradient boosting) are trained
twice — once on synthetic rows, once on real training rows — and tested on the same real rows (the holdout,
or a 25 % split of the real table when there is none). Both training sets have the same number of rows (at
most `TRAIN_ROWS`, drawn at random), so the ratio compares the data, not how much of it there is. Features
are the evaluation's shared encodings, fitted on the real table: the one-hot/robust-scaled matrix for the
linear model and the forest, the compact matrix (numbers and native category codes) for boosting. Forests
and boosting are small and fixed, so the family runs in about a second on any table. The utility score of a
model is the ratio of TSTR to TRTR *above chance* (ROC AUC − 0.5 for classification, R² for regression): a
synthetic table whose target is independent of its features scores ≈ 0, not 0.5/0.9.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import rankdata
from sklearn import metrics as skm
from sklearn.base import clone
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.linear_model import LogisticRegression, Ridge

from seedgen.evaluation.base import Metric
from seedgen.evaluation.prepare import Columns, Encoder, Vocabulary

#: training rows per side: TSTR and TRTR models are fitted on the same number of rows (fewer when the
#: synthetic or the real training table is smaller); the headline ratio on the example tables moved by
#: < 0.02 between 3,000 and 7,500 rows (per-model ratios of useless data stay within their ±0.25 noise),
#: and the linear model and forest cost about linearly in rows
TRAIN_ROWS = 3_000
TEST_ROWS = 20_000
#: the real training sample never shrinks below this to match a tiny synthetic table (a model on a handful
#: of real rows would make TRTR, and so the ratio, meaningless)
MIN_REAL_ROWS = 200
#: test rows a class needs for its one-vs-rest AUC to enter the multi-class average
MIN_AUC_ROWS = 5
#: integer targets with at most this many values are treated as classes
MAX_CLASSES = 20


def task_of(spec) -> str | None:
    if spec.kind in ("categorical", "boolean"):
        return "classification"
    if spec.kind == "integer" and spec.n_unique <= MAX_CLASSES:
        return "classification"
    if spec.kind in ("numeric", "integer"):
        return "regression"
    return None


#: small, fixed models: fast, and stable on small classes (unregularised 100-round boosting diverged on a
#: 7-class target with a rare class); the same settings for classification and regression. Each forest
#: tree sees half the rows (bootstrap of n/2), which halves the cost and leaves the averaged score stable.
#: Boosting grows one tree per class per round, so its cost is mostly per-node overhead: 10 rounds of
#: 8-leaf trees (ratios on the example tables within 0.02 of 15 rounds of 15 leaves) keep a 7-class
#: target at ~0.1 s a fit.
_FOREST = dict(
    n_estimators=20, max_depth=10, max_features="sqrt", min_samples_leaf=2, max_samples=0.5, n_jobs=1
)
_BOOSTING = dict(
    max_iter=10,
    learning_rate=0.35,
    max_leaf_nodes=8,
    max_bins=64,
    l2_regularization=1.0,
    early_stopping=False,
)


def _models(task: str, seed: int, is_cat: np.ndarray) -> dict:
    """name → (model, which feature matrix it trains on)."""
    boost = dict(_BOOSTING, categorical_features=is_cat if is_cat.any() else None, random_state=seed)
    if task == "classification":
        return {
            "logistic_regression": (LogisticRegression(max_iter=60, tol=1e-3, C=1.0), "linear_columns_first"),
            "random_forest": (RandomForestClassifier(**_FOREST, random_state=seed), "linear"),
            "gradient_boosting": (HistGradientBoostingClassifier(**boost), "compact"),
        }
    return {
        "linear_regression": (Ridge(alpha=1.0), "linear_columns_first"),
        "random_forest": (RandomForestRegressor(**_FOREST, random_state=seed), "linear"),
        "gradient_boosting": (HistGradientBoostingRegressor(**boost), "compact"),
    }


def _labels(table: Columns, target: str, task: str) -> tuple[np.ndarray, np.ndarray]:
    """(labels, valid mask): class label strings (object) or numbers."""
    if task == "classification":
        codes, labels = table.factorized(target)
        return np.append(labels, None).astype(object)[codes], codes >= 0
    y = table.num(target)
    return y, ~np.isnan(y)


def _auc(positive: np.ndarray, score: np.ndarray) -> float:
    """ROC AUC as the Mann–Whitney statistic (tied scores share their average rank): the area scikit-learn's
    `roc_auc_score` computes, without its per-call input checks (a tenth of the cost on 2,500 rows)."""
    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    ranks = rankdata(score)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _class_scores(model, x, y, classes: list[int], positive: int) -> dict[str, float | None]:
    """Accuracy, precision, recall, F1 (binary on the minority class, else macro over `classes`) and ROC AUC.

    Precision/recall/F1 come from one confusion matrix (the definitions of scikit-learn's scores with
    zero_division=0, without their per-call input checks). Multi-class ROC AUC is the one-vs-rest AUC
    averaged over the classes with at least `MIN_AUC_ROWS` test rows: an AUC over one or two positive rows
    swings between 0 and 1 with a single prediction (a 7-class target with one test row of its rarest class
    moved the TRTR AUC from 0.999 to 0.858); those classes still count in precision, recall and F1.
    """
    p = model.predict_proba(x)
    known = list(model.classes_)
    pred = np.asarray(model.classes_)[
        np.argmax(p, axis=1)
    ]  # what predict() returns, without predicting twice
    labels = sorted(set(classes) | set(known) | set(np.unique(pred).tolist()))
    at = {c: i for i, c in enumerate(labels)}
    k = len(labels)
    yi = np.array([at[v] for v in y.tolist()], dtype=np.int64)
    pi = np.array([at[v] for v in pred.tolist()], dtype=np.int64)
    conf = np.bincount(yi * k + pi, minlength=k * k).reshape(k, k)
    tp = np.diag(conf).astype(float)
    fp = conf.sum(axis=0) - tp
    fn = conf.sum(axis=1) - tp

    def ratio(num, den):
        return np.where(den > 0, num / np.where(den > 0, den, 1), 0.0)

    prec, rec, f1 = ratio(tp, tp + fp), ratio(tp, tp + fn), ratio(2 * tp, 2 * tp + fp + fn)
    out: dict[str, float | None] = {"accuracy": float(tp.sum() / max(len(y), 1))}
    idx = [at[positive]] if len(classes) == 2 else [at[c] for c in classes]
    out["precision"] = float(np.mean(prec[idx]))
    out["recall"] = float(np.mean(rec[idx]))
    out["f1"] = float(np.mean(f1[idx]))

    def proba_of(c):
        return p[:, known.index(c)] if c in known else np.zeros(len(y))

    counts = {c: int(n) for c, n in zip(*np.unique(y, return_counts=True), strict=True)}
    if len(counts) < 2:
        out["roc_auc"] = None
    elif len(classes) == 2:
        out["roc_auc"] = _auc(y == positive, proba_of(positive))
    else:
        scored = [c for c, n in counts.items() if n >= MIN_AUC_ROWS] or list(counts)
        if len(scored) == 2 and len(counts) == 2:
            scored = scored[1:]  # two classes in the test rows: one AUC says it all
        out["roc_auc"] = float(np.mean([_auc(y == c, proba_of(c)) for c in scored]))
    return out


def _reg_scores(model, x, y) -> dict[str, float | None]:
    pred = model.predict(x)
    return {
        "r2": float(skm.r2_score(y, pred)),
        "mae": float(skm.mean_absolute_error(y, pred)),
        "rmse": float(np.sqrt(skm.mean_squared_error(y, pred))),
    }


def gain_ratio(tstr: float | None, trtr: float | None, chance: float) -> float | None:
    """(TSTR − chance) / (TRTR − chance); None when real training itself is at chance.

    Not floored: a model trained on useless rows lands on either side of chance (a random direction over
    informative one-hot columns can score AUC 0.37 or 0.62 on the real rows), and flooring each model at 0
    before averaging would bias a useless table upwards. The mean over models is floored instead.
    """
    if tstr is None or trtr is None or trtr - chance <= 1e-9:
        return None
    return (tstr - chance) / (trtr - chance)


@dataclass
class _Side:
    """One training or test set: the rows' two feature matrices and their labels."""

    linear: np.ndarray
    compact: np.ndarray
    y: np.ndarray

    @property
    def linear_columns_first(self) -> np.ndarray:
        """The linear matrix in column-major order: the linear model's gradient step (X.T @ residuals, once
        per iteration) runs ~20 % faster on it; the forest gains nothing from it."""
        return np.asfortranarray(self.linear)


def _side(table: Columns, encoder: Encoder, lin_cols, cmp_cols, rows, y) -> _Side:
    # float32 for the linear model and forest: half the memory traffic, and trees work in float32 anyway
    return _Side(
        encoder.transform(table)[rows][:, lin_cols].astype(np.float32),
        encoder.compact(table)[rows][:, cmp_cols],
        y[rows],
    )


def _fit_score(model, x, y, test_x, test_y, task, classes, positive) -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence warnings of the linear model
        model.fit(x, y)
    if task == "classification":
        return _class_scores(model, test_x, test_y, classes, positive)
    return _reg_scores(model, test_x, test_y)


class TSTRUtility(Metric):
    """Mean over three model families of the TSTR/TRTR ratio above chance of the main metric."""

    name = "utility.tstr_ratio"
    description = "TSTR / TRTR above chance (ROC AUC − 0.5, or R²), averaged over three model families"
    max_value = float("inf")  # a synthetic table can, rarely, train a better model than the real one
    level = "table"

    @classmethod
    def compute_breakdown(cls, real, synthetic, **context):
        """real: real rows (typed frame or `Columns`); synthetic: synthetic rows; context: test (real rows
        to test on), target, spec (the target's ColumnSpec), columns (evaluated feature ColumnSpecs), seed,
        real_rows / test_rows (which rows of `real` / `test` to use; default all), encoder (the shared `Encoder`,
        fitted here when not given), cache (a dict in which TRTR results are kept for the next set)."""
        test, target, spec, seed = context["test"], context["target"], context["spec"], context.get("seed", 0)
        real, synthetic, test = (x if isinstance(x, Columns) else Columns(x) for x in (real, synthetic, test))
        columns = [c for c in context["columns"] if c.name != target]
        encoder = context.get("encoder") or Encoder(real, columns, Vocabulary(real, columns))
        names = [c.name for c in columns if c.name in encoder.position]
        lin_cols, cmp_cols = encoder.linear_columns(names), encoder.compact_columns(names)
        is_cat = encoder.is_categorical[cmp_cols]
        task = task_of(spec)
        (y_real, ok_real), (y_syn, ok_syn), (y_test, ok_test) = (
            _labels(t, target, task) for t in (real, synthetic, test)
        )
        pool = context.get("real_rows")
        pool = np.arange(len(real)) if pool is None else np.asarray(pool)
        real_pool = pool[ok_real[pool]]
        syn_pool, test_pool = np.flatnonzero(ok_syn), np.flatnonzero(ok_test)
        if context.get("test_rows") is not None:
            test_pool = np.intersect1d(test_pool, context["test_rows"])
        n_syn = min(TRAIN_ROWS, len(syn_pool))
        n_real = min(TRAIN_ROWS, len(real_pool), max(n_syn, MIN_REAL_ROWS))
        rng = np.random.default_rng(seed)
        real_rows = np.sort(rng.choice(real_pool, n_real, replace=False))
        syn_rows = np.sort(np.random.default_rng(seed + 1).choice(syn_pool, n_syn, replace=False))
        test_rows = test_pool
        if len(test_rows) > TEST_ROWS:
            test_rows = np.sort(np.random.default_rng(seed + 2).choice(test_rows, TEST_ROWS, replace=False))
        tr, sy, te = (
            _side(t, encoder, lin_cols, cmp_cols, rows, y)
            for t, rows, y in (
                (real, real_rows, y_real),
                (synthetic, syn_rows, y_syn),
                (test, test_rows, y_test),
            )
        )
        syn_trainable = len(set(sy.y.tolist())) >= 2 if task == "classification" else len(sy.y) >= 10
        classes, positive = None, None
        if task == "classification":
            counts = pd.Series(tr.y).value_counts()
            label_names = sorted(set(tr.y.tolist()) | set(te.y.tolist()) | set(sy.y.tolist()))
            # integer labels: sklearn's target checks on object arrays of strings cost more than the fits
            code = {c: i for i, c in enumerate(label_names)}
            for side in (tr, sy, te):
                side.y = np.array([code[v] for v in side.y], dtype=np.int64)
            classes = sorted(set(tr.y.tolist()) | set(te.y.tolist()))
            positive = code[str(counts.index[-1])]  # the minority class: the one a user usually cares about
            main, chance = "roc_auc", 0.5
        else:
            main, chance = "r2", 0.0
        cache = context.get("cache")
        key = (target, n_real, seed, tuple(names))
        trtr_all = cache.get(key) if cache is not None else None
        results, fresh = [], {}
        for name, (model, view) in _models(task, seed, is_cat).items():
            scores = {}
            if trtr_all is not None:
                scores["trtr"] = trtr_all[name]
            else:
                scores["trtr"] = _fit_score(
                    clone(model), getattr(tr, view), tr.y, getattr(te, view), te.y, task, classes, positive
                )
                fresh[name] = scores["trtr"]
            scores["tstr"] = (
                _fit_score(model, getattr(sy, view), sy.y, getattr(te, view), te.y, task, classes, positive)
                if syn_trainable
                else {}
            )
            ratio = gain_ratio(scores["tstr"].get(main), scores["trtr"].get(main), chance)
            results.append({"model": name, "tstr": scores["tstr"], "trtr": scores["trtr"], "ratio": ratio})
        if cache is not None and trtr_all is None:
            cache[key] = fresh
        ratios = [r["ratio"] for r in results if r["ratio"] is not None]
        return {
            "score": max(0.0, float(np.mean(ratios))) if ratios else None,
            "task": task,
            "main_metric": main,
            "models": results,
            "synthetic_trainable": syn_trainable,
            "train_rows": {"real": int(n_real), "synthetic": int(n_syn)},
            "test_rows": int(len(test_rows)),
        }
