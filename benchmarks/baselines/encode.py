"""Shared encoding of a typed frame (as `seedgen.schema.coerce` gives) into numbers for the baselines."""

from __future__ import annotations

import numpy as np
import pandas as pd

from seedgen.sampler.fit import to_float

DISCRETE = ("categorical", "boolean", "text", "id")

#: numbers as float, dates as float days (NaN = null): the same encoding the sampler fits on
as_numbers = to_float


def from_numbers(v: np.ndarray, kind: str, decimals: int | None) -> pd.Series:
    """Back to the canonical typed column: rounded numbers, dates as datetime64."""
    if kind == "datetime":
        return pd.Series(pd.to_datetime(np.where(np.isnan(v), np.nan, np.round(v * 86_400e9)), unit="ns"))
    if kind == "integer":
        return pd.Series(np.round(v))
    return pd.Series(np.round(v, decimals if decimals is not None else 6))
