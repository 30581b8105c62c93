"""Shared encoding of a typed frame (as `seedgen.schema.coerce` gives) into numbers for the baselines."""

from __future__ import annotations

import numpy as np
import pandas as pd

DISCRETE = ("categorical", "boolean", "text", "id")


def as_numbers(s: pd.Series, kind: str) -> np.ndarray:
    """Numbers as float; dates as float days (NaN = null)."""
    if kind == "datetime":
        d = pd.to_datetime(s, errors="coerce")
        out = d.to_numpy(dtype="datetime64[ns]").astype("int64").astype(float) / 86_400e9
        out[d.isna().to_numpy()] = np.nan
        return out
    return pd.to_numeric(s, errors="coerce").to_numpy(dtype=float)


def from_numbers(v: np.ndarray, kind: str, decimals: int | None) -> pd.Series:
    """Back to the canonical typed column: rounded numbers, dates as datetime64."""
    if kind == "datetime":
        return pd.Series(pd.to_datetime(np.where(np.isnan(v), np.nan, np.round(v * 86_400e9)), unit="ns"))
    if kind == "integer":
        return pd.Series(np.round(v))
    return pd.Series(np.round(v, decimals if decimals is not None else 6))
