"""Rendering the Jinja prompt templates in `prompts/` safely.

Every prompt seedgen sends (seed instructions, synthesis requests, judge requests) is a Jinja template.
Templates are rendered in a `SandboxedEnvironment` with `StrictUndefined`, so a template cannot reach
Python internals and a misspelled variable is an error rather than an empty string. Values that come from
the user's data (category spellings, column names, free text) go through the `q` filter, which quotes them
as JSON strings: a category spelled "ignore previous instructions" is then visibly a quoted value, never
prompt text.

A user can override any built-in template by passing a folder (`--prompts DIR`) holding a file of the same
name; the built-in `seedgen.prompts` package is the fallback.
"""

from __future__ import annotations

import json
import math
import os
from functools import lru_cache
from pathlib import Path

import jinja2
import numpy as np
from jinja2.sandbox import SandboxedEnvironment

from seedgen.errors import ConfigError, UserInputError

#: the folder of built-in templates (installed as the `seedgen.prompts` package)
BUILTIN_PROMPTS = Path(__file__).resolve().parent.parent / "prompts"


def _builtin_dir() -> Path:
    """The built-in templates folder in both editable and wheel installs."""
    try:
        import seedgen.prompts as pkg

        return Path(pkg.__file__).resolve().parent
    except ImportError:  # pragma: no cover - only when the package data is broken
        return BUILTIN_PROMPTS


def quote(value) -> str:
    """A data value as a JSON string literal: quotes, backslashes and newlines escaped.

    Used for every value that comes from the user's data so that it can never read as an instruction.
    """
    if value is None:
        return "null"
    if isinstance(value, float) and not math.isfinite(value):
        return json.dumps(str(value))
    return json.dumps(str(value), ensure_ascii=False)


def fmt_number(value, digits: int = 4) -> str:
    """A number in short form: integers without decimals, others with `digits` significant digits."""
    if value is None:
        return "null"
    try:
        v = float(value)
    except (TypeError, ValueError):
        return quote(value)
    if not math.isfinite(v):
        return str(v)
    if v.is_integer() and abs(v) < 1e15:
        return str(int(v))
    if abs(v) >= 10**digits:
        return str(round(v))
    # Positional, never scientific: "60910" and "0.0001573" read better in a prompt than "6.091e+04".
    return np.format_float_positional(v, precision=digits, unique=True, fractional=False, trim="-")


def percent(value, digits: int = 1) -> str:
    """A share in [0, 1] as a percentage string."""
    return f"{100 * float(value):.{digits}f}%"


def load_env(prompts_dir: str | os.PathLike | None = None) -> SandboxedEnvironment:
    """A sandboxed Jinja environment looking in `prompts_dir` first, then the built-in templates."""
    return _load_env(str(prompts_dir) if prompts_dir else None)


@lru_cache(maxsize=8)
def _load_env(prompts_dir: str | None) -> SandboxedEnvironment:
    paths = []
    if prompts_dir is not None:
        if not os.path.isdir(prompts_dir):
            raise UserInputError(
                f"{prompts_dir}: prompts folder not found", fix="give a folder of .j2 templates"
            )
        paths.append(prompts_dir)
    paths.append(str(_builtin_dir()))
    env = SandboxedEnvironment(
        loader=jinja2.FileSystemLoader(paths),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # prompts are plain text; data values are escaped with `q` instead
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.filters["q"] = quote
    env.filters["num"] = fmt_number
    env.filters["pct"] = percent
    return env


def render_template(name: str, context: dict, prompts_dir: str | os.PathLike | None = None) -> str:
    """Render template `name` (e.g. "seed_instruction.j2") with `context`; errors name the template."""
    env = load_env(prompts_dir)
    try:
        template = env.get_template(name)
    except jinja2.TemplateNotFound as e:
        raise ConfigError(f"prompt template {name!r} not found", fix="check the --prompts folder") from e
    except jinja2.TemplateSyntaxError as e:
        raise ConfigError(f"prompt template {name!r}: line {e.lineno}: {e.message}") from e
    try:
        return template.render(**context).strip() + "\n"
    except jinja2.UndefinedError as e:
        raise ConfigError(
            f"prompt template {name!r}: {e.message}", fix="use only the documented variables"
        ) from e
    except jinja2.exceptions.SecurityError as e:
        raise ConfigError(f"prompt template {name!r} tried an unsafe operation: {e}") from e
