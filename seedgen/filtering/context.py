"""What a rule may know besides the frame: the profiled schema, discovered constraints, the real data.

Rules receive a `RuleContext` as their second argument. It is read-only for rules; the engine fills it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from seedgen.schema import ColumnSpec
from seedgen.seeds import SeedFile

log = logging.getLogger("seedgen")

#: discovered constraints and pack rules whose real support is below this are reported, not enforced:
#: a rule the real data breaks on more than 1 row in 1,000 would reject real-looking synthetic rows.
DEFAULT_MIN_SUPPORT = 0.999


@dataclass
class Factor:
    """A column as integer codes (-1 = missing) into its distinct values, written as keys.

    Keys are strings as the real data writes them ("3" for 3.0, "C3" for "C3"), the form seeds.json
    mappings use. `take` gathers a per-distinct-value array back to rows.
    """

    codes: np.ndarray
    keys: list[str]

    @classmethod
    def of(cls, s: pd.Series) -> Factor:
        codes, uniques = pd.factorize(s, use_na_sentinel=True)
        return cls(codes=np.asarray(codes, dtype=np.int64), keys=[_as_key(u) for u in uniques])

    @property
    def null(self) -> np.ndarray:
        return self.codes < 0

    def take(self, per_key, missing) -> np.ndarray:
        """Per-row values from one value per key (`per_key[i]` for key i); `missing` for missing rows."""
        values = list(per_key) + [missing]
        arr = np.array(values, dtype=object if any(isinstance(v, str) or v is None for v in values) else None)
        return arr[self.codes]  # code -1 picks the appended `missing`

    def lookup(self, mapping: dict, missing=np.nan) -> np.ndarray:
        """Per-row `mapping[key]`, `missing` where the key is not in the mapping or the value is missing."""
        return self.take([mapping.get(k, missing) for k in self.keys], missing)


def _as_key(value) -> str:
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    return str(value)


@dataclass
class RuleContext:
    """The schema, constraints and reference data a rule may use; plus per-rule configuration."""

    seeds: SeedFile | None = None
    min_support: float = DEFAULT_MIN_SUPPORT
    #: the input exactly as written (strings), aligned with the frame; None when given a typed frame
    raw: pd.DataFrame | None = None
    #: hashes of the real rows rendered in the original formats (privacy), and the columns hashed
    real_hashes: np.ndarray | None = None
    privacy_columns: list[str] = field(default_factory=list)
    #: the real table, typed: the reference a rule's support and data-derived parameters come from
    reference: pd.DataFrame | None = None
    config: dict[str, dict[str, Any]] = field(default_factory=dict)
    _notes: set = field(default_factory=set)
    _cache: dict = field(default_factory=dict)
    _frames: dict = field(default_factory=dict)

    @property
    def columns(self) -> list[ColumnSpec]:
        return list(self.seeds.columns) if self.seeds is not None else []

    @property
    def specs(self) -> dict[str, ColumnSpec]:
        if "specs" not in self._cache:
            self._cache["specs"] = {c.name: c for c in self.columns}
        return self._cache["specs"]

    def spec(self, name: str) -> ColumnSpec | None:
        return self.specs.get(name)

    def decimals(self, name: str, default: int | None = None) -> int | None:
        s = self.spec(name)
        return s.decimals if s is not None and s.decimals is not None else default

    def half_unit(self, name: str) -> float:
        """Half the last written decimal place of a column: the rounding slack of a written value."""
        d = self.decimals(name)
        return 0.5 * 10.0 ** (-d) if d is not None else 0.0

    def options(self, rule) -> dict[str, Any]:
        """The rule's config defaults overridden by the run's config for its code or name."""
        merged = dict(rule.config)
        merged.update(self.config.get(rule.code, {}))
        merged.update(self.config.get(rule.name, {}))
        return merged

    def constraints(self, kind: str) -> list:
        """Discovered constraints of one kind whose support reaches `min_support` (others are not enforced)."""
        if self.seeds is None:
            return []
        out = []
        for c in self.seeds.rules:
            if c.kind != kind:
                continue
            if c.support < self.min_support:
                self.note(
                    f"{kind} {c.description or ''} not enforced: support {c.support:.4f} < {self.min_support}"
                )
                continue
            out.append(c)
        return out

    def domain_rule(self, rule) -> Any:
        """The seeds' DomainRule entry for a pack rule (matched by name or code), if the profile recorded one."""
        if self.seeds is None:
            return None
        for c in self.seeds.rules:
            if c.kind == "domain" and (c.name == rule.name or c.code == rule.code):
                return c
        return None

    # -- fast per-column helpers, computed once per frame and shared by every rule -----------------------

    def factor(self, df: pd.DataFrame, column: str) -> Factor:
        """The column as codes into its distinct values (see `Factor`); computed once per frame and column.

        Rules that compare categories, look values up in a mapping or test spellings should work on the
        few distinct values and gather per row with the codes: hashing a million strings once is the
        expensive part, and every rule shares it.
        """
        return self.memo(df, column, "factor", lambda: Factor.of(df[column]))

    def memo(self, df: pd.DataFrame, column: str, key: str, compute):
        """A per-column result cached for this frame (and kept across fixes that leave the column alone)."""
        entry = self._frames.get(id(df))
        if entry is None or entry[0] is not df:
            entry = (df, {})
            self._frames[id(df)] = entry
        cache = entry[1].setdefault(column, {})
        if key not in cache:
            cache[key] = compute()
        return cache[key]

    def isnull(self, df: pd.DataFrame, column: str) -> np.ndarray:
        """Missing values of a column as a boolean array (NaN, NaT, None)."""
        s = df[column]
        if s.dtype.kind == "f":
            return np.isnan(s.to_numpy())
        if s.dtype.kind == "M":
            return np.isnat(s.to_numpy())
        return self.factor(df, column).codes < 0

    def carry(self, old: pd.DataFrame, new: pd.DataFrame, changed) -> None:
        """Keep the per-column caches of `old` for the columns a fix did not change in `new`."""
        entry = self._frames.get(id(old))
        if entry is not None and entry[0] is old:
            self._frames[id(new)] = (new, {c: f for c, f in entry[1].items() if c not in set(changed)})

    def note(self, message: str) -> None:
        """Log an explanatory message once per run (skipped rules, unenforced constraints)."""
        if message not in self._notes:
            self._notes.add(message)
            log.info(message)

    def has(self, df: pd.DataFrame, *columns: str) -> bool:
        return all(c in df.columns for c in columns)
