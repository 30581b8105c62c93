"""The fitted sampler model stored in seeds.json (owned by the sampler; filled in by its issue)."""

from __future__ import annotations

from seedgen._model import StrictModel


class SamplerModel(StrictModel):
    """Placeholder: the sampler's fitted state. Holds statistics only, never a real row."""
