"""Wall time of `seedgen evaluate` against SDMetrics' QualityReport, in the same run.

Cases:
  1. 10k real × 10k synthetic, 55 columns (the lending_club example; synthetic = the rows resampled with
     replacement and jittered), full evaluation: fidelity, utility (target `grade`, 7 classes), detection,
     privacy, report.html + metrics.json.
  2. the same pair in SDMetrics' `QualityReport` (column shapes + column-pair trends only) as the reference.
  3. 100k × 100k (both resampled from the example with jitter), full seedgen evaluation.

SDMetrics needs pandas < 3 while seedgen's environment has pandas 3, so the reference runs in its own
virtualenv (`--sdmetrics-python`, default /work/sdm-venv/bin/python, made with `python -m venv
/work/sdm-venv && /work/sdm-venv/bin/pip install sdmetrics`); only `QualityReport.generate` is timed there.

Usage: python benchmarks/eval_bench.py [--skip-100k] [--sdmetrics-python PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
LOANS = ROOT / "examples" / "lending_club" / "lending_club_loans.csv"

SDM_SCRIPT = r"""
import json, sys, time, warnings
import pandas as pd
warnings.filterwarnings("ignore")
from sdmetrics.reports.single_table import QualityReport  # the classic single-table report
real = pd.read_csv(sys.argv[1]); syn = pd.read_csv(sys.argv[2])
metadata = json.load(open(sys.argv[3]))
t, c = time.perf_counter(), time.process_time()
report = QualityReport()
report.generate(real, syn, metadata, verbose=False)
print(json.dumps({"seconds": time.perf_counter() - t, "cpu": time.process_time() - c, "score": report.get_score()}))
"""


def jittered_resample(df: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    """n rows drawn with replacement; numbers get noise of 5 % of their std, rounded like the source."""
    rng = np.random.default_rng(seed)
    out = df.iloc[rng.integers(0, len(df), n)].reset_index(drop=True)
    for c in out.columns:
        s = out[c]
        if pd.api.types.is_float_dtype(s) or pd.api.types.is_integer_dtype(s):
            noisy = s + rng.normal(0, 0.05 * (df[c].std() or 0.0), n)
            out[c] = noisy.round(0 if pd.api.types.is_integer_dtype(s) else 2)
    return out


def sdmetrics_metadata(df: pd.DataFrame) -> dict:
    from seedgen.io import read_table
    from seedgen.schema import infer_schema

    specs = infer_schema(read_table(LOANS))
    sdtype = {
        "numeric": "numerical",
        "integer": "numerical",
        "categorical": "categorical",
        "boolean": "categorical",
        "datetime": "datetime",
        "text": "id",
        "id": "id",
    }
    cols = {}
    for s in specs:
        cols[s.name] = {"sdtype": sdtype[s.kind]}
        if s.kind == "datetime":
            cols[s.name]["datetime_format"] = s.date_format
    return {"columns": cols}


def run_seedgen(real, syn, target, label: str) -> float:
    import seedgen
    import seedgen.evaluation.report  # noqa: F401 - import sklearn/matplotlib before the clock starts, as
    #   the SDMetrics reference times `generate` only

    with tempfile.TemporaryDirectory() as out:
        t = time.perf_counter()
        m = seedgen.evaluate(real, syn, out, target=target, quiet=True)
        wall = time.perf_counter() - t
    print(
        f"{label}: seedgen evaluate (full) {wall:7.1f} s   families {m.timings}   "
        f"shape {m.fidelity.shape.value:.3f} pairs {m.fidelity.pairs_all.value:.3f} (all pairs)"
    )
    return wall


def run_sdmetrics(real, syn, python: str) -> dict | None:
    if not os.path.exists(python):
        print(f"SDMetrics reference skipped: {python} not found")
        return None
    with tempfile.TemporaryDirectory() as tmp:
        paths = [os.path.join(tmp, f) for f in ("real.csv", "syn.csv", "meta.json", "run.py")]
        real.to_csv(paths[0], index=False)
        syn.to_csv(paths[1], index=False)
        with open(paths[2], "w") as fh:
            json.dump(sdmetrics_metadata(real), fh)
        with open(paths[3], "w") as fh:
            fh.write(SDM_SCRIPT)
        proc = subprocess.run([python, paths[3], *paths[:3]], capture_output=True, text=True)
    if proc.returncode != 0:
        print("SDMetrics failed:", proc.stderr[-1500:])
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--skip-100k", action="store_true")
    ap.add_argument("--sdmetrics-python", default="/work/sdm-venv/bin/python")
    args = ap.parse_args()
    print(
        f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; python {sys.version.split()[0]}"
    )
    real = pd.read_csv(LOANS)
    syn = jittered_resample(real, len(real), seed=1)
    real_csv_types = real  # both sides as pandas reads the CSV: numbers, strings
    seedgen_10k = run_seedgen(real_csv_types, syn, "grade", "10k x 10k")
    sdm = run_sdmetrics(real, syn, args.sdmetrics_python)
    if sdm is not None:
        print(f"10k x 10k: SDMetrics QualityReport       {sdm['seconds']:7.1f} s   score {sdm['score']:.3f}")
        print(
            f"speed-up of the full seedgen evaluation over QualityReport alone: {sdm['seconds'] / seedgen_10k:.1f}x "
            f"(target >= 3x)"
        )
    if not args.skip_100k:
        big_real = jittered_resample(real, 100_000, seed=2)
        big_syn = jittered_resample(real, 100_000, seed=3)
        run_seedgen(big_real, big_syn, "grade", "100k x 100k")


if __name__ == "__main__":
    main()
