"""The fitted sampler model stored in seeds.json: plain arrays and small records, never a real row.

The sampler is a sequential conditional model. Columns are drawn one after another in `SamplerModel.steps`
order; each drawn column is predicted from the cluster label and the columns drawn before it by a small
decision tree whose leaves hold value *distributions* (category shares; for numbers: the null share, point
masses for values shared by many real rows, and quantile bins of the rest sampled uniformly). A leaf covers
at least `min_leaf` real rows, so a leaf is a statistic, not a row. Columns that are a function of others
(functional dependencies, sums/differences, products/ratios) are computed, not drawn; inequalities, bands,
conditional ranges and null co-patterns are checked while drawing and violating rows are redrawn.

Everything here is a flat list so seeds.json stays readable by any JSON tool and the draw can traverse the
trees vectorised in numpy (see `seedgen.sampler.trees`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from seedgen._model import StrictModel


class TreeArrays(StrictModel):
    """One decision tree as arrays indexed by node id (node 0 is the root).

    An internal node sends a row left when its feature value ≤ threshold; a missing value goes left when
    `missing_left` is 1. Categorical features are compared through `encodings` (category code → number,
    learned for this tree's target), so one threshold splits the categories into two sets. `leaf` maps a
    node to its leaf index in the step's leaf tables (-1 for internal nodes).
    """

    left: list[int]
    right: list[int]
    feature: list[int] = Field(description="index into SamplerModel.features")
    threshold: list[float]
    missing_left: list[int]
    leaf: list[int]
    encodings: dict[str, list[float]] = Field(
        default_factory=dict, description="categorical feature name → encoded value per category code"
    )


class NumericLeaves(StrictModel):
    """Per leaf: null share, then a mixture of entries [lo, hi] (lo == hi: a point mass) with weights.

    Entries of leaf i are `offsets[i]:offsets[i+1]`. A bin (lo < hi) is sampled uniformly and then rounded
    to a granularity drawn from the leaf's `grain_weights` over `SamplerStep.grains` (round values).
    """

    null_p: list[float]
    offsets: list[int]
    lo: list[float]
    hi: list[float]
    weight: list[float]
    grain_weights: list[list[float]] = Field(default_factory=list, description="per leaf, over step.grains")


class CategoricalLeaves(StrictModel):
    """Per leaf: shares over the step's classes (class -1 of `codes` = null), sparse by `offsets`."""

    offsets: list[int]
    codes: list[int]
    weight: list[float]


#: default temperature of a categorical `--target`'s draws: its boosted class scores are divided by it
#: before the softmax (`seedgen.sampler.boost._share_offsets` says why below 1; 1 = the fitted
#: probabilities). Kept here, not in `boost`, so the CLI can show it without importing scikit-learn.
TARGET_TEMPERATURE = 0.8


class BoostedClasses(StrictModel):
    """Boosted class scores of the `--target` column: score_c = init_c + Σ values[t][leaf] over the trees
    t of class c; P(class) is the softmax of score_c / temperature + offsets_c (see
    `seedgen.sampler.boost`). Each leaf value is a statistic of at least `min_leaf` real rows."""

    codes: list[int] = Field(description="class code per score column (a code ≥ len(classes) = null)")
    init: list[float]
    trees: list[TreeArrays]
    tree_class: list[int] = Field(description="score column each tree adds to")
    values: list[list[float]] = Field(description="per tree, the value of each leaf")
    numbers: list[float] = Field(
        default_factory=list,
        description="numeric target: the value of each class code (empty for categories)",
    )
    temperature: float = Field(
        1.0, gt=0, description="scores are divided by it before the softmax (below 1 sharpens the draws)"
    )
    offsets: list[float] = Field(
        default_factory=list,
        description="per score column, added after the division so the drawn class shares stay the real "
        "ones (empty = none)",
    )


class BoostedMean(StrictModel):
    """Boosted mean of a numeric `--target` column: init + a linear term in the numeric features (when it
    predicts held-out rows) + Σ values[t][leaf] over the trees (see `seedgen.sampler.boost`); a drawn value
    adds a residual from its leaf of the column's tree. Each leaf value is a statistic of at least
    `min_leaf` real rows; the linear term is a fit over all of them.

    A date drawn as an earlier date plus a gap uses the same form with no trees: the linear term is that
    date with coefficient 1, and its leaves hold the gaps (see `seedgen.sampler.fit._offset_anchor`)."""

    init: float
    linear_features: list[int] = Field(
        default_factory=list, description="features of the linear start (indices into `features`)"
    )
    linear_coef: list[float] = Field(default_factory=list, description="its coefficients, per feature")
    linear_fill: list[float] = Field(default_factory=list, description="value used for a null, per feature")
    trees: list[TreeArrays]
    values: list[list[float]] = Field(description="per tree, the value of each leaf")
    low: float | None = Field(None, description="drawn values are clipped to the column's real range")
    high: float | None = None


class IdPattern(StrictModel):
    """The shape of a key column: numbers continue after the real maximum; strings follow a char pattern.

    `pattern` tokens: `<9>` digit, `<A>` upper-case letter, `<a>` lower-case letter, `<X>` upper or digit,
    `<x>` lower or digit, `<*>` any letter or digit; any other token is a literal character (one that is
    the same in every real key at that position).
    """

    numeric: bool
    start: float = 0.0
    step: float = 1.0
    prefix: str | None = Field(None, description="string keys of the form prefix + number: the prefix")
    width: int = Field(0, description="zero-padded width of that number (0 = no padding)")
    pattern: list[str] = Field(default_factory=list)


class SamplerStep(StrictModel):
    """How one column is produced."""

    column: str
    method: Literal["tree", "linear", "product", "lookup", "id", "constant"]
    kind: Literal["numeric", "integer", "categorical", "boolean", "datetime", "text", "id"]
    classes: list[str] = Field(default_factory=list, description="categorical/text values by code")
    decimals: int | None = None
    tree: TreeArrays | None = None
    boost: BoostedClasses | None = Field(
        None, description="target column: classes drawn from boosted probabilities instead of the leaves"
    )
    boost_mean: BoostedMean | None = Field(
        None, description="numeric target: boosted mean + a residual drawn from the leaf (`numeric`)"
    )
    numeric: NumericLeaves | None = None
    categorical: CategoricalLeaves | None = None
    grains: list[float] = Field(default_factory=list, description="rounding granularities of bin draws")
    # derived columns
    terms: dict[str, float] = Field(
        default_factory=dict, description="linear: column → coefficient; product: exponent"
    )
    intercept: float = 0.0
    lhs: str | None = None
    mapping: dict[str, str] = Field(default_factory=dict, description="lookup: lhs value → value")
    default: str | None = None
    id: IdPattern | None = None
    constant: str | float | None = None


class Check(StrictModel):
    """A constraint enforced while drawing `column` (the other columns are drawn before it).

    kinds: `le` column ≥ other (column is the right side) or column ≤ other (`side`), `band` column in
    bands[category value], `range` column in [low, high] when `other` satisfies `when`, `null` column null
    exactly when `other` is null/zero.
    """

    kind: Literal["le", "band", "range", "null"]
    column: str
    other: str
    side: Literal["left", "right"] = "left"
    strict: bool = False
    when: Literal["positive", "zero", "null", "not_null"] | None = None
    low: float | None = None
    high: float | None = None
    bands: dict[str, tuple[float, float]] = Field(default_factory=dict)


class SamplerModel(StrictModel):
    """The sampler's fitted state. Holds statistics only, never a real row."""

    version: int = 1
    min_leaf: int = Field(0, description="smallest number of real rows behind any leaf distribution")
    point_mass_min_rows: int = Field(
        0, description="a value is drawn exactly only if this many real rows share it"
    )
    clusters: list[int] = Field(default_factory=list)
    cluster_weights: list[float] = Field(default_factory=list)
    features: list[str] = Field(
        default_factory=list, description="tree feature order: cluster label, then columns"
    )
    steps: list[SamplerStep] = Field(default_factory=list, description="in draw order")
    checks: list[Check] = Field(default_factory=list)
    columns: list[str] = Field(default_factory=list, description="output column order")
