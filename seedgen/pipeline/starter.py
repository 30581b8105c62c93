"""`seedgen init DATA`: a starter pipeline.toml and a rule-file skeleton written for the user's own table.

The toml lists the table's columns (kind, null rate) as comments so the user sees what seedgen inferred,
guesses the target only when its name makes it obvious, and defaults to what runs offline (the embedded
model in hybrid mode). The rule file holds one working rule derived from the data (a column that is never
negative stays non-negative) to copy from.
"""

from __future__ import annotations

import json
import os
import re

from seedgen.errors import UserInputError
from seedgen.io import read_table
from seedgen.schema import ColumnSpec, infer_schema

#: column names that, case-insensitively, leave no doubt they are the label to predict
TARGET_NAMES = (
    "target", "label", "class", "y", "outcome", "churn", "churned", "is_fraud", "fraud", "default",
    "defaulted", "survived", "response", "is_default", "bad_loan",
)  # fmt: skip


def guess_target(columns: list[ColumnSpec]) -> str | None:
    """The target when it is obvious by name and is a class label (categorical or boolean); else None."""
    for c in columns:
        if c.name.strip().lower() in TARGET_NAMES and c.kind in ("categorical", "boolean"):
            return c.name
    return None


def _toml_str(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _column_comments(columns: list[ColumnSpec]) -> list[str]:
    width = min(max(len(c.name) for c in columns), 40)
    out = []
    for c in columns:
        extra = f", {c.null_rate:.0%} null" if c.null_rate else ""
        if c.excluded and c.exclude_reason:
            extra += f", not clustered: {c.exclude_reason}"
        if c.llm:
            extra += ", written by the LLM in hybrid mode"
        out.append(f"#   {c.name:<{width}}  {c.kind}{extra}")
    return out


def _nonnegative_column(columns: list[ColumnSpec]) -> str | None:
    for c in columns:
        if (
            c.kind in ("numeric", "integer")
            and isinstance(c.min, int | float)
            and c.min >= 0
            and not c.excluded
        ):
            return c.name
    return None


def pipeline_toml(data_rel: str, columns: list[ColumnSpec], target: str | None) -> str:
    target_line = (
        f"target = {_toml_str(target)}  # guessed from its name; remove if wrong"
        if target
        else '# target = "COLUMN"  # the label to predict, if any: kept out of LLM columns, used for TSTR'
    )
    lines = [
        "# seedgen pipeline: `seedgen run pipeline.toml` profiles the data, synthesizes and filters rows in",
        "# rounds until `rows` rows pass, then evaluates them. Every output goes into the `output` folder.",
        "# Keys are the options of the commands (`seedgen profile --help`, ...); paths are relative to this file.",
        f"data = {_toml_str(data_rel)}",
        'output = "run"',
        "rows = 1000",
        "seed = 0",
        "",
        f"# Columns found in {os.path.basename(data_rel)} (kind, null rate):",
        *_column_comments(columns),
        "",
        "[profile]",
        target_line,
        'clusters = "auto"',
        '# drop = ["COLUMN"]  # left out of clustering',
        "",
        "[synthesize]",
        "# local: the embedded SmolLM2-135M (offline, small: for trying things out); openai: OpenAI, vLLM,",
        "# Ollama or llama.cpp (set base_url, key in OPENAI_API_KEY); sds; bedrock; sampler: no LLM at all.",
        'provider = "local"',
        'mode = "hybrid"  # llm | hybrid | sampler',
        '# model = "gpt-4o-mini"',
        '# base_url = "http://localhost:8000/v1"',
        '# prompts = "prompts"  # a folder of templates overriding the built-in ones',
        "",
        "[filter]",
        'rules = ["my_rules.py"]  # rule pack names (e.g. "lending") or rule files',
        "judge = false  # true: an LLM scores each row 1-10 and keeps those >= threshold",
        "threshold = 8",
        "copy_check = true  # reject exact copies of real rows",
        "",
        "[evaluate]",
        "holdout_fraction = 0.3  # real rows kept out of profiling to measure against",
        "",
        "[budget]  # stop (status 'partial') when one of these is spent before `rows` rows pass",
        "max_rounds = 20",
        "# max_requests = 1000",
        "# max_tokens = 2000000",
        "",
    ]
    return "\n".join(lines)


def rules_py(data_name: str, columns: list[ColumnSpec]) -> str:
    col = _nonnegative_column(columns)
    if col:
        body = f'''@rule("my_rules.{_slug(col)}_not_negative", code="MY01", columns=[{_py_str(col)}])
def {_slug(col)}_not_negative(df):
    """{col} is never negative.

    It is never negative in {data_name}, so a generated negative value is a modelling error.

    **Anti-pattern**: {col} = -5

    **Best practice**: {col} = 0 or more
    """
    return df[{_py_str(col)}].isna() | (df[{_py_str(col)}] >= 0)
'''
    else:
        body = '''@rule("my_rules.example", code="MY01")
def example(df):
    """Every row passes (replace with a real check).

    A template to copy: say what the rule checks and why.

    **Anti-pattern**: a row breaking your business rule

    **Best practice**: rows that follow it
    """
    return df.index.to_series().notna()
'''
    return f'''"""Business rules for {data_name}: each rule gets the typed rows and returns True for rows that pass.

`seedgen run` loads this file (`[filter] rules = ["my_rules.py"]`); `seedgen filter --rules my_rules.py`
does too. A rule returns a boolean Series (True = row passes); a fixable rule may also return a repaired
DataFrame (see docs/filter.md). Rejected rows land in rejected.csv with the rule's code in `_reasons`.
"""

from seedgen.filtering import rule


{body}'''


def _py_str(s: str) -> str:
    """A double-quoted Python string literal (json's escaping is valid Python for these)."""
    return json.dumps(s)


def _slug(name: str) -> str:
    s = re.sub(r"\W+", "_", name.strip().lower()).strip("_")
    return s if s and not s[0].isdigit() else f"col_{s}"


def write_starter(
    data: str | os.PathLike, output: str | os.PathLike = ".", *, force: bool = False, quiet: bool = False
):
    """Write pipeline.toml and my_rules.py into `output` for the table `data`; return their paths."""
    data, output = str(data), str(output)
    table = read_table(data)
    columns = infer_schema(table)
    os.makedirs(output, exist_ok=True)
    toml_path, rules_path = os.path.join(output, "pipeline.toml"), os.path.join(output, "my_rules.py")
    existing = [p for p in (toml_path, rules_path) if os.path.exists(p)]
    if existing and not force:
        raise UserInputError(
            f"{', '.join(existing)} already exist{'s' if len(existing) == 1 else ''}",
            fix="add --force to overwrite, or choose another folder with -o",
        )
    data_rel = os.path.relpath(os.path.abspath(data), os.path.abspath(output))
    if data_rel.split(os.sep).count(os.pardir) > 2:  # far away: an absolute path reads better
        data_rel = os.path.abspath(data)
    target = guess_target(columns)
    with open(toml_path, "w", encoding="utf-8") as fh:
        fh.write(pipeline_toml(data_rel, columns, target))
    with open(rules_path, "w", encoding="utf-8") as fh:
        fh.write(rules_py(os.path.basename(data), columns))
    if not quiet:
        from seedgen.progress import stderr

        stderr.print(
            f"wrote {toml_path} and {rules_path}"
            + (f" (target guessed: {target})" if target else "")
            + f"; next: seedgen run {toml_path}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    return toml_path, rules_path
