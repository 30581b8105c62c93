"""Wall time of `seedgen evaluate` against SDMetrics' QualityReport, in the same run.

Cases:
  1. 10k real × 10k synthetic, 55 columns (the lending_club example; synthetic = the rows resampled with
     replacement and jittered), full evaluation: fidelity, utility (target `grade`, 7 classes), detection,
     privacy, report.html + metrics.json.
  2. the same pair in SDMetrics' `QualityReport` (column shapes + column-pair trends only) as the reference.
  3. 100k × 100k (both resampled from the example with jitter), full seedgen evaluation.

SDMetrics needs pandas < 3 while seedgen's environment has pandas 3, so the reference runs in its own
virtualenv (`--sdmetrics-python`, default benchmarks/.venv-sdmetrics/bin/python, made with `python -m venv
benchmarks/.venv-sdmetrics && benchmarks/.venv-sdmetrics/bin/pip install sdmetrics`); only `QualityReport.generate` is timed there.

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


def run_seedgen(real, syn, target, label: str) -> tuple[float, float]:
    """Wall time of one full evaluation (CPU seconds printed too: on a shared machine they are steadier)."""
    import seedgen
    import seedgen.evaluation.report  # noqa: F401 - import sklearn/matplotlib before the clock starts, as
    #   the SDMetrics reference times `generate` only

    with tempfile.TemporaryDirectory() as out:
        t, c = time.perf_counter(), time.process_time()
        m = seedgen.evaluate(real, syn, out, target=target, quiet=True)
        wall, cpu = time.perf_counter() - t, time.process_time() - c
    print(
        f"{label}: seedgen evaluate (full, target {target}) {wall:6.1f} s wall, {cpu:6.1f} s CPU   "
        f"families {m.timings}   shape {m.fidelity.shape.value:.3f} pairs(all) {m.fidelity.pairs_all.value:.3f}"
    )
    return wall, cpu


def run_fidelity_only(real, syn, label: str) -> tuple[float, float]:
    """The part of seedgen comparable to QualityReport: schema inference, column shapes and all pairs."""
    from seedgen.evaluators.fidelity.block import RealSide, compute_fidelity
    from threadpoolctl import threadpool_limits

    from seedgen.evaluation.prepare import align, prepare_real
    from seedgen.evaluation.runner import native_threads

    t, c = time.perf_counter(), time.process_time()
    with threadpool_limits(limits=native_threads()):  # as evaluate() runs it
        prep = prepare_real(real)
        aligned = align(prep, syn, "synthetic")
        side = RealSide.build(prep.real_view, aligned.columns)
        compute_fidelity(side, aligned.view, aligned.not_computed)
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    print(f"{label}: seedgen fidelity only (shapes + pairs) {wall:6.1f} s wall, {cpu:6.1f} s CPU")
    return wall, cpu


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
    ap.add_argument(
        "--sdmetrics-python",
        default=os.path.join(os.path.dirname(os.path.abspath(__file__)), ".venv-sdmetrics", "bin", "python"),
    )
    ap.add_argument("--target", default="grade", help="utility target (grade: 7 classes, the slow case)")
    args = ap.parse_args()
    print(
        f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; python {sys.version.split()[0]}"
    )
    real = pd.read_csv(LOANS)
    syn = jittered_resample(real, len(real), seed=1)
    wall, cpu = run_seedgen(real, syn, args.target, "10k x 10k")
    run_seedgen(real, syn, "application_type", "10k x 10k")  # a binary target, the common case
    fid_wall, fid_cpu = run_fidelity_only(real, syn, "10k x 10k")
    sdm = run_sdmetrics(real, syn, args.sdmetrics_python)
    if sdm is not None:
        print(
            f"10k x 10k: SDMetrics QualityReport {sdm['seconds']:6.1f} s wall, {sdm['cpu']:6.1f} s CPU   "
            f"score {sdm['score']:.3f}"
        )
        print(
            f"QualityReport / seedgen full evaluation: {sdm['seconds'] / wall:.1f}x wall, {sdm['cpu'] / cpu:.1f}x CPU "
            f"(target >= 3x); / seedgen fidelity only: {sdm['seconds'] / fid_wall:.1f}x wall, "
            f"{sdm['cpu'] / fid_cpu:.1f}x CPU"
        )
    if not args.skip_100k:
        big_real = jittered_resample(real, 100_000, seed=2)
        big_syn = jittered_resample(real, 100_000, seed=3)
        run_seedgen(big_real, big_syn, args.target, "100k x 100k")


if __name__ == "__main__":
    main()
