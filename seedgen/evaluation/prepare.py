"""Reading and aligning the tables an evaluation compares, and the shared encodings every family uses.

The real table decides everything: its inferred schema types the synthetic and holdout tables (so a
synthetic "12.50" and a real 12.5 compare equal), its quantiles define the shared bins of the pair
metrics, and its scales define the distance space of the privacy metrics. Problems a user can cause are
decided here, once: a holdout with other columns is an error (exit 2); a synthetic table with missing,
extra or mistyped columns gives warnings and marks those columns "not computed, because ...".
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from seedgen.errors import UserInputError
from seedgen.io import SAMPLE_ROWS, Table, plain_values, read_table
from seedgen.schema import ColumnSpec, coerce, infer_schema

log = logging.getLogger("seedgen")

#: kinds whose distributions are compared; text and id columns are only used by the privacy metrics
NUMERIC_LIKE = ("numeric", "integer", "datetime")
DISCRETE = ("categorical", "boolean")
EVALUATED = NUMERIC_LIKE + DISCRETE
#: categories kept per column in bins, one-hot encodings and bar plots; the rest become "other"
TOP_CATEGORIES = 20
#: quantile bins per numeric column for the pair (contingency) metrics
PAIR_BINS = 10


@dataclass
class Prepared:
    """The real side of an evaluation, computed once and shared by every synthetic set."""

    specs: list[ColumnSpec]  # every real column, inferred
    real: pd.DataFrame  # typed as `coerce` gives
    holdout: pd.DataFrame | None
    target: str | None
    real_name: str
    holdout_name: str | None
    warnings: list[str] = field(default_factory=list)

    def __post_init__(self):
        self.real_view = Columns(self.real)
        self.holdout_view = Columns(self.holdout) if self.holdout is not None else None

    @property
    def by_name(self) -> dict[str, ColumnSpec]:
        return {c.name: c for c in self.specs}


@dataclass
class Aligned:
    """One synthetic table typed like the real one, with what could not be compared and why."""

    name: str
    data: pd.DataFrame
    columns: list[ColumnSpec]  # evaluated columns present and usable in both tables
    not_computed: dict[str, str]  # column -> reason
    warnings: list[str] = field(default_factory=list)

    def __post_init__(self):
        self.view = Columns(self.data)


def _as_table(data, role: str, raw: bool = False) -> tuple[Table, str]:
    """A Table from a path or a DataFrame; the raw-string sample (for schema inference) only if asked."""
    if isinstance(data, pd.DataFrame):
        if data.shape[1] == 0 or len(data) == 0:
            raise UserInputError(f"the {role} table is empty", fix="give a table with rows and columns")
        df = plain_values(data.reset_index(drop=True))
        raw = _distinct_as_text(df.head(SAMPLE_ROWS)) if raw else df.head(0).astype(str)
        return Table(data=df, raw=raw, path=f"<{role} DataFrame>"), f"<{role} DataFrame>"
    if isinstance(data, (str, os.PathLike)):
        table = read_table(data)
        return table, os.path.basename(str(data))
    raise UserInputError(
        f"the {role} table must be a file path or a pandas DataFrame, not {type(data).__name__}"
    )


def _distinct_as_text(df: pd.DataFrame) -> pd.DataFrame:
    """The raw sample schema inference reads, for a table given as a DataFrame: each column's distinct
    values as text, in order of first appearance (padded with missing values to one length).

    Inference only looks at the distinct written values of the raw sample (decimals, date formats, boolean
    spellings), so this gives the same schema as every row as text, while only the distinct values are
    turned into strings (a fifth of the cost on the example table).
    """
    cols = {}
    for name in df.columns:
        _, uniques = pd.factorize(df[name], use_na_sentinel=True)
        cols[name] = pd.Series(uniques).astype(str)
    return pd.DataFrame(cols)


def prepare_real(real, *, holdout=None, target: str | None = None) -> Prepared:
    """Read and type the real (and holdout) table; raise UserInputError for the unrecoverable cases."""
    table, real_name = _as_table(real, "real", raw=True)
    if target is not None and target not in table.data.columns:
        raise UserInputError(
            f"target column {target!r} is not in the real table",
            fix=f"pick one of: {', '.join(map(str, list(table.data.columns)[:12]))}",
        )
    specs = infer_schema(table, target=target)
    typed = coerce(table.data, specs)
    warnings: list[str] = []
    for spec in specs:
        if spec.n_unique == 0:
            warnings.append(f"column {spec.name!r} is empty (all null) in the real table; not evaluated")
    hold_typed, hold_name = None, None
    if holdout is not None:
        hold_table, hold_name = _as_table(holdout, "holdout")
        real_cols, hold_cols = list(table.data.columns), list(hold_table.data.columns)
        if set(real_cols) != set(hold_cols):
            missing = [c for c in real_cols if c not in hold_cols]
            extra = [c for c in hold_cols if c not in real_cols]
            raise UserInputError(
                f"the holdout table has other columns than the real one (missing: {', '.join(missing) or '-'}; "
                f"extra: {', '.join(extra) or '-'})",
                fix="use a holdout split from the same table as the real data",
            )
        hold_typed = coerce(hold_table.data[real_cols], specs)
    return Prepared(specs, typed, hold_typed, target, real_name, hold_name, warnings)


def align(prep: Prepared, synthetic, name: str | None = None) -> Aligned:
    """Type a synthetic table like the real one; warn about missing, extra and mistyped columns."""
    table, default_name = _as_table(synthetic, "synthetic")
    df = table.data
    warnings: list[str] = []
    not_computed: dict[str, str] = {}
    real_cols = [c.name for c in prep.specs]
    missing = [c for c in real_cols if c not in df.columns]
    extra = [c for c in df.columns if c not in real_cols]
    if len(missing) == len(real_cols):
        raise UserInputError(
            f"the synthetic table {default_name} shares no column with the real table",
            fix="evaluate a synthetic table generated from this real table",
        )
    if missing:
        warnings.append(
            f"{len(missing)} real column(s) missing from the synthetic table: {', '.join(missing)}"
        )
        for c in missing:
            not_computed[c] = "missing from the synthetic table"
    if extra:
        warnings.append(
            f"{len(extra)} synthetic column(s) not in the real table, ignored: {', '.join(extra)}"
        )
    present = [c for c in prep.specs if c.name in df.columns]
    typed = coerce(df, present)
    for spec in present:
        before = df[spec.name].notna()
        lost = int((before & typed[spec.name].isna()).sum())
        if spec.kind in NUMERIC_LIKE and lost:
            share = lost / max(int(before.sum()), 1)
            what = "dates" if spec.kind == "datetime" else "numbers"
            if share > 0.5:
                not_computed[spec.name] = (
                    f"{share:.0%} of its synthetic values are not {what} (real kind {spec.kind})"
                )
                warnings.append(f"column {spec.name!r}: {not_computed[spec.name]}; not evaluated")
            else:
                warnings.append(
                    f"column {spec.name!r}: {lost} synthetic value(s) are not {what}; counted as missing"
                )
    columns = []
    for spec in present:
        if spec.name in not_computed:
            continue
        if spec.n_unique == 0:
            not_computed[spec.name] = "all null in the real table"
        elif spec.kind not in EVALUATED:
            not_computed[spec.name] = f"{spec.kind} column (distributions of {spec.kind}s are not compared)"
        else:
            columns.append(spec)
    if not columns:
        raise UserInputError(
            f"no column of {default_name} can be compared with the real table",
            fix="check that the synthetic table has the real table's columns and types",
        )
    for w in warnings:
        log.warning("%s: %s", name or default_name, w)
    return Aligned(name or default_name, typed, columns, not_computed, warnings)


# --------------------------------------------------------------------------- shared encodings


def numeric_values(s: pd.Series) -> np.ndarray:
    """Float view of a numeric or datetime column (dates as days since 1970), NaN for missing."""
    if pd.api.types.is_datetime64_any_dtype(s):
        out = s.astype("datetime64[ns]").astype("int64").astype(float) / 86_400e9
        out[s.isna().to_numpy()] = np.nan
        return np.asarray(out, dtype=float)
    return pd.to_numeric(s, errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def factorize(s: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes (-1 = missing) and their string labels, for a discrete or text column.

    One hash pass over the rows; only the distinct values are turned into strings (a value and its
    spelling as a string, e.g. 1 and "1", share a label)."""
    codes, uniques = pd.factorize(s.to_numpy(dtype=object), use_na_sentinel=True)
    labels = np.array([u if isinstance(u, str) else str(u) for u in uniques], dtype=object)
    if len(labels) and len(set(labels.tolist())) < len(labels):
        labels, inverse = np.unique(labels, return_inverse=True)
        codes = np.where(codes >= 0, inverse[np.maximum(codes, 0)], -1)
    return codes.astype(np.int64), labels


def category_values(s: pd.Series) -> pd.Series:
    """String view of a discrete column, missing values as None."""
    codes, labels = factorize(s)
    out = np.append(labels, None).astype(object)[codes]  # code -1 picks the trailing None
    return pd.Series(out, index=s.index, dtype=object)


class Columns:
    """One typed table with each column converted once, on first use, and kept.

    Every metric family reads the same arrays: floats for numbers and dates, factorized codes for the rest,
    and codes over the real table's top categories (`Vocabulary`). Conversions were the single largest cost
    of an evaluation when each metric redid them. Safe to share between threads: an entry computed twice
    is computed identically.
    """

    def __init__(self, df: pd.DataFrame):
        self.df = df
        self._num: dict[str, np.ndarray] = {}
        self._fac: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._top: dict[tuple[int, str], tuple[Vocabulary, np.ndarray]] = {}
        #: whole-table encodings (see `Encoder`), kept so the families share them
        self.memo: dict = {}

    def __len__(self) -> int:
        return len(self.df)

    def has(self, name: str) -> bool:
        return name in self.df.columns

    def num(self, name: str) -> np.ndarray:
        if name not in self._num:
            self._num[name] = numeric_values(self.df[name]) if self.has(name) else np.full(len(self), np.nan)
        return self._num[name]

    def sorted(self, name: str) -> np.ndarray:
        """The column's non-missing numbers, sorted (distribution metrics share one sort)."""
        key = ("sorted", name)
        if key not in self.memo:
            v = self.num(name)
            self.memo[key] = np.sort(v[~np.isnan(v)])
        return self.memo[key]

    def factorized(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        if name not in self._fac:
            self._fac[name] = (
                factorize(self.df[name])
                if self.has(name)
                else (np.full(len(self), -1, dtype=np.int64), np.array([], dtype=object))
            )
        return self._fac[name]

    def counts(self, name: str) -> dict[str, int]:
        """Category label → count (missing left out)."""
        codes, labels = self.factorized(name)
        c = np.bincount(codes[codes >= 0], minlength=len(labels))
        return {labels[i]: int(c[i]) for i in range(len(labels)) if c[i]}

    def top_codes(self, vocab: Vocabulary, name: str) -> np.ndarray:
        """Codes over the real top categories: 0..k-1, k = any other category, k+1 = missing."""
        key = (id(vocab), name)
        hit = self._top.get(key)
        if hit is None or hit[0] is not vocab:  # the vocabulary itself is kept: an id can be reused
            codes, labels = self.factorized(name)
            cats = vocab.cats[name]
            index = {c: i for i, c in enumerate(cats)}
            table = np.array([index.get(lab, len(cats)) for lab in labels] + [len(cats) + 1], dtype=np.int64)
            hit = self._top[key] = (vocab, table[codes])  # code -1 (missing) picks the trailing k+1
        return hit[1]


class Vocabulary:
    """The real table's most frequent categories per discrete column (the rest is "other")."""

    def __init__(self, real: Columns, columns: list[ColumnSpec], top: int = TOP_CATEGORIES):
        self.cats: dict[str, list[str]] = {}
        for spec in columns:
            if spec.kind not in NUMERIC_LIKE:
                counts = real.counts(spec.name)
                # most frequent first; ties in order of first appearance (a stable sort)
                ranked = sorted(counts, key=lambda k: -counts[k])
                self.cats[spec.name] = ranked[:top]


class Binner:
    """Shared bins learnt from the real table: quantile edges for numbers, top categories for the rest.

    Every table is turned into small integer codes with the same meaning, so joint distributions of any
    pair of columns can be compared with one `bincount` (no crosstab, no cross-join).
    """

    def __init__(self, real: Columns, columns: list[ColumnSpec], vocab: Vocabulary, bins: int = PAIR_BINS):
        self.vocab = vocab
        self.edges: dict[str, np.ndarray] = {}
        for spec in columns:
            if spec.kind in NUMERIC_LIKE:
                v = real.num(spec.name)
                v = v[~np.isnan(v)]
                edges = (
                    np.unique(np.quantile(v, np.linspace(0, 1, bins + 1)[1:-1])) if len(v) else np.array([])
                )
                self.edges[spec.name] = edges

    def n_bins(self, name: str) -> int:
        # value bins + one for missing (+ one for "other" categories)
        if name in self.edges:
            return len(self.edges[name]) + 2
        return len(self.vocab.cats[name]) + 2

    def codes(self, table: Columns, name: str) -> np.ndarray:
        if name in self.edges:
            v = table.num(name)
            out = np.searchsorted(self.edges[name], v, side="right")
            out[np.isnan(v)] = len(self.edges[name]) + 1
            return out.astype(np.int64)
        return table.top_codes(self.vocab, name)


class Encoder:
    """Two numeric views of a table, fitted on the real one and shared by every family.

    `transform` (models and distances): numbers (and dates) centred and divided by a robust scale
    (IQR/1.349, falling back to the std) with a missing-value indicator; categories one-hot over the real
    table's top categories scaled by 1/sqrt(2), so one differing category adds exactly 1 to a squared
    distance, like one robust-std of a number. `compact` (tree models): one column per table column, raw
    numbers with NaN for missing and category codes (the "other" code for unseen categories, NaN for
    missing). `slices`/`position` say which matrix columns belong to which table column, so a family can
    leave a column out (the utility target) by selecting matrix columns. Text and id columns are left out.
    """

    def __init__(self, real: Columns, columns: list[ColumnSpec], vocab: Vocabulary):
        self.columns = [c for c in columns if c.kind in EVALUATED]
        self.vocab = vocab
        self.center: dict[str, float] = {}
        self.scale: dict[str, float] = {}
        self.has_null: dict[str, bool] = {}
        self.slices: dict[str, slice] = {}
        self.position = {c.name: i for i, c in enumerate(self.columns)}
        width = 0
        for spec in self.columns:
            if spec.kind in NUMERIC_LIKE:
                v = real.num(spec.name)
                ok = v[~np.isnan(v)]
                med = float(np.median(ok)) if len(ok) else 0.0
                q75, q25 = np.quantile(ok, [0.75, 0.25]) if len(ok) else (1.0, 0.0)
                scale = (q75 - q25) / 1.349
                if not scale > 0:
                    scale = float(np.std(ok)) if len(ok) else 1.0
                self.center[spec.name], self.scale[spec.name] = med, scale if scale > 0 else 1.0
                self.has_null[spec.name] = bool(np.isnan(v).any())
                w = 1 + int(self.has_null[spec.name])
            else:
                w = len(vocab.cats[spec.name]) + 1
            self.slices[spec.name] = slice(width, width + w)
            width += w
        self.width = width

    @property
    def is_categorical(self) -> np.ndarray:
        return np.array([c.kind not in NUMERIC_LIKE for c in self.columns], dtype=bool)

    def transform(self, table: Columns) -> np.ndarray:
        return self._kept(table, "transform", self._transform)

    def compact(self, table: Columns) -> np.ndarray:
        return self._kept(table, "compact", self._compact)

    def _kept(self, table: Columns, what: str, make) -> np.ndarray:
        """The table's encoding by this encoder, computed once and kept on the table."""
        key = (id(self), what)
        hit = table.memo.get(key)
        if hit is None or hit[0] is not self:  # the encoder itself is kept: an id can be reused
            hit = table.memo[key] = (self, make(table))
        return hit[1]

    def _transform(self, table: Columns) -> np.ndarray:
        # float64 on purpose: in float32 an exact copy sits at distance ~1e-7, not 0
        out = np.zeros((len(table), self.width))
        rows = np.arange(len(table))
        for spec in self.columns:
            sl = self.slices[spec.name]
            if spec.kind in NUMERIC_LIKE:
                v = (table.num(spec.name) - self.center[spec.name]) / self.scale[spec.name]
                # clip so one absurd synthetic value cannot dominate a distance or a linear model
                isnan = np.isnan(v)
                out[:, sl.start] = np.clip(np.where(isnan, 0.0, v), -20, 20)
                if self.has_null[spec.name]:
                    out[:, sl.start + 1] = isnan
            else:
                k = len(self.vocab.cats[spec.name])
                codes = np.minimum(table.top_codes(self.vocab, spec.name), k)  # missing joins "other"
                out[rows, sl.start + codes] = 1.0 / np.sqrt(2.0)
        return out

    def _compact(self, table: Columns) -> np.ndarray:
        out = np.empty((len(table), len(self.columns)))
        for j, spec in enumerate(self.columns):
            if spec.kind in NUMERIC_LIKE:
                out[:, j] = table.num(spec.name)
            else:
                codes = table.top_codes(self.vocab, spec.name).astype(float)
                codes[codes == len(self.vocab.cats[spec.name]) + 1] = np.nan
                out[:, j] = codes
        return out

    def linear_columns(self, names) -> np.ndarray:
        """Indices of the `transform` matrix columns that belong to the given table columns."""
        idx = [np.arange(self.slices[n].start, self.slices[n].stop) for n in names if n in self.slices]
        return np.concatenate(idx) if idx else np.array([], dtype=np.int64)

    def compact_columns(self, names) -> np.ndarray:
        return np.array([self.position[n] for n in names if n in self.position], dtype=np.int64)
