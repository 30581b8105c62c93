"""The pipeline.toml model: one section per command, keys named exactly like the command's options.

`seedgen run pipeline.toml` reads it; a typo or a wrong type is a `ConfigError` naming the key and the file
(the model forbids unknown keys). Relative paths are resolved against the folder holding the toml, so a
pipeline can be run from anywhere. API keys never belong here: providers read them from the environment.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from seedgen._model import StrictModel, parse_model
from seedgen.errors import ConfigError, UserInputError
from seedgen.sampler.model import TARGET_TEMPERATURE

Provider = Literal["local", "openai", "sds", "bedrock", "sampler"]


class ProfileSection(StrictModel):
    """Options of `seedgen profile` (the output, seeds.json, always goes into the run folder)."""

    target: str | None = Field(None, description="target column for ML utility")
    clusters: int | Literal["auto"] = Field("auto", description="number of KMeans clusters, or auto")
    sampling_factor: float = Field(
        1.0, gt=0, description="seed instructions per cluster, relative to its weight"
    )
    drop: list[str] = Field(default_factory=list, description="columns left out of clustering")
    target_temperature: float = Field(
        TARGET_TEMPERATURE,
        gt=0,
        le=10,
        description="sharpness of the target's drawn classes (1: the fitted probabilities; see docs/sampler.md)",
    )
    examples: int = Field(0, ge=0, description="real rows kept for few-shot prompts (0: none)")

    @field_validator("clusters", mode="before")
    @classmethod
    def _clusters(cls, v):
        if isinstance(v, int) and not isinstance(v, bool) and v < 1:
            raise ValueError("must be a positive integer or 'auto'")
        return v


class SynthesizeSection(StrictModel):
    """Options of `seedgen synthesize`."""

    provider: Provider = Field("local", description="LLM endpoint (sampler: no LLM)")
    model: str | None = Field(None, description="model id at the provider")
    base_url: str | None = Field(None, description="endpoint URL (openai-compatible servers, SDS)")
    mode: Literal["llm", "hybrid", "sampler"] = Field("hybrid", description="who writes the rows")
    rows_per_request: int | None = Field(None, ge=1, description="rows asked per LLM call")
    concurrency: int = Field(4, ge=1, description="requests in flight")
    temperature: float | None = Field(None, ge=0, le=2)
    prompts: str | None = Field(None, description="folder of templates overriding the built-in ones")
    llm_columns: list[str] = Field(
        default_factory=list, description="extra columns the LLM writes in hybrid mode"
    )
    provider_options: dict[str, Any] = Field(
        default_factory=dict,
        description="provider settings such as timeout, max_attempts (docs/providers.md)",
    )


class FilterSection(StrictModel):
    """Options of `seedgen filter` (outputs go into the run folder)."""

    rules: list[str] = Field(default_factory=list, description="rule pack names or paths to rule files")
    fix: bool = Field(True, description="repair rows that fixable rules can repair")
    judge: bool = Field(False, description="score rows with the LLM judge")
    judge_provider: Provider = "local"
    judge_model: str | None = None
    judge_base_url: str | None = None
    threshold: float = Field(8, ge=1, le=10, description="lowest judge score kept")
    keep_scores: bool = False
    min_support: float | None = Field(
        None, ge=0, le=1, description="discovered constraints below it are not enforced"
    )
    copy_check: bool = Field(
        True, description="reject exact copies of real rows (the filter's --real, set to `data`)"
    )


class EvaluateSection(StrictModel):
    """Options of `seedgen evaluate`, plus the share of real rows held out for it."""

    target: str | None = Field(
        None, description="target column for train-synthetic-test-real (default: profile's)"
    )
    holdout: str | None = Field(None, description="a separate real table never used for fitting")
    holdout_fraction: float = Field(
        0.0,
        ge=0,
        lt=1,
        description="share of `data` held out of profiling and used as the evaluation holdout",
    )
    rules: list[str] | None = Field(None, description="rules whose conformance to report (default: filter's)")
    skip: bool = Field(False, description="do not evaluate (no report/)")


class BudgetSection(StrictModel):
    """When to give up before `rows` rows have passed the filter (the run then ends 'partial')."""

    max_rounds: int = Field(20, ge=1, description="synthesize+filter rounds")
    max_requests: int | None = Field(None, ge=1, description="LLM requests (synthesis and judge)")
    max_tokens: int | None = Field(None, ge=1, description="LLM tokens, input plus output")


class PipelineConfig(StrictModel):
    """A whole `seedgen run`: data in, exactly `rows` accepted rows and a report out."""

    data: str = Field(description="the real table (CSV, TSV or Parquet)")
    output: str = Field("run", description="the run folder holding every output")
    rows: int = Field(ge=1, description="accepted rows wanted")
    seed: int = Field(0, description="seed of every random step")
    margin: float = Field(0.15, ge=0, le=5, description="extra share asked per round over the expected need")
    profile: ProfileSection = Field(default_factory=ProfileSection)
    synthesize: SynthesizeSection = Field(default_factory=SynthesizeSection)
    filter: FilterSection = Field(default_factory=FilterSection)
    evaluate: EvaluateSection = Field(default_factory=EvaluateSection)
    budget: BudgetSection = Field(default_factory=BudgetSection)

    @model_validator(mode="after")
    def _holdout_once(self):
        if self.evaluate.holdout and self.evaluate.holdout_fraction:
            raise ValueError("give evaluate.holdout or evaluate.holdout_fraction, not both")
        return self

    @property
    def eval_target(self) -> str | None:
        return self.evaluate.target or self.profile.target

    @property
    def eval_rules(self) -> list[str]:
        return list(self.filter.rules if self.evaluate.rules is None else self.evaluate.rules)


def _is_path(rule: str) -> bool:
    """Rule entries are pack names (`lending`) or files (`my_rules.py`, `rules/x.py`)."""
    return rule.endswith(".py") or "/" in rule or os.sep in rule


def _resolve(base: Path, value: str | None) -> str | None:
    if value is None:
        return None
    p = Path(os.path.expanduser(value))
    return str(p if p.is_absolute() else (base / p).resolve())


def resolve_paths(cfg: PipelineConfig, base: Path) -> PipelineConfig:
    """Make every path in the config absolute, relative to the toml's folder."""
    cfg = cfg.model_copy(deep=True)
    cfg.data = _resolve(base, cfg.data)
    cfg.output = _resolve(base, cfg.output)
    cfg.synthesize.prompts = _resolve(base, cfg.synthesize.prompts)
    cfg.evaluate.holdout = _resolve(base, cfg.evaluate.holdout)
    cfg.filter.rules = [_resolve(base, r) if _is_path(r) else r for r in cfg.filter.rules]
    if cfg.evaluate.rules is not None:
        cfg.evaluate.rules = [_resolve(base, r) if _is_path(r) else r for r in cfg.evaluate.rules]
    return cfg


def load_config(path: str | os.PathLike) -> PipelineConfig:
    """Read and validate a pipeline.toml; paths in it become absolute (relative to its folder)."""
    path = Path(path)
    if not path.exists():
        raise UserInputError(f"{path}: no such pipeline file", fix="write one with `seedgen init DATA`")
    if path.is_dir():
        raise UserInputError(f"{path}: is a folder, not a pipeline.toml")
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML ({e})") from e
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: not valid UTF-8 text") from e
    cfg = parse_model(PipelineConfig, data, str(path))
    cfg = resolve_paths(cfg, path.resolve().parent)
    for rule in cfg.filter.rules + (cfg.evaluate.rules or []):
        if _is_path(rule) and not os.path.exists(rule):
            raise ConfigError(f"{path}: rules: no such rule file {rule}")
    if cfg.synthesize.prompts and not os.path.isdir(cfg.synthesize.prompts):
        raise ConfigError(f"{path}: synthesize.prompts: no such folder {cfg.synthesize.prompts}")
    if not os.path.exists(cfg.data):
        raise ConfigError(f"{path}: data: no such file {cfg.data}")
    if cfg.evaluate.holdout and not os.path.exists(cfg.evaluate.holdout):
        raise ConfigError(f"{path}: evaluate.holdout: no such file {cfg.evaluate.holdout}")
    return cfg
