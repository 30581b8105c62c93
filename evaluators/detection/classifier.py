"""Detection: how well can a classifier tell real rows from synthetic ones?

Synthetic values are first rounded to the precision the real columns are written with (decimal places,
date resolution), otherwise trees split on decimal noise and every generator looks detectable. Both sides
are subsampled to the same size, labelled, and scored with 2-fold cross-validated ROC AUC of histogram
gradient boosting (categories as native categorical features, missing values kept as missing). AUC 0.5
means indistinguishable; 1.0 means every row gives itself away.
"""

from __future__ import annotations

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold

from seedgen.evaluation.base import Goal, Metric
from seedgen.evaluation.prepare import NUMERIC_LIKE, Columns, Encoder, Vocabulary

#: rows per side; AUC is stable well below this and the fit stays a few seconds
DETECTION_ROWS = 2_000
#: 2 folds: every row is still scored once by a model that did not see it (trained on the other 2,000
#: rows per side); AUCs matched 3 and 5 folds within ±0.015 on fresh real rows with one or three columns
#: shuffled, with two fits instead of three
FOLDS = 2
#: the classifier: 15-leaf trees, 15 rounds. On fresh real rows with one column's link to the rest broken
#: (one column shuffled) it scored AUC 0.89–0.93, as 20 rounds at rate 0.3 and 5 folds did; 8-leaf trees
#: missed more (0.84 with a 32-category column shuffled), so the trees keep 15 leaves
BOOSTING = dict(max_iter=15, max_leaf_nodes=15, learning_rate=0.4)


def round_like_real(values: np.ndarray, spec) -> np.ndarray:
    """Round a synthetic column (floats; dates as days since 1970) to the real column's written precision."""
    if spec.kind in ("numeric", "integer"):
        decimals = 0 if spec.kind == "integer" else (spec.decimals if spec.decimals is not None else 6)
        return np.round(values, decimals)
    if spec.kind == "datetime":
        fmt = spec.date_format or "%Y-%m-%d"
        if "%H" in fmt:
            return values
        ok = ~np.isnan(values)
        days = np.floor(values[ok]).astype("datetime64[D]")
        out = values.copy()
        if "%d" not in fmt:  # month precision: the first of the month
            days = days.astype("datetime64[M]").astype("datetime64[D]")
        out[ok] = days.astype(np.int64).astype(float)
        return out
    return values


def features(table: Columns, encoder: Encoder, columns, rows: np.ndarray, round: bool) -> np.ndarray:
    """The compact encoding (numbers, category codes, NaN for missing) of some rows, optionally rounded."""
    x = encoder.compact(table)[rows][:, encoder.compact_columns([c.name for c in columns])]
    if round:
        for j, spec in enumerate(c for c in columns if c.name in encoder.position):
            if spec.kind in NUMERIC_LIKE:
                x[:, j] = round_like_real(x[:, j], spec)
    return x


class DetectionAUC(Metric):
    """Cross-validated ROC AUC of a real-vs-synthetic classifier (0.5 = indistinguishable)."""

    name = "detection.classifier_auc"
    description = "2-fold CV ROC AUC of gradient boosting telling real from synthetic rows (0.5 is best)"
    goal = Goal.MINIMIZE
    min_value = 0.5
    level = "table"

    @classmethod
    def compute_breakdown(cls, real, synthetic, **context):
        """real/synthetic: typed frames or `Columns` views; context: columns (evaluated ColumnSpecs), seed,
        round (default True), encoder (the shared `Encoder`; fitted here when not given)."""
        columns, seed = context["columns"], context.get("seed", 0)
        real, synthetic = (x if isinstance(x, Columns) else Columns(x) for x in (real, synthetic))
        encoder = context.get("encoder") or Encoder(real, columns, Vocabulary(real, columns))
        columns = [c for c in columns if c.name in encoder.position]
        n = min(len(real), len(synthetic), DETECTION_ROWS)
        if n < 2 * FOLDS:
            return {"score": None, "note": f"too few rows ({n}) for {FOLDS}-fold cross-validation"}

        # independent draws per side: drawing the same row numbers from a copy would put each row in both
        # classes, and a model that learns a row's label in one fold predicts its twin wrong in another
        rng = np.random.default_rng(seed)
        xr = features(real, encoder, columns, rng.permutation(len(real))[:n], round=False)
        xs = features(
            synthetic, encoder, columns, rng.permutation(len(synthetic))[:n], round=context.get("round", True)
        )
        x = np.vstack([xr, xs])
        y = np.r_[np.zeros(n), np.ones(n)]
        categorical = np.array([c.kind not in NUMERIC_LIKE for c in columns])
        folds = StratifiedKFold(n_splits=FOLDS, shuffle=True, random_state=seed)
        aucs = []
        for train, test in folds.split(x, y):
            # A column with fewer than two values in a fold's training rows (possible on small sets) can
            # neither be binned nor split on: it is left out of that fold instead of failing the fit.
            keep = _varying(x[train])
            if not keep.any():
                aucs.append(0.5)
                continue
            model = HistGradientBoostingClassifier(
                **BOOSTING, categorical_features=categorical[keep], random_state=seed, early_stopping=False
            )
            model.fit(x[train][:, keep], y[train])
            aucs.append(float(roc_auc_score(y[test], model.predict_proba(x[test][:, keep])[:, 1])))
        auc = float(np.mean(aucs))
        return {"score": auc, "folds": [float(a) for a in aucs], "rows_per_side": n}

    @staticmethod
    def to_score(auc: float | None) -> float | None:
        """1 − 2·max(AUC − 0.5, 0): 1 = indistinguishable, 0 = perfectly separable."""
        return None if auc is None else 1.0 - 2.0 * max(auc - 0.5, 0.0)


def _varying(x: np.ndarray) -> np.ndarray:
    """Columns holding at least two distinct non-missing values."""
    filled = ~np.isnan(x)
    low = np.where(filled, x, np.inf).min(axis=0)
    high = np.where(filled, x, -np.inf).max(axis=0)
    return high > low
