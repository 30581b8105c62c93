"""Writes the evaluation as one self-contained `report.html` (plots embedded) and `metrics.json`.

The template (`report.html.j2`, shipped as package data) is rendered in Jinja's sandbox with autoescaping
and StrictUndefined: column names and category labels come from user data and are escaped like any other
value. The report holds aggregates only — scores, means, histograms, correlation matrices, densities —
never a real row, and never a credential (nothing secret is passed to the template).
"""

from __future__ import annotations

import functools
import logging
import math
import os
from importlib import resources

import pandas as pd
from jinja2 import StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

from seedgen import __version__
from seedgen.evaluation.metrics import Metrics, Score
from seedgen.evaluation.plots import DistributionPlotter, correlation_heatmaps, pca_projection
from seedgen.evaluation.prepare import Aligned
from seedgen.evaluation.runner import RealContext

log = logging.getLogger("seedgen")

#: pairs listed in the report (worst first); metrics.json has them all
WORST_PAIRS = 15


def _fmt(value, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and (math.isnan(value) or math.isinf(value))):
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _score_cell(score: Score) -> dict:
    """Value, ceiling and a status class for one table cell."""
    if score.value is None:
        return {"text": "not computed", "ceiling": "", "why": score.not_computed or "", "cls": "na"}
    cls = ""
    if score.ceiling is not None and score.goal != "ignore":
        gap = (score.ceiling - score.value) if score.goal == "maximize" else (score.value - score.ceiling)
        cls = "good" if gap <= 0.02 else ("warn" if gap <= 0.1 else "bad")
    return {"text": _fmt(score.value), "ceiling": _fmt(score.ceiling), "why": "", "cls": cls}


def _env() -> SandboxedEnvironment:
    env = SandboxedEnvironment(
        autoescape=True, undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True
    )
    env.filters["fmt"] = _fmt
    return env


def _template_text() -> str:
    return resources.files("seedgen.evaluation").joinpath("report.html.j2").read_text(encoding="utf-8")


@functools.lru_cache(maxsize=1)
def _template():
    """The compiled report template (compiling it takes ~40 ms; a process writing several reports, or
    `compare`'s pipeline steps, compiles it once)."""
    return _env().from_string(_template_text())


def render_report(ctx: RealContext, results: list[tuple[Aligned, Metrics, pd.DataFrame]]) -> str:
    """The HTML text of the report for one or several synthetic sets."""
    prep = ctx.prep
    metrics = [m for _, m, _ in results]
    names = [m.name for m in metrics]
    headline_rows = []
    for key in metrics[0].headline():
        headline_rows.append({"name": key, "cells": [_score_cell(m.headline()[key]) for m in metrics]})
    # per-column table: the union of evaluated columns, in real order
    column_rows = []
    by_set = [{c.name: c for c in m.fidelity.columns} for m in metrics]
    for spec in ctx.columns:
        cells = []
        for i, m in enumerate(metrics):
            c = by_set[i].get(spec.name)
            if c is None:
                why = m.fidelity.not_computed.get(spec.name, "not compared")
                cells.append({"text": "not computed", "ceiling": "", "why": why, "cls": "na", "detail": ""})
            else:
                cell = _score_cell(c.score)
                detail = (
                    f"{c.test} p={_fmt(c.p_value)}; JS={_fmt(c.js_distance)}; coverage={_fmt(c.coverage)}"
                )
                if c.wasserstein is not None:
                    detail += f"; W1/range={_fmt(c.wasserstein)}"
                if c.real_mean is not None:
                    detail += (
                        f"; mean {_fmt(c.real_mean, 4)} vs {_fmt(c.synthetic_mean, 4)}"
                        f"; std {_fmt(c.real_std, 4)} vs {_fmt(c.synthetic_std, 4)}"
                    )
                if c.note:
                    detail += f"; {c.note}"
                cell["detail"] = detail
                cells.append(cell)
        column_rows.append({"name": spec.name, "kind": spec.kind, "cells": cells})
    skipped = {n: why for m in metrics for n, why in m.fidelity.not_computed.items()}

    plotter = DistributionPlotter()
    try:
        dist_plots = []
        for spec in ctx.columns:
            others = [
                (a.name, a.view)
                for a, _, _ in results
                if spec.name in a.data.columns and spec.name not in a.not_computed
            ]
            dist_plots.append({"name": spec.name, "png": plotter.plot(spec, prep.real_view, others)})
    finally:
        plotter.close()
    heatmap = None
    if len(ctx.side.numeric) >= 2:
        mats = [("real", ctx.side.corr)]
        mats += [
            (a.name, corr.reindex(index=ctx.side.numeric, columns=ctx.side.numeric)) for a, _, corr in results
        ]
        heatmap = correlation_heatmaps(mats)
    encoded = [(a.name, ctx.encoder.transform(a.view)) for a, _, _ in results]
    pca = pca_projection(ctx.real_x, encoded, ctx.seed) if ctx.real_x.shape[1] >= 2 else None

    pairs = []
    for m in metrics:
        worst = sorted(m.fidelity.pair_details, key=lambda p: p.score)[:WORST_PAIRS]
        pairs.append({"name": m.name, "rows": worst})
    return _template().render(
        version=__version__,
        names=names,
        metrics=metrics,
        real=metrics[0].real,
        holdout=metrics[0].holdout,
        headline=headline_rows,
        columns=column_rows,
        skipped=skipped,
        dist_plots=dist_plots,
        heatmap=heatmap,
        pca=pca,
        pairs=pairs,
        cell=_score_cell,
        target=prep.target,
    )


def write_outputs(output: str, html: str, model) -> None:
    """report.html and metrics.json in the output folder (written to a temp name, then renamed)."""
    os.makedirs(output, exist_ok=True)
    for name, text in (
        ("report.html", html),
        # pydantic writes NaN/inf as null, so the file is strict JSON
        ("metrics.json", model.model_dump_json(indent=2)),
    ):
        path = os.path.join(output, name)
        tmp = path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
