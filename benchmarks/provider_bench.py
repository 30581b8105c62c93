"""Provider layer throughput: does seedgen's provider code (semaphore, retries, the openai SDK client)
keep an endpoint busy, and what does one request cost the client in CPU?

Against the loopback fault server (tests/fakes, in its own process) with a fixed 100 ms latency:

1. CPU per request of the base class alone (an endpoint that answers at once).
2. Client CPU per request at concurrency 32, in one run: the SDK's `chat.completions.create` (the usual
   route: typed parameter transform + pydantic ChatCompletion, httpx transport) as the baseline, vs the
   `openai` provider (SDK `post` with a pre-serialised body, bytes reply) on httpx and on aiohttp.
3. Requests/s through `provider.complete()` at concurrency 1, 8 and 32 vs the ideal concurrency / latency
   (target >= 85 %): one worker per slot sending requests one after another, after a warm-up request each.
4. ~10 % 429s (Retry-After 50 ms) and ~10 % 500s: every request must still complete.

Run: `python benchmarks/provider_bench.py [--requests-per-slot 40]`
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import sys
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from fakes import FaultServer  # noqa: E402

from seedgen.providers import get_provider  # noqa: E402
from seedgen.providers.base import CompletionRequest  # noqa: E402

LATENCY = 0.1
SCHEMA = {
    "type": "object",
    "properties": {"rows": {"type": "array", "items": {"type": "string"}, "minItems": 10, "maxItems": 10}},
    "required": ["rows"],
    "additionalProperties": False,
}
PROMPT = "Write 10 job titles, one per row: " + "context " * 150  # ~1.2 kB, like a hybrid prompt


def _serve(queue: mp.Queue, kwargs: dict) -> None:
    server = FaultServer(**kwargs).start()
    queue.put(server.base_url)
    time.sleep(3600)


@contextmanager
def server_process(**kwargs):
    """The fault server in its own process, so it does not share the benchmark's GIL and event loop.
    Yields (base_url, pid)."""
    queue: mp.Queue = mp.Queue()
    proc = mp.Process(target=_serve, args=(queue, kwargs), daemon=True)
    proc.start()
    try:
        yield queue.get(timeout=30), proc.pid
    finally:
        proc.terminate()
        proc.join()


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def drive(
    base_url: str, concurrency: int, per_slot: int, **options
) -> tuple[float, float, object, int]:
    """(seconds, client CPU seconds, stats, requests) for per_slot requests per slot after a warm-up."""
    provider = get_provider(
        "openai", base_url=base_url, concurrency=concurrency, backoff_initial=0.05, **options
    )
    request = CompletionRequest(prompt=PROMPT, json_schema=SCHEMA, max_tokens=300)
    n = concurrency * per_slot
    async with provider:
        # model discovery and one connection per slot: a run pays these once, not per request
        await asyncio.gather(*(provider.complete(request) for _ in range(concurrency)))

        async def slot() -> None:  # one worker per concurrency slot, as synthesize runs its batches
            for _ in range(per_slot):
                await provider.complete(request)

        start, cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(slot() for _ in range(concurrency)))
        return time.perf_counter() - start, time.process_time() - cpu, provider.stats, n


async def sdk_create(base_url: str, concurrency: int, per_slot: int) -> tuple[float, float, int]:
    """The baseline: the SDK's usual `chat.completions.create` route, default client, same requests."""
    import openai

    client = openai.AsyncOpenAI(base_url=base_url, api_key="sk-no-key-required", max_retries=0)
    fmt = {"type": "json_schema", "json_schema": {"name": "rows", "schema": SCHEMA, "strict": True}}
    messages = [{"role": "user", "content": PROMPT}]
    slots = asyncio.Semaphore(concurrency)

    async def one():
        async with slots:
            reply = await client.chat.completions.create(
                model="fake-model", messages=messages, max_tokens=300, response_format=fmt
            )
            return reply.choices[0].message.content

    n = concurrency * per_slot
    await asyncio.gather(*(one() for _ in range(concurrency)))

    async def slot() -> None:
        for _ in range(per_slot):
            await one()

    start, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(slot() for _ in range(concurrency)))
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    await client.close()
    return elapsed, cpu, n


async def base_overhead(n: int = 5000) -> float:
    """CPU microseconds per `complete()` spent in the base class alone (an endpoint that answers at once)."""
    from seedgen.providers.base import Completion, Provider

    class Instant(Provider):
        name = "instant"

        async def _complete(self, request):
            return Completion(text="{}", data={}, input_tokens=1, output_tokens=1)

    provider = Instant(concurrency=8)
    request = CompletionRequest(prompt="x")
    async with provider:
        cpu = time.process_time()
        await asyncio.gather(*(provider.complete(request) for _ in range(n)))
        return 1e6 * (time.process_time() - cpu) / n


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests-per-slot", type=int, default=40)
    args = parser.parse_args()
    per_slot = args.requests_per_slot
    print(
        f"machine: {os.cpu_count()} cores; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    print(
        f"1. base class (semaphore, retry policy, timeout, accounting): {asyncio.run(base_overhead()):.0f} µs "
        "CPU/request"
    )
    with server_process(latency=LATENCY) as (url, pid):
        print(
            f"2. client CPU per request at concurrency 32 ({32 * per_slot} requests, same server and body):"
        )
        for label, job in (
            ("SDK chat.completions.create, httpx (baseline)", lambda: sdk_create(url, 32, per_slot)),
            ("openai provider, http_client=httpx", lambda: drive(url, 32, per_slot, http_client="httpx")),
            ("openai provider, http_client=aiohttp (default)", lambda: drive(url, 32, per_slot)),
        ):
            srv = cpu_seconds(pid)
            elapsed, cpu, *rest = asyncio.run(job())
            n = rest[-1]
            srv = cpu_seconds(pid) - srv
            print(
                f"   {label:48s} client {1000 * cpu / n:5.2f} ms, server {1000 * srv / n:4.2f} ms "
                f"(incl. warm-up), {100 * n / elapsed / (32 / LATENCY):5.1f} % of ideal"
            )
        print(
            f"3. fixed latency {LATENCY * 1000:.0f} ms; ideal = concurrency / latency; {per_slot} requests per slot"
        )
        print(
            f"{'concurrency':>11} {'requests':>8} {'req/s':>8} {'ideal':>7} {'% ideal':>8} "
            f"{'client CPU/req':>15} {'load':>5}"
        )
        for concurrency in (1, 8, 32):
            elapsed, cpu, _, n = asyncio.run(drive(url, concurrency, per_slot))
            rate, ideal = n / elapsed, concurrency / LATENCY
            print(
                f"{concurrency:>11} {n:>8} {rate:>8.1f} {ideal:>7.1f} {100 * rate / ideal:>7.1f}% "
                f"{1000 * cpu / n:>12.2f} ms {os.getloadavg()[0]:>5.1f}"
            )
    with server_process(latency=LATENCY, chaos={"rate_limit": 0.1, "error": 0.1}, seed=1) as (url, _):
        elapsed, _, stats, n = asyncio.run(drive(url, 8, per_slot))
        print(
            f"4. with ~10 % 429 (Retry-After 50 ms) + ~10 % 500 at concurrency 8: {n} of {n} completed in "
            f"{elapsed:.2f} s ({n / elapsed:.1f} req/s); {stats.requests} attempts (warm-up included), "
            f"{stats.retries} retries, {stats.failures} failures"
        )


if __name__ == "__main__":
    main()
