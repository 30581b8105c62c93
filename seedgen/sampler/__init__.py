"""The statistical sampler: draws rows from a fitted profile, no LLM involved."""
