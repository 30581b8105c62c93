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
import re
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


_CHILD = (
    "import sys; from seedgen.progress import setup_logging; setup_logging(verbose=True); "
    "import seedgen; seedgen.profile(sys.argv[1], sys.argv[2], quiet=True)"
)


def run_profile(path: Path, out: Path) -> tuple[float, float, float, dict[str, float]]:
    """Wall seconds, CPU seconds, peak RSS (MiB) and per-stage wall seconds of one profile process.

    The child runs `seedgen.profile(...)` with debug logging on, which logs how long each stage took.
    """
    cmd = [sys.executable, "-c", _CHILD, str(path), str(out)]
    start = time.perf_counter()
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        err.seek(0)
        log = err.read().decode(errors="replace")
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"profile failed on {path}: {log.strip()[-2000:]}")
    stages = {m[1]: float(m[2]) for m in re.finditer(r"profile: (\w+) took ([\d.]+) s", log)}
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, stages  # maxrss: KiB on Linux


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
    load = os.getloadavg()[0]
    print(f"machine: {os.cpu_count()} cores; load average {load:.1f}; python {sys.version.split()[0]}")
    print(
        f"{'rows':>9} {'cols':>5} {'MiB csv':>8} {'read_csv s':>10} {'wall s':>8} {'CPU s':>7} "
        f"{'rows/s':>9} {'peak MiB':>9}  stages (wall s)"
    )
    results, verdicts = [], []
    for n in sizes:
        path = work / f"loans_{n}.csv"
        if not path.exists():
            build_table(n, path)
        floor = read_floor(path)
        wall, cpu, peak, stages = run_profile(path, work / f"seeds_{n}.json")
        cols = len(pd.read_csv(path, nrows=1).columns)
        results.append((n, wall, cpu))
        verdicts.append((n, wall, cpu, peak, floor))
        detail = " ".join(f"{k}={v:.1f}" for k, v in stages.items())
        print(
            f"{n:>9,} {cols:>5} {path.stat().st_size / 2**20:>8.0f} {floor:>10.1f} {wall:>8.1f} {cpu:>7.1f} "
            f"{n / wall:>9,.0f} {peak:>9,.0f}  {detail}",
            flush=True,
        )
    if len(results) >= 2:
        (n0, t0, c0), (n1, t1, c1) = results[0], results[-1]
        for what, a, b in (("wall", t0, t1), ("CPU", c0, c1)):
            exponent = math.log(b / a) / math.log(n1 / n0)
            print(
                f"growth {n0:,} -> {n1:,} rows ({what}): x{b / a:.1f} for rows x{n1 / n0:.0f} "
                f"(fitted exponent {exponent:.2f}; 1.0 = linear)"
            )
    for n, wall, cpu, peak, floor in verdicts:
        if n >= 1_000_000:
            ok = wall < 60 and peak < 4096
            print(
                f"target at {n:,} rows: < 60 s wall and < 4 GiB peak -> {wall:.1f} s wall ({cpu:.1f} s CPU), "
                f"{peak / 1024:.2f} GiB: "
                f"{'met' if ok else 'NOT met'} ({wall / floor:.1f}x the time pandas needs only to read the file)"
            )
    print(f"load average at the end {os.getloadavg()[0]:.1f} (other jobs share the 2 cores)")
    if not args.keep:
        print(f"(tables in {work})")


if __name__ == "__main__":
    main()
