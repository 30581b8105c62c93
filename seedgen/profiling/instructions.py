"""Seed instructions: each cluster's profile in words, rendered through `prompts/seed_instruction.j2`.

As in the SDS Lending Club workflow, one instruction describes one cluster, and instructions are repeated
by the sampling factor so that clusters are asked for in proportion to their weight: cluster k gets
`max(1, round(F · K · weight_k))` copies (F = --sampling-factor, K clusters), so F = 1 gives about one
instruction per cluster and F = 20 twenty.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from seedgen.schema import ColumnSpec
from seedgen.seeds import QUANTILE_LEVELS, ClusterProfile, Instruction
from seedgen.templating import quote, render_template

TEMPLATE = "seed_instruction.j2"
MAX_LEVELS_SHOWN = 15
MAX_CORRELATIONS = 8
MIN_CORRELATION = 0.3
MAX_RULES_SHOWN = 25
MAX_MAPPING_SHOWN = 40
#: the order rules are stated in (and kept in, when there are more than MAX_RULES_SHOWN): the ones that
#: fix a value exactly first, the looser bounds last
_PRIORITY = {
    "functional_dependency": 0,
    "linear": 1,
    "product": 2,
    "domain": 3,
    "category_band": 4,
    "null_pattern": 5,
    "conditional_range": 6,
    "inequality": 7,
}


def copies(weights: list[float], sampling_factor: float) -> list[int]:
    """How many times each cluster's instruction is repeated."""
    k = len(weights)
    return [max(1, int(round(sampling_factor * k * w))) for w in weights]


def datetime_ranges(data: pd.DataFrame, columns: list[ColumnSpec], labels: np.ndarray) -> dict[int, dict]:
    """Per cluster and datetime column: (min, max) written in the column's format."""
    out: dict[int, dict] = {}
    dates = [c for c in columns if c.kind == "datetime" and c.name in data]
    if not dates:
        return out
    frame = pd.DataFrame({c.name: data[c.name] for c in dates})
    frame["_k"] = labels
    g = frame.groupby("_k")
    lo, hi = g.min(), g.max()
    for k in lo.index:
        out[int(k)] = {}
        for c in dates:
            a, b = lo.at[k, c.name], hi.at[k, c.name]
            if pd.notna(a):
                fmt = c.date_format or "%Y-%m-%d"
                out[int(k)][c.name] = (a.strftime(fmt), b.strftime(fmt))
    return out


def describe_rule(rule) -> str:
    """One line for a prompt; data values quoted."""
    text = rule.description or rule.kind
    # The evidence in parentheses ("a shuffle would hold in 54 % of rows") is for people, not prompts.
    if text.endswith(")") and " (" in text:
        text = text[: text.rindex(" (")]
    if rule.kind == "functional_dependency":
        items = list(rule.mapping.items())
        shown = ", ".join(f"{quote(a)}→{quote(b)}" for a, b in items[:MAX_MAPPING_SHOWN])
        more = f", … ({len(items) - MAX_MAPPING_SHOWN} more)" if len(items) > MAX_MAPPING_SHOWN else ""
        text += f": {shown}{more}"
    elif rule.kind == "category_band":
        items = sorted(rule.bands.items())
        shown = ", ".join(f"{quote(a)}: {lo:g} to {hi:g}" for a, (lo, hi) in items[:MAX_MAPPING_SHOWN])
        more = f", … ({len(items) - MAX_MAPPING_SHOWN} more)" if len(items) > MAX_MAPPING_SHOWN else ""
        text += f": {shown}{more}"
    return text


def instruction_context(
    table: str,
    columns: list[ColumnSpec],
    profile: ClusterProfile,
    n_clusters: int,
    rules: list,
    dates: dict | None = None,
) -> dict:
    """The variables of the seed instruction template for one cluster."""
    qi = {lv: i for i, lv in enumerate(QUANTILE_LEVELS)}
    numeric, categorical, datetime, text = [], [], [], []
    for c in columns:
        null_rate = profile.null_rates.get(c.name, c.null_rate)
        if c.kind in ("numeric", "integer") and c.name in profile.numeric:
            st = profile.numeric[c.name]
            qs = st.quantiles
            numeric.append(
                dict(
                    name=c.name,
                    kind=c.kind,
                    decimals=c.decimals or 0,
                    mean=st.mean,
                    std=st.std,
                    min=st.min,
                    max=st.max,
                    skew=st.skew,
                    null_rate=null_rate,
                    q05=qs[qi[0.05]] if qs else st.min,
                    q50=qs[qi[0.5]] if qs else st.mean,
                    q95=qs[qi[0.95]] if qs else st.max,
                )
            )
        elif c.kind in ("categorical", "boolean") and c.name in profile.categorical:
            freqs = sorted(profile.categorical[c.name].items(), key=lambda kv: -kv[1])
            shown = freqs[:MAX_LEVELS_SHOWN]
            categorical.append(
                dict(
                    name=c.name,
                    null_rate=null_rate,
                    levels=[dict(value=v, frequency=f) for v, f in shown],
                    more=len(freqs) - len(shown),
                    more_share=sum(f for _, f in freqs[MAX_LEVELS_SHOWN:]),
                )
            )
        elif c.kind == "datetime" and dates and c.name in dates:
            lo, hi = dates[c.name]
            datetime.append(
                dict(name=c.name, format=c.date_format or "%Y-%m-%d", min=lo, max=hi, null_rate=null_rate)
            )
        elif c.kind == "text":
            text.append(dict(name=c.name, mean_length=c.mean_length or 0.0, null_rate=null_rate))
    correlations = []
    if profile.correlation is not None:
        names, mat = profile.correlation.columns, np.array(profile.correlation.matrix)
        iu = np.triu_indices(len(names), 1)
        vals = mat[iu]
        for idx in np.argsort(-np.abs(vals))[:MAX_CORRELATIONS]:
            if abs(vals[idx]) >= MIN_CORRELATION:
                correlations.append(dict(a=names[iu[0][idx]], b=names[iu[1][idx]], r=float(vals[idx])))
    return dict(
        table=table,
        cluster=dict(id=profile.id, size=profile.size, weight=profile.weight, n_clusters=n_clusters),
        numeric=numeric,
        categorical=categorical,
        datetime=datetime,
        text=text,
        correlations=correlations,
        rules=[
            describe_rule(r) for r in sorted(rules, key=lambda r: _PRIORITY.get(r.kind, 9))[:MAX_RULES_SHOWN]
        ],
    )


def render_instructions(
    table: str,
    columns: list[ColumnSpec],
    profiles: list[ClusterProfile],
    rules: list,
    sampling_factor: float,
    dates: dict[int, dict] | None = None,
    prompts_dir=None,
) -> list[Instruction]:
    """Every cluster's instruction, repeated by the sampling factor."""
    out = []
    reps = copies([p.weight for p in profiles], sampling_factor)
    for prof, rep in zip(profiles, reps, strict=True):
        if prof.size == 0:
            continue
        ctx = instruction_context(table, columns, prof, len(profiles), rules, (dates or {}).get(prof.id))
        text = render_template(TEMPLATE, ctx, prompts_dir)
        out += [Instruction(cluster=prof.id, text=text) for _ in range(rep)]
    return out
