"""`seedgen synthesize` with the REAL SmolLM2-135M model served by llama.cpp: the `local` provider (which
starts its own server) and the `openai` provider against the session's llama.cpp server, in llm and hybrid
modes. The model is weak; validation and re-asks must still deliver exactly n schema-valid rows."""

from __future__ import annotations

import pandas as pd
import pytest
from test_synthesis import COLUMNS, check_output

from seedgen.synthesis import synthesize

pytestmark = pytest.mark.integration

#: a busy CI machine makes a 135M model slow; one attempt may take minutes
OPTIONS = {"timeout": 900}


@pytest.fixture(scope="module")
def seeds(tmp_path_factory, loans_path):
    from seedgen.profiling import profile

    folder = tmp_path_factory.mktemp("seeds")
    pd.read_csv(loans_path, usecols=COLUMNS).head(1500).to_csv(folder / "loans.csv", index=False)
    return profile(folder / "loans.csv", folder / "seeds.json", clusters=2, quiet=True)


def _check(res, seeds, out, n, mode):
    frame = check_output(out, seeds, n)
    assert res.rows == n and res.mode == mode and res.requests >= 1
    assert res.output_tokens > 0 and res.model  # real token counts from the real server
    return frame


@pytest.mark.parametrize("mode, n, k", [("hybrid", 6, 6), ("llm", 6, 3)])
def test_openai_provider_with_the_real_llama_server(seeds, tmp_path, llama_base_url, mode, n, k):
    out = tmp_path / f"{mode}.csv"
    res = synthesize(
        seeds,
        n,
        out,
        provider="openai",
        base_url=llama_base_url,
        mode=mode,
        rows_per_request=k,
        seed=1,
        quiet=True,
        provider_options=OPTIONS,
    )
    frame = _check(res, seeds, out, n, mode)
    if mode == "hybrid":  # the sampled structure is kept; the model wrote the free text
        assert frame["emp_title"].str.strip().ne("").any()


@pytest.mark.parametrize("mode, n, k", [("hybrid", 6, 6), ("llm", 6, 3)])
def test_local_provider_starts_its_own_model(seeds, tmp_path, mode, n, k):
    out = tmp_path / f"{mode}.csv"
    res = synthesize(
        seeds,
        n,
        out,
        provider="local",
        mode=mode,
        rows_per_request=k,
        seed=2,
        quiet=True,
        provider_options=OPTIONS,
    )
    _check(res, seeds, out, n, mode)
