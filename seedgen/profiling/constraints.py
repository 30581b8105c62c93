"""Constraint discovery: the business rules hidden in a table, each with its support.

Found here: functional dependencies between categoricals (city → country), tight numeric bands per
category (a fee band per plan), null co-patterns (a column empty exactly when another is empty or
zero); `arithmetic` adds inequalities, sums/differences, products/ratios and conditional ranges. All pass
the support, row-count and beat-a-shuffle tests of `discovery`, so coincidences are not reported.
"""

from __future__ import annotations

import itertools
import logging

import numpy as np
import pandas as pd

from seedgen.profiling import arithmetic
from seedgen.profiling.discovery import DiscoverySettings, Frame, beats_chance, q
from seedgen.schema import ColumnSpec
from seedgen.seeds import CategoryBand, Constraint, FunctionalDependency, NullPattern

log = logging.getLogger("seedgen")


def discover(
    data: pd.DataFrame,
    columns: list[ColumnSpec],
    *,
    seed: int = 0,
    settings: DiscoverySettings | None = None,
    on_step=None,
) -> list[Constraint]:
    """All constraints of the coerced table `data` that hold with enough support and beat chance."""
    settings = settings or DiscoverySettings()
    if len(data) < settings.min_rows:
        log.info("constraint discovery skipped: %d rows (needs %d)", len(data), settings.min_rows)
        return []
    f = Frame(data, columns, settings, seed)
    steps = [
        ("functional dependencies", functional_dependencies),
        ("category bands", category_bands),
        ("inequalities", arithmetic.inequalities),
        ("date orderings", arithmetic.date_inequalities),
        ("date differences", arithmetic.date_differences),
        ("sums and differences", arithmetic.linear_identities),
        ("conditional ranges", arithmetic.conditional_ranges),
        ("null patterns", null_patterns),
    ]
    rules: list = []
    for name, fn in steps:
        found = fn(f)
        log.debug("discovered %d %s", len(found), name)
        rules += found
        if on_step:
            on_step(name)
    linear_sets = {frozenset([r.target, *r.terms]) for r in rules if r.kind == "linear"}
    rules += arithmetic.product_identities(f, skip=linear_sets)
    if on_step:
        on_step("products and ratios")
    return rules


# --------------------------------------------------------------------------- functional dependencies


def _fd_table(lc: np.ndarray, rc: np.ndarray, nl: int, nr: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Per lhs level: the most common rhs code and its count; and the rows with both sides filled."""
    mask = (lc >= 0) & (rc >= 0)
    n = int(mask.sum())
    key = lc[mask].astype(np.int64) * nr + rc[mask]
    if nl * nr <= 4_000_000:
        counts = np.bincount(key, minlength=nl * nr).reshape(nl, nr)
        return counts.argmax(axis=1), counts.max(axis=1), n
    pairs, cnt = np.unique(key, return_counts=True)
    lhs, rhs = pairs // nr, pairs % nr
    best = np.zeros(nl, dtype=np.int64)
    best_rhs = np.zeros(nl, dtype=np.int64)
    order = np.lexsort((cnt, lhs))  # per lhs, the largest count last
    best[lhs[order]] = cnt[order]
    best_rhs[lhs[order]] = rhs[order]
    return best_rhs, best, n


def functional_dependencies(f: Frame) -> list[FunctionalDependency]:
    """lhs → rhs: every lhs value goes with one rhs value (in min_support of rows), and not by chance."""
    s = f.settings
    out = []
    levels = {c: len(f.codes(c)[1]) for c in f.categorical}
    order = {c: i for i, c in enumerate(f.categorical)}
    for lhs, rhs in itertools.permutations(f.categorical, 2):
        nl, nr = levels[lhs], levels[rhs]
        # lhs must repeat (else it "determines" anything) and have at least as many values as rhs;
        # a one-to-one pair is reported once, from the earlier column.
        if nl < nr or nl > f.n / 2 or (nl == nr and order[lhs] > order[rhs]):
            continue
        lc, rc = f.codes(lhs)[0][f.sample], f.codes(rhs)[0][f.sample]
        _, best, n = _fd_table(lc, rc, nl, nr)
        if n < s.min_rows:
            continue
        sup = best.sum() / n
        if sup < s.min_support:
            continue
        _, best_sh, _ = _fd_table(lc, f.rng.permutation(rc), nl, nr)
        if not beats_chance(sup, best_sh.sum() / n, s):
            continue
        (lc_all, lvals), (rc_all, rvals) = f.codes(lhs), f.codes(rhs)
        best_rhs, best, n = _fd_table(lc_all, rc_all, nl, nr)
        sup = float(best.sum() / n)
        if sup < s.min_support:
            continue
        seen = best > 0
        mapping = {str(lvals[i]): str(rvals[best_rhs[i]]) for i in np.flatnonzero(seen)}
        out.append(
            FunctionalDependency(
                lhs=lhs,
                rhs=rhs,
                mapping=mapping,
                support=round(sup, 6),
                n=n,
                description=f"{q(lhs)} determines {q(rhs)}",
            )
        )
        if len(out) >= s.max_per_kind:
            break
    return out


# --------------------------------------------------------------------------- category bands


def _weighted_width(codes: np.ndarray, x: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
    """Per category: min, max, count of every numeric column; and the count-weighted mean width / range."""
    frame = pd.DataFrame(x)
    frame["_c"] = codes
    frame = frame[frame["_c"] >= 0]
    g = frame.groupby("_c")
    lo, hi, cnt = g.min(), g.max(), g.count()
    width = (hi - lo).fillna(0).to_numpy()
    weights = cnt.to_numpy()
    span = np.nanmax(x, axis=0) - np.nanmin(x, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        tight = (width * weights).sum(0) / np.maximum(weights.sum(0), 1) / span
    return pd.concat({"lo": lo, "hi": hi, "n": cnt}, axis=1), np.where(span > 0, tight, np.inf)


def category_bands(f: Frame) -> list[CategoryBand]:
    """A numeric column confined to a narrow band within each value of a categorical (fee per plan)."""
    s = f.settings
    nums = [j for j, c in enumerate(f.numeric) if f.specs[c].n_unique >= 10]
    if not nums:
        return []
    # Widths are measured on ranks so that one outlier or a long tail cannot make a band look wide or
    # narrow: only the ordering of values within and across categories counts.
    ranks = pd.DataFrame(f.xs[:, nums]).rank(pct=True).to_numpy()
    cands = []
    for cat in f.categorical:
        codes_all, values = f.codes(cat)
        if not 2 <= len(values) <= s.max_band_levels:
            continue
        codes = codes_all[f.sample]
        xs = ranks
        _, tight = _weighted_width(codes, xs)
        _, tight_sh = _weighted_width(f.rng.permutation(codes), xs)
        for k, j in enumerate(nums):
            if tight[k] <= s.band_tightness and tight[k] <= 0.5 * tight_sh[k]:
                cands.append((tight[k], cat, j))
    cands.sort()
    out = []
    for _, cat, j in cands[: s.max_per_kind]:
        codes, values = f.codes(cat)
        x = f.x[:, j : j + 1]
        stats, _ = _weighted_width(codes, x)
        _, tight = _weighted_width(codes, pd.DataFrame(x).rank(pct=True).to_numpy())
        if not tight[0] <= s.band_tightness:
            continue
        bands = {
            str(values[c]): (float(row[("lo", 0)]), float(row[("hi", 0)]))
            for c, row in stats.iterrows()
            if row[("n", 0)] > 0
        }
        n = int(stats[("n", 0)].sum())
        if n < s.min_rows:
            continue
        col = f.numeric[j]
        out.append(
            CategoryBand(
                category=cat,
                column=col,
                bands=bands,
                support=1.0,
                n=n,
                description=f"{q(col)} lies in a narrow band for each {q(cat)} "
                f"(bands average {tight[0]:.0%} of its rank range)",
            )
        )
    return out


# --------------------------------------------------------------------------- null co-patterns


def null_patterns(f: Frame) -> list[NullPattern]:
    """A column empty exactly when another is empty (grouped), or exactly when another is zero."""
    s = f.settings
    data = f.data
    nullable = [c for c in data.columns if c in f.specs and 0.005 <= f.specs[c].null_rate <= 0.995]
    out = []
    if not nullable:
        return out
    nulls = data[nullable].isna().to_numpy()
    rates = nulls.mean(axis=0)
    # Same-null groups: union the pairs that agree on (nearly) every row; report each member to the first.
    root = list(range(len(nullable)))

    def find(i):
        while root[i] != i:
            i = root[i]
        return i

    pairs = {}
    for i, j in itertools.combinations(range(len(nullable)), 2):
        sup = float(np.mean(nulls[:, i] == nulls[:, j]))
        chance = rates[i] * rates[j] + (1 - rates[i]) * (1 - rates[j])
        if sup >= s.min_support and beats_chance(sup, chance, s):
            pairs[(i, j)] = sup
            ri, rj = find(i), find(j)
            if ri != rj:
                root[max(ri, rj)] = min(ri, rj)
    for j in range(len(nullable)):
        r = find(j)
        if r == j:
            continue
        sup = pairs.get((r, j), float(np.mean(nulls[:, r] == nulls[:, j])))
        out.append(
            NullPattern(
                column=nullable[j],
                when_column=nullable[r],
                when="null",
                support=round(sup, 6),
                n=f.n,
                description=f"{q(nullable[j])} is empty exactly when {q(nullable[r])} is empty",
            )
        )
    # Empty exactly when another column is zero: screened on the sample, all pairs at once, then verified.
    nulls_s = nulls[f.sample]
    for i, xname in enumerate(f.numeric):
        xs = f.xs[:, i]
        fin_s = np.isfinite(xs)
        zero_s = (xs == 0) & fin_s
        pz = zero_s.sum() / max(fin_s.sum(), 1)
        if not 0.005 <= pz <= 0.995:
            continue
        agree = (nulls_s[fin_s] == zero_s[fin_s][:, None]).mean(axis=0)
        for k in np.flatnonzero(agree >= s.min_support):
            yname = nullable[k]
            if yname == xname:
                continue
            x = f.x[:, i]
            fin = np.isfinite(x)
            zero = (x == 0) & fin
            ny = nulls[fin, k]
            n = int(fin.sum())
            sup = float(np.mean(ny == zero[fin]))
            py = ny.mean()
            chance = pz * py + (1 - pz) * (1 - py)
            if n >= s.min_rows and sup >= s.min_support and beats_chance(sup, chance, s):
                out.append(
                    NullPattern(
                        column=yname,
                        when_column=xname,
                        when="zero",
                        support=round(sup, 6),
                        n=n,
                        description=f"{q(yname)} is empty exactly when {q(xname)} is 0",
                    )
                )
    return out[: s.max_per_kind]
