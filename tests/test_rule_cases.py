"""Every rule's data-driven cases (tests/rules/cases/*), run by the shipped runner `seedgen.testing`."""

from __future__ import annotations

from pathlib import Path

import pytest

from seedgen.filtering.plugins import builtin_rules, load_pack
from seedgen.testing import check_docstring, collect_cases, run_case

CASES = collect_cases(Path(__file__).parent / "rules" / "cases")
SHIPPED = [*builtin_rules(), *load_pack("lending")]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_rule_case(case):
    run_case(case)


def test_every_shipped_rule_has_pass_and_fail_cases():
    covered_pass = {c.rule for c in CASES if c.pass_rows}
    covered_fail = {c.rule for c in CASES if c.fail_rows}
    for r in SHIPPED:
        assert {r.code, r.name} & covered_pass, f"{r.code} {r.name} has no pass case"
        assert {r.code, r.name} & covered_fail, f"{r.code} {r.name} has no fail case"
        if r.fixable:
            fixed = {c.rule for c in CASES if c.fixed_rows}
            assert {r.code, r.name} & fixed, f"{r.code} {r.name} is fixable but has no fixed_rows case"


@pytest.mark.parametrize("r", SHIPPED, ids=[r.code for r in SHIPPED])
def test_rule_docstring_follows_template(r):
    assert check_docstring(r) == []
