"""Turning rejection reasons into short "avoid: ..." lines that later synthesis prompts carry.

The lines name columns and rules, never values written by the generator, so they can't smuggle text from
one batch's output into the next batch's instructions.
"""

from __future__ import annotations

import pandas as pd

from seedgen.filtering.engine import RuleReport

#: reasons behind fewer rows than this share are noise, not a pattern to steer away from
MIN_SHARE = 0.01


def feedback_lines(
    report: RuleReport,
    *,
    judge_rejected: int = 0,
    threshold: float | None = None,
    top: int = 5,
    min_share: float = MIN_SHARE,
) -> list[str]:
    """The most common reasons rows were rejected or had to be repaired, as "avoid: ..." strings."""
    n = max(report.n, 1)
    counts: dict[str, int] = dict(_reason_rows(report.failures))
    # Repairs are mistakes too: the generator should stop making them even though the filter copes.
    for reason, rows in _reason_rows(report.repairs).items():
        key = f"{reason} (repaired)"
        counts[key] = counts.get(key, 0) + rows
    # Advisory rules: only when the batch breaks them clearly more often than the real data does.
    for _, row in report.stats.iterrows():
        if row["status"] != "advisory" or pd.isna(row["reference_support"]) or row["checked"] == 0:
            continue
        real_fail, fail = 1 - row["reference_support"], row["failed"] / row["checked"]
        if fail > 2 * real_fail + 0.05:
            key = f"{row['reason']} (real data: {real_fail:.0%})"
            counts[key] = int(row["failed"])
    if judge_rejected:
        what = (
            f"scored below {threshold:g} by the judge" if threshold is not None else "rejected by the judge"
        )
        counts[f"implausible rows ({what})"] = judge_rejected
    ranked = sorted(counts.items(), key=lambda kv: -kv[1])
    return [
        f"avoid: {reason} ({rows / n:.0%} of rows)" for reason, rows in ranked[:top] if rows / n >= min_share
    ]


def _reason_rows(failures: pd.DataFrame | None) -> dict[str, int]:
    if failures is None or failures.empty:
        return {}
    f = failures[failures["enforced"].astype(bool)]
    rows = f.drop_duplicates(["index", "reason"])
    return {str(k): int(v) for k, v in rows.groupby("reason").size().items()}
