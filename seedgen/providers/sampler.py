"""The `sampler` provider: no LLM at all. Choosing it means `--mode sampler`.

`seedgen synthesize --provider sampler` is routed by `seedgen.synthesis.synthesize` straight to the
statistical sampler (`seedgen.sampler.draw.sample_rows`) and never calls `complete()`. The class exists so
that the provider registry is complete and so that anything asking it for text (the LLM judge, say) gets a
clear error instead of made-up output.
"""

from __future__ import annotations

from typing import ClassVar

from seedgen.errors import UserInputError
from seedgen.providers.base import Completion, CompletionRequest, Provider


class SamplerProvider(Provider):
    """The statistical sampler as a provider name. It writes rows itself; it cannot answer prompts."""

    name: ClassVar[str] = "sampler"
    supports_schema: ClassVar[bool] = False
    default_model: ClassVar[str | None] = "statistical-sampler"

    async def _complete(self, request: CompletionRequest) -> Completion:
        raise UserInputError(
            "the sampler provider is not a language model: it cannot answer prompts",
            fix="use --mode sampler for rows without an LLM, or pick an LLM provider (local, openai, sds, bedrock)",
        )
