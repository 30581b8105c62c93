"""The provider interface every LLM endpoint implements.

The base class owns the public verb `complete()`: concurrency limits, tenacity retries on 429/5xx/timeouts
(honouring Retry-After), and token accounting. A provider module implements `_complete()` only.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from seedgen._model import StrictModel


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

    async def _complete(self, request: CompletionRequest) -> Completion:  # pragma: no cover - abstract
        raise NotImplementedError
