"""The provider interface every LLM endpoint implements.

The base class owns the public verb `complete()`: concurrency limits, tenacity retries on 429/5xx/timeouts
(honouring Retry-After), and token accounting. A provider module implements `_complete()` only, raising
`ProviderHTTPError` for HTTP failures and `TransientProviderError` for timeouts, dropped connections and
malformed replies; the base decides what to retry.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import re
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar, TypeVar

from pydantic import Field
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from seedgen._model import StrictModel, parse_model
from seedgen.errors import ProviderError, ProviderHTTPError, UserInputError
from seedgen.keys import GENERIC_KEY_VAR, Secret, redact, resolve_key

log = logging.getLogger("seedgen")
T = TypeVar("T")


class CompletionRequest(StrictModel):
    """One call to an LLM: a prompt, and optionally the JSON schema its answer must follow."""

    prompt: str
    system: str | None = None
    json_schema: dict[str, Any] | None = Field(None, description="structured output, where supported")
    max_tokens: int = Field(1024, ge=1)
    temperature: float = Field(0.8, ge=0, le=2)
    seed: int | None = None
    #: SDS works in topics and row counts rather than raw prompts; other providers ignore these
    topic: str | None = None
    n_rows: int | None = None


class Completion(StrictModel):
    text: str = ""
    data: Any = Field(None, description="parsed JSON when the endpoint returned structured output")
    input_tokens: int = 0
    output_tokens: int = 0
    retries: int = 0
    #: the endpoint stopped at max_tokens: `text` is cut short and `data` is None unless it still parsed
    truncated: bool = False
    #: provider-specific facts about the answer (finish reason, SDS export path, ...); never secrets
    meta: dict[str, Any] = Field(default_factory=dict)


class ProviderOptions(StrictModel):
    """Options every provider accepts (`get_provider(name, max_attempts=3)`, or `-o key=value`)."""

    max_attempts: int = Field(6, ge=1, le=100, description="attempts per request, the first one included")
    timeout: float = Field(120.0, gt=0, description="seconds one attempt may take before it is retried")
    backoff_initial: float = Field(0.5, ge=0, description="first pause between attempts, doubled each time")
    max_wait: float = Field(60.0, ge=0, description="longest pause between attempts, Retry-After included")


@dataclass
class ProviderStats:
    """What a provider spent. `requests` counts every attempt sent to the endpoint, retried ones included;
    `retries` the attempts that were repeated; `failures` the calls that finally raised."""

    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    retries: int = 0
    failures: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


class TransientProviderError(ProviderError):
    """A failure worth retrying that has no HTTP status: timeout, dropped connection, malformed reply."""

    transient = True


def is_retryable(exc: BaseException) -> bool:
    """Retry 408/409/425/429/5xx, timeouts and connection errors; never 4xx user errors.

    A provider can override the status rule per error with an explicit `transient` attribute (SDS wraps
    Bedrock throttling in an HTTP 400, for instance).
    """
    flag = getattr(exc, "transient", None)
    if isinstance(flag, bool):
        return flag
    if isinstance(exc, ProviderHTTPError):
        return exc.retryable
    return isinstance(exc, TimeoutError | ConnectionError)


_FENCE = re.compile(r"^\s*```[a-zA-Z]*\s*\n?(.*?)\n?\s*```\s*$", re.S)


def parse_json(text: str) -> Any | None:
    """The JSON value in `text` (a Markdown code fence around it is allowed), or None if it is not JSON."""
    if not text or not text.strip():
        return None
    match = _FENCE.match(text)
    body = match.group(1) if match else text
    try:
        return json.loads(body)
    except ValueError:
        return None


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


class Provider:
    """One LLM endpoint. Subclasses set the class attributes and implement `_complete` only.

    Interface contract (used by synthesis and the judge):
      - `async with provider:` starts/stops whatever the provider needs (e.g. the local server);
      - `await provider.complete(request) -> Completion` is bounded by `concurrency`, retried on
        429/5xx/timeouts honouring Retry-After, and adds to `provider.stats`;
      - `supports_schema` says whether `request.json_schema` is enforced by the endpoint.
    """

    name: ClassVar[str] = ""
    supports_schema: ClassVar[bool] = False
    #: environment variables the API key is read from, in order (never logged)
    key_env_vars: ClassVar[tuple[str, ...]] = ()
    #: the options model; subclasses extend `ProviderOptions` with their own fields
    Options: ClassVar[type[ProviderOptions]] = ProviderOptions
    #: model used when the caller gives none (None: the provider finds one, or asks for --model)
    default_model: ClassVar[str | None] = None

    def __init__(
        self,
        *,
        model: str | None = None,
        base_url: str | None = None,
        concurrency: int = 4,
        api_key: str | None = None,
        **options: Any,
    ) -> None:
        if not isinstance(concurrency, int) or concurrency < 1:
            raise UserInputError(f"concurrency must be a positive integer, got {concurrency!r}")
        self.options = parse_model(self.Options, options, f"{self.name} provider options")
        self.model: str = model or self.default_model or ""
        self.base_url: str | None = base_url.rstrip("/") if base_url else None
        self.concurrency = concurrency
        self.stats = ProviderStats()
        self._key: Secret | None = resolve_key(api_key, self.key_env_vars)
        self._semaphore: asyncio.Semaphore | None = None
        self._started = False

    def __repr__(self) -> str:
        # never the key: only where it came from
        key = f", key from {self._key.source}" if self._key else ""
        where = f", base_url={self.base_url!r}" if self.base_url else ""
        return f"{type(self).__name__}(model={self.model!r}{where}, concurrency={self.concurrency}{key})"

    # -- lifecycle ---------------------------------------------------------------------------------------

    async def __aenter__(self):
        await self.start()
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.stop()

    async def start(self) -> None:
        """Open clients / start servers. Idempotent; `complete()` calls it when needed."""
        if self._started:
            return
        self._semaphore = asyncio.Semaphore(self.concurrency)
        await self._start()
        self._started = True

    async def stop(self) -> None:
        if not self._started:
            return
        self._started = False
        await self._stop()

    async def _start(self) -> None:
        """Subclass hook: create clients, start servers, find the model."""

    async def _stop(self) -> None:
        """Subclass hook: close what `_start` opened."""

    # -- the public verb ---------------------------------------------------------------------------------

    async def complete(self, request: CompletionRequest) -> Completion:
        """Send one request, retrying transient failures; add its tokens to `stats`."""
        completion, attempts = await self.call_with_retries(self._complete, request)
        completion.retries = attempts - 1
        self.stats.input_tokens += completion.input_tokens
        self.stats.output_tokens += completion.output_tokens
        return completion

    async def _complete(self, request: CompletionRequest) -> Completion:  # pragma: no cover - abstract
        raise NotImplementedError

    async def call_with_retries(self, fn: Callable[..., Awaitable[T]], *args: Any) -> tuple[T, int]:
        """Run `await fn(*args)` under the concurrency limit with seedgen's retry policy.

        Returns (result, attempts). Each attempt holds a concurrency slot only while it runs, so one
        request pausing for Retry-After does not stall the others. After the last attempt, or at once
        for a non-retryable error, raises a `ProviderError` naming provider, model and the last failure.
        """
        await self.start()
        attempts = 0
        try:
            # The first attempt runs directly: most requests succeed at once, and setting up tenacity's
            # retry state costs about as much CPU as the rest of this method. A failure worth retrying is
            # handed to tenacity as its own first attempt, so waits, logs and counts are as if tenacity
            # had made it.
            try:
                attempts = 1
                return await self._attempt(fn, args), 1
            except asyncio.CancelledError:
                raise
            except BaseException as exc:
                if self.options.max_attempts <= 1 or not is_retryable(exc):
                    raise
                first: list[BaseException] = [exc]

            async def again() -> T:
                if first:
                    raise first.pop()  # tenacity's attempt 1 is the one already made above
                return await self._attempt(fn, args)

            retrying = AsyncRetrying(
                stop=stop_after_attempt(self.options.max_attempts),
                wait=self._wait,
                retry=retry_if_exception(is_retryable),
                before_sleep=self._before_sleep,
                reraise=True,
            )
            attempts = 0
            async for attempt in retrying:
                with attempt:
                    attempts += 1
                    result = await again()
        except asyncio.CancelledError:
            raise
        except ProviderError as exc:
            self.stats.failures += 1
            raise self._final_error(exc, attempts) from exc
        except (TimeoutError, ConnectionError, OSError) as exc:
            self.stats.failures += 1
            raise self._final_error(TransientProviderError(str(exc) or type(exc).__name__), attempts) from exc
        return result, attempts

    async def _attempt(self, fn: Callable[..., Awaitable[T]], args: tuple[Any, ...]) -> T:
        """One attempt: a concurrency slot, the per-attempt timeout, and the request count."""
        assert self._semaphore is not None
        async with self._semaphore:
            self.stats.requests += 1
            try:
                async with asyncio.timeout(self.options.timeout):
                    return await fn(*args)
            except TimeoutError:
                raise TransientProviderError(f"no answer within {self.options.timeout:g} s") from None

    # -- retry policy ------------------------------------------------------------------------------------

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        jitter = random.uniform(0, self.options.backoff_initial)
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            # the server said when: honour it (a little jitter keeps concurrent callers from stampeding)
            return min(float(retry_after) + jitter, self.options.max_wait)
        backoff = self.options.backoff_initial * 2 ** (state.attempt_number - 1)
        return min(backoff + jitter, self.options.max_wait)

    def _before_sleep(self, state: RetryCallState) -> None:
        self.stats.retries += 1
        exc = state.outcome.exception() if state.outcome else None
        pause = state.next_action.sleep if state.next_action else 0.0
        level = logging.INFO if pause >= 5 else logging.DEBUG
        log.log(
            level,
            "%s: %s; retrying in %.1f s (attempt %d of %d)",
            self.name,
            self._safe(str(exc)),
            pause,
            state.attempt_number + 1,
            self.options.max_attempts,
        )

    def _final_error(self, exc: ProviderError, attempts: int) -> ProviderError:
        """The error the caller sees: provider, model, status and the endpoint's last message."""
        status = getattr(exc, "status", None)
        detail = self._safe(str(exc))
        where = f"{self.name} provider (model {self.model or '?'}"
        where += f" at {self.base_url})" if self.base_url else ")"
        if is_retryable(exc):
            what = f"HTTP {status}: {detail}" if status is not None else detail
            message = f"{where}: endpoint kept failing: {what} (gave up after {attempts} attempts)"
            fix = exc.fix or "check that the endpoint is up and reachable, or lower --concurrency"
        else:
            message = f"{where}: " + (f"HTTP {status}: {detail}" if status is not None else detail)
            fix = exc.fix
        if isinstance(exc, ProviderHTTPError):
            err: ProviderError = ProviderHTTPError(
                message,
                status=exc.status,
                retry_after=exc.retry_after,
                provider=self.name,
                model=self.model,
                fix=fix,
            )
        else:
            err = ProviderError(message, provider=self.name, model=self.model, fix=fix)
        err.attempts = attempts  # type: ignore[attr-defined]
        return err

    # -- helpers for subclasses --------------------------------------------------------------------------

    def _safe(self, text: str, limit: int = 400) -> str:
        """`text` with the API key scrubbed and long bodies shortened: fit for messages and logs."""
        text = " ".join(redact(str(text), self._key).split())
        return text if len(text) <= limit else text[: limit - 3] + "..."

    def _require_key(self) -> Secret:
        if not self._key:
            variables = " or ".join((GENERIC_KEY_VAR, *self.key_env_vars))
            raise UserInputError(
                f"the {self.name} provider needs an API key and none is set",
                fix=f"export {variables} (keys are read from the environment only)",
            )
        return self._key
