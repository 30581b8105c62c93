"""Detection: how well can a classifier tell real rows from synthetic ones?

Synthetic values are first rounded to the precision the real columns are written with (decimal places,
date resolution), otherwise trees split on decimal noise and every generator looks detectable. Both sides
are subsampled to the same size, labelled, and scored with 5-fold cross-validated ROC AUC of histogram
gradient boosting (categories as native categorical features, missing values kept as missing). AUC 0.5
means indistinguishable; 1.0 means every row gives itself away.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import StratifiedKFold, cross_val_score

from seedgen.evaluation.base import Goal, Metric
from seedgen.evaluation.prepare import NUMERIC_LIKE, TOP_CATEGORIES, category_values, numeric_values

#: rows per side; AUC is stable well below this and the fit stays a few seconds
DETECTION_ROWS = 2_000
FOLDS = 5


def round_like_real(s: pd.Series, spec) -> pd.Series:
    """Round a typed synthetic column to the real column's written precision."""
    if spec.kind in ("numeric", "integer"):
        decimals = 0 if spec.kind == "integer" else (spec.decimals if spec.decimals is not None else 6)
        return pd.Series(np.round(numeric_values(s), decimals), index=s.index)
    if spec.kind == "datetime" and pd.api.types.is_datetime64_any_dtype(s):
        fmt = spec.date_format or "%Y-%m-%d"
        if "%d" not in fmt:
            return s.dt.to_period("M").dt.to_timestamp().where(s.notna())
        if "%H" not in fmt:
            return s.dt.floor("D")
    return s


def features(df: pd.DataFrame, columns, categories: dict[str, list[str]]) -> tuple[np.ndarray, list[bool]]:
    cols, is_cat = [], []
    for spec in columns:
        if spec.kind in NUMERIC_LIKE:
            cols.append(numeric_values(df[spec.name]))
            is_cat.append(False)
        else:
            cats = categories[spec.name]
            codes = pd.Index(cats, dtype=object).get_indexer(
                category_values(df[spec.name]).to_numpy(dtype=object)
            )
            codes = codes.astype(float)
            missing = df[spec.name].isna().to_numpy()
            codes[(codes < 0) & ~missing] = len(cats)  # unseen category → "other"
            codes[missing] = np.nan
            cols.append(codes)
            is_cat.append(True)
    return np.column_stack(cols), is_cat


class DetectionAUC(Metric):
    """Cross-validated ROC AUC of a real-vs-synthetic classifier (0.5 = indistinguishable)."""

    name = "detection.classifier_auc"
    description = "5-fold CV ROC AUC of gradient boosting telling real from synthetic rows (0.5 is best)"
    goal = Goal.MINIMIZE
    min_value = 0.5
    level = "table"

    @classmethod
    def compute_breakdown(cls, real, synthetic, **context):
        """context: columns (evaluated ColumnSpecs), seed, round (default True)."""
        columns, seed = context["columns"], context.get("seed", 0)
        n = min(len(real), len(synthetic), DETECTION_ROWS)
        if n < 2 * FOLDS:
            return {"score": None, "note": f"too few rows ({n}) for {FOLDS}-fold cross-validation"}
        r = real.sample(n=n, random_state=seed) if len(real) > n else real
        s = synthetic.sample(n=n, random_state=seed) if len(synthetic) > n else synthetic
        if context.get("round", True):
            s = pd.DataFrame({c.name: round_like_real(s[c.name], c) for c in columns}, index=s.index)
        categories = {
            c.name: [str(x) for x in category_values(real[c.name]).value_counts().index[:TOP_CATEGORIES]]
            for c in columns
            if c.kind not in NUMERIC_LIKE
        }
        xr, is_cat = features(r, columns, categories)
        xs, _ = features(s, columns, categories)
        x = np.vstack([xr, xs])
        y = np.r_[np.zeros(len(xr)), np.ones(len(xs))]
        model = HistGradientBoostingClassifier(
            max_iter=20,
            max_leaf_nodes=15,
            learning_rate=0.3,
            categorical_features=np.array(is_cat),
            random_state=seed,
            early_stopping=False,
        )
        folds = StratifiedKFold(n_splits=FOLDS, shuffle=True, random_state=seed)
        aucs = cross_val_score(model, x, y, cv=folds, scoring="roc_auc")
        auc = float(np.mean(aucs))
        return {"score": auc, "folds": [float(a) for a in aucs], "rows_per_side": n}

    @staticmethod
    def to_score(auc: float | None) -> float | None:
        """1 − 2·max(AUC − 0.5, 0): 1 = indistinguishable, 0 = perfectly separable."""
        return None if auc is None else 1.0 - 2.0 * max(auc - 0.5, 0.0)
