"""Rule-engine throughput: every built-in rule plus the lending pack on 1M rows, against a per-row baseline.

    python benchmarks/filter_bench.py [--rows 1000000] [--baseline-rows 10000]

The table is the lending example profiled by `seedgen.profiling.profile` (so the built-in rules include all
30 constraints the profile discovers), resampled to `--rows` rows with 5 % of rows damaged in ways the
rules catch (wrong installment, wrong grade, unknown category, out-of-range rate, broken sum), so fixes
and failure collection are exercised too. The baseline checks the same rules the obvious way: one Python
loop over the rows of a 10k subset. Both are timed in the same run; the figures go to RESULTS.md.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
LOANS = ROOT / "examples" / "lending_club" / "lending_club_loans.csv"


def build(n: int, seed: int = 0):
    from seedgen.io import read_table
    from seedgen.profiling import profile
    from seedgen.schema import coerce

    with tempfile.TemporaryDirectory() as tmp:
        seeds = profile(LOANS, os.path.join(tmp, "seeds.json"), quiet=True)
    typed = coerce(read_table(LOANS).data, seeds.columns)
    rng = np.random.default_rng(seed)
    df = typed.iloc[rng.integers(0, len(typed), n)].reset_index(drop=True)
    bad = rng.random(n) < 0.05
    kind = rng.integers(0, 5, n)
    df.loc[bad & (kind == 0), "installment"] *= 1.3
    df.loc[bad & (kind == 1), "grade"] = "A"
    df.loc[bad & (kind == 2), "state"] = "Atlantis"
    df.loc[bad & (kind == 3), "interest_rate"] = 45.0
    df.loc[bad & (kind == 4), "paid_total"] += 100.0
    return seeds, df


# --------------------------------------------------------------------------- the per-row baseline


def naive(df: pd.DataFrame, seeds) -> np.ndarray:
    """The same checks written row by row, as one would without a vectorised engine."""
    specs = [s for s in seeds.columns if s.name in df.columns]
    cats = {
        s.name: {c.value for c in s.categories}
        for s in specs
        if s.categories and s.kind in ("categorical", "boolean")
    }
    bands = next(
        (c.bands for c in seeds.rules if c.kind == "category_band" and c.category == "sub_grade"), {}
    )
    cons = [c for c in seeds.rules if c.support >= 0.999]
    ok = np.ones(len(df), dtype=bool)
    for i, row in enumerate(df.to_dict("records")):
        good = True
        for s in specs:
            v = row[s.name]
            missing = v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NaT
            if missing:
                good &= s.null_rate > 0
                continue
            if s.name in cats:
                good &= v in cats[s.name]
            if s.kind in ("numeric", "integer") and isinstance(s.min, float):
                good &= s.min - 1e-9 <= v <= s.max + 1e-9
                d = 0 if s.kind == "integer" else (s.decimals or 0)
                good &= abs(v - round(v, d)) <= 1e-9 * max(1, abs(v))
        for c in cons:
            if c.kind == "functional_dependency":
                want = c.mapping.get(str(row[c.lhs]))
                good &= want is None or row[c.rhs] == want
            elif c.kind == "inequality":
                a, b = row[c.left], row[c.right]
                good &= not (a == a and b == b) or a <= b + 1e-9
            elif c.kind == "linear":
                t = row[c.target]
                pred = c.intercept + sum(w * row[x] for x, w in c.terms.items())
                good &= not (t == t and pred == pred) or abs(t - pred) <= c.tolerance + 0.02
            elif c.kind == "conditional_range":
                w = row[c.when_column]
                hit = {"positive": w == w and w > 0, "zero": w == 0, "null": w != w, "not_null": w == w}[
                    c.when
                ]
                v = row[c.column]
                if hit and v == v:
                    good &= (c.low is None or v >= c.low) and (c.high is None or v <= c.high)
            elif c.kind == "null_pattern":
                w = row[c.when_column]
                cond = (w != w) if c.when == "null" else (w == 0)
                good &= (row[c.column] != row[c.column]) == cond
        p, rate, n, inst = row["loan_amount"], row["interest_rate"] / 1200, row["term"], row["installment"]
        emi = p / n if rate == 0 else p * rate / (1 - (1 + rate) ** -n)
        good &= abs(inst - emi) <= 0.01 * emi + 0.005
        good &= str(row["sub_grade"])[:1] == row["grade"]
        lo, hi = bands.get(row["sub_grade"], (-math.inf, math.inf))
        good &= lo - 0.005 <= row["interest_rate"] <= hi + 0.005
        ok[i] = good
    return ok


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--baseline-rows", type=int, default=10_000)
    ap.add_argument(
        "--e2e-rows", type=int, default=100_000, help="rows for the end-to-end filter_rows run (CSV in/out)"
    )
    args = ap.parse_args()
    from seedgen.filtering import check_rows

    t0 = time.perf_counter()
    seeds, df = build(args.rows)
    print(f"setup: profile + {args.rows:,} rows in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    check_rows(df.head(10_000), seeds, rules=["lending"])  # warm-up: imports, plug-in loading

    small = df.head(args.baseline_rows)
    t0, c0 = time.perf_counter(), time.process_time()
    naive_ok = naive(small, seeds)
    t_naive, c_naive = time.perf_counter() - t0, time.process_time() - c0
    t0 = time.perf_counter()
    small_report = check_rows(small, seeds, rules=["lending"], fix=False)
    t_small = time.perf_counter() - t0

    results = []
    for fix in (True, False):
        t0, c0 = time.perf_counter(), time.process_time()
        report = check_rows(df, seeds, rules=["lending"], fix=fix)
        elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
        results.append((fix, elapsed, report, cpu))

    enforced = int((results[0][2].stats["status"] == "enforced").sum())
    print(
        f"rules run: {len(results[0][2].stats)} ({enforced} enforced), constraints in seeds: {len(seeds.rules)}"
    )
    print(
        f"baseline (per-row loop, {len(small):,} rows): {t_naive:.2f} s wall = {len(small) / t_naive:,.0f} rows/s "
        f"({c_naive:.2f} s CPU = {len(small) / c_naive:,.0f} rows/s of CPU), accepts {naive_ok.mean():.2%}"
    )
    print(
        f"engine on the same {len(small):,} rows (no fix): {t_small:.3f} s = {len(small) / t_small:,.0f} rows/s, "
        f"accepts {small_report.pass_rate:.2%}"
    )
    for fix, elapsed, report, cpu in results:
        print(
            f"engine on {len(df):,} rows, fix={'on' if fix else 'off'}: {elapsed:.2f} s wall = "
            f"{len(df) / elapsed:,.0f} rows/s ({cpu:.2f} s CPU = {len(df) / cpu:,.0f} rows/s of CPU); "
            f"accepted {report.pass_rate:.2%}, repaired {int(report.fixed.sum()):,}, "
            f"failure table {len(report.failures):,} rows"
        )
    if args.e2e_rows:
        from seedgen.filtering import filter_rows
        from seedgen.schema import render

        with tempfile.TemporaryDirectory() as tmp:
            raw = os.path.join(tmp, "raw.csv")
            render(df.head(args.e2e_rows), seeds.columns).to_csv(raw, index=False)
            t0, c0 = time.perf_counter(), time.process_time()
            res = filter_rows(raw, seeds, os.path.join(tmp, "accepted.csv"), rules=["lending"], quiet=True)
            elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
        print(
            f"filter_rows end to end (read CSV, coerce, rules, render, write) on {args.e2e_rows:,} rows: "
            f"{elapsed:.2f} s wall = {args.e2e_rows / elapsed:,.0f} rows/s ({cpu:.2f} s CPU); "
            f"accepted {res.accepted:,}"
        )
    print(f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    best = len(df) / results[0][1]
    print(
        f"speed-up over the baseline (fix on, wall): {best / (len(small) / t_naive):,.0f}x; "
        f"target 200,000 rows/s (wall): {'met' if best >= 200_000 else 'NOT met'}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
