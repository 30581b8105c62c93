"""Benchmarks of `seedgen synthesize`, each against a baseline measured in the same run.

1. Token economy: output tokens per row of the compact batch encoding vs the minimal CSV encoding of the
   same rows, counted with the SmolLM2 tokenizer (target ≤ 1.3×); and, with the real model, the output
   tokens it actually spent per accepted row.
2. Concurrency: rows/s against a loopback OpenAI-compatible endpoint with a fixed 100 ms latency at
   concurrency 1, 8, 32, vs the ideal concurrency × rows-per-request / latency (target ≥ 85 %).
3. The real local model (SmolLM2-135M via llama.cpp): rows/min in hybrid and llm mode.
4. The sampler: rows/s for 1,000,000 rows (draw + render + CSV write), vs pandas writing the same rows.

Run: `python benchmarks/synth_bench.py [--skip-local] [--skip-million]` (profiles the Lending Club example
into a temporary folder first).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the loopback endpoint stand-in lives with the test fakes
LOANS = ROOT / "examples" / "lending_club" / "lending_club_loans.csv"


def _profile(folder: Path):
    from seedgen.profiling import profile

    t = time.perf_counter()
    seeds = profile(LOANS, folder / "seeds.json", quiet=True)
    print(f"profiled {LOANS.name} in {time.perf_counter() - t:.1f} s ({len(seeds.columns)} columns)")
    return seeds


def _tokenizer():
    from llama_cpp import Llama

    from seedgen.providers.local import embedded_model_path

    llm = Llama(model_path=str(embedded_model_path()), vocab_only=True, verbose=False)
    return lambda text: len(llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))


# --------------------------------------------------------------------------- 1. tokens


def bench_tokens(seeds, count) -> None:
    from seedgen.sampler.draw import sample_rows
    from seedgen.schema import render
    from seedgen.synthesis import MAX_ROWS_PER_REQUEST, TARGET_OUTPUT_TOKENS, _llm_columns
    from seedgen.synthesis.encoding import csv_rows, encode_rows, tokens_per_row

    print("\n## 1. output tokens per row: compact batch encoding vs minimal CSV (SmolLM2 tokenizer)")
    df = sample_rows(seeds, 400, seed=1)
    for mode in ("llm", "hybrid"):
        specs = _llm_columns(seeds, mode, ())
        k = max(1, min(MAX_ROWS_PER_REQUEST, int(TARGET_OUTPUT_TOKENS / tokens_per_row(specs))))
        rows = render(df[[s.name for s in specs]], specs)
        rows = rows.astype(object).where(rows.notna(), None).values.tolist()
        ours = base = 0
        for i in range(0, len(rows), k):
            batch = rows[i : i + k]
            ours += count(encode_rows(batch, specs))
            base += count(csv_rows(batch))
        print(
            f"{mode:6s}: {len(specs):2d} columns, {k:2d} rows/request: {ours / len(rows):7.1f} tokens/row "
            f"vs CSV {base / len(rows):7.1f}  → {ours / base:.2f}× (target ≤ 1.30×)"
        )


# --------------------------------------------------------------------------- 2. concurrency


def _serve(conn, latency: float) -> None:
    """A child process: the loopback endpoint (its own GIL and core, like a real remote server)."""
    from fakes import FaultServer

    with FaultServer(latency=latency) as server:
        conn.send(server.base_url)
        conn.recv()  # until the parent is done


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds a process has used so far (Linux /proc; None elsewhere)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _sleep_provider(latency: float, concurrency: int):
    """An in-process endpoint that only waits `latency` and answers a valid instance of the request's
    schema: it isolates seedgen's own per-request cost from the HTTP client's."""
    import random

    from fakes import schema_instance

    from seedgen.providers.base import Completion, Provider

    class SleepProvider(Provider):
        name = "sleep"
        supports_schema = True

        async def _complete(self, request):
            await asyncio.sleep(latency)
            data = schema_instance(request.json_schema, random.Random(request.seed))
            return Completion(text=json.dumps(data), data=data, output_tokens=10)

    return SleepProvider(model="sleep", concurrency=concurrency)


def bench_concurrency(seeds, folder: Path, latency: float = 0.1, per_slot: int = 40) -> None:
    from seedgen.providers import get_provider
    from seedgen.synthesis import _llm_columns, _plan
    from seedgen.synthesis.journal import Journal
    from seedgen.synthesis.runner import Runner

    k = 10
    print(
        f"\n## 2. rows/s with a fixed {latency * 1000:.0f} ms endpoint latency (hybrid mode, {k} rows/request, "
        f"{per_slot} requests per concurrency slot after a warm-up of one request per slot)"
    )
    parent, child = mp.Pipe()
    proc = mp.get_context("spawn").Process(target=_serve, args=(child, latency), daemon=True)
    proc.start()
    base_url = parent.recv()
    specs = _llm_columns(seeds, "hybrid", ())
    try:
        for label, make, server in (
            (
                "loopback HTTP (openai provider)",
                lambda c: get_provider("openai", model="b", base_url=base_url, concurrency=c),
                proc.pid,
            ),
            ("in-process wait (engine only)", lambda c: _sleep_provider(latency, c), None),
        ):
            print(f"{label}:")
            for c in (1, 8, 32):
                n = c * k * per_slot
                # the structure is sampled here, as synthesize does before its run; it is rendered for
                # the prompts during the run (in chunks, the next one in a background thread), on the clock
                plan = _plan(seeds, n, "hybrid", specs, k, None, None, 0, None, False)
                journal = Journal(str(folder / f"c{c}.journal.jsonl"), {"c": c})
                journal.open(resume=False)
                prov = make(c)

                async def go(plan=plan, journal=journal, prov=prov, c=c, server=server):
                    async with prov:
                        # open the c connections (and import the lazy parts of the HTTP stack) first:
                        # a real run pays that once, not per request
                        warm = [plan.request(b, [b * k], 0) for b in range(c)]
                        await asyncio.gather(*(prov.complete(r) for r in warm))
                        runner = Runner(plan, prov, journal, concurrency=c)
                        srv0 = _cpu_seconds(server) if server else None
                        t, cpu = time.perf_counter(), time.process_time()
                        count = await runner.run()
                        elapsed, cpu = time.perf_counter() - t, time.process_time() - cpu
                        srv = _cpu_seconds(server) - srv0 if srv0 is not None else None
                        return count, elapsed, cpu, srv

                count, elapsed, cpu, srv = asyncio.run(go())
                journal.remove()
                rate, ideal = count.rows / elapsed, c * k / latency
                where = f", server {1000 * srv / count.requests:.2f} ms" if srv is not None else ""
                print(
                    f"  concurrency {c:2d}: {count.rows:5d} rows in {elapsed:5.2f} s = {rate:7.1f} rows/s; "
                    f"ideal {ideal:6.0f} rows/s → {100 * rate / ideal:5.1f} % (target ≥ 85 %); "
                    f"CPU per request: client {1000 * cpu / count.requests:.2f} ms{where}; "
                    f"load {os.getloadavg()[0]:.1f}"
                )
    finally:
        parent.send("stop")
        proc.join(5)


# --------------------------------------------------------------------------- 3. real local model


#: a 9-column slice of the example: the full 55-column seed instruction does not fit SmolLM2's 4k context
LOCAL_COLUMNS = [
    "emp_title",
    "state",
    "homeownership",
    "annual_income",
    "loan_amount",
    "term",
    "interest_rate",
    "grade",
    "issue_month",
]


def bench_local(folder: Path, count) -> None:
    from seedgen.profiling import profile
    from seedgen.synthesis import _llm_columns, synthesize
    from seedgen.synthesis.encoding import csv_rows

    print("\n## 3. the real local model (SmolLM2-135M-Instruct, llama.cpp on loopback)")
    pd.read_csv(LOANS, usecols=LOCAL_COLUMNS).head(2000).to_csv(folder / "slice.csv", index=False)
    seeds_path = folder / "slice_seeds.json"
    profile(folder / "slice.csv", seeds_path, clusters=2, quiet=True)
    print(f"table: the first 2,000 loans, {len(LOCAL_COLUMNS)} columns (emp_title is the free-text column)")
    for mode, n, k in (("hybrid", 20, 10), ("llm", 4, 2)):
        out = folder / f"local_{mode}.csv"
        res = synthesize(
            seeds_path,
            n,
            out,
            provider="local",
            mode=mode,
            rows_per_request=k,
            quiet=True,
            seed=3,
            provider_options={"timeout": 900},
        )
        frame = pd.read_csv(out, dtype=str, keep_default_na=False)
        from seedgen.seeds import load_seeds

        specs = _llm_columns(load_seeds(seeds_path), mode, ())
        csv_tokens = count(csv_rows(frame[[s.name for s in specs]].values.tolist()))
        print(
            f"{mode:6s}: {n} rows in {res.elapsed_s:6.1f} s = {60 * n / res.elapsed_s:6.1f} rows/min; "
            f"{res.requests} requests, {res.invalid_rows} invalid rows re-asked; output tokens per kept row "
            f"{res.output_tokens / n:.1f} vs CSV {csv_tokens / n:.1f} → {res.output_tokens / csv_tokens:.2f}×"
        )


# --------------------------------------------------------------------------- 4. sampler


def bench_sampler(seeds, folder: Path, n: int = 1_000_000) -> None:
    from seedgen.sampler.draw import sample_rows
    from seedgen.schema import render
    from seedgen.synthesis import synthesize

    print(f"\n## 4. sampler mode, {n:,} rows")
    t = time.perf_counter()
    res = synthesize(seeds, n, folder / "million.csv", mode="sampler", quiet=True, seed=0)
    total = time.perf_counter() - t
    t = time.perf_counter()
    df = sample_rows(seeds, n, seed=0)
    draw = time.perf_counter() - t
    t = time.perf_counter()
    text = render(df, seeds.columns)
    rend = time.perf_counter() - t
    t = time.perf_counter()
    text.to_csv(folder / "baseline.csv", index=False)
    write = time.perf_counter() - t
    print(
        f"synthesize --mode sampler: {res.rows:,} rows in {total:.1f} s = {res.rows / total:,.0f} rows/s "
        f"(draw {draw:.1f} s, render {rend:.1f} s; baseline: pandas to_csv of the same rows {write:.1f} s)"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--skip-local", action="store_true", help="skip the real local model")
    ap.add_argument("--skip-million", action="store_true", help="skip the 1M-row sampler run")
    ap.add_argument("--parts", default="1,2,3,4", help="which sections to run, e.g. 3,4")
    ap.add_argument("--requests-per-slot", type=int, default=40, help="part 2: requests per concurrency slot")
    args = ap.parse_args()
    parts = {int(p) for p in args.parts.split(",")}
    print(
        f"machine: {os.cpu_count()} cores; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        seeds = _profile(folder)
        count = _tokenizer()
        if 1 in parts:
            bench_tokens(seeds, count)
        if 2 in parts:
            bench_concurrency(seeds, folder, per_slot=args.requests_per_slot)
        if 3 in parts and not args.skip_local:
            bench_local(folder, count)
        if 4 in parts and not args.skip_million:
            bench_sampler(seeds, folder)


if __name__ == "__main__":
    main()
