"""Validating every value an LLM wrote against the column's spec before the row is kept.

A row is kept only if every value is the right type, inside the real range, one of the real categories
(a case or whitespace slip is repaired to the real spelling), a date in the column's format, and not null
where the real column never was. Numbers are rounded to the column's decimals. Invalid rows are counted by
the caller and never written; the reasons feed the error message a failing run ends with.
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Any

import pandas as pd

from seedgen.schema import NUMBER_DECORATION, ColumnSpec
from seedgen.synthesis.encoding import text_cap

_NULLS = {"", "null", "none", "nan", "n/a", "na"}
_TRUE = {"true", "yes", "y", "t", "1", "1.0"}
_FALSE = {"false", "no", "n", "f", "0", "0.0"}
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")
#: brackets, braces and backticks: a small model's answer spilling JSON or code into a text value
_MARKUP = re.compile(r"[{}\[\]`]")
_NOT_ALNUM = re.compile(r"[\W_]+")
#: a date or timestamp (2022-13-29T18:45:56Z, 3/1/2020 10:15): a small model spilling a date column's
#: value into free text; a column whose real values were dates would have been profiled as dates
_DATE_LIKE = re.compile(
    r"\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}([ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)?\s*(Z|UTC|[AP]M|[+-]\d{2}:?\d{2})?",
    re.IGNORECASE,
)


class Invalid(ValueError):
    """One value does not fit its column; the message says why (used in error summaries)."""


class ColumnValidator:
    """Checks and canonicalises values of one column (built once per run, used for every row)."""

    def __init__(self, spec: ColumnSpec, echoes: frozenset[str] = frozenset()):
        self.spec = spec
        #: casefolded strings a free-text value must not be (the table's column names: small models echo them)
        self.echoes = echoes
        self.cats: dict[str, str] = {}
        if spec.categories:
            for c in spec.categories:
                self.cats.setdefault(c.value, c.value)
            for c in spec.categories:
                self.cats.setdefault(_norm(c.value), c.value)
        self.lo, self.hi = _bound(spec.min), _bound(spec.max)
        self.cap = text_cap(spec)
        self.dlo = self.dhi = None
        if spec.kind == "datetime":
            self.dlo, self.dhi = (
                _date_bound(spec.min, spec.date_format),
                _date_bound(spec.max, spec.date_format),
            )

    def __call__(self, value: Any) -> Any:
        """The canonical value (float, pd.Timestamp, str or None), or raise Invalid."""
        spec = self.spec
        if value is None or (isinstance(value, str) and value.strip().lower() in _NULLS):
            if spec.nullable:
                return None
            raise Invalid(f"{spec.name!r} is empty but the real column never is")
        if isinstance(value, (list, dict)):
            raise Invalid(f"{spec.name!r} got a nested {type(value).__name__}")
        kind = spec.kind
        if kind in ("numeric", "integer"):
            return self._number(value)
        if kind in ("categorical", "boolean"):
            return self._category(value)
        if kind == "datetime":
            return self._date(value)
        return self._text(value)

    def _number(self, value: Any) -> float:
        if isinstance(value, bool):
            raise Invalid(f"{self.spec.name!r}: {value!r} is not a number")
        try:
            v = (
                float(value)
                if isinstance(value, (int, float))
                else float(NUMBER_DECORATION.sub("", str(value)))
            )
        except ValueError:
            raise Invalid(f"{self.spec.name!r}: {str(value)[:30]!r} is not a number") from None
        if not math.isfinite(v):
            raise Invalid(f"{self.spec.name!r}: {v} is not a finite number")
        v = (
            round(v, self.spec.decimals or 0)
            if self.spec.kind == "integer" or self.spec.decimals is not None
            else v
        )
        if (self.lo is not None and v < self.lo) or (self.hi is not None and v > self.hi):
            raise Invalid(f"{self.spec.name!r}: {v:g} outside the real range [{self.lo}, {self.hi}]")
        return float(v)

    def _category(self, value: Any) -> str:
        if not self.cats:
            return self._text(value)
        text = _written(value)
        hit = self.cats.get(text) or self.cats.get(_norm(text))
        if hit is None and self.spec.kind == "boolean":
            low = text.strip().lower()
            side = _TRUE if low in _TRUE else _FALSE if low in _FALSE else None
            if side is not None:
                hit = next((c for c in self.cats.values() if c.strip().lower() in side), None)
        if hit is None:
            raise Invalid(f"{self.spec.name!r}: {text[:30]!r} is not one of its categories")
        return hit

    def _date(self, value: Any) -> pd.Timestamp:
        fmt = self.spec.date_format or "%Y-%m-%d"
        text = str(value).strip()
        try:
            d = datetime.strptime(text, fmt)
        except ValueError:
            # an ISO date in a column written otherwise is still clearly the intended date
            try:
                d = datetime.fromisoformat(text)
            except ValueError:
                raise Invalid(f"{self.spec.name!r}: {text[:30]!r} is not a date like {fmt!r}") from None
        ts = pd.Timestamp(d)
        if (self.dlo is not None and ts < self.dlo) or (self.dhi is not None and ts > self.dhi):
            raise Invalid(f"{self.spec.name!r}: {text!r} outside the real date range")
        return ts

    def _text(self, value: Any) -> str:
        text = " ".join(_CONTROL.sub(" ", _written(value)).split())
        if not any(ch.isalpha() for ch in text):
            raise Invalid(f"{self.spec.name!r}: {text[:20]!r} is blank, a placeholder or only digits")
        if self.spec.kind == "text" and _DATE_LIKE.fullmatch(text):
            raise Invalid(f"{self.spec.name!r}: {text[:30]!r} is a date, not text")
        if self.spec.kind == "text" and _MARKUP.search(text):
            raise Invalid(f"{self.spec.name!r}: {text[:30]!r} looks like JSON or code, not a value")
        if self.spec.kind == "text" and _echo_key(text) in self.echoes:
            raise Invalid(f"{self.spec.name!r}: {text[:30]!r} repeats a column name instead of a value")
        if self.spec.kind == "text" and text.count('"') % 2:
            raise Invalid(f"{self.spec.name!r}: {text[:30]!r} has an unmatched quote (a cut-off answer)")
        if len(text) > self.cap:
            raise Invalid(f"{self.spec.name!r}: text longer than {self.cap} characters")
        return text


def _written(value: Any) -> str:
    """A JSON scalar as the real data would write it (36.0 → "36", True → "True")."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _echo_key(text: str) -> str:
    """A column name or value with case, spaces, underscores and punctuation ignored ("Home_Ownership:" ~
    "home ownership"), so a small model's echo of a column name is caught however it spells it."""
    return _NOT_ALNUM.sub("", str(text).casefold())


def _norm(text: str) -> str:
    return " ".join(str(text).split()).casefold()


def _bound(v: Any) -> float | None:
    return float(v) if isinstance(v, (int, float)) and math.isfinite(float(v)) else None


def _date_bound(v: Any, fmt: str | None) -> pd.Timestamp | None:
    if v is None:
        return None
    try:
        return pd.Timestamp(datetime.strptime(str(v), fmt or "%Y-%m-%d"))
    except ValueError:
        ts = pd.to_datetime(str(v), errors="coerce")
        return None if pd.isna(ts) else ts


class RowValidator:
    """Validates whole answer rows (value lists, or objects keyed by column name) for a set of columns."""

    def __init__(self, specs: list[ColumnSpec], all_names: list[str] | None = None):
        self.specs = specs
        self.names = [s.name for s in specs]
        echoes = frozenset(_echo_key(n) for n in (all_names or self.names))
        self.columns = [ColumnValidator(s, echoes) for s in specs]

    def echo_check(self, values: list[Any], shown: list[Any]) -> None:
        """Reject free text that merely repeats one of the row's own values shown in the prompt."""
        seen = {str(v).casefold() for v in shown if v is not None}
        for spec, v in zip(self.specs, values, strict=True):
            if spec.kind == "text" and v is not None and str(v).casefold() in seen:
                raise Invalid(f"{spec.name!r}: {str(v)[:30]!r} repeats another value of its row")

    def __call__(self, row: Any) -> list[Any]:
        """The row's canonical values in column order, or raise Invalid saying what is wrong."""
        if isinstance(row, dict):
            if set(row) != set(self.names):
                missing = [n for n in self.names if n not in row]
                extra = [k for k in row if k not in self.names]
                raise Invalid(f"wrong columns (missing {missing[:3]}, unexpected {extra[:3]})")
            row = [row[n] for n in self.names]
        elif not isinstance(row, list):
            if len(self.names) == 1 and not isinstance(row, (dict, list)):
                row = [row]
            else:
                raise Invalid(f"a row must be a list of {len(self.names)} values")
        if len(row) != len(self.names):
            raise Invalid(f"row has {len(row)} values, expected {len(self.names)}")
        return [check(v) for check, v in zip(self.columns, row, strict=True)]
