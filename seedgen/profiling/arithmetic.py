"""Discovery of relations between numeric columns: inequalities, sums and differences, products and ratios,
and conditional ranges (see `discovery` for the support and coincidence rules every one of them passes).
"""

from __future__ import annotations

import itertools
import warnings

import numpy as np

from seedgen.profiling.discovery import Frame, beats_chance, q
from seedgen.seeds import ConditionalRange, Inequality, LinearIdentity, ProductIdentity

# --------------------------------------------------------------------------- inequalities


def inequalities(f: Frame) -> list[Inequality]:
    """`a <= b` for numeric pairs, minus those implied transitively by two others."""
    return _orderings(f, f.numeric, f.xs, f.x)


def date_inequalities(f: Frame) -> list[Inequality]:
    """`a <= b` for pairs of date columns (admitted before discharged), as for numbers."""
    return _orderings(f, f.dates, f.ds, f.d)


def _orderings(f: Frame, names: list[str], xs: np.ndarray, x: np.ndarray) -> list[Inequality]:
    """Inequalities among the columns `names` (sample matrix `xs`, full matrix `x`, same column order)."""
    s, m = f.settings, len(names)
    if m < 2 or len(xs) < s.min_rows:
        return []
    shuffled = xs[f.rng.permutation(len(xs))]
    fin = np.isfinite(xs)
    fin_sh = np.isfinite(shuffled)
    support = np.zeros((m, m))
    chance = np.ones((m, m))
    count = np.zeros((m, m))
    abs_x = np.maximum(1.0, np.abs(np.nan_to_num(xs)))
    for i in range(m):
        a = xs[:, i : i + 1]
        valid = fin[:, i : i + 1] & fin
        tol = 1e-9 * np.maximum(abs_x[:, i : i + 1], abs_x)
        with np.errstate(invalid="ignore"):
            ok = (a <= xs + tol) & valid
            valid_sh = fin[:, i : i + 1] & fin_sh
            ok_sh = (a <= shuffled + tol) & valid_sh
        count[i] = valid.sum(0)
        support[i] = ok.sum(0) / np.maximum(count[i], 1)
        chance[i] = ok_sh.sum(0) / np.maximum(valid_sh.sum(0), 1)
    cand = set()
    for i, j in itertools.permutations(range(m), 2):
        if count[i, j] < s.min_rows or support[i, j] < s.min_support:
            continue
        if support[j, i] >= s.min_support:  # equal columns: an identity, not an inequality
            continue
        if beats_chance(support[i, j], chance[i, j], s):
            cand.add((i, j))
    # Transitive reduction: a <= c is implied by a <= b and b <= c.
    reduced = [(i, j) for i, j in cand if not any((i, k) in cand and (k, j) in cand for k in range(m))]
    reduced.sort(key=lambda p: -(1 - chance[p]))
    out = []
    for i, j in reduced[: s.max_per_kind]:
        a, b = x[:, i], x[:, j]
        valid = np.isfinite(a) & np.isfinite(b)
        n = int(valid.sum())
        tol = 1e-9 * np.maximum(1.0, np.maximum(np.abs(a[valid]), np.abs(b[valid])))
        sup = float(np.mean(a[valid] <= b[valid] + tol)) if n else 0.0
        if n >= s.min_rows and sup >= s.min_support:
            left, right = names[i], names[j]
            out.append(
                Inequality(
                    left=left,
                    right=right,
                    support=round(sup, 6),
                    n=n,
                    description=f"{q(left)} <= {q(right)} (a shuffle would hold in {chance[i, j]:.0%} of rows)",
                )
            )
    return out


def date_differences(f: Frame) -> list[LinearIdentity]:
    """`c = b - a` in days for a number column c and date columns a, b (a stay's length, a loan's age).

    Screened on the sample for every ordered date pair against every number column at once, kept if it
    holds with enough support and a shuffled c fails it clearly more often, then verified on every row.
    """
    s, m = f.settings, len(f.dates)
    if m < 2 or not f.numeric or len(f.xs) < s.min_rows:
        return []
    units = np.array([f.unit(c) for c in f.numeric]) + 1e-6
    shuffled = f.xs[f.rng.permutation(len(f.xs))]
    out = []
    for i, j in itertools.permutations(range(m), 2):
        diff = (f.ds[:, j] - f.ds[:, i])[:, None]
        with np.errstate(invalid="ignore"):
            valid = np.isfinite(diff) & np.isfinite(f.xs)
            ok = (np.abs(f.xs - diff) <= units) & valid
            ok_sh = (np.abs(shuffled - diff) <= units) & np.isfinite(diff) & np.isfinite(shuffled)
        count = valid.sum(0)
        support = ok.sum(0) / np.maximum(count, 1)
        chance = ok_sh.sum(0) / np.maximum((np.isfinite(diff) & np.isfinite(shuffled)).sum(0), 1)
        for c in np.flatnonzero((count >= s.min_rows) & (support >= s.min_support)):
            if not beats_chance(support[c], chance[c], s):
                continue
            full = f.d[:, j] - f.d[:, i]
            y = f.x[:, c]
            sel = np.isfinite(full) & np.isfinite(y)
            n = int(sel.sum())
            sup = float(np.mean(np.abs(y[sel] - full[sel]) <= units[c])) if n else 0.0
            if n < s.min_rows or sup < s.min_support:
                continue
            a, b, name = f.dates[i], f.dates[j], f.numeric[c]
            out.append(
                LinearIdentity(
                    target=name,
                    terms={b: 1.0, a: -1.0},
                    support=round(sup, 6),
                    n=n,
                    description=f"{q(name)} = days from {q(a)} to {q(b)}",
                )
            )
    return out[: s.max_per_kind]


# --------------------------------------------------------------------------- linear identities


def _probe(f: Frame, cols: list[int]) -> np.ndarray:
    """Up to probe_rows sample rows where every listed column is filled."""
    block = f.xs[:, cols]
    rows = np.flatnonzero(np.isfinite(block).all(axis=1))
    if len(rows) > f.settings.probe_rows:
        rows = f.rng.choice(rows, f.settings.probe_rows, replace=False)
    return block[rows]


def _linear_candidates(f: Frame, cols: list[int], p: np.ndarray) -> set[tuple[tuple[int, int], ...]]:
    """Signed zero-sums of 2-4 columns on the probe rows: frozen sets of (column, sign)."""
    m = len(cols)
    units = np.array([f.unit(f.numeric[c]) for c in cols])
    scale = 1e-9 * np.maximum(1.0, np.abs(p))  # float noise, per cell
    found: set[tuple[tuple[int, int], ...]] = set()
    for r in (1, 2, 3):
        combos = list(itertools.combinations(range(m), r))
        if not combos:
            continue
        signs = [(1,) + t for t in itertools.product((1, -1), repeat=r - 1)]
        for start in range(0, len(combos), 2000):
            chunk = np.array(combos[start : start + 2000])
            for sg in signs:
                sg_arr = np.array(sg, dtype=np.float64)
                v = np.einsum("crp,r->cp", p[:, chunk].transpose(1, 2, 0), sg_arr)  # (combos, rows)
                tol_terms = units[chunk].sum(axis=1)  # (combos,)
                for tsign in (1, -1):
                    # v == tsign * target on every probe row: screen on 8 rows, confirm on all of them.
                    tol8 = tol_terms[:, None, None] + units[None, :, None] + scale.T[None, :, :8] + 1e-9
                    hit8 = (np.abs(v[:, None, :8] - tsign * p.T[None, :, :8]) <= tol8).all(axis=2)
                    ci, ti = np.nonzero(hit8)
                    tol = tol_terms[ci, None] + units[ti, None] + scale.T[ti] + 1e-9
                    full = (np.abs(v[ci] - tsign * p.T[ti]) <= tol).all(axis=1)
                    for c, t in zip(ci[full], ti[full], strict=True):
                        if t in chunk[c]:
                            continue
                        terms = {cols[chunk[c][k]]: -sg[k] * tsign for k in range(r)}
                        terms[cols[t]] = 1
                        key = tuple(sorted(terms.items()))
                        # Normalise the overall sign so each zero-sum appears once.
                        if key[0][1] < 0:
                            key = tuple((a, -b) for a, b in key)
                        found.add(key)
    return found


def _canonical(zero_sum: dict[int, int], order: list[int]) -> tuple[int, dict[int, float]]:
    """target = Σ terms: the all-positive form if one exists (a total and its parts), else the later column."""
    pos = [c for c, s in zero_sum.items() if s > 0]
    neg = [c for c, s in zero_sum.items() if s < 0]
    if len(pos) == 1 or len(neg) == 1:
        target = pos[0] if len(pos) == 1 else neg[0]
    else:
        target = max(zero_sum, key=order.index)
    ts = zero_sum[target]
    return target, {c: float(-s * ts) for c, s in zero_sum.items() if c != target}


def linear_identities(f: Frame) -> list[LinearIdentity]:
    """target = Σ ±term over 1-3 terms, within the rounding of the columns as written."""
    s = f.settings
    cols = [i for i, c in enumerate(f.numeric) if f.specs[c].null_rate <= 0.5 and f.specs[c].n_unique >= 3]
    if len(cols) < 2:
        return []
    p = _probe(f, cols)
    if len(p) < min(s.min_rows, s.probe_rows):
        return []
    found = _linear_candidates(f, list(range(len(cols))), p)
    results = []
    for key in found:
        zero_sum = {cols[c]: sg for c, sg in key}
        target, terms = _canonical(zero_sum, list(range(len(f.numeric))))
        idx = [target, *terms]
        ok, n, chance = _check_linear(f, target, terms, sample=True)
        if n < s.min_rows or ok < s.min_support or not beats_chance(ok, chance, s):
            continue
        ok, n, _ = _check_linear(f, target, terms, sample=False)
        if n >= s.min_rows and ok >= s.min_support:
            results.append((frozenset(idx), target, terms, ok, n))
    kept = _independent(f, results)
    out = []
    for _, target, terms, ok, n in kept[: s.max_per_kind]:
        tname = f.numeric[target]
        named = {f.numeric[c]: v for c, v in terms.items()}
        tol = f.unit(tname) + sum(f.unit(c) for c in named) + 1e-9
        rhs = " ".join(("+ " if v > 0 else "- ") + q(c) for c, v in named.items()).lstrip("+ ")
        out.append(
            LinearIdentity(
                target=tname,
                terms=named,
                tolerance=round(tol, 10),
                support=round(ok, 6),
                n=n,
                description=f"{q(tname)} = {rhs}",
            )
        )
    return out


def _independent(f: Frame, results: list) -> list:
    """Drop identities implied by more exact ones, up to columns that are almost always zero.

    x = a + b (99.5 %) next to x = a + b + c (100 %, c a rarely non-zero fee) is the same rule less exactly;
    i = t - l + b follows from t = p + i + c and l = b + p whenever c is zero. Both would only mislead.
    """
    m = len(f.numeric)
    with np.errstate(invalid="ignore"):
        zero_share = np.nanmean(np.where(np.isfinite(f.xs), f.xs == 0, np.nan), axis=0)
    mostly_zero = np.nan_to_num(zero_share) >= 0.95
    results = sorted(results, key=lambda r: (-r[3], len(r[0])))
    kept, basis = [], []
    for r in results:
        _, target, terms, _, _ = r
        v = np.zeros(m)
        v[target] = 1.0
        for c, coef in terms.items():
            v[c] = -coef
        if basis:
            # Implied if v lies in the span of the kept identities plus the mostly-zero columns.
            b = np.column_stack([*basis, *np.eye(m)[mostly_zero]])
            coef, *_ = np.linalg.lstsq(b, v, rcond=None)
            if np.abs(v - b @ coef).max() <= 1e-6:
                continue
        kept.append(r)
        basis.append(v)
    return kept


def _check_linear(f: Frame, target: int, terms: dict[int, float], sample: bool) -> tuple[float, int, float]:
    x = f.xs if sample else f.x
    t = x[:, target]
    v = sum(coef * x[:, c] for c, coef in terms.items())
    valid = np.isfinite(t) & np.isfinite(v)
    n = int(valid.sum())
    if n == 0:
        return 0.0, 0, 1.0
    tol = f.unit(f.numeric[target]) + sum(f.unit(f.numeric[c]) for c in terms) + 1e-9
    tv, vv = t[valid], v[valid]
    slack = tol + 1e-9 * np.maximum(1.0, np.abs(tv))
    ok = float(np.mean(np.abs(tv - vv) <= slack))
    chance = float(np.mean(np.abs(f.rng.permutation(tv) - vv) <= slack)) if sample else 1.0
    return ok, n, chance


# --------------------------------------------------------------------------- products and ratios


def product_identities(f: Frame, skip: set[frozenset[str]] = frozenset()) -> list[ProductIdentity]:
    """target = scale · a, scale · a · b or scale · a / b, within a relative tolerance."""
    s = f.settings
    cols = [i for i, c in enumerate(f.numeric) if f.specs[c].n_unique >= 5]
    m = len(cols)
    if m < 2:
        return []
    rows = f.rng.choice(len(f.xs), min(len(f.xs), 256), replace=False)
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.log(np.where(f.xs[np.ix_(rows, cols)] > 0, f.xs[np.ix_(rows, cols)], np.nan))  # (rows, m)
    forms = [((a,), (1,)) for a in range(m)]
    for a, b in itertools.combinations(range(m), 2):
        forms += [((a, b), (1, 1)), ((a, b), (1, -1)), ((a, b), (-1, 1))]
    max_spread = 2 * np.log1p(s.rel_tolerance)
    cands = []
    for start in range(0, len(forms), 300):
        chunk = forms[start : start + 300]
        pred = np.stack(
            [sum(e * logs[:, c] for c, e in zip(fc, ex, strict=True)) for fc, ex in chunk]
        )  # (F, rows)
        r = logs.T[None, :, :] - pred[:, None, :]  # (F, m, rows)
        finite = np.isfinite(r).sum(axis=2)
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices: too few positive rows
            spread = np.nanmax(r, axis=2) - np.nanmin(r, axis=2)
            fi, ti = np.nonzero((finite >= 20) & (spread <= max_spread))
            centre = np.nanmedian(r[fi, ti], axis=1) if len(fi) else np.zeros(0)
        for h, (a, t) in enumerate(zip(fi, ti, strict=True)):
            fc, ex = chunk[a]
            if t in fc:
                continue
            cands.append(
                (cols[t], {cols[c]: e for c, e in zip(fc, ex, strict=True)}, float(np.exp(centre[h])))
            )
    out, seen = [], set()
    for target, factors, scale in cands:
        key = frozenset([target, *factors])
        names = {f.numeric[c] for c in key}
        if key in seen or frozenset(names) in skip:
            continue
        if len(factors) == 1 and abs(scale - 1) < 1e-6:
            continue  # a copy, which the linear search reports
        scale = float(f"{scale:.4g}")
        ok, n, chance = _check_product(f, target, factors, scale, sample=True)
        if n < s.min_rows or ok < s.min_support or not beats_chance(ok, chance, s):
            continue
        ok, n, _ = _check_product(f, target, factors, scale, sample=False)
        if n < s.min_rows or ok < s.min_support:
            continue
        seen.add(key)
        tname = f.numeric[target]
        named = {f.numeric[c]: int(e) for c, e in factors.items()}
        expr = " ".join(("* " if e > 0 else "/ ") + q(c) for c, e in named.items())
        out.append(
            ProductIdentity(
                target=tname,
                factors=named,
                scale=scale,
                rel_tolerance=s.rel_tolerance,
                support=round(ok, 6),
                n=n,
                description=f"{q(tname)} = {scale:g} {expr}",
            )
        )
        if len(out) >= s.max_per_kind:
            break
    return out


def _check_product(f: Frame, target: int, factors: dict[int, int], scale: float, sample: bool):
    x = f.xs if sample else f.x
    t = x[:, target]
    with np.errstate(divide="ignore", invalid="ignore"):
        pred = scale * np.prod([x[:, c] ** e for c, e in factors.items()], axis=0)
    valid = np.isfinite(t) & np.isfinite(pred)
    n = int(valid.sum())
    if n == 0:
        return 0.0, 0, 1.0
    tv, pv = t[valid], pred[valid]
    slack = f.settings.rel_tolerance * np.maximum(np.abs(tv), np.abs(pv)) + f.unit(f.numeric[target]) + 1e-9
    ok = float(np.mean(np.abs(tv - pv) <= slack))
    chance = float(np.mean(np.abs(f.rng.permutation(tv) - pv) <= slack)) if sample else 1.0
    return ok, n, chance


# --------------------------------------------------------------------------- conditional ranges

_CONDITIONS = ("positive", "zero", "null", "not_null")


def _condition(x: np.ndarray, when: str) -> tuple[np.ndarray, np.ndarray]:
    """(rows the condition applies to, rows where it holds)."""
    fin = np.isfinite(x)
    if when in ("null", "not_null"):
        return np.ones_like(fin), (~fin if when == "null" else fin)
    return fin, fin & ((x > 0) if when == "positive" else (x == 0))


def conditional_ranges(f: Frame) -> list[ConditionalRange]:
    """`when_column` positive/zero/null/filled ⇒ `column` within a range much narrower than its usual one."""
    s = f.settings
    out = []
    y_cols = [j for j, c in enumerate(f.numeric) if f.specs[c].n_unique >= 5]
    for i, xname in enumerate(f.numeric):
        xs = f.xs[:, i]
        for when in _CONDITIONS:
            applies, holds = _condition(xs, when)
            n_hold, n_rest = int(holds.sum()), int((applies & ~holds).sum())
            if when in ("null", "not_null") and f.specs[xname].null_rate == 0:
                continue
            if n_hold < s.min_rows or n_rest < s.min_rows:
                continue
            for j in _screen(f, applies, holds, [j for j in y_cols if j != i]):
                full = _range_if(f, i, j, when, sample=False)
                if full is None:
                    continue
                low, high, rest_outside = full
                out.append((rest_outside, xname, when, f.numeric[j], low, high))
    out.sort(key=lambda r: -r[0])
    rules = []
    for rest_outside, xname, when, yname, low, high in out[: s.max_per_kind]:
        applies, holds = _condition(f.col(xname), when)
        y = f.col(yname)
        sel = holds & np.isfinite(y)
        n = int(sel.sum())
        lo_ok = y[sel] >= low if low is not None else True
        hi_ok = y[sel] <= high if high is not None else True
        sup = float(np.mean(lo_ok & hi_ok)) if n else 0.0
        bound = " and ".join(
            b
            for b in (f">= {low:g}" if low is not None else "", f"<= {high:g}" if high is not None else "")
            if b
        )
        rules.append(
            ConditionalRange(
                when_column=xname,
                when=when,
                column=yname,
                low=low,
                high=high,
                support=round(sup, 6),
                n=n,
                description=f"when {q(xname)} is {when.replace('_', ' ')}, {q(yname)} {bound} "
                f"(otherwise {rest_outside:.0%} of rows lie outside)",
            )
        )
    return rules


def _screen(f: Frame, applies: np.ndarray, holds: np.ndarray, y_cols: list[int]) -> list[int]:
    """The columns whose sample range under the condition passes `_range_if`, all columns at once."""
    s = f.settings
    if not y_cols:
        return []
    y = f.xs[:, y_cols]
    fy = np.isfinite(y)
    inside = holds[:, None] & fy
    rest = (applies & ~holds)[:, None] & fy
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # columns empty under the condition
        lo = np.nanmin(np.where(inside, y, np.nan), axis=0)
        hi = np.nanmax(np.where(inside, y, np.nan), axis=0)
        y_min, y_max = np.nanmin(y, axis=0), np.nanmax(y, axis=0)
        span = y_max - y_min
        low_side, high_side = lo > y_min, hi < y_max
        outside = ((y < lo) & low_side) | ((y > hi) & high_side)
        share = (outside & rest).sum(0) / np.maximum(rest.sum(0), 1)
        keep = (
            (inside.sum(0) >= s.min_rows)
            & (rest.sum(0) >= s.min_rows)
            & (span > 0)
            & (hi - lo <= 0.75 * span)
            & (low_side | high_side)
            & (share >= 0.25)
        )
    return [y_cols[k] for k in np.flatnonzero(keep)]


def _range_if(f: Frame, i: int, j: int, when: str, sample: bool):
    """The range of column j where the condition on column i holds, if it is a real restriction."""
    s = f.settings
    x = f.xs if sample else f.x
    applies, holds = _condition(x[:, i], when)
    y = x[:, j]
    fy = np.isfinite(y)
    inside, rest = y[holds & fy], y[applies & ~holds & fy]
    if len(inside) < s.min_rows or len(rest) < s.min_rows:
        return None
    lo, hi = float(inside.min()), float(inside.max())
    y_all = y[fy]
    span = float(y_all.max() - y_all.min())
    if span <= 0 or (hi - lo) > 0.75 * span:
        return None
    low = lo if lo > y_all.min() else None
    high = hi if hi < y_all.max() else None
    if low is None and high is None:
        return None
    outside = np.zeros(len(rest), dtype=bool)
    if low is not None:
        outside |= rest < low
    if high is not None:
        outside |= rest > high
    share = float(outside.mean())
    # Independent columns put the rest inside the range too; a real restriction leaves many outside.
    if share < 0.25:
        return None
    return low, high, share
