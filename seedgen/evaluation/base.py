"""The metric interface every evaluator implements (after SDMetrics' breakdown-first design).

A metric is a class with a declared `goal` and bounds, and one method, `compute_breakdown`, returning a
dict that always holds `score` plus the parts a reader needs to trust it (p-values, the two means, ...).
`compute` is `compute_breakdown()["score"]`, so the number in a table and the number in its breakdown can
never disagree. `normalize` maps a raw score to [0, 1] with 1 = best, using the goal and bounds, so a report
can colour any metric the same way. Metrics are registered by name in an explicit dict
(`seedgen.evaluation.registry.METRICS`), never discovered through `__subclasses__`.
"""

from __future__ import annotations

import math
from enum import StrEnum
from typing import Any, ClassVar


class Goal(StrEnum):
    """Which direction is better for a metric's score."""

    MAXIMIZE = "maximize"
    MINIMIZE = "minimize"
    IGNORE = "ignore"  # informative only (a p-value, a mean)


class Metric:
    """Base of every metric: subclasses set the class attributes and implement `compute_breakdown`."""

    #: dotted registry name, e.g. "fidelity.ks_complement"
    name: ClassVar[str] = ""
    #: what the score means, in one line (shown in the report and docs)
    description: ClassVar[str] = ""
    goal: ClassVar[Goal] = Goal.MAXIMIZE
    min_value: ClassVar[float] = 0.0
    max_value: ClassVar[float] = 1.0
    #: "column", "pair" or "table"
    level: ClassVar[str] = "table"

    @classmethod
    def compute_breakdown(cls, real: Any, synthetic: Any, **context: Any) -> dict[str, Any]:
        raise NotImplementedError

    @classmethod
    def compute(cls, real: Any, synthetic: Any, **context: Any) -> float:
        return cls.compute_breakdown(real, synthetic, **context)["score"]

    @classmethod
    def normalize(cls, raw: float | None) -> float | None:
        """Map a raw score into [0, 1], 1 = best; None (not computed) stays None."""
        if raw is None or (isinstance(raw, float) and math.isnan(raw)):
            return None
        lo, hi = cls.min_value, cls.max_value
        if cls.goal is Goal.IGNORE:
            return None
        if math.isinf(hi):
            # unbounded above: squash so that 0 → 1 for minimize, large → 1 for maximize
            value = 1.0 / (1.0 + max(raw - lo, 0.0))
            return value if cls.goal is Goal.MINIMIZE else 1.0 - value
        value = (min(max(raw, lo), hi) - lo) / (hi - lo)
        return value if cls.goal is Goal.MAXIMIZE else 1.0 - value
