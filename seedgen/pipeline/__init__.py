"""The whole loop from one config: `seedgen run pipeline.toml` and `seedgen init DATA`.

`run` profiles the real table, synthesizes and filters in rounds until exactly `rows` rows pass (or the
budget is spent), then evaluates; every output and a run.json manifest go into one folder, and `--resume`
continues an interrupted run. `init` writes a starter pipeline.toml and rule file for the user's table.
"""

from __future__ import annotations

import os

from seedgen.pipeline.config import PipelineConfig, load_config
from seedgen.pipeline.run import RunResult, run_pipeline
from seedgen.pipeline.starter import write_starter

__all__ = ["run", "init", "load_config", "PipelineConfig", "RunResult"]


def run(pipeline: str | os.PathLike, *, resume: bool = False, quiet: bool = False) -> RunResult:
    """Run every step of `pipeline` (a pipeline.toml) into its `output` folder.

    Returns a RunResult whose `status` is "complete" when exactly `rows` rows were accepted, or "partial"
    when the [budget] was spent first (run.json says which limit; `resume=True` continues).
    """
    return run_pipeline(pipeline, resume=resume, quiet=quiet)


def init(
    data: str | os.PathLike, output: str | os.PathLike = ".", *, force: bool = False, quiet: bool = False
):
    """Write a starter pipeline.toml and a my_rules.py skeleton for the table `data` into `output`."""
    return write_starter(data, output, force=force, quiet=quiet)
