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
