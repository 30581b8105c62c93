"""`seedgen synthesize`: rows from seed instructions, by an LLM, the statistical sampler, or both.

Modes (DESIGN.md):
  - `llm`: the LLM writes whole rows from a cluster's seed instruction (cluster chosen by weight);
  - `hybrid` (default): `sample_rows` draws each row's structure, the LLM writes only the free-text
    columns (and `llm_columns`) conditioned on the sampled values; no LLM columns → no LLM call at all;
  - `sampler`: no LLM (also what `provider="sampler"` means).

LLM runs are journaled (`<output>.journal.jsonl`) so that `resume=True` continues an interrupted run and
ends with exactly `n` rows; the output is written atomically from the journal at the end, and the journal
is then removed (the output is the durable result; a leftover journal always means "interrupted").
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import logging
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from rich.progress import TextColumn

from seedgen._model import StrictModel
from seedgen.errors import UserInputError
from seedgen.io import table_format, write_table
from seedgen.progress import progress
from seedgen.schema import ColumnSpec, render
from seedgen.seeds import SeedFile, load_seeds
from seedgen.synthesis.encoding import tokens_per_row
from seedgen.synthesis.journal import Journal, journal_path
from seedgen.synthesis.prompting import Prompter, context_columns
from seedgen.synthesis.runner import Plan, Runner, assemble

log = logging.getLogger("seedgen")

MODES = ("llm", "hybrid", "sampler")
#: output tokens one request aims at when choosing rows per request (small models drift on long answers)
TARGET_OUTPUT_TOKENS = 384
MAX_ROWS_PER_REQUEST = 10
#: sampler rows drawn per cluster for prompt format examples
POOL_ROWS = 16


class SynthesisResult(StrictModel):
    """What a synthesize run produced and spent (tokens and requests of this invocation only)."""

    rows: int
    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    retries: int = 0
    invalid_rows: int = 0
    resumed_rows: int = 0
    elapsed_s: float = 0.0
    provider: str
    model: str = ""
    mode: str = "hybrid"
    reasks: int = 0
    output: str | None = None
    estimated: bool = False


def synthesize(
    seeds,
    n: int,
    output,
    *,
    provider: str = "local",
    model: str | None = None,
    base_url: str | None = None,
    mode: str = "hybrid",
    rows_per_request: int | None = None,
    concurrency: int = 4,
    temperature: float | None = None,
    prompts=None,
    llm_columns=(),
    resume: bool = False,
    dry_run: bool = False,
    seed: int = 0,
    quiet: bool = False,
    avoid: list[str] | None = None,
    provider_options: dict | None = None,
) -> SynthesisResult:
    """Generate `n` rows from `seeds` (a seeds.json path or SeedFile) into `output` (CSV/TSV/Parquet).

    `provider_options` are passed to `get_provider` (e.g. `{"timeout": 30, "max_attempts": 4}`).
    """
    started = time.perf_counter()
    seeds = seeds if isinstance(seeds, SeedFile) else load_seeds(seeds)
    _check_args(seeds, n, output, mode, rows_per_request, concurrency, temperature, prompts, llm_columns)
    if provider == "sampler" and mode != "sampler":
        log.info("provider sampler writes rows without an LLM: using mode sampler")
        mode = "sampler"
    if mode == "sampler" and llm_columns:
        log.warning("--llm-column is ignored in sampler mode (no LLM is used)")
    llm_specs = _llm_columns(seeds, mode, llm_columns)
    if mode == "sampler" or not llm_specs:
        if mode == "hybrid":
            log.info("no free-text or marked columns: the sampler writes every column, no LLM call is made")
        if dry_run:
            _echo(f"dry run: mode {mode}, {n} rows from the statistical sampler; no LLM call would be made")
            return SynthesisResult(rows=0, provider="sampler", mode=mode, estimated=True)
        return _sampler_only(seeds, n, output, seed=seed, mode=mode, started=started)

    plan = _plan(seeds, n, mode, llm_specs, rows_per_request, prompts, avoid, seed, temperature, dry_run)
    if dry_run:
        return _dry_run(plan, provider, model)

    settings = {
        "n": n,
        "mode": mode,
        "seed": seed,
        "rows_per_request": plan.k,
        "provider": provider,
        "model": model,
        "temperature": temperature,
        "llm_columns": [s.name for s in llm_specs],
        "prompts": str(Path(prompts).resolve()) if prompts else None,
        "avoid": list(avoid or []),
        "seeds_sha256": hashlib.sha256(seeds.model_dump_json().encode()).hexdigest(),
        # the sampled structure must be the very same on resume (the journal holds only LLM values)
        "structure_hash": _frame_hash(plan.struct),
    }
    from seedgen.providers import get_provider

    # built before the journal exists, so a bad option or missing key leaves nothing behind
    prov = get_provider(
        provider, model=model, base_url=base_url, concurrency=concurrency, **(provider_options or {})
    )
    journal = Journal(journal_path(output), settings)
    resumed = journal.open(resume=resume)
    if resumed:
        log.info("resuming: %d of %d rows already in %s", resumed, n, journal.path)
    try:
        result = _run_sync(_run(plan, journal, prov, model, concurrency, quiet))
    except BaseException:
        if not journal.rows:  # nothing accepted: no point asking the user to --resume
            journal.remove()
        raise
    finally:
        journal.close()
    count, stats, model_id = result
    missing = [s for s in range(n) if s not in journal.rows]
    if missing:  # the runner only returns when every slot is filled; this guards the invariant
        raise RuntimeError(f"internal error: {len(missing)} rows missing from the journal")
    write_table(assemble(plan, journal.rows), output)
    journal.remove()
    res = SynthesisResult(
        rows=n,
        requests=count.requests,
        input_tokens=count.input_tokens,
        output_tokens=count.output_tokens,
        retries=stats.get("retries", 0),
        invalid_rows=count.invalid_rows,
        resumed_rows=resumed,
        elapsed_s=round(time.perf_counter() - started, 3),
        provider=provider,
        model=model_id,
        mode=mode,
        reasks=count.reasks,
        output=str(output),
    )
    log.info(
        "synthesized %d rows (%d resumed) in %.1f s: %d requests, %d input + %d output tokens, "
        "%d retries, %d re-asks, %d invalid rows dropped",
        res.rows,
        res.resumed_rows,
        res.elapsed_s,
        res.requests,
        res.input_tokens,
        res.output_tokens,
        res.retries,
        res.reasks,
        res.invalid_rows,
    )
    if count.reasons:
        top = sorted(count.reasons.items(), key=lambda kv: -kv[1])[:3]
        log.info("most common invalid-row reasons: %s", "; ".join(f"{r} ({c}x)" for r, c in top))
    return res


# --------------------------------------------------------------------------- checks and planning


def _check_args(seeds, n, output, mode, k, concurrency, temperature, prompts, llm_columns) -> None:
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise UserInputError(f"the number of rows must be a positive integer, got {n!r}", fix="pass -n 100")
    if mode not in MODES:
        raise UserInputError(f"unknown mode {mode!r}", fix="choose llm, hybrid or sampler")
    if k is not None and (not isinstance(k, int) or k < 1):
        raise UserInputError(f"--rows-per-request must be a positive integer, got {k!r}")
    if not isinstance(concurrency, int) or concurrency < 1:
        raise UserInputError(f"--concurrency must be a positive integer, got {concurrency!r}")
    if temperature is not None and not 0 <= temperature <= 2:
        raise UserInputError(f"--temperature must be between 0 and 2, got {temperature!r}")
    if prompts is not None and not os.path.isdir(prompts):
        raise UserInputError(f"{prompts}: prompts folder not found", fix="give a folder of .j2 templates")
    table_format(output)  # an unknown extension fails now, before any token is spent
    if not seeds.columns:
        raise UserInputError("the seeds file has no columns", fix="profile a table with `seedgen profile`")
    unknown = [c for c in llm_columns if c not in seeds.column_names]
    if unknown:
        raise UserInputError(
            f"--llm-column names unknown column(s): {', '.join(map(repr, unknown))}",
            fix="use column names from the seeds file: " + ", ".join(seeds.column_names[:8]),
        )


def _llm_columns(seeds: SeedFile, mode: str, marked) -> list[ColumnSpec]:
    """The columns the LLM writes: in llm mode all but ids, constants and all-empty columns; in hybrid
    mode the free-text columns (`llm`) and the ones the user marked."""
    if mode == "sampler":
        return []
    if mode == "llm":
        return [c for c in seeds.columns if c.kind != "id" and c.n_unique > 1 or c.kind == "text"]
    marked = set(marked)
    return [c for c in seeds.columns if (c.llm and c.kind == "text") or c.name in marked]


def _plan(seeds, n, mode, llm_specs, k, prompts, avoid, seed, temperature, dry_run) -> Plan:
    written = {s.name for s in llm_specs}
    needs_struct = mode == "hybrid" or any(c.name not in written for c in seeds.columns)
    if k is None:
        k = max(1, min(MAX_ROWS_PER_REQUEST, int(TARGET_OUTPUT_TOKENS / tokens_per_row(llm_specs))))
    k = min(k, n)
    struct = None
    if needs_struct:
        from seedgen.sampler.draw import sample_rows

        # a dry run renders one batch per cluster; a real run needs every slot's structure
        struct = sample_rows(seeds, k if dry_run else n, seed=seed)
        struct = struct.reset_index(drop=True)
    context = context_columns(seeds.columns, written) if mode == "hybrid" else []
    llm_specs, nulls = _null_plan(llm_specs, mode, struct, n, seed)
    examples = _examples(seeds, llm_specs) if mode == "llm" else []
    pool = _pool(seeds, llm_specs, mode, seed)
    prompter = Prompter(
        table=Path(seeds.source.file).name,
        llm_specs=llm_specs,
        context_specs=context,
        prompts_dir=prompts,
        avoid=avoid,
        mode=mode,
        examples=examples,
        pool=pool,
    )
    return Plan(
        seeds=seeds,
        n=n,
        mode=mode,
        k=k,
        llm_specs=llm_specs,
        context_specs=context,
        struct=struct,
        prompter=prompter,
        seed=seed,
        temperature=temperature,
        nulls=nulls,
    )


def _null_plan(specs: list[ColumnSpec], mode: str, struct, n: int, seed: int):
    """Which cells of the LLM columns stay empty, decided before asking, and the specs the LLM writes to.

    A small model asked for a nullable column takes the shortcut and answers null everywhere. So the
    LLM is asked for a value in every row, and the empty cells are chosen statistically: in hybrid mode
    exactly where the sampler left the cell empty (its null pattern follows the real one), in llm mode for
    free-text columns by a seeded draw at the column's real null rate. Other llm-mode columns keep null as
    an allowed answer.
    """
    nulls: dict[str, np.ndarray] = {}
    out = []
    rng = np.random.default_rng([seed, 104729])
    for spec in specs:
        if not spec.nullable or (mode == "llm" and spec.kind != "text"):
            out.append(spec)
            continue
        if mode == "hybrid" and struct is not None and spec.name in struct.columns:
            mask = struct[spec.name].isna().to_numpy()
        else:
            mask = rng.random(n) < spec.null_rate
        nulls[spec.name] = mask
        out.append(spec.model_copy(update={"nullable": False}))
    return out, nulls


def _pool(seeds: SeedFile, specs: list[ColumnSpec], mode: str, seed: int) -> dict[int | None, list[list]]:
    """Sampler-drawn values of the LLM columns (per cluster in llm mode) for the format examples in
    prompts: a weak model copies the shape of a plausible row far better than a description of one."""
    from seedgen.errors import SeedgenError
    from seedgen.sampler.draw import sample_rows

    clusters = [c.id for c in seeds.clusters] if mode == "llm" and seeds.clusters else [None]
    pool: dict[int | None, list[list]] = {}
    for c in clusters:
        try:
            df = sample_rows(seeds, POOL_ROWS, seed=seed + 7919, cluster=c)
        except SeedgenError as e:  # no fitted sampler (hand-made seeds): typical placeholder values
            log.debug("no example rows for prompts: %s", e)
            return {}
        part = render(df, specs)
        rows = part.astype(object).where(part.notna(), None).values.tolist()
        # an example must be a valid answer: no empty cell where the LLM is asked for a value
        required = [j for j, s in enumerate(specs) if not s.nullable]
        pool[c] = [r for r in rows if all(r[j] is not None for j in required)]
    return pool


def _examples(seeds: SeedFile, specs: list[ColumnSpec]) -> list[list]:
    """Few-shot rows, only if the user put real examples in seeds.json (`profile --examples K`)."""
    return [[ex.get(s.name) for s in specs] for ex in seeds.examples[:3]]


# --------------------------------------------------------------------------- running


async def _run(plan: Plan, journal: Journal, prov, model, concurrency, quiet):
    plan.schema = bool(getattr(prov, "supports_schema", False))
    done0 = len(journal.rows)
    info = TextColumn("{task.fields[info]}")
    with progress(quiet, info) as bar:
        task = bar.add_task("synthesize", total=plan.n, completed=done0, info="starting")

        def on_progress(c):
            el = max(time.perf_counter() - runner.started, 1e-9)
            bar.update(
                task,
                completed=done0 + c.rows,
                info=(
                    f"{c.rows / el:.1f} rows/s · {c.input_tokens + c.output_tokens} tok · "
                    f"{c.invalid_rows} invalid · {prov.stats.failures + prov.stats.retries} retried"
                ),
            )

        async with prov:
            runner = Runner(plan, prov, journal, concurrency=concurrency, on_progress=on_progress)
            count = await runner.run()
    return count, prov.stats.as_dict(), prov.model or (model or "")


def _run_sync(coro):
    """asyncio.run, also from inside a running loop (Jupyter): then in a worker thread."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def _frame_hash(frame: pd.DataFrame | None) -> str | None:
    if frame is None:
        return None
    return hashlib.sha256(pd.util.hash_pandas_object(frame, index=False).values.tobytes()).hexdigest()[:16]


def _sampler_only(
    seeds: SeedFile, n: int, output, *, seed: int, mode: str, started: float
) -> SynthesisResult:
    from seedgen.sampler.draw import sample_rows

    df = sample_rows(seeds, n, seed=seed)
    write_table(render(df, seeds.columns), output)
    res = SynthesisResult(
        rows=len(df),
        provider="sampler",
        mode=mode,
        output=str(output),
        elapsed_s=round(time.perf_counter() - started, 3),
    )
    log.info("sampled %d rows in %.1f s (no LLM)", res.rows, res.elapsed_s)
    return res


# --------------------------------------------------------------------------- dry run


def _dry_run(plan: Plan, provider: str, model: str | None) -> SynthesisResult:
    """Render one prompt per cluster and estimate tokens (chars/4); call nothing."""
    out_per_row = tokens_per_row(plan.llm_specs)
    requests = math.ceil(plan.n / plan.k)
    in_tokens = []
    if plan.mode == "llm":
        seen: dict[int, str] = {}
        for b in range(max(requests, 1) * 4):  # batches until every cluster has been drawn once
            cid, _ = plan.instruction(b)
            if cid not in seen:
                seen[cid] = plan.prompt(b, list(range(plan.k)))
            if len(seen) == max(len(plan.seeds.clusters), 1):
                break
        prompts = sorted(seen.items())
    else:
        from seedgen.sampler.draw import sample_rows

        prompts = []
        for c in plan.seeds.clusters or [None]:
            cid = c.id if c is not None else None
            plan.struct = sample_rows(plan.seeds, plan.k, seed=plan.seed, cluster=cid).reset_index(drop=True)
            plan.reset_context()
            prompts.append((cid, plan.prompt(0, list(range(len(plan.struct))))))
    for cid, text in prompts:
        tokens = (len(text) + len(plan.prompter.system)) // 4
        in_tokens.append(tokens)
        title = f"cluster {cid}" if cid is not None else "batch"
        _echo(
            f"--- {title}: ~{tokens} input tokens, ~{int(out_per_row * plan.k)} output tokens "
            f"for {plan.k} rows"
        )
        _echo(text)
    est_in = int(sum(in_tokens) / len(in_tokens) * requests) if in_tokens else 0
    est_out = int(out_per_row * plan.n)
    _echo(
        f"--- estimate for {plan.n} rows ({plan.mode} mode, {provider}): {requests} requests of {plan.k} rows, "
        f"~{est_in} input + ~{est_out} output tokens (chars/4; invalid rows add re-asks)"
    )
    return SynthesisResult(
        rows=0,
        requests=requests,
        input_tokens=est_in,
        output_tokens=est_out,
        provider=provider,
        model=model or "",
        mode=plan.mode,
        estimated=True,
    )


def _echo(text: str) -> None:
    sys.stdout.write(text.rstrip("\n") + "\n")
    sys.stdout.flush()
