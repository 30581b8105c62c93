"""The seed instructions file (seeds.json): a versioned pydantic model that round-trips through JSON.

It holds the schema, per-cluster statistical profiles, constraints discovered in the data (each with its
support), the rendered seed instructions and the fitted sampler model. It never holds a real row unless the
user asks for few-shot examples (`examples`, default none).
"""

from __future__ import annotations

import json
import os
from typing import Annotated, Literal

from pydantic import Field

from seedgen._model import StrictModel, parse_model
from seedgen.errors import UserInputError
from seedgen.io import read_json_object
from seedgen.sampler.model import SamplerModel
from seedgen.schema import ColumnSpec

SEEDS_VERSION = 1
QUANTILE_LEVELS = [0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99]


class NumericStats(StrictModel):
    mean: float
    std: float
    skew: float = 0.0
    kurtosis: float = 0.0
    min: float
    max: float
    quantiles: list[float] = Field(default_factory=list, description="at SeedFile.quantile_levels")


class Correlation(StrictModel):
    """Gaussian-copula correlation on normal scores of the listed columns (categoricals one-hot free:
    a categorical enters through the normal score of its frequency-ordered codes)."""

    columns: list[str]
    matrix: list[list[float]]


class ClusterProfile(StrictModel):
    id: int
    size: int = Field(ge=0)
    weight: float = Field(ge=0, le=1)
    numeric: dict[str, NumericStats] = Field(default_factory=dict)
    categorical: dict[str, dict[str, float]] = Field(default_factory=dict, description="value → frequency")
    null_rates: dict[str, float] = Field(default_factory=dict)
    correlation: Correlation | None = None


# --------------------------------------------------------------------------- constraints


class _Constraint(StrictModel):
    support: float = Field(ge=0, le=1, description="share of applicable real rows that satisfy it")
    n: int = Field(ge=0, description="applicable real rows (both sides non-null)")
    description: str = ""


class FunctionalDependency(_Constraint):
    kind: Literal["functional_dependency"] = "functional_dependency"
    lhs: str
    rhs: str
    mapping: dict[str, str] = Field(description="lhs value → the rhs value it determines")


class CategoryBand(_Constraint):
    kind: Literal["category_band"] = "category_band"
    category: str
    column: str
    bands: dict[str, tuple[float, float]] = Field(description="category value → [low, high] of column")


class Inequality(_Constraint):
    kind: Literal["inequality"] = "inequality"
    left: str
    op: Literal["<=", "<"] = "<="
    right: str


class LinearIdentity(_Constraint):
    """target = intercept + Σ coefficient·term, within an absolute tolerance (sums and differences)."""

    kind: Literal["linear"] = "linear"
    target: str
    terms: dict[str, float]
    intercept: float = 0.0
    tolerance: float = Field(0.0, ge=0)


class ProductIdentity(_Constraint):
    """target = scale · Π factor^exponent (exponent ±1: products and ratios), within a relative tolerance."""

    kind: Literal["product"] = "product"
    target: str
    factors: dict[str, int]
    scale: float = 1.0
    rel_tolerance: float = Field(0.01, ge=0)


class ConditionalRange(_Constraint):
    """When `when_column` satisfies `when`, `column` lies in [low, high] (e.g. count > 0 ⇒ months ≤ 12)."""

    kind: Literal["conditional_range"] = "conditional_range"
    when_column: str
    when: Literal["positive", "zero", "null", "not_null"]
    column: str
    low: float | None = None
    high: float | None = None


class NullPattern(_Constraint):
    """`column` is null exactly when `when_column` is null / zero (the real co-pattern of missing values)."""

    kind: Literal["null_pattern"] = "null_pattern"
    column: str
    when_column: str
    when: Literal["null", "zero"]


class DomainRule(_Constraint):
    """A formula or rule a rule pack declares (e.g. lending.emi_installment), with its support on the data."""

    kind: Literal["domain"] = "domain"
    name: str
    code: str
    columns: list[str]


Constraint = Annotated[
    FunctionalDependency
    | CategoryBand
    | Inequality
    | LinearIdentity
    | ProductIdentity
    | ConditionalRange
    | NullPattern
    | DomainRule,
    Field(discriminator="kind"),
]


class Instruction(StrictModel):
    cluster: int
    text: str


class SourceInfo(StrictModel):
    file: str
    rows: int
    columns: int
    sha256: str | None = None


class ProfileSettings(StrictModel):
    clusters: int | Literal["auto"] = "auto"
    clusters_chosen: int | None = None
    cluster_criterion: str | None = None
    sampling_factor: float = 1.0
    seed: int = 0
    target: str | None = None
    drop: list[str] = Field(default_factory=list)
    target_temperature: float = 1.0
    examples: int = 0


class SeedFile(StrictModel):
    version: int = SEEDS_VERSION
    seedgen_version: str = ""
    source: SourceInfo
    settings: ProfileSettings
    quantile_levels: list[float] = Field(default_factory=lambda: list(QUANTILE_LEVELS))
    columns: list[ColumnSpec]
    clusters: list[ClusterProfile]
    rules: list[Constraint] = Field(default_factory=list)
    instructions: list[Instruction] = Field(default_factory=list)
    sampler: SamplerModel | None = None
    examples: list[dict[str, str | None]] = Field(
        default_factory=list, description="real rows for few-shot prompts; only with --examples K"
    )

    def column(self, name: str) -> ColumnSpec:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


def _upgrade(data: dict) -> dict:
    """Bring an older seeds.json up to SEEDS_VERSION (no older versions exist yet)."""
    version = data.get("version")
    if version is None:
        raise UserInputError("seeds file has no 'version': not a seedgen seeds.json")
    if version > SEEDS_VERSION:
        raise UserInputError(
            f"seeds file version {version} is newer than this seedgen understands ({SEEDS_VERSION})",
            fix="upgrade seedgen",
        )
    return data


def save_seeds(seeds: SeedFile, path: str | os.PathLike) -> None:
    path = str(path)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp"
    # Python-mode dump + json keeps non-finite floats as NaN/Infinity (which json.load reads back);
    # pydantic's own JSON writer would turn them into null and the file would not load again.
    # No indent: only the compact form uses the C encoder (7x faster on a large sampler model).
    payload = json.dumps(seeds.model_dump(mode="python"), allow_nan=True, ensure_ascii=False)
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(payload)
    os.replace(tmp, path)


def load_seeds(path: str | os.PathLike) -> SeedFile:
    path = str(path)
    data = read_json_object(
        path,
        missing=f"{path}: no such seeds file",
        fix="create it with `seedgen profile DATA -o seeds.json`",
    )
    return parse_model(SeedFile, _upgrade(data), path)
