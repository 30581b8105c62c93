"""Gaussian mixture baseline (k chosen by BIC): one-hot categories, standardised numbers, null flags."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.mixture import GaussianMixture

from .encode import DISCRETE, as_numbers, from_numbers


class GaussianMixtureBaseline:
    def __init__(self, columns, ks=(1, 2, 4, 8), seed: int = 0, max_levels: int = 30):
        self.columns, self.ks, self.seed, self.max_levels = columns, ks, seed, max_levels

    def fit(self, df: pd.DataFrame) -> GaussianMixtureBaseline:
        blocks, self.layout = [], []
        for c in self.columns:
            s = df[c.name]
            if c.kind in DISCRETE:
                levels = (
                    s.astype(object)
                    .where(s.notna(), "\0null")
                    .astype(str)
                    .value_counts()
                    .index[: self.max_levels]
                )
                onehot = (
                    s.astype(object).where(s.notna(), "\0null").astype(str).to_numpy()[:, None]
                    == levels.to_numpy()[None, :]
                )
                blocks.append(onehot.astype(float))
                self.layout.append((c, "cat", list(levels)))
            else:
                v = as_numbers(s, c.kind)
                null = np.isnan(v)
                med = np.nanmedian(v) if (~null).any() else 0.0
                mu, sd = np.nanmean(v) if (~null).any() else 0.0, np.nanstd(v) if (~null).any() else 1.0
                sd = sd or 1.0
                z = (np.where(null, med, v) - mu) / sd
                cols = [z[:, None]]
                if null.any():
                    cols.append(null[:, None].astype(float))
                blocks.append(np.hstack(cols))
                lo, hi = (np.nanmin(v), np.nanmax(v)) if (~null).any() else (0, 0)
                self.layout.append((c, "num", (mu, sd, bool(null.any()), lo, hi)))
        x = np.hstack(blocks)
        best, best_bic = None, np.inf
        for k in self.ks:
            if k > len(x) // 10:
                break
            g = GaussianMixture(
                k, covariance_type="full", reg_covar=1e-3, max_iter=50, random_state=self.seed
            ).fit(x)
            bic = g.bic(x)
            if bic < best_bic:
                best, best_bic = g, bic
        self.model, self.k = best, best.n_components
        return self

    def sample(self, n: int) -> pd.DataFrame:
        x, _ = self.model.sample(n)
        rng = np.random.default_rng(self.seed)
        x = x[rng.permutation(n)]
        out, j = {}, 0
        for c, typ, info in self.layout:
            if typ == "cat":
                k = len(info)
                vals = np.array(info, dtype=object)[x[:, j : j + k].argmax(axis=1)]
                out[c.name] = pd.Series(np.where(vals == "\0null", None, vals), dtype=object)
                j += k
            else:
                mu, sd, has_null, lo, hi = info
                v = np.clip(x[:, j] * sd + mu, lo, hi)
                j += 1
                if has_null:
                    v = np.where(x[:, j] > 0.5, np.nan, v)
                    j += 1
                out[c.name] = from_numbers(v, c.kind, c.decimals)
        return pd.DataFrame(out)
