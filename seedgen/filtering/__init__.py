"""The filter: a vectorised rule engine that repairs or rejects rows, plug-in rule packs, and feedback.

Write a rule as a plain function over the canonical typed frame returning a boolean Series (True = the row
passes), decorate it with `@rule(name, code=...)`, and load it with `--rules path.py` or an entry point
in the `seedgen.rules` group. See docs/filter.md.
"""

from __future__ import annotations

from seedgen.filtering.context import DEFAULT_MIN_SUPPORT, RuleContext
from seedgen.filtering.engine import RuleReport
from seedgen.filtering.registry import Check, Rule, RuleSet, rule

__all__ = [
    "DEFAULT_MIN_SUPPORT",
    "Check",
    "FilterResult",
    "Rule",
    "RuleContext",
    "RuleReport",
    "RuleSet",
    "check_rows",
    "domain_rules",
    "filter_rows",
    "rule",
]


def __getattr__(name: str):
    # The API module imports io/schema/seeds; load it on first use so `from seedgen.filtering import rule`
    # in a rule pack stays light.
    if name in ("check_rows", "filter_rows", "domain_rules", "FilterResult", "rule_set"):
        from seedgen.filtering import api

        return getattr(api, name)
    raise AttributeError(name)
