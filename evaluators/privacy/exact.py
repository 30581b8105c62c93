"""Exact copies: the share of synthetic rows identical to a real training row.

Rows are compared on every shared column except id columns (a copied row with a renumbered key is still a
copy), after putting both sides in one canonical form (numbers rounded to the real precision, dates as
integers, strings as written). Each row becomes a 64-bit hash, so the check is one sorted lookup per row —
no cross-join.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from seedgen.evaluation.base import Goal, Metric
from seedgen.evaluation.prepare import category_values, numeric_values


def row_hashes(df: pd.DataFrame, specs) -> np.ndarray:
    canon = {}
    for spec in specs:
        s = df[spec.name]
        if spec.kind in ("numeric", "integer"):
            decimals = 0 if spec.kind == "integer" else (spec.decimals if spec.decimals is not None else 6)
            canon[spec.name] = np.round(numeric_values(s), decimals)
        elif spec.kind == "datetime":
            canon[spec.name] = numeric_values(s)
        else:
            canon[spec.name] = category_values(s).fillna("\x00<null>")
    frame = pd.DataFrame(canon, index=range(len(df)))
    return pd.util.hash_pandas_object(frame, index=False).to_numpy()


class ExactMatchShare(Metric):
    """Share of synthetic rows that are exact copies of a real training row."""

    name = "privacy.exact_match_share"
    description = "share of synthetic rows identical to a real training row (0 is best)"
    goal = Goal.MINIMIZE
    level = "table"

    @classmethod
    def compute_breakdown(cls, real, synthetic, **context):
        """context: specs (ColumnSpecs of the shared, non-id columns)."""
        specs = context["specs"]
        if not specs or len(synthetic) == 0:
            return {"score": None}
        hits = np.isin(row_hashes(synthetic, specs), row_hashes(real, specs))
        return {"score": float(hits.mean()), "copies": int(hits.sum())}
