"""Tables unlike the examples: the sampler must not bend values of other scales or shapes.

Each case is a property the loans and credit tables cannot exercise (both write amounts and rates in the
ones to thousands), found by running seedgen on other tables.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import ks_2samp

from seedgen.profiling import profile
from seedgen.sampler.draw import sample_rows


def test_small_magnitude_floats_keep_their_distribution():
    """Standardized features (|v| < 0.2, 17 decimals) must not collapse onto 0 or coarse grains."""
    rng = np.random.default_rng(0)
    n = 800
    base = rng.normal(size=(n, 3)) @ np.array([[1.0, 0.5, 0.2], [0.0, 1.0, 0.4], [0.0, 0.0, 1.0]])
    real = pd.DataFrame(base / np.sqrt(n) / base.std(axis=0), columns=["a", "b", "c"])
    real["group"] = rng.choice(["x", "y"], n)
    rows = sample_rows(profile(real, quiet=True), 4000, seed=1)
    for col in ["a", "b", "c"]:
        assert (rows[col] == 0).mean() < 0.01, col
        assert ks_2samp(real[col], rows[col]).statistic < 0.08, col
        assert rows[col].nunique() > 500, col  # drawn on the real values' fine grain, not rounded


def test_wide_tables_screen_predictors_and_keep_the_ones_that_matter():
    """Above MAX_PREDICTORS earlier columns, a tree keeps the cluster and the columns the target follows.

    400 candidates of which 60 are kept: a column kept by chance would be 15 % likely.
    """
    from seedgen.sampler.select import MAX_PREDICTORS, select_predictors

    rng = np.random.default_rng(3)
    x = rng.normal(size=(3000, 400))
    x[rng.random(x.shape) < 0.05] = np.nan
    rank = np.nan_to_num(x[:, 7]) + 0.3 * np.exp(np.nan_to_num(x[:, 120])) + rng.normal(size=3000)
    keep = select_predictors(x, np.column_stack([np.zeros(3000), rank]), classify=False)
    assert len(keep) == MAX_PREDICTORS and keep[0] == 0 and {7, 120} <= set(keep)
    classes = (np.nan_to_num(x[:, 33]) > 0.5).astype(int) + (np.nan_to_num(x[:, 399]) > 0).astype(int)
    keep = select_predictors(x, classes, classify=True)
    assert {0, 33, 399} <= set(keep)
    assert list(select_predictors(x[:, :MAX_PREDICTORS], classes, classify=True)) == list(
        range(MAX_PREDICTORS)
    )
