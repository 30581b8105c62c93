"""Shared test fixtures: isolated SEEDGEN_HOME, no API keys in the environment, paths to example data."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LOANS = ROOT / "examples" / "lending_club" / "lending_club_loans.csv"
CREDIT = ROOT / "examples" / "credit_minority" / "lending_club_credit.csv"


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path, monkeypatch):
    monkeypatch.setenv("SEEDGEN_HOME", str(tmp_path / "seedgen_home"))
    for key in (
        "OPENAI_API_KEY",
        "SEEDGEN_API_KEY",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "SDS_API_KEY",
    ):
        monkeypatch.delenv(key, raising=False)


@pytest.fixture(scope="session")
def loans_path() -> Path:
    return LOANS


@pytest.fixture(scope="session")
def credit_path() -> Path:
    return CREDIT


@pytest.fixture(scope="session")
def llama_base_url():
    """Base URL (…/v1) of the real llama.cpp server with the real SmolLM2 model, started once per session.

    Uses `seedgen.providers.local.LlamaServer` (the same lifecycle the `local` provider uses): a free
    loopback port, ready when /v1/models answers, stopped at the end of the session. Tests that need it
    are marked integration. Skips only when the `local` extra is not installed.
    """
    from seedgen.errors import MissingDependencyError
    from seedgen.providers.local import LlamaServer

    server = LlamaServer(n_ctx=4096)
    try:
        server.start()
    except MissingDependencyError as e:
        pytest.skip(e.one_line())
    try:
        yield server.base_url
    finally:
        server.stop()
