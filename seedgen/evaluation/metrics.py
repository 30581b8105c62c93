"""metrics.json: every number of an evaluation, as a documented pydantic model for pipelines.

Conventions: every score is in [0, 1] unless its description says otherwise; `ceiling` is the same score
computed for the real holdout against the real table (what a perfect generator would get at this sample
size), present only when a holdout was given; a metric that could not be computed has `value: null` and a
`not_computed` sentence saying why. `compare` writes a `Comparison` holding one `Metrics` per set.
"""

from __future__ import annotations

from pydantic import Field

from seedgen._model import StrictModel

METRICS_VERSION = 1


class Score(StrictModel):
    """One number, its holdout ceiling, and which direction is better."""

    value: float | None = Field(None, description="the score; null when not computed")
    ceiling: float | None = Field(None, description="the same score for holdout vs real (needs a holdout)")
    goal: str = Field("maximize", description="maximize, minimize, or ignore (informative)")
    not_computed: str | None = Field(None, description="why the score is missing, as a sentence")


class ColumnFidelity(StrictModel):
    """Distribution similarity of one column, real vs synthetic."""

    name: str
    kind: str
    metric: str = Field(description="ks_complement (numeric/datetime) or tv_complement (categorical/boolean)")
    score: Score = Field(
        description="1 − KS statistic or 1 − total variation distance; 1 = same distribution"
    )
    wasserstein: float | None = Field(None, description="Wasserstein-1 distance / real range (numeric only)")
    js_distance: float | None = Field(None, description="Jensen–Shannon distance (base 2) on shared bins")
    test: str | None = Field(None, description="ks (two-sample Kolmogorov–Smirnov) or chi2 (homogeneity)")
    statistic: float | None = None
    p_value: float | None = Field(None, description="small p: the test tells the two samples apart")
    coverage: float | None = Field(None, description="category coverage or range coverage, see docs")
    real_mean: float | None = None
    synthetic_mean: float | None = None
    real_std: float | None = None
    synthetic_std: float | None = None
    real_null_rate: float = 0.0
    synthetic_null_rate: float = 0.0
    note: str | None = Field(None, description="anything unusual (e.g. an empty synthetic column)")


class PairFidelity(StrictModel):
    """How well one pair of columns keeps its joint behaviour."""

    a: str
    b: str
    metric: str = Field(description="correlation_similarity (both numeric) or contingency_similarity")
    score: float = Field(description="1 − |ρ_real − ρ_syn| / 2, or 1 − TVD of the joint binned distribution")
    real_association: float = Field(description="|Spearman ρ| or Cramér's V in the real table")
    real_correlation: float | None = None
    synthetic_correlation: float | None = None


class Fidelity(StrictModel):
    """Headline fidelity scores and their per-column and per-pair breakdowns."""

    shape: Score = Field(description="mean per-column score (1−KS, 1−TVD)")
    pairs: Score = Field(
        description="mean pair score over the pairs that are associated in the real table "
        "(|ρ| or Cramér's V ≥ 0.1); pairs of independent columns say nothing about dependence"
    )
    pairs_all: Score = Field(description="mean pair score over all pairs (the SDMetrics-style figure)")
    overall: Score = Field(description="mean of shape and pairs")
    correlation_difference: Score = Field(
        description="mean |ρ_real − ρ_syn| over numeric pairs (Spearman); 0 = same correlation matrix"
    )
    category_coverage: Score = Field(description="share of real categories present in the synthetic table")
    range_coverage: Score = Field(description="mean share of each real numeric range spanned by synthetic")
    columns: list[ColumnFidelity] = []
    pair_details: list[PairFidelity] = []
    not_computed: dict[str, str] = Field({}, description="column → why it was not compared")


class ModelUtility(StrictModel):
    """Train-synthetic-test-real against train-real-test-real for one model family."""

    model: str
    tstr: dict[str, float | None] = Field(
        description="metric → value, model trained on synthetic rows (classification: accuracy; precision, "
        "recall, F1 on the minority class, or macro over classes; roc_auc, one-vs-rest averaged over the "
        "classes with at least 5 test rows when there are more than two)"
    )
    trtr: dict[str, float | None] = Field(description="metric → value, model trained on real rows")
    ratio: float | None = Field(
        None,
        description="(TSTR − chance) / (TRTR − chance) of the main metric (ROC AUC − 0.5, or R²); negative = "
        "worse than chance",
    )


class Utility(StrictModel):
    """Does a model trained on synthetic rows work on real rows? (needs a target)"""

    target: str | None = None
    task: str | None = Field(None, description="classification or regression")
    test_set: str | None = Field(None, description="which real rows the models were tested on")
    train_rows: int | None = Field(
        None,
        description="synthetic rows each TSTR model was trained on (a random sample of at most 3,000); TRTR "
        "models get as many real rows (see real_train_rows)",
    )
    real_train_rows: int | None = Field(
        None,
        description="real rows each TRTR model was trained on (equal to train_rows unless either table "
        "is smaller)",
    )
    main_metric: str | None = None
    score: Score = Field(Score(), description="mean of the models' ratios, floored at 0")
    models: list[ModelUtility] = []


class Detection(StrictModel):
    """Can a classifier tell real rows from synthetic ones? 0.5 AUC = no."""

    auc: Score = Field(Score(goal="minimize"), description="2-fold CV ROC AUC of gradient boosting")
    score: Score = Field(Score(), description="1 − 2·max(AUC − 0.5, 0); 1 = indistinguishable")
    rows_per_side: int | None = None


class Privacy(StrictModel):
    """Does the synthetic table copy or hug real rows?"""

    exact_match_share: Score = Field(
        Score(goal="minimize"), description="share of synthetic rows identical to a real training row"
    )
    dcr_median: Score = Field(
        Score(goal="maximize"),
        description="median distance to the closest real training row (ceiling: holdout rows; without a "
        "holdout, real rows to their closest other real row)",
    )
    dcr_p05: Score = Field(Score(goal="maximize"), description="5th percentile of that distance")
    dcr_share: Score = Field(
        Score(goal="minimize"),
        description="share of synthetic rows closer to a training row than to a holdout row (≈0.5 = no "
        "memorization; needs a holdout)",
    )
    too_close_share: Score = Field(
        Score(goal="minimize"),
        description="share of synthetic rows closer to a real row than 95% of fresh real rows are (≈0.05 is "
        "what a fresh real sample gets)",
    )
    nndr_median: Score = Field(
        Score(goal="maximize"), description="median nearest / second-nearest real-neighbour distance ratio"
    )
    query_rows: int | None = Field(None, description="synthetic rows queried (a sample on large tables)")
    flagged: bool = Field(False, description="True when any check says the synthetic rows leak real ones")
    reasons: list[str] = []


class RuleConformance(StrictModel):
    """Share of synthetic rows passing each rule of the filter."""

    rules: dict[str, float] = Field({}, description="rule name → share of synthetic rows passing it")
    all_rules: Score = Field(Score(), description="share of synthetic rows passing every rule")


class TableInfo(StrictModel):
    name: str
    rows: int
    columns: int


class Metrics(StrictModel):
    """Everything `seedgen evaluate` measured for one synthetic table (written as metrics.json)."""

    version: int = METRICS_VERSION
    name: str = Field(description="the synthetic set's name")
    real: TableInfo
    synthetic: TableInfo
    holdout: TableInfo | None = None
    seed: int = 0
    warnings: list[str] = []
    fidelity: Fidelity
    utility: Utility
    detection: Detection
    privacy: Privacy
    conformance: RuleConformance
    timings: dict[str, float] = Field({}, description="seconds per family")

    def headline(self) -> dict[str, Score]:
        """The few scores a reader looks at first."""
        return {
            "shape": self.fidelity.shape,
            "pairs": self.fidelity.pairs,
            "overall fidelity": self.fidelity.overall,
            "detection": self.detection.score,
            "utility (TSTR/TRTR)": self.utility.score,
            "exact copies": self.privacy.exact_match_share,
            "DCR share": self.privacy.dcr_share,
        }


class Comparison(StrictModel):
    """metrics.json of `seedgen compare`: one Metrics per synthetic set, in the order given."""

    version: int = METRICS_VERSION
    names: list[str]
    sets: list[Metrics]
