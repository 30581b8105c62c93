"""The compact batch encoding rows travel in, its JSON schema, and a tolerant parser for answers.

Tokens are the cost, so a request names the columns once (a JSON array header) and the model answers
`{"rows": [[v1, v2, ...], ...]}`: one value list per row, no per-row keys. Numbers travel unquoted, so a
row costs little more than the same row written as CSV (benchmarks/synth_bench.py measures it).

The JSON schema pins the shape (exactly k rows of exactly the right number of values) and each column's
type, categories (as an enum) and date format (as a regex pattern). Endpoints that enforce it (llama.cpp's
grammar, OpenAI structured output) cannot answer malformed JSON; numeric minimum/maximum are stated too,
though llama.cpp does not enforce them, which is one reason every row is validated again afterwards.
"""

from __future__ import annotations

import csv
import io
import json
import re
from typing import Any

from seedgen.schema import ColumnSpec

#: categories beyond this are not put in an enum (the grammar and the prompt would get huge);
#: validation still maps answers to the real spellings.
MAX_ENUM = 200
#: free-text values are capped so a runaway answer cannot eat the token budget
MAX_TEXT = 120

_MONTHS = "(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
_MONTH_NAMES = "(January|February|March|April|May|June|July|August|September|October|November|December)"
#: strftime directive → a regex the llama.cpp grammar converter understands (no \d shorthand needed)
_DATE_PARTS = {
    "%Y": "[0-9]{4}",
    "%y": "[0-9]{2}",
    "%m": "(0[1-9]|1[0-2])",
    "%d": "(0[1-9]|[12][0-9]|3[01])",
    "%H": "([01][0-9]|2[0-3])",
    "%I": "(0[1-9]|1[0-2])",
    "%p": "(AM|PM)",
    "%M": "[0-5][0-9]",
    "%S": "[0-5][0-9]",
    "%f": "[0-9]{6}",
    "%b": _MONTHS,
    "%B": _MONTH_NAMES,
}


def date_pattern(fmt: str) -> str | None:
    """A JSON-schema `pattern` for dates written with strftime format `fmt`, or None if unsupported."""
    out, i = [], 0
    while i < len(fmt):
        if fmt[i] == "%":
            part = _DATE_PARTS.get(fmt[i : i + 2])
            if part is None:
                return None
            out.append(part)
            i += 2
        else:
            out.append(re.escape(fmt[i]) if fmt[i] not in " -/:,T" else fmt[i])
            i += 1
    return "^" + "".join(out) + "$"


def column_schema(spec: ColumnSpec) -> dict[str, Any]:
    """The JSON schema of one value of `spec` as the model must write it."""
    schema: dict[str, Any]
    if spec.kind in ("categorical", "boolean") and spec.categories and len(spec.categories) <= MAX_ENUM:
        values: list[Any] = [c.value for c in spec.categories]
        if spec.nullable:
            values.append(None)
        return {"enum": values}
    if spec.kind in ("numeric", "integer"):
        schema = {"type": "integer" if spec.kind == "integer" and not spec.decimals else "number"}
        if isinstance(spec.min, (int, float)):
            schema["minimum"] = spec.min
        if isinstance(spec.max, (int, float)):
            schema["maximum"] = spec.max
    elif spec.kind == "datetime" and spec.date_format and date_pattern(spec.date_format):
        schema = {"type": "string", "pattern": date_pattern(spec.date_format)}
    elif spec.kind == "text":
        # One line without the characters that close or nest JSON: llama.cpp turns the pattern into its
        # grammar, so a small model can no longer end the answer inside a string and ramble on
        # (`"owner", "]}\nHere is ..."`), which was most of its re-asks on the Lending Club example.
        cap = text_cap(spec)
        schema = {"type": "string", "minLength": 1, "maxLength": cap, "pattern": TEXT_PATTERN.format(cap=cap)}
    else:
        schema = {"type": "string"}
    if spec.nullable:
        return {"anyOf": [schema, {"type": "null"}]}
    return schema


#: a free-text value: one line, no quotes, backslashes, brackets or braces, at most `cap` characters
TEXT_PATTERN = r'^[^"\\\[\]{{}}<>\n\r\t]{{1,{cap}}}$'


def text_cap(spec: ColumnSpec) -> int:
    """Longest free-text value accepted: a few times the real mean length, within MAX_TEXT."""
    mean = spec.mean_length or 20.0
    return int(min(MAX_TEXT, max(24, 3 * mean)))


def batch_schema(specs: list[ColumnSpec], k: int) -> dict[str, Any]:
    """`{"rows": [[...], ...]}` with exactly k rows, each a tuple of the columns' values in order; with a
    single column, `{"rows": [v1, v2, ...]}` (a one-value array per row would cost ~50 % more tokens)."""
    if len(specs) == 1:
        row = column_schema(specs[0])
    else:
        row = {
            "type": "array",
            "prefixItems": [column_schema(s) for s in specs],
            "minItems": len(specs),
            "maxItems": len(specs),
        }
    return {
        "type": "object",
        "properties": {"rows": {"type": "array", "items": row, "minItems": k, "maxItems": k}},
        "required": ["rows"],
        "additionalProperties": False,
    }


def header(specs: list[ColumnSpec]) -> str:
    """The column names as one compact JSON array (names are data, so they are JSON-escaped)."""
    return json.dumps([s.name for s in specs], ensure_ascii=False, separators=(",", ":"))


def encode_values(values: list[Any], specs: list[ColumnSpec]) -> str:
    """One row as a compact JSON array: numbers bare, everything else a JSON string (escaped)."""
    parts = []
    for v, s in zip(values, specs, strict=True):
        if v is None:
            parts.append("null")
        elif s.kind in ("numeric", "integer") and _is_plain_number(v):
            parts.append(str(v))
        else:
            parts.append(json.dumps(str(v), ensure_ascii=False))
    return "[" + ",".join(parts) + "]"


_NUMBER = re.compile(r"-?\d+(\.\d+)?")


class RowEncoder:
    """`encode_values` for one fixed list of columns, remembering each column's encoded values.

    Hybrid prompts show thousands of sampled rows whose values repeat (categories, dates, round numbers);
    encoding each distinct value once makes a prompt about twice as cheap to build. The memo of a column
    stops growing at MEMO_LIMIT values, so high-cardinality columns cost memory only up to that.
    """

    MEMO_LIMIT = 4096

    def __init__(self, specs: list[ColumnSpec]):
        self.specs = specs
        self._memo: list[dict[Any, str]] = [{} for _ in specs]

    def __call__(self, values: list[Any]) -> str:
        parts = []
        for v, spec, memo in zip(values, self.specs, self._memo, strict=True):
            key = (type(v), v)  # 1 and 1.0 and "1" may encode differently
            text = memo.get(key)
            if text is None:
                text = encode_values([v], [spec])[1:-1]
                if len(memo) < self.MEMO_LIMIT:
                    memo[key] = text
            parts.append(text)
        return "[" + ",".join(parts) + "]"


def _is_plain_number(v: Any) -> bool:
    return isinstance(v, (int, float)) or bool(_NUMBER.fullmatch(str(v)))


def encode_rows(rows: list[list[Any]], specs: list[ColumnSpec]) -> str:
    """The answer format itself: `{"rows":[[...],[...]]}` with no spaces (what the model should write);
    a single column travels as a flat list of values."""
    return '{"rows":[' + ",".join(encode_row(r, specs) for r in rows) + "]}"


def encode_row(values: list[Any], specs: list[ColumnSpec]) -> str:
    """One answer row: a value list, or the bare value when only one column is written."""
    text = encode_values(values, specs)
    return text[1:-1] if len(specs) == 1 else text


def csv_rows(rows: list[list[Any]]) -> str:
    """The minimal CSV encoding of the same rows (no header): the benchmark's baseline."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    for r in rows:
        w.writerow(["" if v is None else v for v in r])
    return buf.getvalue()


def tokens_per_row(specs: list[ColumnSpec]) -> float:
    """A rough count of output tokens one row costs, for max_tokens and --dry-run estimates."""
    total = 2.0
    for s in specs:
        if s.kind in ("numeric", "integer"):
            total += 3 + (s.decimals or 0) / 2
        elif s.kind in ("categorical", "boolean"):
            cats = s.categories or []
            mean = sum(len(c.value) * c.frequency for c in cats) if cats else 6
            total += 2 + mean / 3
        elif s.kind == "datetime":
            total += 2 + len(s.date_format or "%Y-%m-%d") / 1.5
        else:
            total += 2 + (s.mean_length or 12) / 3.5
    return total


def max_tokens_per_row(specs: list[ColumnSpec]) -> float:
    """Output tokens a row may take at worst (text at its length cap, long numbers): the token limit of
    a request is set from this, so a valid but wordy answer is never cut off and re-asked."""
    total = 4.0
    for s in specs:
        if s.kind == "text":
            total += 3 + text_cap(s) / 2.5
        elif s.kind in ("categorical", "boolean"):
            longest = max((len(c.value) for c in s.categories or []), default=12)
            total += 3 + longest / 2
        else:
            total += 2 * (tokens_per_row([s]) - 2) + 2
    return total


# --------------------------------------------------------------------------- parsing answers

_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.S)


def parse_answer(text: str, data: Any = None) -> tuple[list[Any], str | None]:
    """Row value lists from an answer, and a problem description if the answer was not clean.

    Accepts the structured `data` an endpoint already parsed, a JSON object with `rows`, a bare list of
    rows, code fences, and — for answers cut off by the token limit — every row that was complete before
    the cut. Rows are returned as they came (lists or dicts); validation decides what they are worth.
    """
    if data is not None:
        rows = _rows_of(data)
        if rows is not None:
            return rows, None
    text = (text or "").strip()
    if not text:
        return [], "empty answer"
    m = _FENCE.search(text)
    if m:
        text = m.group(1).strip()
    try:
        obj = json.loads(text)
    except json.JSONDecodeError:
        rows = _salvage(text)
        return rows, "answer was not complete JSON" + (f" ({len(rows)} whole rows kept)" if rows else "")
    rows = _rows_of(obj)
    if rows is None:
        return [], "answer JSON has no rows"
    return rows, None


def _rows_of(obj: Any) -> list[Any] | None:
    if isinstance(obj, dict):
        for key in ("rows", "data", "results"):
            if isinstance(obj.get(key), list):
                return obj[key]
        return None
    if isinstance(obj, list):
        # a bare list of rows, or one single row
        if obj and all(isinstance(r, (list, dict)) for r in obj):
            return obj
        return [obj] if obj else []
    return None


def _salvage(text: str) -> list[Any]:
    """Complete rows (arrays, objects or single values) from a cut-off answer like `{"rows":[[1,"a"],[2,"b`.

    A value cut at the very end is dropped, and so is a bare number there: `1234` may have been `12345`."""
    start = text.find("[", text.find('"rows"') + 1 if '"rows"' in text else 0)
    if start < 0:
        return []
    dec = json.JSONDecoder()
    rows, i = [], start + 1
    while i < len(text):
        while i < len(text) and text[i] in " \t\r\n,":
            i += 1
        if i >= len(text) or text[i] in "]}":
            break
        try:
            value, end = dec.raw_decode(text, i)
        except json.JSONDecodeError:
            break
        if end >= len(text.rstrip()) and not isinstance(value, (list, dict, str)):
            break  # a number at the cut may be missing digits
        rows.append(value)
        i = end
    return rows
