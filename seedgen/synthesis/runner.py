"""The asyncio engine of `synthesize`: batches of row slots, sent concurrently, validated, journaled.

The run is cut into batches of `k` row slots (slot = the row's position 0..n-1 in the output). A pool of
`concurrency` workers takes batches from a queue; for each batch a worker asks the provider for the
missing rows, parses and validates the answer, keeps the valid rows (journaled and fsync'd before they
count), and asks again — a fresh request with a new seed — for whatever is still missing. A batch that gets
no valid row in `max_empty` consecutive requests ends the run with a ProviderError: a weak or broken
endpoint never produces a silently short output. The journal keeps what was accepted, so `--resume` can
continue after the endpoint is fixed.

In hybrid mode slot i's structure is row i of one `sample_rows(seeds, n, seed=seed)` draw, so a resumed run
rebuilds exactly the same structure (its hash is part of the journal header); the answer row j belongs to
the j-th slot asked for. In llm mode the LLM writes every column but ids and constants (taken from the same
sampler draw), from the seed instruction of a cluster chosen by weight, deterministically per batch.

The journal holds only what the LLM wrote (canonical values per slot); `assemble` joins it with the
structure and renders the whole table once at the end, which keeps per-request work small.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import gc
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from seedgen.errors import ProviderError
from seedgen.providers.base import Completion, CompletionRequest
from seedgen.schema import ColumnSpec, render
from seedgen.seeds import SeedFile
from seedgen.synthesis.encoding import batch_schema, max_tokens_per_row, parse_answer
from seedgen.synthesis.journal import Journal
from seedgen.synthesis.prompting import Prompter
from seedgen.synthesis.validation import Invalid, RowValidator

log = logging.getLogger("seedgen")

#: consecutive requests of one batch without a single valid row before the run gives up
MAX_EMPTY = 8
#: structure rows rendered at a time for hybrid prompts (rendering has a fixed cost of ~10 ms per call)
CHUNK = 8192
#: rendered chunks kept: the ones in use and the next; older ones are rendered again if a re-ask needs them
KEEP_CHUNKS = 3
#: allocations between young-generation garbage collections during a run (Python's default is 700)
GC_THRESHOLD = 10_000


def _render_pool() -> concurrent.futures.ThreadPoolExecutor:
    """One background thread for rendering structure chunks ahead of need (shared by all runs)."""
    global _POOL
    if _POOL is None:
        _POOL = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="seedgen-render")
    return _POOL


_POOL: concurrent.futures.ThreadPoolExecutor | None = None


@dataclass
class Plan:
    """Everything a run needs to build any batch's request, identically on every resume."""

    seeds: SeedFile
    n: int
    mode: str  # "llm" or "hybrid"
    k: int
    llm_specs: list[ColumnSpec]
    context_specs: list[ColumnSpec]
    struct: pd.DataFrame | None  # typed sampler rows for every slot (hybrid; llm when ids/constants exist)
    prompter: Prompter
    seed: int = 0
    temperature: float | None = None
    schema: bool = True
    #: LLM column → cells left empty (decided statistically, not by the model); see synthesis._null_plan
    nulls: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    _context_cache: OrderedDict[int, list] = field(default_factory=OrderedDict, repr=False)
    _prefetch: dict[int, concurrent.futures.Future] = field(default_factory=dict, repr=False)
    _schemas: dict[int, dict[str, Any]] = field(default_factory=dict, repr=False)
    _max_row_tokens: float | None = field(default=None, repr=False)

    def batch_slots(self, done: set[int] | dict) -> list[tuple[int, list[int]]]:
        """(batch id, slots still missing) for every batch with work left."""
        out = []
        for b in range((self.n + self.k - 1) // self.k):
            slots = [s for s in range(b * self.k, min((b + 1) * self.k, self.n)) if s not in done]
            if slots:
                out.append((b, slots))
        return out

    def instruction(self, batch: int) -> tuple[int, str]:
        """(cluster id, seed instruction) for an llm-mode batch: cluster by weight, then one of its
        instructions, both drawn from a generator seeded by (seed, batch) so a resume asks the same."""
        rng = np.random.default_rng([self.seed, batch])
        clusters = self.seeds.clusters
        if not clusters:
            texts = [i.text for i in self.seeds.instructions]
            return 0, (texts[int(rng.integers(len(texts)))] if texts else "")
        w = np.array([max(c.weight, 0.0) for c in clusters], dtype=float)
        w = w / w.sum() if w.sum() > 0 else np.full(len(clusters), 1 / len(clusters))
        cluster = clusters[int(rng.choice(len(clusters), p=w))].id
        texts = [i.text for i in self.seeds.instructions if i.cluster == cluster]
        return cluster, (texts[int(rng.integers(len(texts)))] if texts else "")

    def context_rows(self, slots: list[int]) -> list[list[Any]]:
        """The shown structure values of `slots`, rendered in the real formats (in chunks: one vectorised
        render per CHUNK slots instead of a pandas call per request)."""
        out = []
        for slot in slots:
            chunk, i = divmod(slot, CHUNK)
            out.append(self._chunk(chunk)[i])
        return out

    def _chunk(self, chunk: int) -> list[list[Any]]:
        """Rendered rows of one chunk. The first use of a chunk starts rendering the next one in a
        background thread, so a run does not stall all its in-flight requests for a render."""
        rows = self._context_cache.get(chunk)
        if rows is not None:
            self._context_cache.move_to_end(chunk)
            return rows
        pending = self._prefetch.pop(chunk, None)
        rows = pending.result() if pending is not None else self._render_chunk(chunk)
        self._context_cache[chunk] = rows
        while len(self._context_cache) > KEEP_CHUNKS:
            self._context_cache.popitem(last=False)
        after = chunk + 1
        if (
            after * CHUNK < len(self.struct)
            and after not in self._context_cache
            and after not in self._prefetch
        ):
            self._prefetch[after] = _render_pool().submit(self._render_chunk, after)
        return rows

    def _render_chunk(self, chunk: int) -> list[list[Any]]:
        part = self.struct.iloc[chunk * CHUNK : (chunk + 1) * CHUNK]
        part = render(part[[c.name for c in self.context_specs]], self.context_specs)
        return part.astype(object).where(part.notna(), None).values.tolist()

    def reset_context(self) -> None:
        """Forget rendered chunks (after `struct` was replaced)."""
        self._context_cache.clear()
        self._prefetch.clear()

    def prompt(self, batch: int, slots: list[int]) -> str:
        if self.mode == "hybrid":
            return self.prompter.hybrid_prompt(self.context_rows(slots), batch)
        cluster, text = self.instruction(batch)
        return self.prompter.llm_prompt(len(slots), text, batch, cluster)

    def _schema(self, k: int) -> dict[str, Any]:
        """The answer schema for k rows, built once per k (a run uses one or a few)."""
        schema = self._schemas.get(k)
        if schema is None:
            schema = self._schemas[k] = batch_schema(self.llm_specs, k)
        return schema

    def _row_tokens(self) -> float:
        if self._max_row_tokens is None:
            self._max_row_tokens = max_tokens_per_row(self.llm_specs)
        return self._max_row_tokens

    def request(self, batch: int, slots: list[int], attempt: int) -> CompletionRequest:
        k = len(slots)
        extra: dict[str, Any] = {}
        if self.temperature is not None:
            extra["temperature"] = self.temperature
        return CompletionRequest(
            prompt=self.prompt(batch, slots),
            system=self.prompter.system,
            json_schema=self._schema(k) if self.schema else None,
            max_tokens=int(self._row_tokens() * k + 48),
            # a fresh seed per attempt: a retried request must not get the same bad answer back
            seed=(self.seed * 1_000_003 + batch * 1_009 + attempt * 7_919) % 2**31,
            topic=f"cluster {self.instruction(batch)[0]}" if self.mode == "llm" else "rows",
            n_rows=k,
            **extra,
        )


@dataclass
class Counters:
    rows: int = 0
    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    invalid_rows: int = 0
    reasks: int = 0
    reasons: dict[str, int] = field(default_factory=dict)

    def reason(self, text: str) -> None:
        key = text[:120]
        self.reasons[key] = self.reasons.get(key, 0) + 1


def to_json(values: list[Any]) -> list[Any]:
    """Canonical values as JSON scalars for the journal (dates as ISO strings)."""
    return [v.isoformat() if isinstance(v, pd.Timestamp) else v for v in values]


def assemble(plan: Plan, written: dict[int, list[Any]]) -> pd.DataFrame:
    """The final table: the sampler's structure (if any) with the LLM-written columns filled in from the
    journal, all slots in order, rendered once in the original formats."""
    n = plan.n
    frame = plan.struct.iloc[:n].copy() if plan.struct is not None else pd.DataFrame(index=range(n))
    frame.index = range(n)
    rows = [written[s] for s in range(n)]
    for j, spec in enumerate(plan.llm_specs):
        values = [r[j] for r in rows]
        if spec.kind == "datetime":
            col = pd.to_datetime(pd.Series(values, dtype=object), errors="coerce")
        elif spec.kind in ("numeric", "integer"):
            col = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").astype(float)
        else:
            col = pd.Series(values, dtype=object)
        mask = plan.nulls.get(spec.name)
        if mask is not None:
            col = col.where(~mask[:n], None if col.dtype == object else np.nan)
        frame[spec.name] = col.values
    return render(frame, plan.seeds.columns)


class Runner:
    """Runs the batches of a plan against a started provider, journaling accepted rows."""

    def __init__(
        self,
        plan: Plan,
        provider,
        journal: Journal,
        *,
        concurrency: int,
        on_progress=None,
        max_empty: int = MAX_EMPTY,
    ):
        self.plan = plan
        self.provider = provider
        self.journal = journal
        self.concurrency = concurrency
        self.on_progress = on_progress or (lambda c: None)
        self.max_empty = max_empty
        self.count = Counters()
        self.validate = RowValidator(plan.llm_specs, plan.seeds.column_names)
        self.started = time.perf_counter()
        #: journal appends in flight (see `_commit`) and the first one that failed
        self._commits: set[asyncio.Task] = set()
        self._commit_error: Exception | None = None
        self._workers: list[asyncio.Task] = []
        #: rows accepted so far, durable or on their way to the journal
        self.accepted = 0

    async def run(self) -> Counters:
        # The cyclic garbage collector cost ~10 % of the client CPU per request at concurrency 32
        # (benchmarks/synth_bench.py). What exists now (seeds, the sampled structure, prompt caches,
        # imported modules) lives through the run: frozen, full collections stop re-scanning it. The HTTP
        # stack allocates a few hundred objects per request that mostly die young by reference counting:
        # a larger first-generation threshold lets them, instead of promoting them to be scanned again.
        # Both are undone when the run ends.
        freeze = gc.get_freeze_count() == 0
        thresholds = gc.get_threshold()
        if freeze:
            gc.freeze()
        gc.set_threshold(max(thresholds[0], GC_THRESHOLD), *thresholds[1:])
        try:
            return await self._run()
        finally:
            gc.set_threshold(*thresholds)
            if freeze:
                gc.unfreeze()

    async def _run(self) -> Counters:
        work = self.plan.batch_slots(self.journal.rows)
        queue: asyncio.Queue = asyncio.Queue()
        for item in work:
            queue.put_nowait(item)
        workers = [asyncio.create_task(self._worker(queue)) for _ in range(min(self.concurrency, len(work)))]
        self._workers = workers
        try:
            try:
                await asyncio.gather(*workers)
            except asyncio.CancelledError:
                # a failed journal write cancels the workers (see `_durable`): its error is the reason
                if self._commit_error is None:
                    raise
                raise self._commit_error from None
        except BaseException:
            for w in workers:
                w.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            # rows already accepted are still made durable, so --resume does not ask for them again
            await asyncio.gather(*self._commits, return_exceptions=True)
            raise
        # every accepted row is fsync'd before the run counts as done
        await asyncio.gather(*self._commits)
        if self._commit_error is not None:
            raise self._commit_error
        return self.count

    async def _worker(self, queue: asyncio.Queue) -> None:
        while True:
            try:
                batch, slots = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            await self._batch(batch, slots)

    async def _batch(self, batch: int, slots: list[int]) -> None:
        pending = list(slots)
        empty = attempt = 0
        last_problem = ""
        while pending:
            if self._commit_error is not None:
                raise self._commit_error
            if attempt:
                self.count.reasks += 1
            request = self.plan.request(batch, pending, attempt)
            attempt += 1
            completion = await self.provider.complete(request)
            self._account(completion)
            taken, problem = self._accept(pending, completion)
            if taken:
                done = [s for s, _ in taken]
                self._commit(batch, done, [to_json(v) for _, v in taken])
                self.accepted += len(done)
                done_set = set(done)
                pending = [s for s in pending if s not in done_set]
                empty = 0
            else:
                empty += 1
                last_problem = problem or last_problem
                if empty >= self.max_empty:
                    raise self._give_up(batch, last_problem)
            if problem:
                last_problem = problem
                log.debug(
                    "batch %d attempt %d: %d rows kept; %s; answer began %r",
                    batch,
                    attempt,
                    len(taken),
                    problem,
                    completion.text[:160],
                )
            self.on_progress(self.count)

    def _commit(self, batch: int, slots: list[int], rows: list[list[Any]]) -> None:
        """Journal accepted rows in the background: the worker sends its next request at once instead
        of waiting for the fsync (which would also release all waiting workers together, so their next
        answers would arrive, and queue for the event loop, together). Rows count only once fsync'd."""
        task = asyncio.create_task(self._durable(batch, slots, rows))
        self._commits.add(task)
        task.add_done_callback(self._commits.discard)

    async def _durable(self, batch: int, slots: list[int], rows: list[list[Any]]) -> None:
        try:
            await self.journal.append(batch, slots, rows)
        except Exception as e:
            # the journal cannot be written: the run stops at once, abandoning requests in flight, since
            # no answer could be kept (the error is raised by `_run`)
            self._commit_error = self._commit_error or e
            for w in self._workers:
                w.cancel()
            return
        self.count.rows += len(slots)
        self.on_progress(self.count)

    def _account(self, c: Completion) -> None:
        self.count.requests += 1
        self.count.input_tokens += c.input_tokens
        self.count.output_tokens += c.output_tokens

    def _accept(self, pending: list[int], completion: Completion) -> tuple[list[tuple[int, list]], str]:
        """Valid rows of an answer matched to pending slots, and a description of what was wrong."""
        rows, problem = parse_answer(completion.text, completion.data)
        if completion.truncated and problem is None and len(rows) < len(pending):
            problem = "answer cut off at the token limit"
        hybrid = self.plan.mode == "hybrid"
        taken: list[tuple[int, list]] = []
        free = iter(pending)
        problems = [problem] if problem else []
        shown = self.plan.context_rows(pending) if hybrid and self.plan.context_specs else None
        for j, row in enumerate(rows[: len(pending)] if hybrid else rows):
            try:
                values = self.validate(row)
                if shown is not None:
                    self.validate.echo_check(values, shown[j])
            except Invalid as e:
                self.count.invalid_rows += 1
                self.count.reason(str(e))
                problems.append(str(e))
                continue
            if hybrid:
                taken.append((pending[j], values))
            else:
                slot = next(free, None)
                if slot is None:
                    break  # extra rows beyond what was asked are not needed
                taken.append((slot, values))
        if len(rows) < len(pending) and not problem:
            problems.append(f"{len(rows)} rows returned, {len(pending)} asked")
        return taken, "; ".join(problems[:2])

    def _give_up(self, batch: int, problem: str) -> ProviderError:
        name = getattr(self.provider, "name", "?")
        model = getattr(self.provider, "model", "") or "?"
        return ProviderError(
            f"{name} provider (model {model}) returned no valid row in {self.max_empty} consecutive requests "
            f"for batch {batch}; last problem: {problem or 'unknown'}. {self.accepted} rows were accepted "
            "and are kept in the journal",
            provider=name,
            model=model,
            fix="use a stronger --model, fewer --rows-per-request or --mode hybrid, then rerun with --resume",
        )
