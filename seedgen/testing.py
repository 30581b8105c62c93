"""Data-driven tests for rules: the runner seedgen's own tests use, shipped for rule-pack authors.

A case file (YAML, JSON or TOML) describes the columns the rules see and named cases: rows that pass,
rows that fail (and the reasons they must give), and, for fixable rules, what the fix makes of them::

    pack: my_rules.py            # optional: pack name or .py path holding the rules under test
    columns:                     # the schema the rules see (ColumnSpec fields; categories as a list)
      subtotal: {kind: numeric, decimals: 2}
      tax: {kind: numeric, decimals: 2}
      total: {kind: numeric, decimals: 2}
      channel: {kind: categorical, categories: [web, store]}
    constraints: []              # optional: discovered constraints, as in seeds.json `rules`
    cases:
      - name: total_recomputed
        rule: ML01               # code or dotted name
        fail_rows: [{subtotal: 100.0, tax: 20.0, total: 150.0, channel: web}]
        fixed_rows: [{total: 120.0}]
        reasons: [total]         # substrings every failing row's reasons contain

Other case keys: ``pass_rows``, ``config`` (rule options), ``reference_rows`` (real rows the rule is
measured on), ``real_rows`` (real rows for the privacy rule), ``min_support``, ``as_written: true`` (rows
are the strings a CSV holds, for format rules). Use it from pytest::

    from seedgen.testing import collect_cases, run_case
    CASES = collect_cases("tests/rules/cases")

    @pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
    def test_rule(case):
        run_case(case)
"""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from seedgen.errors import ConfigError, MissingDependencyError
from seedgen.filtering.registry import Rule, docstring_problems
from seedgen.schema import CategoryFreq, ColumnSpec, coerce
from seedgen.seeds import ProfileSettings, SeedFile, SourceInfo

CASE_SUFFIXES = (".yml", ".yaml", ".json", ".toml")
_CASE_KEYS = {
    "name",
    "rule",
    "pass_rows",
    "fail_rows",
    "fixed_rows",
    "reasons",
    "config",
    "reference_rows",
    "real_rows",
    "min_support",
    "as_written",
    "description",
}


@dataclass
class RuleCase:
    """One named case of a case file."""

    id: str
    file: str
    rule: str
    seeds: SeedFile
    pack: str | None = None
    pass_rows: list[dict] = field(default_factory=list)
    fail_rows: list[dict] = field(default_factory=list)
    fixed_rows: list[dict] | None = None
    reasons: list[str] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    reference_rows: list[dict] | None = None
    real_rows: list[dict] | None = None
    min_support: float | None = None
    as_written: bool = False


def _load(path: Path) -> dict:
    text = path.read_text(encoding="utf-8")
    if path.suffix in (".yml", ".yaml"):
        try:
            import yaml
        except ImportError as e:
            raise MissingDependencyError(
                f"{path}: reading YAML case files needs PyYAML",
                fix='pip install "seedgen[test]" or use JSON/TOML',
            ) from e
        data = yaml.safe_load(text)
    elif path.suffix == ".toml":
        data = tomllib.loads(text)
    else:
        data = json.loads(text)
    if not isinstance(data, dict) or "cases" not in data:
        raise ConfigError(f"{path}: a rule case file is a mapping with a 'cases' list")
    return data


def _column(name: str, spec: dict) -> ColumnSpec:
    spec = dict(spec or {})
    cats = spec.pop("categories", None)
    if cats is not None:
        values = [
            c if isinstance(c, dict) else {"value": str(c), "frequency": 1.0 / max(len(cats), 1)}
            for c in cats
        ]
        spec["categories"] = [CategoryFreq(**v) for v in values]
    spec.setdefault("kind", "numeric")
    return ColumnSpec(name=name, **spec)


def _seeds(data: dict, path: Path) -> SeedFile:
    columns = [_column(n, s) for n, s in (data.get("columns") or {}).items()]
    try:
        return SeedFile.model_validate(
            {
                "source": SourceInfo(file=path.name, rows=0, columns=len(columns)).model_dump(),
                "settings": ProfileSettings().model_dump(),
                "columns": [c.model_dump() for c in columns],
                "clusters": [],
                "rules": data.get("constraints") or [],
            }
        )
    except Exception as e:
        raise ConfigError(f"{path}: bad columns/constraints: {e}") from e


def load_cases(path: str | os.PathLike) -> list[RuleCase]:
    """The cases of one file, with ids `<file stem>:<case name>`."""
    path = Path(path)
    data = _load(path)
    seeds = _seeds(data, path)
    pack = data.get("pack")
    if pack and str(pack).endswith(".py") and not os.path.isabs(pack):
        pack = str((path.parent / pack).resolve())
    out = []
    for i, raw in enumerate(data["cases"]):
        unknown = set(raw) - _CASE_KEYS
        if unknown:
            raise ConfigError(f"{path}: case {i}: unknown key(s) {sorted(unknown)}")
        name = raw.get("name") or f"case{i}"
        if "rule" not in raw:
            raise ConfigError(f"{path}: case {name!r} names no rule")
        if not (raw.get("pass_rows") or raw.get("fail_rows")):
            raise ConfigError(f"{path}: case {name!r} has neither pass_rows nor fail_rows")
        out.append(
            RuleCase(
                id=f"{path.stem}:{name}",
                file=str(path),
                rule=str(raw["rule"]),
                seeds=seeds,
                pack=pack,
                pass_rows=list(raw.get("pass_rows") or []),
                fail_rows=list(raw.get("fail_rows") or []),
                fixed_rows=raw.get("fixed_rows"),
                reasons=list(raw.get("reasons") or []),
                config=dict(raw.get("config") or {}),
                reference_rows=raw.get("reference_rows"),
                real_rows=raw.get("real_rows"),
                min_support=raw.get("min_support"),
                as_written=bool(raw.get("as_written", False)),
            )
        )
    return out


def collect_cases(*paths: str | os.PathLike) -> list[RuleCase]:
    """All cases of the given files and folders (folders: every case file inside, sorted)."""
    files: list[Path] = []
    for p in paths:
        p = Path(p)
        files += sorted(f for f in p.iterdir() if f.suffix in CASE_SUFFIXES) if p.is_dir() else [p]
    return [c for f in files for c in load_cases(f)]


def _frame(rows: list[dict], case: RuleCase) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    df = pd.DataFrame(rows)
    specs = [c for c in case.seeds.columns if c.name in df.columns]
    if case.as_written:
        raw = df.astype(object).where(df.notna(), None)
        raw = raw.map(lambda v: None if v is None else str(v))
        return coerce(raw, specs), raw
    return coerce(df, specs), None


def _check(case: RuleCase, rows: list[dict], *, fix: bool):
    from seedgen.filtering.api import check_rows

    typed, raw = _frame(rows, case)
    extra = {}
    if case.reference_rows is not None:
        extra["reference"] = coerce(pd.DataFrame(case.reference_rows), case.seeds.columns)
    if case.real_rows is not None:
        extra["real"] = coerce(pd.DataFrame(case.real_rows), case.seeds.columns)
    report = check_rows(
        typed,
        case.seeds,
        rules=[case.pack] if case.pack else (),
        fix=fix,
        min_support=case.min_support,
        config={case.rule: case.config},
        select=[case.rule],
        raw=raw,
        **extra,
    )
    status = report.stats.set_index("code")["status"]
    if (status == "skipped").any():
        skipped = report.stats[report.stats["status"] == "skipped"]
        raise AssertionError(f"{case.id}: rule skipped: {'; '.join(skipped['note'])}")
    return report


def run_case(case: RuleCase) -> None:
    """Assert the case: pass rows pass (with and without fixes), fail rows fail with the reasons given,
    fixed rows are what the fix makes of the fail rows (and then pass); without fixed rows, fail rows stay
    rejected with fixes on."""
    if case.pass_rows:
        for fix in (False, True):
            report = _check(case, case.pass_rows, fix=fix)
            bad = report.reasons[~report.passed]
            assert report.passed.all(), f"{case.id}: pass rows rejected (fix={fix}): {bad.to_dict()}"
    if not case.fail_rows:
        return
    report = _check(case, case.fail_rows, fix=False)
    assert not report.passed.any(), (
        f"{case.id}: fail rows accepted: {np.flatnonzero(report.passed.to_numpy()).tolist()}"
    )
    for i, text in enumerate(report.reasons):
        for want in case.reasons:
            assert want in text, f"{case.id}: row {i} reasons {text!r} lack {want!r}"
    fixed = _check(case, case.fail_rows, fix=True)
    if case.fixed_rows is None:
        assert not fixed.passed.any(), (
            f"{case.id}: fail rows became acceptable with fixes on (add fixed_rows)"
        )
        return
    assert fixed.passed.all(), (
        f"{case.id}: fixed rows still rejected: {fixed.reasons[~fixed.passed].to_dict()}"
    )
    assert len(case.fixed_rows) == len(case.fail_rows), f"{case.id}: one fixed row per fail row"
    for i, want in enumerate(case.fixed_rows):
        for col, value in want.items():
            got = fixed.frame[col].iloc[i]
            assert _same(got, value), f"{case.id}: row {i} {col}: fixed to {got!r}, expected {value!r}"


def _same(got, want) -> bool:
    if want is None:
        return got is None or (isinstance(got, float) and np.isnan(got))
    if isinstance(got, pd.Timestamp):
        return got == pd.Timestamp(want)
    if isinstance(want, (int, float)) and not isinstance(want, bool):
        try:
            return bool(np.isclose(float(got), float(want), rtol=1e-9, atol=1e-9))
        except (TypeError, ValueError):
            return False
    return str(got) == str(want)


def check_docstring(r: Rule) -> list[str]:
    """What a rule's docstring lacks (summary, **Anti-pattern**, **Best practice**); empty when complete."""
    return docstring_problems(r)
