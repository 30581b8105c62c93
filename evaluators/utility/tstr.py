"""Machine-learning utility: train on synthetic, test on real (TSTR) against train on real (TRTR).

Three model families (logistic/linear regression, random forest, histogram gradient boosting) are trained
twice — once on the synthetic rows, once on the real training rows — and tested on the same real rows (the
holdout, or a 25 % split of the real table when there is none). Features are encoded once, fitted on the
real table. Training sets are subsampled to 20k rows and forests are small, so the whole family runs in
seconds on any table. The utility score of a model is the ratio of TSTR to TRTR *above chance* (ROC AUC −
0.5 for classification, R² for regression): a synthetic table whose target is independent of its features
scores ≈ 0, not 0.5/0.9.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from sklearn import metrics as skm
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.linear_model import LogisticRegression, Ridge

from seedgen.evaluation.base import Metric
from seedgen.evaluation.prepare import Encoder, category_values, numeric_values

TRAIN_ROWS = 20_000
TEST_ROWS = 20_000
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
#: 7-class target with a rare class); the same settings for classification and regression
_FOREST = dict(n_estimators=20, max_depth=10, max_features="sqrt", min_samples_leaf=2, n_jobs=1)
_BOOSTING = dict(
    max_iter=15, learning_rate=0.3, max_leaf_nodes=15, l2_regularization=1.0, early_stopping=False
)


def _models(task: str, seed: int) -> dict:
    if task == "classification":
        return {
            "logistic_regression": LogisticRegression(max_iter=60, tol=1e-3, C=1.0),
            "random_forest": RandomForestClassifier(**_FOREST, random_state=seed),
            "gradient_boosting": HistGradientBoostingClassifier(**_BOOSTING, random_state=seed),
        }
    return {
        "linear_regression": Ridge(alpha=1.0),
        "random_forest": RandomForestRegressor(**_FOREST, random_state=seed),
        "gradient_boosting": HistGradientBoostingRegressor(**_BOOSTING, random_state=seed),
    }


def _labels(s: pd.Series, task: str) -> np.ndarray:
    if task == "classification":
        return category_values(s).to_numpy(dtype=object)
    return numeric_values(s)


def _valid(y: np.ndarray, task: str) -> np.ndarray:
    if task == "classification":
        return np.array([v is not None for v in y], dtype=bool)
    return ~np.isnan(y)


def _class_scores(model, x, y, classes: list[str], positive: str) -> dict[str, float | None]:
    pred = model.predict(x)
    proba = np.zeros((len(x), len(classes)))
    known = list(model.classes_)
    p = model.predict_proba(x)
    for j, c in enumerate(known):
        if c in classes:
            proba[:, classes.index(c)] = p[:, j]
    out: dict[str, float | None] = {"accuracy": float(skm.accuracy_score(y, pred))}
    if len(classes) == 2:
        kw = {"average": "binary", "pos_label": positive}
    else:
        kw = {"average": "macro", "labels": classes}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # undefined precision when a class is never predicted → 0
        out["precision"] = float(skm.precision_score(y, pred, zero_division=0, **kw))
        out["recall"] = float(skm.recall_score(y, pred, zero_division=0, **kw))
        out["f1"] = float(skm.f1_score(y, pred, zero_division=0, **kw))
    present = sorted(set(y))
    if len(present) < 2:
        out["roc_auc"] = None
    elif len(classes) == 2:
        out["roc_auc"] = float(skm.roc_auc_score(y == positive, proba[:, classes.index(positive)]))
    else:
        idx = [classes.index(c) for c in present]
        sub = proba[:, idx]
        total = sub.sum(axis=1, keepdims=True)
        # rows that put all their mass on classes absent from the test set: no information → uniform
        sub = np.where(total > 1e-12, sub / np.where(total > 1e-12, total, 1.0), 1.0 / len(present))
        if len(present) == 2:
            out["roc_auc"] = float(skm.roc_auc_score(y == present[1], sub[:, 1]))
        else:
            out["roc_auc"] = float(
                skm.roc_auc_score(y, sub, multi_class="ovr", average="macro", labels=present)
            )
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


class TSTRUtility(Metric):
    """Mean over three model families of the TSTR/TRTR ratio above chance of the main metric."""

    name = "utility.tstr_ratio"
    description = "TSTR / TRTR above chance (ROC AUC − 0.5, or R²), averaged over three model families"
    max_value = float("inf")  # a synthetic table can, rarely, train a better model than the real one
    level = "table"

    @classmethod
    def compute_breakdown(cls, real, synthetic, **context):
        """real: real training rows; synthetic: synthetic rows; context: test (real rows), target, spec,
        columns (evaluated ColumnSpecs), seed."""
        test, target, spec, seed = context["test"], context["target"], context["spec"], context.get("seed", 0)
        task = task_of(spec)
        encoder = Encoder(real, context["columns"], exclude=(target,))
        y_real, y_syn, y_test = (_labels(d[target], task) for d in (real, synthetic, test))
        real, synthetic, test = (
            d[_valid(y, task)] for d, y in ((real, y_real), (synthetic, y_syn), (test, y_test))
        )
        y_real, y_syn, y_test = (y[_valid(y, task)] for y in (y_real, y_syn, y_test))
        rng = np.random.default_rng(seed)

        def cap(x, y, n):
            if len(y) <= n:
                return x, y
            idx = rng.choice(len(y), n, replace=False)
            return x.iloc[idx], y[idx]

        real, y_real = cap(real, y_real, TRAIN_ROWS)
        synthetic, y_syn = cap(synthetic, y_syn, TRAIN_ROWS)
        test, y_test = cap(test, y_test, TEST_ROWS)
        x_real, x_syn, x_test = encoder.transform(real), encoder.transform(synthetic), encoder.transform(test)
        syn_trainable = len(set(y_syn.tolist())) >= 2 if task == "classification" else len(y_syn) >= 10
        results = []
        if task == "classification":
            counts = pd.Series(y_real).value_counts()
            names = sorted(set(y_real.tolist()) | set(y_test.tolist()) | set(y_syn.tolist()))
            # integer labels: sklearn's target checks on object arrays of strings cost more than the fits
            code = {c: i for i, c in enumerate(names)}
            y_real, y_syn, y_test = (
                np.array([code[v] for v in y], dtype=np.int64) for y in (y_real, y_syn, y_test)
            )
            classes = sorted(set(y_real.tolist()) | set(y_test.tolist()))
            positive = code[str(counts.index[-1])]  # the minority class: the one a user usually cares about
            main, chance = "roc_auc", 0.5
        else:
            main, chance = "r2", 0.0
        for name, model in _models(task, seed).items():
            scores = {}
            for label, x, y in (("trtr", x_real, y_real), ("tstr", x_syn, y_syn)):
                if label == "tstr" and not syn_trainable:
                    scores[label] = {}
                    continue
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # convergence warnings of the linear model
                    model.fit(x, y)
                if task == "classification":
                    scores[label] = _class_scores(model, x_test, y_test, classes, positive)
                else:
                    scores[label] = _reg_scores(model, x_test, y_test)
            ratio = gain_ratio(scores["tstr"].get(main), scores["trtr"].get(main), chance)
            results.append({"model": name, "tstr": scores["tstr"], "trtr": scores["trtr"], "ratio": ratio})
        ratios = [r["ratio"] for r in results if r["ratio"] is not None]
        return {
            "score": max(0.0, float(np.mean(ratios))) if ratios else None,
            "task": task,
            "main_metric": main,
            "models": results,
            "synthetic_trainable": syn_trainable,
        }
