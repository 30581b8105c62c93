"""Fitting the sampler model from the real table (called by `seedgen profile`)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from seedgen.sampler.model import SamplerModel
from seedgen.schema import ColumnSpec


def fit_sampler(
    data: pd.DataFrame, columns: list[ColumnSpec], labels: np.ndarray, rules: list, seed: int = 0
) -> SamplerModel:
    """Fit the sampler on the coerced (typed) real data, with each row's cluster label.

    Contract: `data` is `seedgen.schema.coerce(...)` output with every column of `columns`; `labels` has
    one KMeans cluster id per row; `rules` are the discovered constraints (seeds.Constraint). The returned
    model holds statistics only, never a real row.
    """
    return SamplerModel()
