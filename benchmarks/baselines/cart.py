"""Sequential CART baseline in the synthpop style: each column from a tree on the previous ones, the value
taken from a real donor row of the same leaf (so it memorizes on small leaves)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from .encode import DISCRETE, as_numbers


class SequentialCartBaseline:
    def __init__(self, columns, min_leaf: int = 5, seed: int = 0):
        self.columns, self.min_leaf, self.seed = columns, min_leaf, seed

    def fit(self, df: pd.DataFrame) -> SequentialCartBaseline:
        self.df = df.reset_index(drop=True)
        self.codes = {}
        for c in self.columns:
            s = self.df[c.name]
            if c.kind in DISCRETE:
                codes, _ = pd.factorize(s.astype(object).where(s.notna(), None), use_na_sentinel=True)
                self.codes[c.name] = np.where(codes < 0, np.nan, codes).astype(float)
            else:
                self.codes[c.name] = as_numbers(s, c.kind)
        return self

    def sample(self, n: int) -> pd.DataFrame:
        rng = np.random.default_rng(self.seed)
        names = [c.name for c in self.columns]
        donors = {}
        first = rng.integers(0, len(self.df), n)
        donors[names[0]] = first
        synth_x = {names[0]: self.codes[names[0]][first]}
        for i, c in enumerate(self.columns[1:], start=1):
            prev = names[:i]
            xr = np.column_stack([self.codes[p] for p in prev])
            xs = np.column_stack([synth_x[p] for p in prev])
            y = self.codes[c.name]
            if c.kind in DISCRETE:
                yy = np.nan_to_num(y, nan=-1)
                tree = DecisionTreeClassifier(min_samples_leaf=self.min_leaf, random_state=self.seed).fit(
                    xr, yy
                )
            else:
                yy = np.nan_to_num(y, nan=np.nanmin(y) - 1 if np.isfinite(y).any() else 0)
                tree = DecisionTreeRegressor(min_samples_leaf=self.min_leaf, random_state=self.seed).fit(
                    xr, yy
                )
            leaf_r, leaf_s = tree.apply(xr), tree.apply(xs)
            order = np.argsort(leaf_r, kind="stable")
            sorted_leaves = leaf_r[order]
            start = np.searchsorted(sorted_leaves, leaf_s, side="left")
            end = np.searchsorted(sorted_leaves, leaf_s, side="right")
            pick = order[start + (rng.random(n) * (end - start)).astype(int)]
            donors[c.name] = pick
            synth_x[c.name] = self.codes[c.name][pick]
        return pd.DataFrame({nm: self.df[nm].to_numpy()[donors[nm]] for nm in names})
