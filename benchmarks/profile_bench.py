"""How `seedgen profile` scales: wall time, rows/s and peak memory for 10k, 100k and 1M rows.

Tables are built by resampling the Lending Club example with replacement (55 columns) and jittering a few
percent of the non-integer numeric cells by ±0.5 %, so the larger tables are not just copies of the small
one. Each size is profiled by a separate `seedgen profile` process; its peak resident memory comes from
`os.wait4` (the child's own rusage). In the same run, the time `pandas.read_csv` alone needs for the file is
measured as the floor, and the growth from the smallest to the largest size is compared with linear.

    python benchmarks/profile_bench.py                      # 10k, 100k, 1M
    python benchmarks/profile_bench.py --sizes 10000,100000 # quicker
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "lending_club" / "lending_club_loans.csv"


def build_table(n: int, path: Path, seed: int = 0) -> None:
    """`n` rows resampled from the example, a few non-integer numeric cells jittered."""
    base = pd.read_csv(EXAMPLE, dtype=str, keep_default_na=False)
    rng = np.random.default_rng(seed)
    df = base.iloc[rng.integers(0, len(base), n)].reset_index(drop=True)
    for col in df.columns:
        s = df[col]
        dec = s.str.extract(r"^-?\d+\.(\d+)$", expand=False)
        if dec.notna().mean() < 0.5:
            continue  # not a decimal column
        places = int(dec.str.len().mode().iloc[0])
        hit = (rng.random(n) < 0.05) & dec.notna().to_numpy()
        vals = pd.to_numeric(s[hit], errors="coerce") * (1 + rng.uniform(-0.005, 0.005, hit.sum()))
        df.loc[hit, col] = vals.map(lambda v, p=places: f"{v:.{p}f}")
    df.to_csv(path, index=False)


def run_profile(path: Path, out: Path) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one `seedgen profile` process."""
    cmd = [sys.executable, "-m", "seedgen.cli", "profile", str(path), "-o", str(out), "-q"]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    err = proc.stderr.read().decode() if proc.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"profile failed on {path}: {err.strip()}")
    return wall, usage.ru_maxrss / 1024  # KiB on Linux


def read_floor(path: Path) -> float:
    start = time.perf_counter()
    pd.read_csv(path, low_memory=False)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--keep", help="folder to keep the generated tables and seeds in")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    work = Path(args.keep or tempfile.mkdtemp(prefix="profile_bench_"))
    work.mkdir(parents=True, exist_ok=True)
    print(
        f"machine: {os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f}; python {sys.version.split()[0]}"
    )
    print(
        f"{'rows':>9} {'cols':>5} {'MiB csv':>8} {'read_csv s':>10} {'profile s':>10} {'rows/s':>9} "
        f"{'peak MiB':>9} {'x read':>7}"
    )
    results = []
    for n in sizes:
        path = work / f"loans_{n}.csv"
        if not path.exists():
            build_table(n, path)
        floor = read_floor(path)
        wall, peak = run_profile(path, work / f"seeds_{n}.json")
        cols = len(pd.read_csv(path, nrows=1).columns)
        results.append((n, wall, peak))
        print(
            f"{n:>9,} {cols:>5} {path.stat().st_size / 2**20:>8.0f} {floor:>10.1f} {wall:>10.1f} "
            f"{n / wall:>9,.0f} {peak:>9,.0f} {wall / floor:>7.1f}",
            flush=True,
        )
    if len(results) >= 2:
        (n0, t0, _), (n1, t1, _) = results[0], results[-1]
        exponent = math.log(t1 / t0) / math.log(n1 / n0)
        print(
            f"growth {n0:,} -> {n1:,} rows: time x{t1 / t0:.1f} for rows x{n1 / n0:.0f} "
            f"(linear would be x{n1 / n0:.0f}; fitted exponent {exponent:.2f}, 1.0 = linear)"
        )
    if not args.keep:
        print(f"(tables in {work})")


if __name__ == "__main__":
    main()
