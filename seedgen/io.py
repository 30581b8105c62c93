"""Reading and writing tables: CSV, TSV and Parquet, with plain errors for plain problems.

A table is read twice over: a raw-string sample (the first rows, exactly as written) from which formats are
learned — decimal places, date formats, spellings, leading zeros — and the full table with pandas' typed
parser, which is fast and compact enough for millions of rows.
"""

from __future__ import annotations

import csv
import io
import itertools
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from seedgen.errors import UserInputError

log = logging.getLogger("seedgen")

#: strings read as missing; deliberately short so that real categories such as "None" of a
#: free-text field survive only if they are spelled otherwise. "?" is how UCI tables mark a missing value,
#: in number columns too (a column of numbers with a few "?" is a column of numbers).
NA_VALUES = ["", "NA", "N/A", "NaN", "nan", "null", "NULL", "None", "#N/A", "?"]
SAMPLE_ROWS = 20_000
_SUFFIX_FORMATS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".txt": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
}


@dataclass
class Table:
    """A table as read: `data` typed by pandas, `raw` the first rows as the exact strings written."""

    data: pd.DataFrame
    raw: pd.DataFrame
    path: str
    encoding: str = "utf-8"
    delimiter: str = ","
    #: how each column wrote its missing values, when not as empty fields ("NA" from R, "?" in UCI tables)
    null_spellings: dict[str, str] = field(default_factory=dict)


def table_format(path: str | os.PathLike) -> str:
    suffix = Path(path).suffix.lower()
    if suffix == ".gz":
        suffix = Path(str(path)[:-3]).suffix.lower()
    fmt = _SUFFIX_FORMATS.get(suffix)
    if fmt is None:
        raise UserInputError(
            f"{path}: unknown table format {suffix or '(no extension)'!r}",
            fix="use a .csv, .tsv or .parquet file",
        )
    return fmt


def _detect_encoding(head: bytes, path) -> str:
    try:
        head.decode("utf-8")
        return "utf-8-sig" if head.startswith(b"\xef\xbb\xbf") else "utf-8"
    except UnicodeDecodeError as e:
        # A cut multi-byte character at the end of the sample is not an encoding problem.
        if e.start >= len(head) - 4:
            return "utf-8"
        log.warning(
            "%s: not valid UTF-8 (byte 0x%02x at %d); reading it as latin-1", path, head[e.start], e.start
        )
        return "latin-1"


def _sniff_delimiter(text: str, fmt: str) -> str:
    if fmt == "tsv":
        return "\t"
    lines = text.splitlines()[:50]
    try:
        return csv.Sniffer().sniff("\n".join(lines), delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


def _dedupe_columns(columns: list[str], path) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for c in columns:
        name = str(c).strip() or "unnamed"
        if name in seen:
            seen[name] += 1
            new = f"{name}_{seen[name]}"
            log.warning("%s: duplicate column name %r renamed to %r", path, name, new)
            name = new
        else:
            seen[name] = 0
        out.append(name)
    return out


def read_table(path: str | os.PathLike, *, sample_rows: int = SAMPLE_ROWS) -> Table:
    """Read a CSV/TSV/Parquet file; raise UserInputError saying exactly what is wrong with it."""
    path = str(path)
    if not os.path.exists(path):
        raise UserInputError(f"{path}: no such file")
    if os.path.isdir(path):
        raise UserInputError(f"{path}: is a folder, not a table")
    fmt = table_format(path)
    if fmt == "parquet":
        try:
            data = pd.read_parquet(path)
        except Exception as e:  # pyarrow raises many types for corrupt files
            raise UserInputError(f"{path}: not a readable Parquet file ({type(e).__name__}: {e})") from e
        data.columns = _dedupe_columns(list(data.columns), path)
        _check_not_empty(data, path)
        data = plain_values(data)
        raw = (
            data.head(sample_rows).astype("string").astype(object).where(data.head(sample_rows).notna(), None)
        )
        return Table(data=data, raw=raw, path=path)

    if os.path.getsize(path) == 0:
        raise UserInputError(f"{path}: the file is empty", fix="give a table with a header row and data rows")
    with open(path, "rb") as fh:
        head = fh.read(1 << 20)
    compression = "gzip" if path.endswith(".gz") else None
    if compression:
        import gzip

        with gzip.open(path, "rb") as fh:
            head = fh.read(1 << 20)
    encoding = _detect_encoding(head, path)
    text = head.decode(encoding, errors="replace")
    if not text.strip():
        raise UserInputError(f"{path}: the file is empty", fix="give a table with a header row and data rows")
    delimiter = _sniff_delimiter(text, fmt)
    common = dict(
        sep=delimiter,
        encoding=encoding,
        na_values=NA_VALUES,
        keep_default_na=False,
        compression=compression,
        # "39, State-gov, 77516": the space belongs to the separator, not to the values
        skipinitialspace=_space_after_delimiter(text, delimiter),
    )
    try:
        # every field as written, missing-value markers included, so their spelling is known
        raw = pd.read_csv(path, dtype=str, nrows=sample_rows, **{**common, "na_filter": False})
    except pd.errors.EmptyDataError as e:
        raise UserInputError(
            f"{path}: the file is empty", fix="give a table with a header row and data rows"
        ) from e
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as e:
        raise UserInputError(f"{path}: cannot parse as {fmt.upper()} ({_short(e)})") from e
    null_spellings = _null_spellings(raw)
    raw = raw.where(~raw.isin(NA_VALUES), None)
    header = list(raw.columns)
    if all(str(c).startswith("Unnamed:") for c in header):
        raise UserInputError(f"{path}: the header row is empty", fix="the first line must name the columns")
    numeric = [str(c) for c in header if _looks_numeric(c)]
    if len(numeric) > len(header) / 2 and len(header) > 1 and not _is_label_sequence(numeric):
        raise UserInputError(
            f"{path}: the first line looks like data, not a header ({', '.join(map(str, header[:4]))} ...)",
            fix="add a header row naming the columns",
        )
    # Columns whose written values carry leading zeros (zip codes, account codes) stay strings.
    str_cols = [c for c in raw.columns if _has_leading_zeros(raw[c])]
    comma_cols = _decimal_comma_columns(raw, delimiter)
    if comma_cols:
        # Read as numbers; the raw sample is respelled with a point, the one spelling formats are learned
        # from, so outputs are written with decimal points (the standard a CSV reader expects).
        common["decimal"] = ","
        for c in comma_cols:
            raw[c] = raw[c].str.replace(",", ".", regex=False)
        log.info("%s: %d column(s) written with decimal commas read as numbers", path, len(comma_cols))
    try:
        data = pd.read_csv(path, low_memory=False, dtype={c: str for c in str_cols}, **common)
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as e:
        raise UserInputError(f"{path}: cannot parse as {fmt.upper()} ({_short(e)})") from e
    # pandas silently renames a repeated header to "a.1"; take the names as written and say so instead.
    written = next(csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=delimiter), [])
    names = _dedupe_columns(written if len(written) == data.shape[1] else list(data.columns), path)
    data.columns = names
    raw.columns = names
    _check_not_empty(data, path)
    data = plain_values(data)
    spellings = {names[i]: null_spellings[c] for i, c in enumerate(header) if c in null_spellings}
    return Table(
        data=data, raw=raw, path=path, encoding=encoding, delimiter=delimiter, null_spellings=spellings
    )


def read_frame(path: str | os.PathLike) -> pd.DataFrame:
    """The typed frame of `read_table`, for callers that don't need the raw sample."""
    return read_table(path).data


def _short(e: Exception) -> str:
    return " ".join(str(e).split())[:200]


def _looks_numeric(value) -> bool:
    try:
        float(str(value))
        return True
    except ValueError:
        return False


def _is_label_sequence(names: list[str]) -> bool:
    """Whole numbers in equal steps (years 1960, 1961, ...; months 1 to 12): the column labels of a wide
    table, as World Bank or census exports have, rather than a first row of data."""
    if len(names) < 3 or not all(n.isdigit() for n in names):
        return False
    steps = {int(b) - int(a) for a, b in itertools.pairwise(names)}
    return len(steps) == 1 and steps != {0}


def _has_leading_zeros(s: pd.Series) -> bool:
    v = s.dropna()
    if v.empty:
        return False
    z = v.str.match(r"^0\d")
    return bool(z.any()) and bool(v.str.fullmatch(r"\d+").all())


def _space_after_delimiter(text: str, delimiter: str) -> bool:
    """True when (nearly) every separator in the first lines is followed by a space, as in UCI's adult
    data: then the space is part of the separator."""
    lines = text.splitlines()[:50]
    total = sum(line.count(delimiter) for line in lines)
    spaced = sum(line.count(delimiter + " ") for line in lines)
    return delimiter != " " and total > 0 and spaced >= 0.95 * total


def _null_spellings(raw: pd.DataFrame) -> dict[str, str]:
    """Per column, the missing-value marker it writes most when it writes one other than an empty field."""
    out = {}
    for c in raw.columns:
        marks = raw[c][raw[c].isin(NA_VALUES)]
        if not marks.empty:
            top = marks.value_counts().index[0]
            if top != "":
                out[c] = str(top)
    return out


def _decimal_comma_columns(raw: pd.DataFrame, delimiter: str) -> list[str]:
    """Columns of numbers written with a decimal comma ("2,6" for 2.6), as European exports separated by
    semicolons or tabs write them. None when the file is comma-separated (a comma there separates fields
    or thousands) or when any column writes decimals with a point: one file has one convention."""
    if delimiter == ",":
        return []
    found = []
    for c in raw.columns:
        v = raw[c].dropna().str.strip()
        v = v[v != ""]
        if v.empty:
            continue
        if v.str.fullmatch(r"-?\d*\.\d+").any():
            return []
        if v.str.fullmatch(r"-?\d*,\d+|-?\d+").all() and v.str.contains(",", regex=False).any():
            found.append(c)
    return found


def plain_values(df: pd.DataFrame) -> pd.DataFrame:
    """Values seedgen can model: zone-aware dates (Parquet, DataFrames) as the wall-clock times they show,
    without the zone (dates are compared, drawn and written as plain times, as a CSV writes them); and
    infinite numbers ("inf" in a CSV, a division by zero upstream) as missing, with a warning."""
    zoned = [c for c in df.columns if isinstance(df[c].dtype, pd.DatetimeTZDtype)]
    infinite = {}
    for c in df.columns:
        if pd.api.types.is_float_dtype(df[c]):
            k = int(np.isinf(df[c].to_numpy(dtype=float, na_value=np.nan)).sum())
            if k:
                infinite[c] = k
    if not zoned and not infinite:
        return df
    df = df.copy()
    for c in zoned:
        df[c] = df[c].dt.tz_localize(None)
    if zoned:
        log.info("dates of %s read as wall-clock times without their zone", ", ".join(map(str, zoned)))
    for c, k in infinite.items():
        df[c] = df[c].where(~np.isinf(df[c].to_numpy(dtype=float, na_value=np.nan)))
        log.warning("column %r: %d infinite value(s) read as missing", c, k)
    return df


def _check_not_empty(data: pd.DataFrame, path) -> None:
    if data.shape[1] == 0:
        raise UserInputError(f"{path}: no columns found")
    if len(data) == 0:
        raise UserInputError(f"{path}: the table has a header but no rows", fix="give at least one data row")


def write_table(df: pd.DataFrame, path: str | os.PathLike, *, append: bool = False) -> None:
    """Write a frame of already-rendered values; the format follows the extension."""
    path = str(path)
    fmt = table_format(path)
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    if fmt == "parquet":
        if append and os.path.exists(path):
            df = pd.concat([pd.read_parquet(path), df], ignore_index=True)
        tmp = path + ".tmp"
        df.to_parquet(tmp, index=False)
        os.replace(tmp, path)
        return
    sep = "\t" if fmt == "tsv" else ","
    if append and os.path.exists(path) and os.path.getsize(path) > 0:
        df.to_csv(path, sep=sep, index=False, header=False, mode="a")
    else:
        # Write then rename so a crash never leaves a half-written output behind.
        tmp = path + ".tmp"
        df.to_csv(tmp, sep=sep, index=False)
        os.replace(tmp, path)


def to_csv_text(df: pd.DataFrame) -> str:
    buf = io.StringIO()
    df.to_csv(buf, index=False)
    return buf.getvalue()


def read_json_object(path: str | os.PathLike, *, missing: str, fix: str | None = None) -> dict:
    """A JSON object from `path` (seeds.json, run.json), or a one-line UserInputError saying what is wrong."""
    import json

    path = str(path)
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except FileNotFoundError as e:
        raise UserInputError(missing, fix=fix) from e
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise UserInputError(f"{path}: not valid JSON ({e})") from e
    if not isinstance(data, dict):
        raise UserInputError(f"{path}: not a JSON object")
    return data
