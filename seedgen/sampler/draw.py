"""Drawing rows from a fitted SamplerModel: vectorised, deterministic with `seed`, constraints applied.

Rows get a cluster (by weight, or the one asked for), then each column in the model's order: a tree column
walks its tree and draws from the leaf's distribution; a derived column is computed from the columns drawn
before it; keys are fresh. Checks (inequalities, bands, conditional ranges, null co-patterns) are applied to
the column being drawn: violating rows are redrawn from their own leaf up to `MAX_REDRAWS` times and only
then repaired (clipped / nulled). The number of redrawn rows is logged and returned in
`df.attrs["resampled"]` (and in `report` if a dict is passed).
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from seedgen.errors import UserInputError
from seedgen.sampler.boost import boosted_mean, class_probabilities
from seedgen.sampler.ids import draw_ids
from seedgen.sampler.model import Check, SamplerModel, SamplerStep
from seedgen.sampler.trees import CompiledTree, draw_entries

log = logging.getLogger("seedgen")

MAX_REDRAWS = 20
_DISCRETE = ("categorical", "boolean", "text")


class _State:
    """Values drawn so far: floats for numbers/dates (days), int codes for categories (-1 = null)."""

    def __init__(self, model: SamplerModel, n: int):
        self.model = model
        self.x = np.full((n, len(model.features)), np.nan)
        self.fidx = {f: i for i, f in enumerate(model.features)}
        self.values: dict[str, np.ndarray] = {}
        self.steps = {s.column: s for s in model.steps}

    def set(self, name: str, values: np.ndarray) -> None:
        self.values[name] = values
        if name in self.fidx:
            v = values.astype(float)
            if self.steps[name].kind in _DISCRETE:
                v = np.where(values >= 0, v, np.nan)
            self.x[:, self.fidx[name]] = v

    def strings(self, name: str) -> np.ndarray:
        """A column's values as strings (None for null), for lookups and bands."""
        step, v = self.steps[name], self.values[name]
        if step.kind in _DISCRETE:
            table = np.array(list(step.classes) + [None], dtype=object)
            return table[np.where(v >= 0, v, len(step.classes))]
        out = np.full(len(v), None, dtype=object)
        ok = ~np.isnan(v)
        if step.kind == "datetime":
            return out
        d = step.decimals or 0
        r = np.round(v[ok], d)
        if d == 0 or np.all(r == np.round(r)):
            out[ok] = [str(int(a)) if a == int(a) else repr(float(a)) for a in r]
        else:
            out[ok] = [f"{a:.{d}f}" for a in r]
        return out


# --------------------------------------------------------------------------- leaf draws


def _draw_numeric(
    step: SamplerStep,
    leaf: np.ndarray,
    rng: np.random.Generator,
    no_null: np.ndarray | None = None,
    shift: np.ndarray | None = None,
) -> np.ndarray:
    """Values drawn from each row's leaf; with `shift` (a boosted mean per row) the leaf draw is a residual
    added to it, and the sum is kept in the column's real range."""
    t = step.numeric
    out = np.full(len(leaf), np.nan)
    null = rng.random(len(leaf)) < np.asarray(t.null_p)[leaf]
    has = np.diff(np.asarray(t.offsets))[leaf] > 0
    if no_null is not None:
        null &= ~no_null
    take = ~null & has
    if not take.any():
        return out
    leaf = leaf[take]
    v = _leaf_values(step, leaf, rng)
    if shift is not None:
        low, high = step.boost_mean.low, step.boost_mean.high
        shift = shift[take]
        v = v + shift
        # A residual drawn from a row whose mean was far from this one's can leave the real range (a low
        # mean with a large negative residual); clipping would pile such rows on the bound, a point mass
        # the real column does not have (3.7 % of an amount at exactly 0 against 0.3 % real), so they
        # draw another residual first (up to MAX_REDRAWS times; the rest are clipped).
        for _ in range(MAX_REDRAWS):
            out_of_range = np.flatnonzero((v < low) | (v > high))
            if out_of_range.size == 0:
                break
            v[out_of_range] = _leaf_values(step, leaf[out_of_range], rng) + shift[out_of_range]
        v = np.clip(v, low, high)
    if step.kind == "integer":
        v = np.round(v)
    elif step.kind == "numeric" and step.decimals is not None:
        v = np.round(v, step.decimals)
    out[take] = v
    return out


def _leaf_values(step: SamplerStep, leaf: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One value per row from its leaf's entries: a point mass, or a uniform draw in a bin rounded to the
    column's grain."""
    t = step.numeric
    e = draw_entries(np.asarray(t.offsets), np.asarray(t.weight), leaf, rng)
    a, b = np.asarray(t.lo)[e], np.asarray(t.hi)[e]
    v = a + rng.random(len(e)) * (b - a)
    binned = b > a
    if step.grains and binned.any():
        v[binned] = _round_to_grain(v[binned], a[binned], b[binned], step, leaf[binned], rng)
    return v


def _round_to_grain(v, a, b, step: SamplerStep, leaf, rng) -> np.ndarray:
    """Round bin draws to a granularity drawn from the leaf's shares, falling back to finer ones when the
    coarse rounding would leave the bin (so a value near 437 is not rounded to 0 or 1000)."""
    grains = np.asarray(step.grains)
    gw = np.asarray(step.numeric.grain_weights)
    cum = np.cumsum(gw[leaf], axis=1)
    pick = (cum < rng.random(len(v))[:, None] * cum[:, -1:]).sum(axis=1)
    pick = np.clip(pick, 0, len(grains) - 1)
    out = v.copy()
    done = np.zeros(len(v), dtype=bool)
    for level in range(len(grains) - 1, -1, -1):
        sel = ~done & (pick >= level)
        if not sel.any():
            continue
        g = grains[level]
        r = np.round(v[sel] / g) * g
        ok = (r >= a[sel] - 1e-9) & (r <= b[sel] + 1e-9)
        if level == 0:
            ok[:] = True
        idx = np.flatnonzero(sel)[ok]
        out[idx] = r[ok]
        done[idx] = True
    return out


def _draw_categorical(step: SamplerStep, leaf: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    t = step.categorical
    offsets = np.asarray(t.offsets)
    e = draw_entries(offsets, np.asarray(t.weight), leaf, rng)
    codes = np.asarray(t.codes, dtype=np.int64)
    return codes[e]


# --------------------------------------------------------------------------- checks


def _violations(chk: Check, v: np.ndarray, st: _State, rows: np.ndarray) -> np.ndarray:
    """Rows (of `rows`) where the drawn values `v` break the check."""
    other = st.values[chk.other][rows]
    other_step = st.steps[chk.other]
    if chk.kind == "null":
        cond = _is_null(other, other_step) if chk.when == "null" else (other == 0)
        return (~cond) & _is_null(v, st.steps[chk.column])
    if chk.kind == "le":
        ok_mask = ~np.isnan(v) & ~np.isnan(other)
        if chk.side == "left":
            bad = v > other if not chk.strict else v >= other
        else:
            bad = other > v if not chk.strict else other >= v
        return ok_mask & bad
    if chk.kind == "band":
        names = st.strings(chk.other)[rows]
        lows = np.array([chk.bands.get(s, (-np.inf, np.inf))[0] if s is not None else -np.inf for s in names])
        highs = np.array([chk.bands.get(s, (-np.inf, np.inf))[1] if s is not None else np.inf for s in names])
        return ~np.isnan(v) & ((v < lows - 1e-9) | (v > highs + 1e-9))
    if chk.kind == "range":
        cond = _when(other, other_step, chk.when)
        low = -np.inf if chk.low is None else chk.low
        high = np.inf if chk.high is None else chk.high
        return cond & ~np.isnan(v) & ((v < low - 1e-9) | (v > high + 1e-9))
    return np.zeros(len(rows), dtype=bool)


def _is_null(v: np.ndarray, step: SamplerStep) -> np.ndarray:
    return v < 0 if step.kind in _DISCRETE else np.isnan(v)


def _when(other: np.ndarray, step: SamplerStep, when: str) -> np.ndarray:
    null = _is_null(other, step)
    if when == "null":
        return null
    if when == "not_null":
        return ~null
    if step.kind in _DISCRETE:
        return np.zeros(len(other), dtype=bool)
    return (other > 0) if when == "positive" else (other == 0)


def _repair(chk: Check, v: np.ndarray, st: _State, rows: np.ndarray) -> np.ndarray:
    """Last resort after redraws: move values onto the nearest allowed value."""
    other = st.values[chk.other][rows]
    if chk.kind == "le":
        return np.minimum(v, other) if chk.side == "left" else np.maximum(v, other)
    if chk.kind == "band":
        names = st.strings(chk.other)[rows]
        lows = np.array([chk.bands.get(s, (-np.inf, np.inf))[0] if s is not None else -np.inf for s in names])
        highs = np.array([chk.bands.get(s, (-np.inf, np.inf))[1] if s is not None else np.inf for s in names])
        return np.clip(v, lows, highs)
    if chk.kind == "range":
        return np.clip(v, -np.inf if chk.low is None else chk.low, np.inf if chk.high is None else chk.high)
    return v


def _draw_probabilities(probs: np.ndarray, codes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One class code per row of `probs` (rows × classes), by inverse CDF."""
    cum = np.cumsum(probs, axis=1)
    pick = (cum < rng.random(len(probs))[:, None] * cum[:, -1:]).sum(axis=1)
    return codes[np.minimum(pick, len(codes) - 1)]


def _draw_tree_column(
    step: SamplerStep, tree: CompiledTree, st: _State, checks: list[Check], rng, resampled: dict
) -> np.ndarray:
    discrete = step.kind in _DISCRETE
    n = len(st.x)
    # draw(rows, no_null) → values for those rows (class codes, or numbers with NaN = null)
    if step.boost is not None:
        # each row draws from its own boosted class probabilities
        probs = class_probabilities(step.boost, st.x, st.model.features)
        numbers = np.asarray(step.boost.numbers + [np.nan])
        k = len(step.boost.numbers) if step.boost.numbers else len(step.classes)
        codes = np.asarray([c if c < k else -1 for c in step.boost.codes], dtype=np.int64)

        def draw(rows, no_null=None):
            c = _draw_probabilities(probs[rows], codes, rng)
            return c if discrete else numbers[c]
    else:
        leaf = tree.apply(st.x)
        # a boosted numeric target: its leaves hold residuals around the boosted mean
        shift = None if step.boost_mean is None else boosted_mean(step.boost_mean, st.x, st.model.features)

        def draw(rows, no_null=None):
            if discrete:
                return _draw_categorical(step, leaf[rows], rng)
            return _draw_numeric(step, leaf[rows], rng, no_null, None if shift is None else shift[rows])

    null_checks = [c for c in checks if c.kind == "null"]
    # Null co-patterns hold by construction: rows whose condition holds are null, the others draw a value.
    force_null = np.zeros(n, dtype=bool)
    for c in null_checks:
        other = st.values[c.other]
        force_null |= _is_null(other, st.steps[c.other]) if c.when == "null" else (other == 0)
    all_rows = np.arange(n)
    v = draw(all_rows)
    bad = np.zeros(n, dtype=bool)
    for c in checks:
        bad |= _violations(c, v, st, all_rows)
    bad &= ~force_null
    count = int(bad.sum())
    for _ in range(MAX_REDRAWS):
        rows = np.flatnonzero(bad)
        if rows.size == 0:
            break
        nv = draw(rows, np.ones(rows.size, bool) if null_checks else None)
        still = np.zeros(rows.size, dtype=bool)
        for c in checks:
            still |= _violations(c, nv, st, rows)
        v[rows] = nv
        bad[rows] = still
    rows = np.flatnonzero(bad)
    if rows.size and not discrete:
        for c in checks:
            v[rows] = _repair(c, v[rows], st, rows)
    if force_null.any():
        v[force_null] = -1 if discrete else np.nan
    if count:
        resampled[step.column] = count
    return v


# --------------------------------------------------------------------------- derived columns


def _derive(step: SamplerStep, st: _State, n: int) -> np.ndarray:
    if step.method == "linear":
        out = np.full(n, step.intercept)
        for col, coef in step.terms.items():
            out = out + coef * st.values[col]
    elif step.method == "product":
        out = np.full(n, step.intercept)
        with np.errstate(divide="ignore", invalid="ignore"):
            for col, exp in step.terms.items():
                out = out * np.power(st.values[col], exp)
        out[~np.isfinite(out)] = np.nan
    else:
        keys = st.strings(step.lhs)
        mapped = pd.Series(keys, dtype=object).map(step.mapping)
        mapped = mapped.where(pd.Series(keys, dtype=object).isna() | mapped.notna(), step.default)
        if step.kind in _DISCRETE:
            index = {c: i for i, c in enumerate(step.classes)}
            return mapped.map(lambda s: index.get(s, -1) if s is not None else -1).to_numpy(dtype=np.int64)
        out = pd.to_numeric(mapped, errors="coerce").to_numpy(dtype=float)
    if step.kind == "integer":
        out = np.round(out)
    elif step.decimals is not None:
        out = np.round(out, step.decimals)
    return out


# --------------------------------------------------------------------------- output


def _to_frame(model: SamplerModel, st: _State, names: list[str], n: int) -> pd.DataFrame:
    cols = {}
    for name in names:
        step = st.steps.get(name)
        if step is None:
            cols[name] = pd.Series([None] * n, dtype=object)
            continue
        v = st.values[name]
        if step.method == "constant":
            if step.kind == "datetime":
                cols[name] = pd.Series(pd.to_datetime([step.constant] * n)).astype("datetime64[ns]")
            elif step.kind in ("numeric", "integer"):
                cols[name] = pd.Series(np.full(n, np.nan if step.constant is None else float(step.constant)))
            else:
                cols[name] = pd.Series([step.constant] * n, dtype=object)
        elif step.method == "id":
            numeric = step.id.numeric and step.id.prefix is None
            cols[name] = pd.Series(v, dtype=float if numeric else object)
        elif step.kind in _DISCRETE:
            cols[name] = pd.Series(st.strings(name), dtype=object)
        elif step.kind == "datetime":
            cols[name] = _dates(v, st.model, step)
        else:
            cols[name] = pd.Series(v.astype(float))
    return pd.DataFrame(cols)


def _dates(days: np.ndarray, model: SamplerModel, step: SamplerStep) -> pd.Series:
    ns = np.where(np.isnan(days), np.nan, np.round(days * 86_400e9))
    d = pd.Series(pd.to_datetime(ns, unit="ns", errors="coerce"))
    return d


def sample_rows(
    seeds, n: int, *, seed: int = 0, cluster: int | None = None, report: dict | None = None
) -> pd.DataFrame:
    """Draw `n` rows: the canonical typed frame (as `coerce` gives), all profiled columns in order.

    Deterministic for a given `seed`. With `cluster`, every row comes from that cluster. `report`, if a
    dict, receives {"resampled": {column: rows redrawn}, "resampled_total": int}.
    """
    model: SamplerModel | None = seeds.sampler
    if model is None or not model.steps:
        raise UserInputError("the seeds file has no fitted sampler", fix="re-run `seedgen profile` to fit it")
    if n < 0:
        raise UserInputError(f"cannot draw {n} rows", fix="pass -n with a positive number")
    rng = np.random.default_rng(seed)
    st = _State(model, n)
    if cluster is not None:
        if cluster not in model.clusters:
            raise UserInputError(
                f"no cluster {cluster} in the seeds file", fix=f"use one of {model.clusters}"
            )
        cl = np.full(n, model.clusters.index(cluster))
    else:
        cl = rng.choice(
            len(model.clusters), size=n, p=np.asarray(model.cluster_weights) / sum(model.cluster_weights)
        )
    st.x[:, 0] = cl
    checks: dict[str, list[Check]] = {}
    for c in model.checks:
        checks.setdefault(c.column, []).append(c)
    resampled: dict[str, int] = {}
    for step in model.steps:
        if step.method == "tree":
            tree = CompiledTree(step.tree, model.features)
            v = _draw_tree_column(step, tree, st, checks.get(step.column, []), rng, resampled)
            if step.kind == "datetime":
                v = _truncate_dates(v, step, seeds)
        elif step.method in ("linear", "product", "lookup"):
            v = _derive(step, st, n)
        elif step.method == "id":
            v = draw_ids(step.id, n, rng)
        else:
            v = np.zeros(n)
        st.set(step.column, v)
    names = [c.name for c in seeds.columns] if getattr(seeds, "columns", None) else model.columns
    df = _to_frame(model, st, names, n)
    total = int(sum(resampled.values()))
    df.attrs["resampled"] = dict(resampled)
    if total:
        log.info(
            "sampler: %d value(s) redrawn to satisfy constraints (%s)",
            total,
            ", ".join(f"{k}: {v}" for k, v in resampled.items()),
        )
    if report is not None:
        report["resampled"] = dict(resampled)
        report["resampled_total"] = total
    return df


def _truncate_dates(days: np.ndarray, step: SamplerStep, seeds) -> np.ndarray:
    """Cut drawn dates to what the column's format can express (a month format → the 1st) and to the
    real dates' step (on the hour, on the minute)."""
    fmt, date_step = None, None
    for c in getattr(seeds, "columns", []):
        if c.name == step.column:
            fmt, date_step = c.date_format, c.date_step
    if not fmt:
        return days
    ok = ~np.isnan(days)
    if not ok.any():
        return days
    seconds = days[ok] * 86_400.0
    if date_step:
        seconds = np.round(seconds / date_step) * date_step
    d = pd.to_datetime(np.round(seconds * 1e9), unit="ns")
    # Most drawn dates repeat (point masses); format each distinct value once.
    uniq, inv = np.unique(d.to_numpy(), return_inverse=True)
    text = pd.DatetimeIndex(uniq).strftime(fmt)
    back = pd.to_datetime(pd.Index(text), format=fmt, errors="coerce")
    vals = back.to_numpy(dtype="datetime64[ns]").astype("int64").astype(float) / 86_400e9
    vals[pd.isna(back)] = np.nan
    out = days.copy()
    out[ok] = vals[inv]
    return out
