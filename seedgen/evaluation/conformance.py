"""Rule conformance: the share of synthetic rows passing each rule of the filter engine.

The rules themselves live in the filter (`seedgen.filtering.check_rows`); evaluation only asks it to check
(never fix) the synthetic rows and reads back the per-rule pass rates. When the filter engine is not
available the metric is marked "not computed, because ..." and the rest of the report is unaffected.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from seedgen.errors import UserInputError
from seedgen.evaluation.metrics import RuleConformance, Score

log = logging.getLogger("seedgen")


def _rates(report, n: int) -> tuple[dict[str, float], float | None]:
    """Per-rule pass rates and the all-rules pass rate from a RuleReport."""
    rates = None
    for attr in ("pass_rates", "rule_pass_rates", "per_rule"):
        value = getattr(report, attr, None)
        if isinstance(value, dict):
            rates = {str(k): float(v) for k, v in value.items()}
            break
        if isinstance(value, pd.Series):
            rates = {str(k): float(v) for k, v in value.items()}
            break
    overall = None
    for attr in ("passed", "mask", "ok", "pass_mask"):
        value = getattr(report, attr, None)
        if value is not None and len(value) == n:
            overall = float(np.asarray(value, dtype=bool).mean()) if n else None
            break
    return rates or {}, overall


def rule_conformance(synthetic: pd.DataFrame, columns, rules, real: pd.DataFrame) -> RuleConformance:
    if not rules:
        return RuleConformance(all_rules=Score(not_computed="no rules given (use --rules NAME_OR_PATH)"))
    try:
        from seedgen.filtering import check_rows
    except ImportError as e:
        why = f"the filter engine is not available ({e})"
        log.warning("rule conformance not computed: %s", why)
        return RuleConformance(all_rules=Score(not_computed=why))
    try:
        from seedgen.seeds import SeedFile

        # evaluation has no seeds.json: the real table's inferred columns stand in for it (as the filter's
        # own domain_rules does), so built-in format/range/category rules and the given packs run
        seeds = SeedFile.model_construct(columns=list(columns), rules=[])
        report = check_rows(synthetic, seeds, rules=list(rules), fix=False, reference=real)
    except UserInputError:
        raise  # an unknown rule pack or a broken rule file is the user's to fix: exit 2
    except Exception as e:  # the report must still render when one rule crashes
        why = f"checking the rules failed ({type(e).__name__}: {e})"
        log.warning("rule conformance not computed: %s", why)
        return RuleConformance(all_rules=Score(not_computed=why))
    rates, overall = _rates(report, len(synthetic))
    return RuleConformance(rules=rates, all_rules=Score(value=overall))
