"""seedgen: synthetic tables that keep the statistics, business rules and ML utility of a real one.

Every CLI command is a function here with the same parameters. Imports are lazy so that `import seedgen`
stays fast and an optional extra is only needed by the step that uses it.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["profile", "synthesize", "filter", "evaluate", "compare", "run", "init", "__version__"]


def profile(*args, **kwargs):
    """Profile a table into seed instructions (see `seedgen.profiling.profile`)."""
    from seedgen.profiling import profile as _f

    return _f(*args, **kwargs)


def synthesize(*args, **kwargs):
    """Generate rows from seed instructions (see `seedgen.synthesis.synthesize`)."""
    from seedgen.synthesis import synthesize as _f

    return _f(*args, **kwargs)


def filter(*args, **kwargs):  # noqa: A001 - the command is called filter
    """Repair or reject rows with rules and an LLM judge (see `seedgen.filtering.filter_rows`)."""
    from seedgen.filtering import filter_rows as _f

    return _f(*args, **kwargs)


def evaluate(*args, **kwargs):
    """Compare a synthetic table with the real one (see `seedgen.evaluation.evaluate`)."""
    from seedgen.evaluation import evaluate as _f

    return _f(*args, **kwargs)


def compare(*args, **kwargs):
    """Evaluate several synthetic tables side by side (see `seedgen.evaluation.compare`)."""
    from seedgen.evaluation import compare as _f

    return _f(*args, **kwargs)


def run(*args, **kwargs):
    """Run the whole pipeline from a pipeline.toml (see `seedgen.pipeline.run`)."""
    from seedgen.pipeline import run as _f

    return _f(*args, **kwargs)


def init(*args, **kwargs):
    """Write a starter pipeline.toml and rule pack for a table (see `seedgen.pipeline.init`)."""
    from seedgen.pipeline import init as _f

    return _f(*args, **kwargs)
