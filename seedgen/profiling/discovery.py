"""Shared pieces of constraint discovery: settings, the column matrix, and the coincidence test.

Every discovered constraint must hold in at least `min_support` of the rows it applies to, apply to at
least `min_rows` rows, and beat chance: the same statistic computed after shuffling one of its columns
(which keeps both marginals but breaks any link between them) must fail clearly more often. A rule that a
shuffle would satisfy too — `x <= y` for columns with disjoint ranges, a "dependency" on a near-constant
column, `0 = 0 + 0` among mostly-zero counts — says nothing about the data and is not reported.

Search runs on a random sample of at most `sample_rows` rows (candidates are pruned there, with vectorised
numpy over all column pairs or triples at once); the survivors are verified on every row of the table.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from seedgen.schema import ColumnSpec
from seedgen.templating import quote


@dataclass(frozen=True)
class DiscoverySettings:
    """Thresholds of constraint discovery (see the module docstring for their meaning)."""

    min_support: float = 0.99
    min_rows: int = 30
    sample_rows: int = 20_000
    #: the shuffled statistic must fail in at least this share of rows ...
    min_chance_error: float = 0.05
    #: ... and the real one in at most this fraction of what the shuffle fails
    max_error_ratio: float = 0.2
    #: a category band is tight if its width averages at most this share of the column's range
    band_tightness: float = 0.25
    max_band_levels: int = 100
    max_fd_levels: int = 5_000
    max_numeric: int = 60
    max_per_kind: int = 60
    #: rows probed in the arithmetic search (linear and product identities)
    probe_rows: int = 64
    rel_tolerance: float = 0.01


def beats_chance(support: float, chance: float, s: DiscoverySettings) -> bool:
    """True if the error rate is a small fraction of the error rate after shuffling."""
    err, chance_err = 1.0 - support, 1.0 - chance
    return chance_err >= s.min_chance_error and err <= s.max_error_ratio * chance_err


def q(name) -> str:
    """A column name or value quoted for descriptions (they reach prompts)."""
    return quote(name)


class Frame:
    """The coerced table seen by discovery: the full numeric matrix, category codes and a row sample."""

    def __init__(self, data: pd.DataFrame, columns: list[ColumnSpec], settings: DiscoverySettings, seed: int):
        self.data = data
        self.settings = settings
        self.n = len(data)
        self.rng = np.random.default_rng(seed)
        usable = [c for c in columns if c.name in data.columns and c.kind != "id" and c.n_unique >= 2]
        nums = [c for c in usable if c.kind in ("numeric", "integer")]
        # Keep the best-filled numeric columns if there are very many (bounded candidate counts).
        nums = sorted(nums, key=lambda c: c.null_rate)[: settings.max_numeric]
        order = {c.name: i for i, c in enumerate(columns)}
        self.numeric = sorted((c.name for c in nums), key=order.get)
        self.specs = {c.name: c for c in usable}
        self.categorical = [
            c.name
            for c in usable
            if c.kind in ("categorical", "boolean") and c.n_unique <= settings.max_fd_levels
        ]
        # Column-major: the verification passes read whole columns of the full table, which are then
        # contiguous (row-major reads of one column touch a cache line per row).
        self.x = np.empty((self.n, len(self.numeric)), order="F")
        for j, c in enumerate(self.numeric):
            self.x[:, j] = data[c].to_numpy(dtype=np.float64, na_value=np.nan)
        self.sample = (
            np.sort(self.rng.choice(self.n, settings.sample_rows, replace=False))
            if self.n > settings.sample_rows
            else np.arange(self.n)
        )
        self.xs = self.x[self.sample]
        # Dates as float days since the epoch (NaN = missing): compared only with other dates.
        self.dates = [c.name for c in usable if c.kind == "datetime"]
        self.d = np.empty((self.n, len(self.dates)), order="F")
        for j, c in enumerate(self.dates):
            s = data[c]
            days = s.to_numpy(dtype="datetime64[ns]").astype(np.int64) / 86_400e9
            days[s.isna().to_numpy()] = np.nan
            self.d[:, j] = days
        self.ds = self.d[self.sample]
        self._codes: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self.decimals = {c: _effective_decimals(self.xs[:, i]) for i, c in enumerate(self.numeric)}

    def col(self, name: str) -> np.ndarray:
        return self.x[:, self.numeric.index(name)]

    def codes(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """Integer codes (-1 = null) of a categorical column over all rows, and the values they stand for."""
        if name not in self._codes:
            codes, uniques = pd.factorize(self.data[name], sort=False)
            self._codes[name] = (codes.astype(np.int32), np.asarray([str(u) for u in uniques], dtype=object))
        return self._codes[name]

    def unit(self, name: str) -> float:
        """Half the rounding step of a column as written (0 for integers): the slack an identity needs."""
        d = self.decimals.get(name, 0)
        return 0.0 if d == 0 else 0.5 * 10.0 ** (-d)


def _effective_decimals(x: np.ndarray, max_decimals: int = 6) -> int:
    """Fewest decimals (≤ max) that 99.9 % of values are written with; float noise beyond 6 is ignored."""
    x = x[np.isfinite(x)]
    if x.size == 0:
        return 0
    x = x[:5000]
    for d in range(max_decimals + 1):
        if np.mean(np.abs(x - np.round(x, d)) <= 1e-7 * np.maximum(1.0, np.abs(x))) >= 0.999:
            return d
    return max_decimals
