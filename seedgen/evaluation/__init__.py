"""`seedgen evaluate` and `seedgen compare`: how close, how useful and how private is a synthetic table?

Four metric families run against the real table — fidelity (`seedgen.evaluators.fidelity`), utility
(`...utility`), detection (`...detection`) and privacy (`...privacy`) — plus rule conformance from the filter
engine. Results go to `output/report.html` (one self-contained page) and `output/metrics.json` (the
`Metrics` model, or a `Comparison` of several). With a holdout, every score is shown next to its ceiling:
the same score for real rows the generator never saw.
"""

from __future__ import annotations

import logging
import os

from threadpoolctl import threadpool_limits

from seedgen.errors import UserInputError
from seedgen.evaluation.metrics import Comparison, Metrics
from seedgen.progress import progress

log = logging.getLogger("seedgen")

__all__ = ["evaluate", "compare", "Metrics", "Comparison"]

#: progress steps per synthetic set: fidelity, utility, detection, privacy, conformance
_STEPS = 5


def _run(real, synthetics: list, names: list[str] | None, output, *, holdout, target, rules, seed, quiet):
    from seedgen.evaluation.prepare import align, prepare_real
    from seedgen.evaluation.report import render_report
    from seedgen.evaluation.runner import RealContext, evaluate_set, native_threads

    if output is None or str(output) == "":
        raise UserInputError("no output folder given", fix="pass -o report_dir")
    if os.path.exists(output) and not os.path.isdir(output):
        raise UserInputError(f"{output}: exists and is not a folder", fix="give a folder for the report")
    if names is not None and len(names) != len(synthetics):
        raise UserInputError(
            f"{len(names)} name(s) for {len(synthetics)} synthetic table(s)",
            fix="give one name per synthetic table, e.g. --names A,B",
        )
    if names is not None and len(set(names)) != len(names):
        raise UserInputError("the names given to --names are not unique", fix="give each set its own name")
    prep = prepare_real(real, holdout=holdout, target=target)
    sets = []
    for i, syn in enumerate(synthetics):
        name = names[i] if names else None
        aligned = align(prep, syn, name)
        if names is None and any(a.name == aligned.name for a in sets):
            aligned.name = f"{aligned.name} ({i + 1})"
        sets.append(aligned)
    with threadpool_limits(limits=native_threads()), progress(quiet) as bar:
        task = bar.add_task("evaluating", total=1 + _STEPS * len(sets) + 1)
        ctx = RealContext.build(prep, seed)
        bar.advance(task)
        results = []
        for aligned in sets:
            metrics, corr = evaluate_set(ctx, aligned, rules=rules, bar=bar, task=task)
            results.append((aligned, metrics, corr))
        html = render_report(ctx, results)
        bar.advance(task)
    return results, html


def evaluate(real, synthetic, output, *, holdout=None, target=None, rules=(), seed=0, quiet=False) -> Metrics:
    """Score `synthetic` against `real`; write `output/report.html` and `output/metrics.json`.

    `real`, `synthetic` and `holdout` are file paths (CSV, TSV, Parquet) or DataFrames. `holdout` holds real
    rows the generator never saw (enables ceilings and the DCR share); `target` enables utility; `rules`
    (rule pack names or paths) enables rule conformance. Returns the `Metrics` written to metrics.json.
    """
    from seedgen.evaluation.report import write_outputs

    results, html = _run(
        real, [synthetic], None, output, holdout=holdout, target=target, rules=rules, seed=seed, quiet=quiet
    )
    metrics = results[0][1]
    write_outputs(str(output), html, metrics)
    log.info("wrote %s and %s", os.path.join(output, "report.html"), os.path.join(output, "metrics.json"))
    return metrics


def compare(
    real, synthetics, output, *, names=None, holdout=None, target=None, rules=(), seed=0, quiet=False
) -> Comparison:
    """Score several synthetic tables against the same real table, side by side in one report.

    `names` gives one label per synthetic table (default: file names). Returns the `Comparison` written to
    metrics.json (one `Metrics` per set, in the order given).
    """
    from seedgen.evaluation.report import write_outputs

    synthetics = list(synthetics)
    if not synthetics:
        raise UserInputError("no synthetic table to compare", fix="give at least one synthetic table")
    names = list(names) if names else None
    results, html = _run(
        real, synthetics, names, output, holdout=holdout, target=target, rules=rules, seed=seed, quiet=quiet
    )
    comparison = Comparison(names=[m.name for _, m, _ in results], sets=[m for _, m, _ in results])
    write_outputs(str(output), html, comparison)
    log.info("wrote %s and %s", os.path.join(output, "report.html"), os.path.join(output, "metrics.json"))
    return comparison
