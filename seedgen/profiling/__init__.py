"""`seedgen profile`: a real table → seed instructions (seeds.json).

Stages: read the table, infer each column's kind and written format, coerce to canonical types, cluster the
rows with k-means, describe every cluster (moments, quantiles, category frequencies, null rates, copula
correlation), discover the constraints the data obeys, fit the statistical sampler, render one seed
instruction per cluster through `prompts/seed_instruction.j2`, and write seeds.json atomically. No real row
reaches seeds.json unless `examples` > 0 asks for few-shot rows.
"""

from __future__ import annotations

import difflib
import hashlib
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd

import seedgen
from seedgen.errors import UserInputError
from seedgen.io import SAMPLE_ROWS, Table, plain_values, read_table
from seedgen.profiling.clustering import cluster_rows, parse_clusters
from seedgen.profiling.constraints import discover
from seedgen.profiling.instructions import datetime_ranges, render_instructions
from seedgen.profiling.stats import cluster_profiles
from seedgen.progress import progress
from seedgen.sampler.model import TARGET_TEMPERATURE
from seedgen.schema import coerce, infer_schema, render
from seedgen.seeds import ProfileSettings, SeedFile, SourceInfo, save_seeds

__all__ = ["profile"]

log = logging.getLogger("seedgen")

#: rows the sampler is fitted on (a random sample of larger tables): ≤ 400 leaves per tree with their
#: quantile bins and shared values are estimated as well from this many rows, and fitting on more was
#: most of a million-row profile's time (benchmarks/RESULTS.md, ## Profile)
SAMPLER_ROWS = 50_000

_STAGES = ["read", "schema", "cluster", "statistics", "constraints", "sampler", "instructions", "write"]


def _table_from_frame(df: pd.DataFrame) -> Table:
    if df.shape[1] == 0:
        raise UserInputError("the DataFrame has no columns")
    if len(df) == 0:
        raise UserInputError("the DataFrame has no rows", fix="give at least one data row")
    if df.columns.duplicated().any():
        dup = df.columns[df.columns.duplicated()][0]
        raise UserInputError(f"the DataFrame has duplicate column {dup!r}", fix="rename the columns")
    df = plain_values(df.copy())
    df.columns = [str(c) for c in df.columns]
    head = df.head(SAMPLE_ROWS)
    raw = head.astype(str).astype(object).where(head.notna(), None)
    return Table(data=df, raw=raw, path="<DataFrame>")


def _check_names(table: Table, target: str | None, drop: list[str]) -> None:
    names = list(table.data.columns)
    for what, name in [("--target", target), *(("--drop", d) for d in drop)]:
        if name is not None and name not in names:
            close = difflib.get_close_matches(name, names, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"columns are: {', '.join(names[:8])}"
            hint += "" if close or len(names) <= 8 else ", ..."
            raise UserInputError(f"{what} {name!r}: no such column in {table.path}", fix=hint)


def _sha256(path: str) -> str | None:
    if not os.path.isfile(path):
        return None
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _examples(data: pd.DataFrame, columns, k: int, seed: int) -> list[dict[str, str | None]]:
    """k real rows, rendered as written, for few-shot prompts (only when the user asks for them)."""
    if k <= 0:
        return []
    rng = np.random.default_rng(seed)
    idx = np.sort(rng.choice(len(data), min(k, len(data)), replace=False))
    rows = render(data.iloc[idx], columns)
    return [
        {c: (None if v is None or (isinstance(v, float) and np.isnan(v)) else str(v)) for c, v in r.items()}
        for r in rows.to_dict(orient="records")
    ]


def profile(
    data,
    output=None,
    *,
    target: str | None = None,
    clusters="auto",
    sampling_factor: float = 1.0,
    drop=(),
    target_temperature: float = TARGET_TEMPERATURE,
    examples: int = 0,
    seed: int = 0,
    quiet: bool = False,
) -> SeedFile:
    """Profile `data` (a CSV/TSV/Parquet path or a DataFrame) into seed instructions; write `output` if given.

    `clusters` is "auto" (silhouette-chosen K in 2..10) or a number; `sampling_factor` scales how many
    copies of each cluster's instruction are written; `drop` columns are left out of clustering (still
    profiled and synthesized); `target_temperature` sharpens the target's drawn classes (see
    `seedgen.sampler.model.TARGET_TEMPERATURE`); `examples` keeps that many real rows for few-shot prompts
    (default none).
    """
    from seedgen.filtering import domain_rules
    from seedgen.sampler.fit import fit_sampler

    drop = list(drop or [])
    k_req = parse_clusters(clusters)
    if not (
        isinstance(sampling_factor, int | float) and sampling_factor > 0 and np.isfinite(sampling_factor)
    ):
        raise UserInputError(f"--sampling-factor {sampling_factor}: must be a positive number")
    if examples < 0:
        raise UserInputError(f"--examples {examples}: must be 0 or more")
    if not (isinstance(target_temperature, int | float) and 0 < target_temperature <= 10):
        raise UserInputError(f"--target-temperature {target_temperature}: must be a number in (0, 10]")
    with progress(quiet) as bar:
        task = bar.add_task("profile: read", total=len(_STAGES))

        clock = {"t": time.perf_counter(), "stage": "read"}

        def stage(name: str) -> None:
            now = time.perf_counter()
            log.debug("profile: %s took %.1f s", clock["stage"], now - clock["t"])
            clock.update(t=now, stage=name)
            bar.update(task, advance=1, description=f"profile: {name}")

        if isinstance(data, pd.DataFrame):
            table, source = _table_from_frame(data), "<DataFrame>"
        else:
            table, source = read_table(data), str(data)
        _check_names(table, target, drop)
        n_rows, n_cols = table.data.shape
        if n_rows == 1:
            log.warning("%s has a single row: one cluster, no spread, no constraints can be learned", source)
        stage("schema")
        columns = infer_schema(table, drop=drop, target=target)
        typed = coerce(table.data, columns)
        del table
        stage("cluster")
        clustering = cluster_rows(typed, columns, k_req, seed)
        labels = clustering.labels
        log.info("%d rows, %d columns, %d clusters (%s)", n_rows, n_cols, clustering.k, clustering.criterion)
        stage("statistics")
        # The per-cluster statistics need nothing the later stages make: they run on a second thread
        # while constraints are discovered and the sampler is fitted (numpy, pandas and scikit-learn
        # release the GIL in their kernels, so a 2-core machine runs both at once).
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="seedgen-stats")
        statistics = pool.submit(cluster_profiles, typed, columns, labels, seed)
        pool.shutdown(wait=False)
        stage("constraints")
        rules = discover(typed, columns, seed=seed)
        # Formulas that installed rule packs declare (e.g. the lending pack's loan payment formula), measured on this
        # table: listed with their support, the filter enforces the ones the real data keeps.
        rules += domain_rules(typed, columns)
        log.info("%d constraints discovered", len(rules))
        stage("sampler")
        if n_rows > SAMPLER_ROWS:
            # The sampler's trees and leaf distributions are learned as well from a large random sample,
            # and fitting them on every row of a million-row table would dominate the run.
            pick = np.sort(np.random.default_rng(seed).choice(n_rows, SAMPLER_ROWS, replace=False))
            sampler = fit_sampler(
                typed.iloc[pick].reset_index(drop=True),
                columns,
                labels[pick],
                rules,
                seed,
                target_temperature,
            )
        else:
            sampler = fit_sampler(typed, columns, labels, rules, seed, target_temperature)
        profiles = statistics.result()
        stage("instructions")
        name = os.path.basename(source) if source != "<DataFrame>" else "table"
        instructions = render_instructions(
            name, columns, profiles, rules, sampling_factor, datetime_ranges(typed, columns, labels)
        )
        settings = ProfileSettings(
            clusters=k_req,
            clusters_chosen=clustering.k,
            cluster_criterion=clustering.criterion,
            sampling_factor=float(sampling_factor),
            seed=seed,
            target=target,
            drop=drop,
            target_temperature=float(target_temperature),
            examples=examples,
        )
        seeds = SeedFile(
            seedgen_version=seedgen.__version__,
            source=SourceInfo(file=source, rows=n_rows, columns=n_cols, sha256=_sha256(source)),
            settings=settings,
            columns=columns,
            clusters=profiles,
            rules=rules,
            instructions=instructions,
            sampler=sampler,
            examples=_examples(typed, columns, examples, seed),
        )
        stage("write")
        if output is not None:
            save_seeds(seeds, output)
            log.info("wrote %s", output)
        stage("done")
    return seeds
