"""The LLM judge: scores rows 1–10 for realism, several rows per call, through any synthesis provider.

Rules catch what can be stated; the judge catches what can't (a job title that is not a job, a plausible
number in an implausible combination). Each call sends a handful of rows rendered in the original formats
(prompt `prompts/judge.j2`) and asks for JSON ``{"scores": [{"row": i, "score": 1-10, "justification":
"..."}]}`` under a JSON schema where the endpoint enforces one. Every row ends with a valid score or a
clear reason why it has none: rows the answer skipped or scored with garbage are asked again once, in a
call of their own, and then marked "judge gave no score".
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from seedgen.errors import ProviderError, UserInputError
from seedgen.seeds import SeedFile
from seedgen.templating import render_template

log = logging.getLogger("seedgen")

TEMPLATE = "judge.j2"
ROWS_PER_CALL = 5
MAX_CATEGORIES = 8
JUSTIFICATION_CHARS = 100


def judge_schema(n_rows: int) -> dict[str, Any]:
    """The JSON schema of one judge answer for `n_rows` rows (numbered 1..n_rows)."""
    item = {
        "type": "object",
        "properties": {
            # enums rather than minimum/maximum: grammar-constrained servers (llama.cpp) enforce enums
            # reliably, and SmolLM2 left free writes scores such as 20 or 45
            "row": {"type": "integer", "enum": list(range(1, n_rows + 1))},
            "score": {"type": "integer", "enum": list(range(1, 11))},
            "justification": {"type": "string", "maxLength": JUSTIFICATION_CHARS},
        },
        "required": ["row", "score", "justification"],
        "additionalProperties": False,
    }
    return {
        "type": "object",
        "properties": {"scores": {"type": "array", "items": item, "minItems": n_rows, "maxItems": n_rows}},
        "required": ["scores"],
        "additionalProperties": False,
    }


@dataclass
class JudgeVerdict:
    """Per-row scores (NaN where none), justifications, and the reason a row has no score."""

    scores: pd.Series
    justifications: pd.Series
    failures: pd.Series
    threshold: float
    calls: int = 0
    provider_stats: dict[str, Any] = field(default_factory=dict)
    model: str = ""

    def rejected_reasons(self) -> pd.Series:
        """A `_reasons` entry for each row below the threshold or without a score."""
        low = self.scores.isna() | (self.scores < self.threshold)
        out = {}
        for i in self.scores.index[low]:
            score = self.scores[i]
            if np.isnan(score):
                out[i] = f"JG02 judge gave no score ({self.failures[i]})"
            else:
                why = self.justifications[i] or "no justification"
                out[i] = f"JG01 judge score {score:g} < {self.threshold:g}: {why}"
        return pd.Series(out, dtype=object)

    def stats(self) -> dict[str, Any]:
        scored = self.scores.notna()
        return {
            "rows": len(self.scores),
            "scored": int(scored.sum()),
            "no_score": int((~scored).sum()),
            "below_threshold": int((self.scores[scored] < self.threshold).sum()),
            "mean_score": float(self.scores[scored].mean()) if scored.any() else None,
            "threshold": self.threshold,
            "calls": self.calls,
            "model": self.model,
            **self.provider_stats,
        }


def _column_context(seeds: SeedFile) -> list[dict[str, Any]]:
    out = []
    for c in seeds.columns:
        cats = [v.value for v in (c.categories or [])]
        lo, hi = c.min, c.max
        if isinstance(lo, float) and isinstance(hi, float):
            d = 0 if c.kind == "integer" else (c.decimals or 0)
            lo, hi = f"{lo:.{d}f}", f"{hi:.{d}f}"
        out.append(
            {
                "name": c.name,
                "kind": c.kind if c.kind != "datetime" else f"date written as {c.date_format}",
                "min": None if lo is None else str(lo),
                "max": None if hi is None else str(hi),
                "categories": cats[:MAX_CATEGORIES],
                "more": max(0, len(cats) - MAX_CATEGORIES),
                "null_rate": c.null_rate,
            }
        )
    return out


def render_prompt(rows: pd.DataFrame, seeds: SeedFile, prompts_dir=None) -> str:
    """The judge prompt for `rows` (rendered strings, profiled columns in order), rows numbered from 1."""
    values = rows.astype(object).where(rows.notna(), None).to_numpy().tolist()
    context = {
        "table": os.path.basename(seeds.source.file),
        "columns": _column_context(seeds),
        "rows": [{"n": i + 1, "cells": v} for i, v in enumerate(values)],
        "n_rows": len(values),
    }
    return render_template(TEMPLATE, context, prompts_dir)


def parse_scores(data: Any, n_rows: int) -> tuple[dict[int, tuple[float, str]], str | None]:
    """Valid (score, justification) per 1-based row of one answer; and why the answer was unusable, if so."""
    if not isinstance(data, dict) or not isinstance(data.get("scores"), list):
        return {}, 'answer was not {"scores": [...]} JSON'
    out: dict[int, tuple[float, str]] = {}
    for item in data["scores"]:
        if not isinstance(item, dict):
            continue
        row, score = item.get("row"), item.get("score")
        try:
            row = int(row)
            score = float(score)
        except (TypeError, ValueError):
            continue
        if not (1 <= row <= n_rows) or not math.isfinite(score) or not (1 <= score <= 10) or row in out:
            continue
        text = " ".join(str(item.get("justification") or "").split())[:JUSTIFICATION_CHARS]
        out[row] = (score, text.replace(";", ","))
    return out, None if out else "answer held no valid score"


async def _ask(provider, rows: pd.DataFrame, seeds: SeedFile, prompts_dir, temperature: float):
    from seedgen.providers.base import CompletionRequest, parse_json

    k = len(rows)
    request = CompletionRequest(
        prompt=render_prompt(rows, seeds, prompts_dir),
        json_schema=judge_schema(k),
        max_tokens=60 * k + 48,
        temperature=temperature,
    )
    completion = await provider.complete(request)
    log.debug("judge answer for %d row(s): %s", k, " ".join(completion.text.split())[:400])
    data = completion.data if completion.data is not None else parse_json(completion.text)
    return parse_scores(data, k)


async def _judge_chunk(
    provider, rows: pd.DataFrame, seeds, prompts_dir, temperature, errors: list
) -> tuple[dict, dict, int]:
    """Scores for one chunk: ask, then ask again once for the rows left without a valid score."""
    results: dict[Any, tuple[float, str]] = {}
    why: dict[Any, str] = {}
    pending = rows
    calls = 0
    for attempt in range(2):
        calls += 1
        try:
            got, problem = await _ask(provider, pending, seeds, prompts_dir, temperature)
        except ProviderError as e:
            errors.append(e)
            got, problem = {}, f"judge call failed: {e.one_line()}"
        for pos, (score, text) in got.items():
            results[pending.index[pos - 1]] = (score, text)
        missing = [i for i in pending.index if i not in results]
        for i in missing:
            why[i] = problem or "the answer skipped this row"
        if not missing:
            break
        pending = rows.loc[missing]
        if attempt == 0:
            log.debug("judge: %d row(s) without a valid score; asking once more", len(missing))
    return results, why, calls


async def judge_frame(
    rows: pd.DataFrame,
    seeds: SeedFile,
    provider,
    *,
    threshold: float = 8,
    rows_per_call: int = ROWS_PER_CALL,
    prompts_dir=None,
    temperature: float = 0.2,
    bar=None,
) -> JudgeVerdict:
    """Score `rows` (rendered, profiled columns) with a started provider; see the module docstring."""
    chunks = [rows.iloc[i : i + rows_per_call] for i in range(0, len(rows), rows_per_call)]
    errors: list[ProviderError] = []
    task = bar.add_task("judge", total=len(rows)) if bar is not None else None

    async def one(chunk):
        out = await _judge_chunk(provider, chunk, seeds, prompts_dir, temperature, errors)
        if bar is not None:
            bar.advance(task, len(chunk))
        return out

    answers = await asyncio.gather(*(one(c) for c in chunks))
    scores = pd.Series(np.nan, index=rows.index, dtype=float)
    notes = pd.Series("", index=rows.index, dtype=object)
    failures = pd.Series(None, index=rows.index, dtype=object)
    calls = 0
    for results, why, n in answers:
        calls += n
        for i, (score, text) in results.items():
            scores[i], notes[i] = score, text
        for i, reason in why.items():
            if i not in results:
                failures[i] = reason
    if len(rows) and errors and scores.isna().all():
        # Nothing was scored because the endpoint failed every time: that is the endpoint's error to report.
        raise errors[0]
    stats = provider.stats.as_dict() if hasattr(provider.stats, "as_dict") else {}
    return JudgeVerdict(
        scores=scores,
        justifications=notes,
        failures=failures,
        threshold=float(threshold),
        calls=calls,
        provider_stats=stats,
        model=str(getattr(provider, "model", "") or ""),
    )


def judge_rows(
    rows: pd.DataFrame,
    seeds: SeedFile,
    *,
    provider: str = "local",
    model: str | None = None,
    base_url: str | None = None,
    threshold: float = 8,
    rows_per_call: int = ROWS_PER_CALL,
    concurrency: int = 4,
    prompts_dir=None,
    quiet: bool = False,
) -> JudgeVerdict:
    """Score rendered rows with the provider named `provider` (started and stopped here)."""
    if provider == "sampler":
        raise UserInputError(
            "the sampler provider cannot judge rows", fix="use --judge-provider local or openai"
        )
    if not 1 <= threshold <= 10:
        raise UserInputError(f"--threshold {threshold:g} is outside the judge's 1-10 scale")
    if rows_per_call < 1:
        raise UserInputError("rows per judge call must be at least 1")
    if len(rows) == 0:
        return JudgeVerdict(
            pd.Series(dtype=float), pd.Series(dtype=object), pd.Series(dtype=object), float(threshold)
        )
    from seedgen.progress import progress
    from seedgen.providers import get_provider

    async def run():
        async with get_provider(provider, model=model, base_url=base_url, concurrency=concurrency) as p:
            with progress(quiet) as bar:
                return await judge_frame(
                    rows,
                    seeds,
                    p,
                    threshold=threshold,
                    rows_per_call=rows_per_call,
                    prompts_dir=prompts_dir,
                    bar=bar,
                )

    return asyncio.run(run())
