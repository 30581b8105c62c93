"""Building the prompts of a synthesize run from the seed instructions and the Jinja templates.

Templates (`rows.j2` for llm mode, `hybrid.j2` for hybrid mode, `system.j2` for the system message) are
rendered by `seedgen.templating` in a sandboxed environment with StrictUndefined; `--prompts DIR` overrides
them by file name. Every value taken from the data reaches the template either already JSON-encoded (the
header and row lines, built here with `json.dumps`) or through the `q` filter, so a cell cannot break out
of its quotes, the prompt, or the row format.

Template variables (documented in docs/synthesize.md):
  rows.j2    table, k, instruction, header, columns [{name, hint}], examples [json rows], avoid [str],
             answer_example
  hybrid.j2  table, k, context_header, context_rows [json rows], header, columns [{name, hint}],
             avoid [str], answer_example
  system.j2  mode
"""

from __future__ import annotations

import json
import os
import re

from seedgen.schema import ColumnSpec
from seedgen.synthesis.encoding import RowEncoder, encode_row, encode_values, header, text_cap
from seedgen.templating import fmt_number, load_env, quote, render_template

#: how many of a row's sampled values a hybrid prompt shows the model (input tokens are a cost too)
MAX_CONTEXT_COLUMNS = 12
#: categories listed in a prompt; more are enforced by the schema and repaired by validation
MAX_LISTED_CATEGORIES = 12
MAX_AVOID = 10
MAX_VALUE_EXAMPLES = 4
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def column_hint(spec: ColumnSpec) -> str:
    """A short description of the values a column takes; data values inside are JSON-quoted."""
    kind = spec.kind
    if kind in ("numeric", "integer"):
        what = "whole number" if kind == "integer" and not spec.decimals else "number"
        if spec.decimals and kind == "numeric":
            what += f" with up to {spec.decimals} decimals"
        if isinstance(spec.min, (int, float)) and isinstance(spec.max, (int, float)):
            what += f" from {fmt_number(spec.min)} to {fmt_number(spec.max)}"
    elif kind in ("categorical", "boolean") and spec.categories:
        cats = [c.value for c in spec.categories]
        listed = ", ".join(quote(v) for v in cats[:MAX_LISTED_CATEGORIES])
        what = f"one of {listed}"
        if len(cats) > MAX_LISTED_CATEGORIES:
            what += f" (or another of its {len(cats)} categories)"
    elif kind == "datetime":
        fmt = spec.date_format or "%Y-%m-%d"
        what = f"date in format {quote(fmt)}"
        if spec.min is not None and spec.max is not None:
            what += f", from {quote(spec.min)} to {quote(spec.max)}"
    elif kind == "text":
        what = f"free text of about {int(spec.mean_length or 20)} characters (at most {text_cap(spec)})"
    else:
        what = "text"
    if spec.nullable:
        what += f"; null in about {round(100 * spec.null_rate)}% of rows"
    return what


def column_items(specs: list[ColumnSpec], value_examples: dict[str, list[str]] | None = None) -> list[dict]:
    items = []
    for s in specs:
        hint = column_hint(s)
        shown = (value_examples or {}).get(s.name)
        if shown:
            hint += ", such as " + ", ".join(quote(v) for v in shown)
        items.append({"name": s.name, "hint": hint})
    return items


def context_columns(columns: list[ColumnSpec], written: set[str]) -> list[ColumnSpec]:
    """The sampled columns a hybrid prompt shows: categorical and numeric columns interleaved in table
    order, at most MAX_CONTEXT_COLUMNS, skipping ids, constants and the columns the LLM writes."""
    usable = [
        c
        for c in columns
        if c.name not in written
        and c.kind != "id"
        and c.n_unique != 1
        and not (c.excluded and c.n_unique == 0)
    ]
    discrete = [c for c in usable if c.kind in ("categorical", "boolean", "datetime")]
    numeric = [c for c in usable if c.kind not in ("categorical", "boolean", "datetime")]
    picked: list[ColumnSpec] = []
    while (discrete or numeric) and len(picked) < MAX_CONTEXT_COLUMNS:
        for pool in (discrete, numeric):
            if pool and len(picked) < MAX_CONTEXT_COLUMNS:
                picked.append(pool.pop(0))
    order = {c.name: i for i, c in enumerate(columns)}
    return sorted(picked, key=lambda c: order[c.name])


def clean_instruction(text: str) -> str:
    """Seed instruction text without control characters (it already quotes its data values)."""
    return _CONTROL.sub(" ", text or "").strip()


def clean_avoid(avoid: list[str] | None) -> list[str]:
    out = []
    for a in (avoid or [])[:MAX_AVOID]:
        a = " ".join(_CONTROL.sub(" ", str(a)).split())[:200]
        if a:
            out.append(a)
    return out


class Prompter:
    """Renders the system and user prompts of one run (templates looked up once per call)."""

    def __init__(
        self,
        *,
        table: str,
        llm_specs: list[ColumnSpec],
        context_specs: list[ColumnSpec],
        prompts_dir: str | os.PathLike | None,
        avoid: list[str] | None,
        mode: str,
        examples: list[list] | None = None,
        pool: dict[int | None, list[list]] | None = None,
    ):
        self.table = table
        self.llm_specs = llm_specs
        self.context_specs = context_specs
        self.prompts_dir = prompts_dir
        self.avoid = clean_avoid(avoid)
        self.mode = mode
        self.header = header(llm_specs)
        #: sampler-drawn (synthetic) values of the LLM columns, per cluster: format examples, never real rows
        self.pool = {c: rows for c, rows in (pool or {}).items() if rows}
        self.columns = column_items(llm_specs, self._value_examples())
        self.examples = [encode_values(r, llm_specs) for r in (examples or [])]
        self.system = render_template("system.j2", {"mode": mode}, prompts_dir)
        self.context_header = header(context_specs)
        self._encode_context = RowEncoder(context_specs)
        self._templates: dict[str, object] = {}

    def _render(self, name: str, context: dict) -> str:
        """`render_template`, with the compiled template kept for the run: Jinja's loader would otherwise
        stat the template file on every request to see whether it changed. The first render, and any that
        fails, goes through `render_template`, which turns template errors into one-line ConfigErrors."""
        template = self._templates.get(name)
        if template is not None:
            try:
                return template.render(**context).strip() + "\n"
            except Exception:
                pass  # rendered again below, for render_template's error message
        text = render_template(name, context, self.prompts_dir)
        self._templates[name] = load_env(self.prompts_dir).get_template(name)
        return text

    def _value_examples(self) -> dict[str, list[str]]:
        """A few distinct drawn values of each free-text column, to show the expected style."""
        out: dict[str, list[str]] = {}
        for j, spec in enumerate(self.llm_specs):
            if spec.kind != "text":
                continue
            seen: list[str] = []
            for rows in self.pool.values():
                for r in rows:
                    v = r[j]
                    if v is not None and v not in seen and len(seen) < MAX_VALUE_EXAMPLES:
                        seen.append(v)
            out[spec.name] = seen
        return out

    def answer_example(self, k: int, batch: int = 0, cluster: int | None = None) -> str:
        """`{"rows":[[…],…]}` showing the format with one drawn example row (different per batch), or with
        typical placeholder values when no sampler is fitted."""
        rows = self.pool.get(cluster) or next(iter(self.pool.values()), None)
        if rows:
            one = encode_row(rows[batch % len(rows)], self.llm_specs)
        else:
            one = ",".join(_placeholder(s) for s in self.llm_specs)
            one = one if len(self.llm_specs) == 1 else "[" + one + "]"
        return '{"rows":[' + one + (",..." if k > 1 else "") + "]}"

    def llm_prompt(self, k: int, instruction: str, batch: int = 0, cluster: int | None = None) -> str:
        return self._render(
            "rows.j2",
            {
                "table": self.table,
                "k": k,
                "instruction": clean_instruction(instruction),
                "header": self.header,
                "columns": self.columns,
                "examples": self.examples,
                "avoid": self.avoid,
                "answer_example": self.answer_example(k, batch, cluster),
            },
        )

    def hybrid_prompt(self, context_rows: list[list], batch: int = 0) -> str:
        k = len(context_rows)
        return self._render(
            "hybrid.j2",
            {
                "table": self.table,
                "k": k,
                "context_header": self.context_header,
                "context_rows": [self._encode_context(r) for r in context_rows],
                "header": self.header,
                "columns": self.columns,
                "avoid": self.avoid,
                "answer_example": self.answer_example(k, batch),
            },
        )


def _placeholder(spec: ColumnSpec) -> str:
    """A typical value: mid-range number, most frequent category, earliest date."""
    if spec.kind in ("numeric", "integer"):
        lo, hi = spec.min, spec.max
        mid = (lo + hi) / 2 if isinstance(lo, (int, float)) and isinstance(hi, (int, float)) else 0
        return str(round(mid)) if spec.kind == "integer" else fmt_number(mid)
    if spec.kind == "datetime" and spec.min is not None:
        return json.dumps(str(spec.min), ensure_ascii=False)
    if spec.kind in ("categorical", "boolean") and spec.categories:
        return json.dumps(spec.categories[0].value, ensure_ascii=False)
    return '"..."'
