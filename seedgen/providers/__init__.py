"""LLM providers, one module each behind one interface (`seedgen.providers.base.Provider`).

The registry maps a name to "module:Class" and imports lazily, so a missing optional SDK only matters
when that provider is chosen (and then gives an install hint, not an ImportError).
"""

from __future__ import annotations

import importlib

from seedgen.errors import UserInputError

REGISTRY: dict[str, str] = {
    "openai": "seedgen.providers.openai:OpenAIProvider",
    "sds": "seedgen.providers.sds:SDSProvider",
    "bedrock": "seedgen.providers.bedrock:BedrockProvider",
    "local": "seedgen.providers.local:LocalProvider",
    "sampler": "seedgen.providers.sampler:SamplerProvider",
}


def provider_class(name: str):
    try:
        target = REGISTRY[name]
    except KeyError:
        raise UserInputError(
            f"unknown provider {name!r}", fix="choose one of " + ", ".join(sorted(REGISTRY))
        ) from None
    module, _, cls = target.partition(":")
    return getattr(importlib.import_module(module), cls)


def get_provider(
    name: str,
    *,
    model: str | None = None,
    base_url: str | None = None,
    concurrency: int = 4,
    api_key: str | None = None,
    **options,
):
    """A ready-to-start provider by name: `async with get_provider("openai", base_url=...) as p: ...`.

    `options` are the provider's own settings (its `Options` model, e.g. `structured="json_object"` for
    `openai`, `region="eu-west-1"` for `bedrock`); unknown ones are a one-line ConfigError. API keys come
    from the environment (`SEEDGEN_API_KEY`, then the provider's own variable); `api_key` exists for
    library callers that manage keys themselves and is never logged.
    """
    cls = provider_class(name)
    return cls(model=model, base_url=base_url, concurrency=concurrency, api_key=api_key, **options)
