"""Provider layer throughput: does seedgen's provider code (semaphore, retries, the openai SDK client)
keep an endpoint busy?

Against the loopback fault server (tests/fakes) with a fixed 100 ms latency, it sends requests through
`provider.complete()` at concurrency 1, 8 and 32 and compares requests/s with the ideal
concurrency / latency (target >= 85 %). A second run injects 429s (Retry-After 0.1 s) on 10 % and 500s
on 10 % of requests and checks that every request still completes. Run:

    python benchmarks/provider_bench.py [--requests-per-slot 6]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
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
SCHEMA = {"type": "object", "properties": {"rows": {"type": "array", "items": {"type": "string"}}}}


def _serve(queue: mp.Queue, kwargs: dict) -> None:
    server = FaultServer(**kwargs).start()
    queue.put(server.base_url)
    time.sleep(3600)


@contextmanager
def server_process(**kwargs):
    """The fault server in its own process, so it does not share the benchmark's GIL and event loop."""
    queue: mp.Queue = mp.Queue()
    proc = mp.Process(target=_serve, args=(queue, kwargs), daemon=True)
    proc.start()
    try:
        yield queue.get(timeout=30)
    finally:
        proc.terminate()
        proc.join()


async def drive(base_url: str, concurrency: int, n: int) -> tuple[float, float, object]:
    provider = get_provider("openai", base_url=base_url, concurrency=concurrency, backoff_initial=0.05)
    request = CompletionRequest(prompt="rows please", json_schema=SCHEMA)
    async with provider:
        await provider.complete(request)  # warm-up: model discovery, first connection
        start, cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(provider.complete(request) for _ in range(n)))
        return time.perf_counter() - start, time.process_time() - cpu, provider.stats


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
    parser.add_argument("--requests-per-slot", type=int, default=6)
    args = parser.parse_args()
    print(
        f"base class (semaphore, tenacity, timeout, accounting): {asyncio.run(base_overhead()):.0f} us CPU/request"
    )
    print(f"fixed latency {LATENCY * 1000:.0f} ms; ideal = concurrency / latency")
    print(
        f"{'concurrency':>11} {'requests':>8} {'req/s':>8} {'ideal':>7} {'% ideal':>8} {'client CPU/req':>15}"
    )
    with server_process(latency=LATENCY) as url:
        for concurrency in (1, 8, 32):
            n = concurrency * args.requests_per_slot
            elapsed, cpu, _ = asyncio.run(drive(url, concurrency, n))
            rate, ideal = n / elapsed, concurrency / LATENCY
            print(
                f"{concurrency:>11} {n:>8} {rate:>8.1f} {ideal:>7.1f} {100 * rate / ideal:>7.1f}% "
                f"{1000 * cpu / n:>12.2f} ms"
            )
    with server_process(latency=LATENCY, chaos={"rate_limit": 0.1, "error": 0.1}, seed=1) as url:
        n = 8 * args.requests_per_slot * 4
        elapsed, _, stats = asyncio.run(drive(url, 8, n))
        print(
            f"with ~10 % 429 (Retry-After 50 ms) + ~10 % 500 at concurrency 8: {n} of {n} completed in "
            f"{elapsed:.2f} s ({n / elapsed:.1f} req/s); {stats.requests} attempts, "
            f"{stats.retries} retries, {stats.failures} failures"
        )


if __name__ == "__main__":
    main()
