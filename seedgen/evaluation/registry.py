"""Every metric seedgen computes, by registry name — an explicit table, not `__subclasses__` discovery.

The report and docs list metrics from here; a test checks that each declares its goal and bounds and that
`compute` equals `compute_breakdown()["score"]`.
"""

from __future__ import annotations

from seedgen.evaluation.base import Metric
from seedgen.evaluators.detection.classifier import DetectionAUC
from seedgen.evaluators.fidelity.columns import (
    CategoryCoverage,
    ChiSquaredTest,
    JensenShannonDistance,
    KSComplement,
    KSTest,
    RangeCoverage,
    StatisticSimilarity,
    TVComplement,
    WassersteinDistance,
)
from seedgen.evaluators.fidelity.pairs import (
    ContingencySimilarity,
    CorrelationMatrixDifference,
    CorrelationSimilarity,
)
from seedgen.evaluators.privacy.distance import DCRShare, DistanceToClosestRecord
from seedgen.evaluators.privacy.exact import ExactMatchShare
from seedgen.evaluators.utility.tstr import TSTRUtility

METRICS: dict[str, type[Metric]] = {
    m.name: m
    for m in (
        KSComplement,
        TVComplement,
        WassersteinDistance,
        JensenShannonDistance,
        KSTest,
        ChiSquaredTest,
        CategoryCoverage,
        RangeCoverage,
        StatisticSimilarity,
        CorrelationSimilarity,
        ContingencySimilarity,
        CorrelationMatrixDifference,
        TSTRUtility,
        DetectionAUC,
        ExactMatchShare,
        DistanceToClosestRecord,
        DCRShare,
    )
}


def get_metric(name: str) -> type[Metric]:
    from seedgen.errors import UserInputError

    try:
        return METRICS[name]
    except KeyError:
        raise UserInputError(
            f"unknown metric {name!r}", fix=f"use one of: {', '.join(sorted(METRICS))}"
        ) from None
