"""Rules and rule sets: the `@rule` decorator, and the set of rules one filter run uses.

A rule is a plain function over the canonical typed frame (`seedgen.schema.coerce`) that returns a boolean
Series, True where a row passes (or a boolean DataFrame / list of `Check` for rules that look at several
columns separately). It is registered with a dotted name, a stable code (``LN01``), groups, the columns it
needs, a short reason, and optionally a fix. Explicit decorator arguments, not class-name magic: what you
read is what is registered.

`@rule` does not register into a global table. It turns the function into a `Rule` object; a `RuleSet`
collects the `Rule` objects of a module (a rule pack, a user's `my_rules.py`, the built-ins) when that module
is loaded. Loading the same module twice is harmless, while two different rules claiming one code fail.
"""

from __future__ import annotations

import inspect
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Literal

import pandas as pd

from seedgen.errors import RuleError

log = logging.getLogger("seedgen")

NAME_RE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
CODE_RE = re.compile(r"^[A-Z]{2}\d{2}$")
DOC_SECTIONS = ("**Anti-pattern**", "**Best practice**")


@dataclass
class Check:
    """One sub-check of a rule: a pass mask for one column (or column group) with its own reason."""

    mask: pd.Series
    column: str | None = None
    reason: str | None = None


@dataclass(eq=False)
class Rule:
    """A registered rule: the function plus what the engine and the docs need to know about it.

    `reference` says how the real data governs the rule: "optional" rules are enforced unless the real
    data shows they don't hold (support below `min_support`); "required" rules (soft regularities such as
    "a homeowner with a mortgage has a mortgage account") are only enforced where a reference measured on
    the real data says they hold, and are otherwise reported, not enforced.
    """

    name: str
    code: str
    func: Callable
    groups: tuple[str, ...] = ()
    columns: tuple[str, ...] = ()
    reason: str = ""
    fix: Callable | None = None
    config: dict[str, Any] = field(default_factory=dict)
    reference: Literal["optional", "required"] = "optional"
    source: str = ""
    _takes_ctx: bool = True

    def __post_init__(self) -> None:
        where = self.source or getattr(self.func, "__qualname__", "?")
        if not NAME_RE.match(self.name):
            raise RuleError(
                f"rule {self.name!r} ({where}): name must be dotted lower-case like 'pack.rule_name'"
            )
        if not CODE_RE.match(self.code):
            raise RuleError(f"rule {self.name!r} ({where}): code {self.code!r} must look like 'LN01'")
        if not (self.func.__doc__ or "").strip():
            raise RuleError(
                f"rule {self.name!r} ({where}) has no docstring",
                fix="say what it checks, why, an **Anti-pattern** example and the **Best practice** fix",
            )
        params = [
            p
            for p in inspect.signature(self.func).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
        self._takes_ctx = len(params) >= 2
        if not self.reason:
            self.reason = self.summary

    @property
    def summary(self) -> str:
        """The first line of the docstring."""
        return (self.func.__doc__ or "").strip().splitlines()[0].strip().rstrip(".")

    @property
    def doc(self) -> str:
        return inspect.cleandoc(self.func.__doc__ or "")

    @property
    def fixable(self) -> bool:
        return self.fix is not None

    def __call__(self, df: pd.DataFrame, ctx=None):
        if not self._takes_ctx:
            return self.func(df)
        if ctx is None:
            from seedgen.filtering.context import RuleContext

            ctx = RuleContext()
        return self.func(df, ctx)

    def __repr__(self) -> str:
        return f"Rule({self.code} {self.name})"


def rule(
    name: str,
    *,
    code: str,
    groups: Iterable[str] = (),
    columns: Iterable[str] = (),
    reason: str = "",
    fix: Callable | None = None,
    config: dict[str, Any] | None = None,
    reference: Literal["optional", "required"] = "optional",
) -> Callable[[Callable], Rule]:
    """Register `fn(df[, ctx]) -> bool Series` as a rule named `name` with stable `code`.

    `columns` are the columns the rule needs (it is skipped, with a log line, when one is missing);
    `reason` is the short text put into `_reasons` (defaults to the docstring's first line); `fix` is
    `fix(df, ctx, failed) -> dict | DataFrame` of repaired columns (only failing rows are written back).
    """

    def wrap(fn: Callable) -> Rule:
        try:
            src = f"{inspect.getsourcefile(fn)}:{inspect.getsourcelines(fn)[1]}"
        except (OSError, TypeError):
            src = getattr(fn, "__qualname__", "?")
        return Rule(
            name=name,
            code=code,
            func=fn,
            groups=tuple(groups),
            columns=tuple(columns),
            reason=reason,
            fix=fix,
            config=dict(config or {}),
            reference=reference,
            source=src,
        )

    return wrap


class RuleSet:
    """The rules of one run, in registration order; codes and names are unique."""

    def __init__(self, rules: Iterable[Rule] = ()) -> None:
        self._rules: dict[str, Rule] = {}
        self._names: dict[str, str] = {}
        for r in rules:
            self.add(r)

    def add(self, r: Rule) -> None:
        old = self._rules.get(r.code)
        if old is r:
            return
        if old is not None:
            raise RuleError(
                f"duplicate rule code {r.code}: {r.name} ({r.source}) and {old.name} ({old.source})",
                fix="give each rule its own code",
            )
        if r.name in self._names:
            other = self._rules[self._names[r.name]]
            raise RuleError(
                f"duplicate rule name {r.name}: {r.code} ({r.source}) and {other.code} ({other.source})"
            )
        self._rules[r.code] = r
        self._names[r.name] = r.code

    def add_module(self, module: ModuleType) -> list[Rule]:
        """Add every `Rule` the module defines or re-exports (in code order); return them."""
        found = sorted(
            {id(v): v for v in vars(module).values() if isinstance(v, Rule)}.values(), key=lambda r: r.code
        )
        for r in found:
            self.add(r)
        return found

    def __iter__(self):
        return iter(self._rules.values())

    def __len__(self) -> int:
        return len(self._rules)

    def __contains__(self, key: str) -> bool:
        return self.get(key) is not None

    def get(self, key: str) -> Rule | None:
        """A rule by code or dotted name."""
        if key in self._rules:
            return self._rules[key]
        code = self._names.get(key)
        return self._rules[code] if code else None

    def select(self, keys: Iterable[str]) -> RuleSet:
        """The rules matching any of `keys` (code, name or group); an unknown key is an error."""
        keys = list(keys)
        out = RuleSet()
        for key in keys:
            hits = [r for r in self if key in (r.code, r.name) or key in r.groups]
            if not hits:
                raise RuleError(
                    f"unknown rule {key!r}",
                    fix="use a rule code (LN01), dotted name or group; see docs/filter.md",
                )
            for r in hits:
                out.add(r)
        return out


def docstring_problems(r: Rule) -> list[str]:
    """What the rule's docstring lacks against the house template (summary, Anti-pattern, Best practice)."""
    doc = r.doc
    problems = []
    if not doc:
        return ["no docstring"]
    positions = []
    for section in DOC_SECTIONS:
        pos = doc.find(section)
        if pos < 0:
            problems.append(f"missing {section} section")
        positions.append(pos)
    if all(p >= 0 for p in positions) and positions != sorted(positions):
        problems.append("sections out of order (summary, Anti-pattern, Best practice)")
    if positions[0] >= 0 and not doc[: positions[0]].strip():
        problems.append("no summary before the sections")
    return problems
