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
    for key in ("OPENAI_API_KEY", "SEEDGEN_API_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "SDS_API_KEY"):
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

    Implemented by the providers work (seedgen.providers.local); tests that need it are marked integration.
    """
    pytest.skip("llama server fixture not implemented yet")
