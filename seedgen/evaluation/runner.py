"""Runs the four metric families for each synthetic table and assembles `Metrics`.

Everything that depends only on the real side — bins, correlation matrix, encodings, nearest-neighbour
baselines, and all holdout ceilings — is computed once in `RealContext` and shared by every synthetic set,
so `compare` with five sets costs little more than five times the per-set work.
"""

from __future__ import annotations

import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from seedgen.evaluation.conformance import rule_conformance
from seedgen.evaluation.metrics import (
    Detection,
    Metrics,
    ModelUtility,
    Privacy,
    Score,
    TableInfo,
    Utility,
)
from seedgen.evaluation.prepare import EVALUATED, Aligned, Columns, Encoder, Prepared, Vocabulary
from seedgen.evaluators.detection.classifier import DetectionAUC
from seedgen.evaluators.fidelity.block import RealSide, attach_ceilings, compute_fidelity
from seedgen.evaluators.privacy.distance import (
    QUERY_ROWS,
    DCRShare,
    DistanceToClosestRecord,
    baseline_distances,
)
from seedgen.evaluators.privacy.exact import ExactMatchShare
from seedgen.evaluators.utility.tstr import TSTRUtility, task_of

log = logging.getLogger("seedgen")

#: a DCR share above this (with a holdout) means synthetic rows hug training rows
DCR_SHARE_LIMIT = 0.6
#: expected share of rows "too close" is 5 % by construction; flag at three times that
TOO_CLOSE_LIMIT = 0.15


def native_threads() -> int:
    """Threads per native pool (OpenMP, BLAS): 1 unless SEEDGEN_THREADS says otherwise.

    OpenMP pools spin-wait; on a machine shared with other work two spinning threads made a 6-second
    gradient-boosting fit take over 100 seconds. Evaluation gets its parallelism from one worker thread
    running the nearest-neighbour searches (see `evaluate_set`) instead.
    """
    try:
        return max(int(os.environ.get("SEEDGEN_THREADS", "1") or 1), 1)
    except ValueError:
        return 1


@dataclass
class RealContext:
    prep: Prepared
    columns: list  # evaluable real columns
    side: RealSide
    encoder: Encoder
    real_x: np.ndarray
    holdout_x: np.ndarray | None
    baseline: np.ndarray
    exact_ceiling: float | None
    holdout_fidelity: object | None
    detection_ceiling: float | None
    utility: UtilitySplit | None
    utility_note: str | None
    seed: int
    #: TRTR results by training size, reused by every synthetic set of a comparison
    trtr_cache: dict = field(default_factory=dict)

    @classmethod
    def build(cls, prep: Prepared, seed: int) -> RealContext:
        columns = [c for c in prep.specs if c.kind in EVALUATED and c.n_unique > 0]
        real, hold = prep.real_view, prep.holdout_view
        vocab = Vocabulary(real, columns)
        side = RealSide.build(real, columns, vocab)
        encoder = Encoder(real, columns, vocab)
        real_x = encoder.transform(real)
        rng = np.random.default_rng(seed)
        holdout_x = encoder.transform(hold) if hold is not None else None
        exact_ceiling = hold_fid = det_ceiling = None
        with ThreadPoolExecutor(max_workers=1) as pool:
            # the baseline search is BLAS work that releases the GIL: it overlaps the ceilings below
            baseline_job = pool.submit(_native, baseline_distances, real_x, holdout_x, rng, QUERY_ROWS)
            if hold is not None:
                specs = [c for c in prep.specs if c.kind != "id"]
                exact_ceiling = ExactMatchShare.compute(real, hold, specs=specs)
                hold_fid, _ = compute_fidelity(side, hold, {})
                det_ceiling = DetectionAUC.compute(
                    real, hold, columns=columns, seed=seed, round=False, encoder=encoder
                )
            baseline = baseline_job.result()
        split, note = _utility_split(prep, seed)
        return cls(
            prep,
            columns,
            side,
            encoder,
            real_x,
            holdout_x,
            baseline,
            exact_ceiling,
            hold_fid,
            det_ceiling,
            split,
            note,
            seed,
        )


@dataclass
class UtilitySplit:
    """Which real rows utility models train on, and which real rows they are tested on."""

    train_rows: np.ndarray | None  # rows of the real table (None = all)
    test: Columns
    test_rows: np.ndarray | None  # rows of `test` (None = all)
    description: str


def _utility_split(prep: Prepared, seed: int) -> tuple[UtilitySplit | None, str | None]:
    """Real training and test rows for TSTR/TRTR, or why utility cannot be computed."""
    if prep.target is None:
        return None, "no target given (use --target COLUMN)"
    spec = prep.by_name[prep.target]
    task = task_of(spec)
    if task is None:
        return None, f"the target {prep.target!r} is a {spec.kind} column; utility needs classes or numbers"
    if spec.n_unique < 2:
        return None, f"the target {prep.target!r} has {spec.n_unique} distinct value(s) in the real table"
    if prep.holdout is not None:
        what = f"the holdout ({len(prep.holdout)} rows)"
        return UtilitySplit(None, prep.holdout_view, None, what), None
    n = len(prep.real)
    perm = np.random.default_rng(seed).permutation(n)
    n_test = int(round(0.25 * n))
    what = (
        f"a 25% split of the real table ({n_test} rows; no holdout given — the generator may have seen "
        "these rows)"
    )
    return UtilitySplit(np.sort(perm[n_test:]), prep.real_view, np.sort(perm[:n_test]), what), None


def _info(name: str, df: pd.DataFrame) -> TableInfo:
    return TableInfo(name=name, rows=len(df), columns=df.shape[1])


def _timed(timings: dict, key: str):
    class _T:
        def __enter__(self):
            self.t = time.perf_counter()

        def __exit__(self, *exc):
            timings[key] = round(time.perf_counter() - self.t, 3)

    return _T()


def _native(fn, *args, **kwargs):
    """Run `fn` in a worker thread with the same one-thread limit on native pools as the caller
    (OpenMP/BLAS thread counts are per calling thread)."""
    with threadpool_limits(limits=native_threads()):
        return fn(*args, **kwargs)


def evaluate_set(
    ctx: RealContext, aligned: Aligned, *, rules=(), bar=None, task=None
) -> tuple[Metrics, pd.DataFrame]:
    """All metrics for one synthetic table; also returns its correlation matrix for the heatmaps.

    The families run one after the other in this thread, except the privacy distances: nearest-neighbour
    search is one long BLAS call that releases the GIL, so it runs in a worker thread alongside the rest.
    Running the model fits in a worker instead (as before) cost a quarter more CPU time: scikit-learn's
    tree growers hold the GIL between native calls, and the two threads spent it handing the GIL over.
    """
    prep, syn, timings = ctx.prep, aligned.data, {}
    warnings = list(prep.warnings) + list(aligned.warnings)

    def step():
        if bar is not None and task is not None:
            bar.advance(task)

    with ThreadPoolExecutor(max_workers=1) as pool:
        t0 = time.perf_counter()
        # absent synthetic columns count as missing in the distance space rather than breaking it
        syn_x = ctx.encoder.transform(aligned.view)
        distances = pool.submit(_native, _privacy_distances, ctx, syn_x)
        encode = time.perf_counter() - t0
        with _timed(timings, "fidelity"):
            fid, syn_corr = compute_fidelity(ctx.side, aligned.view, aligned.not_computed)
            if ctx.holdout_fidelity is not None:
                attach_ceilings(fid, ctx.holdout_fidelity)
        step()
        with _timed(timings, "utility"):
            utility = _utility(ctx, aligned, warnings)
        step()
        with _timed(timings, "detection"):
            detection = _detection(ctx, aligned)
        step()
        with _timed(timings, "conformance"):
            conformance = rule_conformance(
                syn, [c for c in prep.specs if c.name in syn.columns], rules, prep.real
            )
        step()
        with _timed(timings, "privacy"):
            privacy = _privacy(ctx, aligned, *distances.result())
        # privacy's own time: encoding, exact copies, the search (its wall time in the worker), verdicts
        timings["privacy"] = round(timings["privacy"] + encode + distances.result()[2], 3)
        step()
    metrics = Metrics(
        name=aligned.name,
        real=_info(prep.real_name, prep.real),
        synthetic=_info(aligned.name, syn),
        holdout=_info(prep.holdout_name, prep.holdout) if prep.holdout is not None else None,
        seed=ctx.seed,
        warnings=warnings,
        fidelity=fid,
        utility=utility,
        detection=detection,
        privacy=privacy,
        conformance=conformance,
        timings=timings,
    )
    return metrics, syn_corr


def _detection(ctx: RealContext, aligned: Aligned) -> Detection:
    det = DetectionAUC.compute_breakdown(
        ctx.prep.real_view, aligned.view, columns=aligned.columns, seed=ctx.seed, encoder=ctx.encoder
    )
    auc = det["score"]
    return Detection(
        auc=Score(value=auc, ceiling=ctx.detection_ceiling, goal="minimize", not_computed=det.get("note")),
        score=Score(
            value=DetectionAUC.to_score(auc),
            ceiling=DetectionAUC.to_score(ctx.detection_ceiling),
            not_computed=det.get("note"),
        ),
        rows_per_side=det.get("rows_per_side"),
    )


def _utility(ctx: RealContext, aligned: Aligned, warnings: list[str]) -> Utility:
    target = ctx.prep.target
    if ctx.utility_note is not None:
        return Utility(target=target, score=Score(not_computed=ctx.utility_note))
    if target not in aligned.data.columns or target in aligned.not_computed:
        why = f"the target {target!r} is missing or unusable in the synthetic table"
        warnings.append(f"utility not computed: {why}")
        return Utility(target=target, score=Score(not_computed=why))
    spec = ctx.prep.by_name[target]
    columns = [c for c in aligned.columns if c.name != target]
    if not columns:
        return Utility(target=target, score=Score(not_computed="no feature column besides the target"))
    split = ctx.utility
    out = TSTRUtility.compute_breakdown(
        ctx.prep.real_view,
        aligned.view,
        test=split.test,
        real_rows=split.train_rows,
        test_rows=split.test_rows,
        target=target,
        spec=spec,
        columns=columns,
        seed=ctx.seed,
        encoder=ctx.encoder,
        cache=ctx.trtr_cache,
    )
    why = None
    if not out["synthetic_trainable"]:
        why = f"the synthetic target {target!r} has a single class; no model can learn from it"
        warnings.append(f"TSTR not computed: {why}")
    elif out["score"] is None:
        why = "models trained on real rows are no better than chance on the test rows, so TSTR/TRTR is undefined"
    return Utility(
        target=target,
        task=out["task"],
        test_set=split.description,
        train_rows=out["train_rows"]["synthetic"] if out["synthetic_trainable"] else None,
        real_train_rows=out["train_rows"]["real"],
        main_metric=out["main_metric"],
        score=Score(value=out["score"], ceiling=1.0 if out["score"] is not None else None, not_computed=why),
        models=[ModelUtility(**m) for m in out["models"]],
    )


def _privacy_distances(ctx: RealContext, syn_x: np.ndarray) -> tuple[dict, float | None, float]:
    """The nearest-neighbour measures (DCR, NNDR, DCR share) and the seconds they took."""
    t0 = time.perf_counter()
    dcr = DistanceToClosestRecord.compute_breakdown(ctx.real_x, syn_x, baseline=ctx.baseline, seed=ctx.seed)
    share = None
    if ctx.holdout_x is not None:
        share = DCRShare.compute(ctx.real_x, syn_x, holdout=ctx.holdout_x, seed=ctx.seed)
    return dcr, share, time.perf_counter() - t0


def _privacy(ctx: RealContext, aligned: Aligned, dcr: dict, share: float | None, _seconds=None) -> Privacy:
    prep, syn = ctx.prep, aligned.data
    specs = [c for c in prep.specs if c.kind != "id" and c.name in syn.columns]
    exact = ExactMatchShare.compute(prep.real_view, aligned.view, specs=specs)
    reasons = []
    exact_limit = (ctx.exact_ceiling or 0.0) + 0.01
    if exact is not None and exact > exact_limit:
        reasons.append(f"{exact:.1%} of synthetic rows are exact copies of real training rows")
    why_share = "no holdout given (use --holdout with real rows the generator never saw)"
    if share is not None:
        why_share = None
        if share > DCR_SHARE_LIMIT:
            reasons.append(
                f"{share:.0%} of synthetic rows are closer to a training row than to any holdout row"
            )
    too_close = dcr.get("too_close_share")
    if too_close is not None and too_close > TOO_CLOSE_LIMIT:
        reasons.append(
            f"{too_close:.0%} of synthetic rows are closer to a real row than 95% of fresh real rows are "
            "(expected about 5%)"
        )
    return Privacy(
        exact_match_share=Score(value=exact, ceiling=ctx.exact_ceiling, goal="minimize"),
        dcr_median=Score(value=dcr["score"], ceiling=dcr.get("baseline_median")),
        dcr_p05=Score(value=dcr["p05"], ceiling=dcr.get("baseline_p05")),
        dcr_share=Score(
            value=share, ceiling=0.5 if share is not None else None, goal="minimize", not_computed=why_share
        ),
        too_close_share=Score(
            value=too_close, ceiling=0.05 if too_close is not None else None, goal="minimize"
        ),
        nndr_median=Score(value=dcr["nndr_median"], ceiling=dcr.get("baseline_nndr_median")),
        query_rows=dcr["query_rows"],
        flagged=bool(reasons),
        reasons=reasons,
    )
