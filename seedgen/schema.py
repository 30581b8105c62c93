"""Per-column schema inference, and the two conversions every step needs.

`infer_schema` decides each column's kind (numeric, integer, categorical, boolean, datetime, text, id)
and remembers how it was written (decimal places, date format, spellings, null rate), so synthetic rows can
be written back exactly as the real ones were. `coerce` turns a frame into canonical typed columns
(float for numbers, datetime64 for dates, str for the rest); `render` writes typed columns back as strings
in the original formats.
"""

from __future__ import annotations

import logging
import re
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import Field

from seedgen._model import StrictModel
from seedgen.io import Table

log = logging.getLogger("seedgen")

Kind = Literal["numeric", "integer", "categorical", "boolean", "datetime", "text", "id"]
NUMERIC_KINDS = ("numeric", "integer")
DISCRETE_KINDS = ("categorical", "boolean")

DATE_FORMATS = [
    "%Y-%m-%d",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M:%S.%f",
    "%Y-%m-%d %H:%M:%S.%f",
    "%Y/%m/%d",
    "%m/%d/%Y",
    "%d/%m/%Y",
    "%m/%d/%y",
    "%d/%m/%y",
    "%d.%m.%Y",
    "%m-%d-%Y",
    "%d-%m-%Y",
    "%b-%Y",
    "%b-%y",
    "%b %Y",
    "%B %Y",
    "%Y-%m",
    "%Y/%m",
    "%d-%b-%Y",
    "%d %b %Y",
    "%d-%b-%y",
    "%b %d, %Y",
    "%B %d, %Y",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %I:%M %p",
    "%m/%d/%Y %I:%M:%S %p",
    "%d/%m/%Y %H:%M",
    "%Y%m%d",
]
_BOOL_PAIRS = [
    {"true", "false"},
    {"yes", "no"},
    {"y", "n"},
    {"t", "f"},
    {"0", "1"},
    {"0.0", "1.0"},
]


class CategoryFreq(StrictModel):
    value: str
    frequency: float = Field(ge=0, le=1, description="share of non-null values")


class NumberFormat(StrictModel):
    """How a number column decorates its values: `$27,100.00`, `13.56%`, `1,250` (parsed as 27100.0 ...)."""

    prefix: str = Field("", description="currency sign written before the number, e.g. $")
    suffix: str = Field("", description="sign written after the number, e.g. %")
    thousands: bool = Field(False, description="digits grouped by thousands with commas")


class ColumnSpec(StrictModel):
    """What seedgen knows about one column of the real table."""

    name: str
    kind: Kind
    null_rate: float = Field(0.0, ge=0, le=1)
    nullable: bool = Field(False, description="nulls were seen in the real data")
    null_text: str | None = Field(
        None, description='how the real data wrote a missing value when not as an empty field ("NA", "?")'
    )
    n_unique: int = 0
    decimals: int | None = Field(None, description="decimal places as written (numbers)")
    fixed_decimals: bool = Field(False, description="every value is written with exactly `decimals` places")
    date_format: str | None = Field(None, description="strftime format of datetime columns, e.g. %b-%Y")
    date_unpadded: bool = Field(
        False, description="month, day and hour written without a leading zero where they can (1/3/2020)"
    )
    date_step: int | None = Field(
        None, description="seconds every real date is a whole multiple of (86400, 3600, 60 or 1)"
    )
    number_format: NumberFormat | None = Field(
        None, description="currency/percent signs and thousands commas of numbers written as text"
    )
    min: float | str | None = None
    max: float | str | None = None
    categories: list[CategoryFreq] | None = Field(None, description="categorical/boolean spellings, all kept")
    mean_length: float | None = Field(None, description="mean length of text values")
    excluded: bool = Field(False, description="left out of clustering (constant, id, dropped)")
    exclude_reason: str | None = None
    llm: bool = Field(
        False, description="written by the LLM in hybrid mode (free text, or marked by the user)"
    )
    target: bool = False


def _decimals_of(raw: pd.Series) -> tuple[int, bool]:
    s = pd.Series(raw.dropna().astype(str).str.strip().unique())
    s = s[s != ""]
    if s.empty:
        return 0, False
    frac = s.str.extract(r"\.(\d*)$", expand=False)
    lens = frac.fillna("").str.len()
    has_exp = s.str.contains(r"[eE]", regex=True)
    d = int(lens[~has_exp].max()) if (~has_exp).any() else 6
    fixed = bool((lens == d).all()) and d > 0
    return d, fixed


_ZONE_SUFFIX = re.compile(r"\d(Z|[+-]\d{2}:?\d{2}| ?UTC)$")


def _guess_date_format(raw: pd.Series) -> str | None:
    s = pd.Series(raw.dropna().astype(str).str.strip().unique())
    s = s[s != ""].head(2000)
    if s.empty or s.str.fullmatch(r"-?\d+(\.\d+)?").all() and not s.str.fullmatch(r"\d{8}").all():
        return None
    if not s.head(50).str.contains(r"\d").all() or s.head(50).str.len().max() > 40:
        return None
    best, best_ok = None, 0.0
    probe = s.head(50)
    formats = DATE_FORMATS
    # Exports from databases and APIs end timestamps with one zone for the whole column: "...T08:00:00Z",
    # "... 08:00:00+00:00". It is kept as a literal part of the format, so the dates parse, draw and write
    # back with it; a column mixing offsets (local time across daylight saving) stays text.
    zone = probe.str.extract(_ZONE_SUFFIX, expand=False)
    if zone.notna().all() and zone.nunique() == 1:
        formats = [f + zone.iloc[0] for f in DATE_FORMATS if "%H" in f]
    for fmt in formats:
        ok = pd.to_datetime(probe, format=fmt, errors="coerce").notna().mean()
        if ok > best_ok:
            best, best_ok = fmt, ok
        if ok == 1.0:
            break
    if best is not None and best_ok >= 0.99:
        best_ok = pd.to_datetime(s, format=best, errors="coerce").notna().mean()
    if best == "%Y%m%d" and best_ok < 1.0:
        return None
    return best if best_ok >= 0.99 else None


_FORMATTED = re.compile(r"^(-?)([$€£¥]?)(-?)(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?(%?)$")
#: what people and language models write around numbers: thousands separators, currency and percent
#: signs, spaces (one definition for profiling, synthesis validation and the filter's parse fix)
NUMBER_DECORATION = re.compile(r"[,$€£¥%\s]")


def _number_format(text: pd.Series) -> NumberFormat | None:
    """The decoration shared by numbers written as text (`$1,250.00`, `13.5%`), or None if not numbers.

    Every distinct value must read as a number with the same currency prefix and percent suffix, and
    there must be a decoration: plain digits are parsed as numbers when the table is read.
    """
    values = pd.Series(text.astype(str).str.strip().unique())
    values = values[values != ""]
    if values.empty:
        return None
    parts = values.str.extract(_FORMATTED)
    if parts[3].isna().any():
        return None
    prefixes, suffixes = set(parts[1]), set(parts[5])
    if len(prefixes) != 1 or len(suffixes) != 1 or ((parts[0] != "") & (parts[2] != "")).any():
        return None
    thousands = bool(parts[3].str.contains(",", regex=False).any())
    fmt = NumberFormat(prefix=prefixes.pop(), suffix=suffixes.pop(), thousands=thousands)
    return fmt if fmt.prefix or fmt.suffix or fmt.thousands else None


def parse_numbers(s: pd.Series) -> pd.Series:
    """Numbers written with currency signs, percent signs or thousands commas, as floats (else NaN)."""
    if pd.api.types.is_numeric_dtype(s):
        return s.astype(float)
    text = s.astype(str).where(s.notna(), None)
    return pd.to_numeric(text.str.replace(NUMBER_DECORATION, "", regex=True), errors="coerce").astype(float)


def _is_bool(values: set[str]) -> bool:
    low = {v.lower() for v in values}
    return len(low) == 2 and any(low == p for p in _BOOL_PAIRS)


def infer_column(name: str, data: pd.Series, raw: pd.Series) -> ColumnSpec:
    n = len(data)
    nonnull = data.dropna()
    nn = len(nonnull)
    null_rate = float(1 - nn / n) if n else 0.0
    spec = dict(name=name, null_rate=round(null_rate, 6), nullable=null_rate > 0)
    if nn == 0:
        log.warning("column %r is empty (all null); it will be written empty", name)
        return ColumnSpec(
            kind="categorical", n_unique=0, categories=[], excluded=True, exclude_reason="all null", **spec
        )
    n_unique = int(nonnull.nunique())
    spec["n_unique"] = n_unique
    raw_values = set(raw.dropna().astype(str).str.strip().unique()[:10]) if n_unique <= 2 else set()

    if n_unique == 2 and _is_bool(raw_values or {str(v) for v in nonnull.unique()}):
        return ColumnSpec(kind="boolean", categories=_freqs(raw, data), **spec)

    if pd.api.types.is_bool_dtype(data):
        return ColumnSpec(kind="boolean", categories=_freqs(raw, data), **spec)

    if pd.api.types.is_numeric_dtype(data):
        values = nonnull.astype(float)
        decimals, fixed = _decimals_of(raw)
        integral = bool(np.all(np.isclose(values, np.round(values), rtol=0, atol=1e-9)))
        kind = "integer" if integral else "numeric"
        if integral and n_unique == nn and nn >= 20 and _dense_or_monotonic(values):
            kind = "id"
        return ColumnSpec(
            kind=kind,
            decimals=decimals,
            fixed_decimals=fixed,
            min=float(values.min()),
            max=float(values.max()),
            **spec,
        )

    if pd.api.types.is_datetime64_any_dtype(data):
        return ColumnSpec(
            kind="datetime",
            date_format="%Y-%m-%d %H:%M:%S",
            date_step=_date_step(nonnull),
            min=str(nonnull.min()),
            max=str(nonnull.max()),
            **spec,
        )

    text = nonnull.astype(str)
    number_format = _number_format(text)
    if number_format is not None:
        values = parse_numbers(nonnull)
        stripped = raw.dropna().astype(str).str.replace(NUMBER_DECORATION, "", regex=True)
        decimals, fixed = _decimals_of(stripped)
        integral = bool(np.all(values == np.round(values)))
        return ColumnSpec(
            kind="integer" if integral and decimals == 0 else "numeric",
            decimals=decimals,
            fixed_decimals=fixed,
            number_format=number_format,
            min=float(values.min()),
            max=float(values.max()),
            **spec,
        )
    fmt = _guess_date_format(raw if raw.notna().any() else text)
    if fmt:
        parsed = pd.to_datetime(text, format=fmt, errors="coerce").dropna()
        return ColumnSpec(
            kind="datetime",
            date_format=fmt,
            date_unpadded=_unpadded(raw.dropna().astype(str).str.strip(), fmt),
            date_step=_date_step(parsed),
            min=parsed.min().strftime(fmt),
            max=parsed.max().strftime(fmt),
            **spec,
        )
    if n_unique == nn and nn >= 20 and not text.str.contains(r"\s").any():
        return ColumnSpec(kind="id", mean_length=float(text.str.len().mean()), **spec)
    limit = min(1000, max(30, int(0.1 * nn)))
    if n_unique <= limit:
        return ColumnSpec(kind="categorical", categories=_freqs(raw, data), **spec)
    return ColumnSpec(kind="text", mean_length=round(float(text.str.len().mean()), 2), llm=True, **spec)


#: parts of a date that Excel and US exports write without a leading zero ("1/3/2020 2:05 PM")
_PADDED_PARTS = ("%m", "%d", "%H", "%I")
_MARK = "\x01"


def format_dates(dates: pd.Series, fmt: str, unpadded: bool = False) -> pd.Series:
    """Dates written with strftime format `fmt`, month/day/hour without a leading zero if `unpadded`."""
    if not unpadded:
        return dates.dt.strftime(fmt)
    marked = fmt
    for part in _PADDED_PARTS:
        marked = marked.replace(part, _MARK + part)
    text = dates.dt.strftime(marked)
    return text.str.replace(_MARK + "0", "", regex=False).str.replace(_MARK, "", regex=False)


def _unpadded(raw: pd.Series, fmt: str) -> bool:
    """True when the real values drop the leading zero that `fmt` writes: some differ from their padded
    spelling, and (nearly) all equal their unpadded one."""
    if not any(p in fmt for p in _PADDED_PARTS):
        return False
    sample = raw.drop_duplicates().head(2000)
    parsed = pd.to_datetime(sample, format=fmt, errors="coerce")
    ok = parsed.notna()
    if not ok.any():
        return False
    written, parsed = sample[ok], parsed[ok]
    if (format_dates(parsed, fmt) == written).all():
        return False
    return bool((format_dates(parsed, fmt, unpadded=True) == written).mean() >= 0.99)


def _date_step(dates: pd.Series) -> int | None:
    """The coarsest of a day, an hour, a minute and a second that every date is a whole multiple of:
    timestamps taken on the hour stay on the hour when drawn (a detector sees stray seconds at once).
    Dates arrive without a zone (`seedgen.io.plain_values`)."""
    ticks = dates.to_numpy(dtype="datetime64[ns]").astype("int64")
    for step in (86_400, 3_600, 60, 1):
        if len(ticks) and not (ticks % (step * 1_000_000_000)).any():
            return step
    return None


def _dense_or_monotonic(values: pd.Series) -> bool:
    span = values.max() - values.min() + 1
    return bool(values.is_monotonic_increasing or values.is_monotonic_decreasing or span <= 1.5 * len(values))


def _freqs(raw: pd.Series, data: pd.Series) -> list[CategoryFreq]:
    # Spellings come from the typed data rendered as written; all categories are kept, rare ones too.
    # Count first, spell the (few) distinct values after: mapping every row in Python is slow at 1M rows.
    vc = data.dropna().value_counts(normalize=True)
    spelled: dict[str, float] = {}
    for k, v in vc.items():
        key = str(k) if isinstance(k, str) else _as_written(k)
        spelled[key] = spelled.get(key, 0.0) + float(v)
    return [
        CategoryFreq(value=k, frequency=round(v, 8))
        for k, v in sorted(spelled.items(), key=lambda kv: -kv[1])
    ]


def _as_written(v) -> str:
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def infer_schema(
    table: Table, *, drop: list[str] | None = None, target: str | None = None
) -> list[ColumnSpec]:
    """Infer a ColumnSpec for every column; constant and id columns are excluded from clustering."""
    specs = []
    for name in table.data.columns:
        spec = infer_column(name, table.data[name], table.raw[name])
        if spec.nullable:
            spec.null_text = table.null_spellings.get(name)
        if spec.kind == "id":
            spec.excluded, spec.exclude_reason = True, "id (unique key)"
        elif spec.n_unique == 1:
            spec.excluded, spec.exclude_reason = True, "constant"
        if drop and name in drop:
            spec.excluded, spec.exclude_reason = True, "dropped by --drop"
        if target and name == target:
            spec.target = True
            spec.llm = False
        specs.append(spec)
    return specs


# --------------------------------------------------------------------------- conversions


def coerce(df: pd.DataFrame, columns: list[ColumnSpec], *, errors: str = "coerce") -> pd.DataFrame:
    """Canonical typed frame: float64 numbers, datetime64 dates, object strings; unknown cells → NaN/None."""
    out = {}
    for spec in columns:
        if spec.name not in df.columns:
            continue
        s = df[spec.name]
        if spec.number_format is not None:
            out[spec.name] = parse_numbers(s)
        elif spec.kind in NUMERIC_KINDS or (spec.kind == "id" and spec.decimals is not None):
            out[spec.name] = pd.to_numeric(s, errors=errors).astype(float)
        elif spec.kind == "datetime":
            if pd.api.types.is_datetime64_any_dtype(s):
                out[spec.name] = s
            else:
                out[spec.name] = pd.to_datetime(s.astype("string"), format=spec.date_format, errors="coerce")
        else:
            if pd.api.types.is_object_dtype(s) or pd.api.types.is_string_dtype(s):
                out[spec.name] = s.astype(object).where(s.notna(), None)
            else:
                # Spell each distinct value once, then index: no per-row Python call.
                codes, uniques = pd.factorize(s)
                spelled = np.array([_as_written(u) for u in uniques] + [None], dtype=object)
                out[spec.name] = pd.Series(spelled[codes], index=s.index, dtype=object)
    return pd.DataFrame(out, index=df.index)


def render(df: pd.DataFrame, columns: list[ColumnSpec]) -> pd.DataFrame:
    """Write typed columns back as the real data wrote them (decimals, date format, spellings)."""
    out = {}
    for spec in columns:
        if spec.name not in df.columns:
            out[spec.name] = pd.Series([None] * len(df), index=df.index, dtype=object)
            continue
        s = df[spec.name]
        if spec.kind in NUMERIC_KINDS or (spec.kind == "id" and spec.decimals is not None):
            out[spec.name] = format_numbers(pd.to_numeric(s, errors="coerce"), spec)
        elif spec.kind == "datetime":
            d = s if pd.api.types.is_datetime64_any_dtype(s) else pd.to_datetime(s, errors="coerce")
            text = format_dates(d, spec.date_format or "%Y-%m-%d", spec.date_unpadded)
            out[spec.name] = text.where(d.notna(), None)
        else:
            out[spec.name] = s.astype(object).where(s.notna(), None)
        if spec.null_text is not None:
            out[spec.name] = out[spec.name].where(out[spec.name].notna(), spec.null_text)
    return pd.DataFrame(out, index=df.index)


def format_numbers(s: pd.Series, spec: ColumnSpec) -> pd.Series:
    """Format numbers with the column's decimals: fixed ("%.2f") or shortest ("12.6" next to "14.07")."""
    d = spec.decimals or 0
    mask = s.notna()
    vals = s[mask].astype(float).round(d)
    if spec.kind == "integer" and d == 0:
        text = vals.round().astype(np.int64).astype(str)
    elif spec.fixed_decimals or d == 0:
        text = vals.map(f"{{:.{d}f}}".format)
    elif d + len(str(int(vals.abs().max() if len(vals) else 0))) <= 15:
        text = vals.map(lambda v: _shortest(v, d))
    else:
        # More digits than a float holds (values a program wrote at full precision, "0.30000000000000004"):
        # the shortest spelling that reads back as the same float, not d places of binary noise.
        text = vals.map(lambda v: np.format_float_positional(v, precision=d, unique=True, trim="0"))
    if spec.number_format is not None:
        text = _decorate(text, vals, spec.number_format)
    out = pd.Series([None] * len(s), index=s.index, dtype=object)
    out[mask] = text.values
    return out


def _decorate(text: pd.Series, values: pd.Series, fmt: NumberFormat) -> pd.Series:
    """Add thousands commas, the currency prefix and the percent suffix: 27100.00 → $27,100.00."""
    if fmt.thousands:
        text = text.str.replace(r"\d+", lambda m: f"{int(m.group(0)):,}", n=1, regex=True)
    negative = (values < 0).to_numpy()
    body = text.str.lstrip("-")
    out = (fmt.prefix + body + fmt.suffix).to_numpy(dtype=object)
    out[negative] = "-" + out[negative]
    return pd.Series(out, index=text.index, dtype=object)


def _shortest(v: float, d: int) -> str:
    t = f"{v:.{d}f}".rstrip("0")
    return t + "0" if t.endswith(".") else t


_SAFE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def spec_by_name(columns: list[ColumnSpec]) -> dict[str, ColumnSpec]:
    return {c.name: c for c in columns}
