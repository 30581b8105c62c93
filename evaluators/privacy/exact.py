"""Exact copies: the share of synthetic rows identical to a real training row.

Rows are compared on every shared column except id columns (a copied row with a renumbered key is still a
copy), after putting both sides in one canonical form (numbers rounded to the real precision, dates as
integers, strings as one shared label numbering). Each row becomes a 64-bit hash, so the check is one sorted lookup per row —
no cross-join.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from seedgen.evaluation.base import Goal, Metric
from seedgen.evaluation.prepare import Columns


def _label_ids(real: Columns, other: Columns, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Both sides' codes of one discrete or text column over one shared label numbering (-1 = missing)."""
    (rc, rl), (oc, ol) = real.factorized(name), other.factorized(name)
    ids = {lab: i for i, lab in enumerate(rl)}
    o_map = np.array([ids.setdefault(lab, len(ids)) for lab in ol] + [-1], dtype=np.int64)
    r_map = np.append(np.arange(len(rl), dtype=np.int64), -1)
    return r_map[rc], o_map[oc]  # code -1 picks the trailing -1


def row_hashes(real: Columns, other: Columns, specs) -> tuple[np.ndarray, np.ndarray]:
    """One 64-bit hash per row of each table, over the canonical values of the given columns."""
    canon_r, canon_o = {}, {}
    for spec in specs:
        if spec.kind in ("numeric", "integer"):
            decimals = 0 if spec.kind == "integer" else (spec.decimals if spec.decimals is not None else 6)
            canon_r[spec.name] = np.round(real.num(spec.name), decimals)
            canon_o[spec.name] = np.round(other.num(spec.name), decimals)
        elif spec.kind == "datetime":
            canon_r[spec.name], canon_o[spec.name] = real.num(spec.name), other.num(spec.name)
        else:
            canon_r[spec.name], canon_o[spec.name] = _label_ids(real, other, spec.name)
    return tuple(
        pd.util.hash_pandas_object(pd.DataFrame(c, index=range(n)), index=False).to_numpy()
        for c, n in ((canon_r, len(real)), (canon_o, len(other)))
    )


class ExactMatchShare(Metric):
    """Share of synthetic rows that are exact copies of a real training row."""

    name = "privacy.exact_match_share"
    description = "share of synthetic rows identical to a real training row (0 is best)"
    goal = Goal.MINIMIZE
    level = "table"

    @classmethod
    def compute_breakdown(cls, real, synthetic, **context):
        """real/synthetic: typed frames or `Columns` views; context: specs (the shared, non-id columns)."""
        specs = context["specs"]
        if not specs or len(synthetic) == 0:
            return {"score": None}
        real, synthetic = (x if isinstance(x, Columns) else Columns(x) for x in (real, synthetic))
        real_h, syn_h = row_hashes(real, synthetic, specs)
        hits = np.isin(syn_h, real_h)
        return {"score": float(hits.mean()), "copies": int(hits.sum())}
