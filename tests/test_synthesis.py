"""`seedgen synthesize` end to end against a loopback OpenAI-compatible server that injects faults
(429 + Retry-After, 5xx, hangs, truncated JSON, wrong columns), plus the sampler mode and dry runs.

The loopback server stands in for an unreliable endpoint only; tests with the real model are in
test_synthesis_integration.py. Seeds come from the real `seedgen profile` on a slice of the example data.
"""

from __future__ import annotations

import itertools
import json
import random
import threading
import time

import pandas as pd
import pytest
from fakes import Fault, FaultServer
from fakes.openai_server import request_schema

from seedgen.errors import ProviderError, UserInputError
from seedgen.synthesis import synthesize
from seedgen.synthesis.journal import journal_path
from seedgen.synthesis.validation import ColumnValidator

COLUMNS = [
    "emp_title",
    "state",
    "homeownership",
    "annual_income",
    "loan_amount",
    "interest_rate",
    "grade",
    "issue_month",
]


@pytest.fixture(scope="module")
def seeds_path(tmp_path_factory, loans_path):
    from seedgen.profiling import profile

    folder = tmp_path_factory.mktemp("seeds")
    pd.read_csv(loans_path, usecols=COLUMNS).head(1500).to_csv(folder / "loans.csv", index=False)
    profile(folder / "loans.csv", folder / "seeds.json", clusters=2, quiet=True)
    return folder / "seeds.json"


@pytest.fixture(scope="module")
def seeds(seeds_path):
    from seedgen.seeds import load_seeds

    return load_seeds(seeds_path)


class Rows:
    """A responder writing a valid answer for whatever schema a request asks for; every free-text value
    is unique ("job 17"), so a duplicated or lost row shows in the output."""

    def __init__(self, seed: int = 0):
        self.rng = random.Random(seed)
        self.counter = itertools.count()
        self.lock = threading.Lock()

    def value(self, schema):
        if "enum" in schema:
            return self.rng.choice([v for v in schema["enum"] if v is not None])
        if "anyOf" in schema:
            return self.value(schema["anyOf"][0])
        kind = schema.get("type")
        if kind == "object":
            return {k: self.value(v) for k, v in schema["properties"].items()}
        if kind == "array":
            if "prefixItems" in schema:
                return [self.value(s) for s in schema["prefixItems"]]
            return [self.value(schema["items"]) for _ in range(schema["minItems"])]
        if kind in ("integer", "number"):
            v = self.rng.uniform(schema.get("minimum", 0), schema.get("maximum", 100))
            return int(v) if kind == "integer" else round(v, 2)
        if "pattern" in schema and "maxLength" not in schema:  # a date column (text has a length cap too)
            return "Feb-2018"
        with self.lock:
            return f"job {next(self.counter)}"

    def __call__(self, body):
        return json.dumps(self.value(request_schema(body)))


def check_output(path, seeds, n):
    """The output has exactly n rows and the profiled columns, and every value fits its column."""
    out = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert list(out.columns) == seeds.column_names
    assert len(out) == n
    for spec in seeds.columns:
        check = ColumnValidator(spec)
        for v in out[spec.name]:
            check(v if v != "" else None)
    return out


def run(seeds, out, server, **kw):
    kw.setdefault("provider", "openai")
    kw.setdefault("model", "fake")
    kw.setdefault("quiet", True)
    return synthesize(seeds, kw.pop("n", 24), out, base_url=server.base_url, **kw)


@pytest.mark.parametrize("mode", ["hybrid", "llm"])
def test_faults_are_survived_and_exactly_n_valid_rows_are_written(seeds, tmp_path, mode):
    out = tmp_path / "raw.csv"
    with FaultServer(responder=Rows()) as server:
        server.add(
            Fault.rate_limit(retry_after=0.2),
            Fault.error(500),
            Fault.truncated(),
            Fault.hang(3),
            Fault.wrong_columns(),
            Fault.error(503),
            Fault.fixed('{"rows": [["not", "a", "row"]]}'),
            Fault.fixed("Sure! Here are your rows:"),
        )
        res = run(
            seeds,
            out,
            server,
            n=24,
            mode=mode,
            rows_per_request=4,
            concurrency=3,
            provider_options={"timeout": 1.0, "backoff_initial": 0.05},
        )
        deadline = time.monotonic() + 5
        while server.in_flight and time.monotonic() < deadline:  # the hung request finishes late
            time.sleep(0.1)
        outcomes = dict(server.outcomes)
    for fault in ("429", "500", "503", "truncated", "hang", "wrong_columns"):
        assert outcomes.get(fault) == 1, outcomes
    frame = check_output(out, seeds, 24)
    assert res.rows == 24 and res.retries >= 4 and res.reasks >= 3
    titles = frame["emp_title"][frame["emp_title"] != ""]  # empty cells are drawn at the real null rate
    assert len(titles) >= 12 and titles.str.startswith("job ").all() and titles.is_unique
    assert not (tmp_path / "raw.csv.journal.jsonl").exists()  # removed once the output is written


def test_hybrid_keeps_the_sampled_structure_and_only_asks_for_text(seeds, tmp_path):
    from seedgen.sampler.draw import sample_rows
    from seedgen.schema import render

    with FaultServer(responder=Rows()) as server:
        run(seeds, tmp_path / "h.csv", server, n=12, mode="hybrid", seed=5)
        body = server.bodies[-1]
    schema = request_schema(body)
    items = schema["properties"]["rows"]["items"]
    assert items["type"] == "string" and items["minLength"] == 1  # only emp_title, as a flat list
    prompt = body["messages"][-1]["content"]
    assert '"emp_title"' in prompt and "1: [" in prompt
    out = pd.read_csv(tmp_path / "h.csv", dtype=str, keep_default_na=False)
    expected = render(sample_rows(seeds, 12, seed=5), seeds.columns).fillna("")
    for col in seeds.column_names:
        if col != "emp_title":
            assert out[col].tolist() == expected[col].tolist(), col


def test_an_endpoint_that_never_answers_usable_rows_fails_clearly(seeds, tmp_path):
    out = tmp_path / "raw.csv"
    with FaultServer(responder=lambda body: "I am sorry, I cannot help with that.") as server:
        with pytest.raises(ProviderError, match="no valid row in 8 consecutive requests"):
            run(seeds, out, server, n=10, mode="llm")
        assert server.requests >= 8
    assert not out.exists()  # no silent partial output
    assert not (tmp_path / "raw.csv.journal.jsonl").exists()  # nothing accepted, nothing to resume


def test_a_dead_endpoint_is_a_provider_error_and_accepted_rows_stay_resumable(seeds, tmp_path):
    out = tmp_path / "raw.csv"
    with FaultServer(responder=Rows()) as server:
        # the first batch succeeds, then the endpoint keeps answering 500
        server.add(
            Fault.fixed(Rows()({"response_format": {"type": "json_object", "schema": _schema(seeds, 4)}}))
        )
        server.add(*[Fault.error(500)] * 3)  # exactly max_attempts: afterwards the endpoint is healthy
        with pytest.raises(ProviderError, match="kept failing"):
            run(
                seeds,
                out,
                server,
                n=12,
                mode="hybrid",
                rows_per_request=4,
                concurrency=1,
                provider_options={"max_attempts": 3, "backoff_initial": 0.01},
            )
        assert not out.exists()
        assert (tmp_path / "raw.csv.journal.jsonl").exists()
        with pytest.raises(UserInputError, match="exists"):
            run(seeds, out, server, n=12, mode="hybrid", rows_per_request=4)
        res = run(seeds, out, server, n=12, mode="hybrid", rows_per_request=4, resume=True)
    assert res.resumed_rows == 4
    check_output(out, seeds, 12)


def _schema(seeds, k):
    from seedgen.synthesis.encoding import batch_schema

    return batch_schema([seeds.column("emp_title")], k)


def test_dry_run_renders_one_prompt_per_cluster_and_calls_nothing(seeds, tmp_path, capsys):
    with FaultServer(responder=Rows()) as server:
        res = run(seeds, tmp_path / "raw.csv", server, n=100, mode="llm", dry_run=True)
        assert server.requests == 0
    text = capsys.readouterr().out
    assert text.count("--- cluster ") == len(seeds.clusters) == 2
    assert "segment 0" in text and "segment 1" in text  # each cluster's seed instruction
    assert res.estimated and res.requests > 0 and res.input_tokens > 0 and res.output_tokens > 0
    assert not (tmp_path / "raw.csv").exists() and not (tmp_path / "raw.csv.journal.jsonl").exists()


def test_sampler_mode_is_deterministic_and_calls_no_llm(seeds, tmp_path):
    a = synthesize(seeds, 300, tmp_path / "a.csv", mode="sampler", seed=7, quiet=True)
    synthesize(seeds, 300, tmp_path / "b.csv", provider="sampler", seed=7, quiet=True)  # provider = mode
    synthesize(seeds, 300, tmp_path / "c.csv", mode="sampler", seed=8, quiet=True)
    assert a.rows == 300 and a.requests == 0 and a.provider == "sampler"
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    assert (tmp_path / "a.csv").read_bytes() != (tmp_path / "c.csv").read_bytes()
    check_output(tmp_path / "a.csv", seeds, 300)


def test_hybrid_without_llm_columns_makes_no_call(seeds, tmp_path):
    no_text = seeds.model_copy(deep=True)
    for c in no_text.columns:
        c.llm = False
    with FaultServer(responder=Rows()) as server:
        res = run(no_text, tmp_path / "h.csv", server, n=50, mode="hybrid", seed=2)
        assert server.requests == 0 and res.requests == 0
    synthesize(no_text, 50, tmp_path / "s.csv", mode="sampler", seed=2, quiet=True)
    assert (tmp_path / "h.csv").read_bytes() == (tmp_path / "s.csv").read_bytes()


def test_marked_llm_columns_are_written_by_the_llm(seeds, tmp_path):
    with FaultServer(responder=Rows()) as server:
        run(
            seeds,
            tmp_path / "m.csv",
            server,
            n=8,
            mode="hybrid",
            llm_columns=["grade"],
            avoid=["grade A too often"],
        )
        body = server.bodies[-1]
    items = request_schema(body)["properties"]["rows"]["items"]["prefixItems"]
    assert len(items) == 2 and set(items[1]["enum"]) >= {"A", "B", "C"}
    assert 'avoid: "grade A too often"' in body["messages"][-1]["content"]
    check_output(tmp_path / "m.csv", seeds, 8)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"n": 0}, "positive integer"),
        ({"mode": "magic"}, "unknown mode"),
        ({"llm_columns": ["nope"]}, "unknown column"),
        ({"rows_per_request": 0}, "rows-per-request"),
        ({"concurrency": 0}, "concurrency"),
        ({"temperature": 3.0}, "temperature"),
        ({"prompts": "/no/such/dir"}, "prompts folder"),
        ({"provider": "nope"}, "unknown provider"),
    ],
)
def test_bad_arguments_are_one_line_user_errors(seeds, tmp_path, kwargs, message):
    kwargs = {"n": 5, "mode": "llm", **kwargs}
    with pytest.raises(UserInputError, match=message):
        synthesize(seeds, kwargs.pop("n"), tmp_path / "x.csv", quiet=True, **kwargs)
    with pytest.raises(UserInputError, match="unknown table format"):
        synthesize(seeds, 5, tmp_path / "x.xlsx", mode="sampler")
    assert not (tmp_path / "x.csv").exists() and not (tmp_path / journal_path("x.csv")).exists()


def test_the_api_key_never_reaches_journal_output_or_logs(seeds, tmp_path, monkeypatch, caplog):
    secret = "sk-test-DO-NOT-LEAK-1234567890"
    monkeypatch.setenv("SEEDGEN_API_KEY", secret)
    out = tmp_path / "raw.csv"
    with FaultServer(responder=Rows()) as server:
        server.add(Fault.error(500))
        with caplog.at_level("DEBUG", logger="seedgen"):
            run(seeds, out, server, n=6, mode="llm", quiet=False, provider_options={"backoff_initial": 0.01})
        assert server.requests >= 2
    assert secret not in out.read_text() and secret not in caplog.text


def test_cli_sampler_provider_and_dry_run(seeds_path, tmp_path):
    from click.testing import CliRunner

    from seedgen.cli import main

    runner = CliRunner()
    out = tmp_path / "s.parquet"
    res = runner.invoke(
        main, ["synthesize", str(seeds_path), "-n", "40", "-o", str(out), "--provider", "sampler", "--quiet"]
    )
    assert res.exit_code == 0, res.output
    assert len(pd.read_parquet(out)) == 40
    res = runner.invoke(
        main,
        [
            "synthesize",
            str(seeds_path),
            "-n",
            "40",
            "-o",
            str(tmp_path / "d.csv"),
            "--mode",
            "llm",
            "--dry-run",
            "--quiet",
        ],
    )
    assert res.exit_code == 0 and "--- estimate for 40 rows" in res.output
    assert not (tmp_path / "d.csv").exists()
    res = runner.invoke(main, ["synthesize", str(seeds_path), "-n", "0", "-o", str(tmp_path / "e.csv")])
    assert res.exit_code == 2


def test_hybrid_dry_run_shows_each_clusters_own_rows(seeds, tmp_path, capsys):
    synthesize(seeds, 40, tmp_path / "raw.csv", mode="hybrid", rows_per_request=4, dry_run=True, quiet=True)
    sections = capsys.readouterr().out.split("--- cluster ")[1:]
    assert len(sections) == 2
    first_rows = [next(line for line in s.splitlines() if line.startswith("1: ")) for s in sections]
    assert first_rows[0] != first_rows[1]


def test_a_journal_that_cannot_be_written_stops_the_run(seeds, tmp_path, monkeypatch):
    from seedgen.synthesis.journal import Journal

    calls = []
    real_write = Journal._write

    def write(self, lines):
        calls.append(len(lines))
        if len(calls) > 1:
            raise OSError(28, "No space left on device")
        real_write(self, lines)

    monkeypatch.setattr(Journal, "_write", write)
    out = tmp_path / "raw.csv"
    # answers take 50 ms, so the failed write (the second batch's) is known long before the tenth
    # request; without latency the whole run could be asked for before a thread reports the failure
    with (
        FaultServer(responder=Rows(), latency=0.05) as server,
        pytest.raises(OSError, match="No space left"),
    ):
        run(seeds, out, server, n=40, mode="hybrid", rows_per_request=4, concurrency=2)
    assert not out.exists()
    assert server.requests < 10  # stopped soon after the failed write, not after asking for every row


def test_a_run_leaves_the_garbage_collector_as_it_found_it(seeds, tmp_path):
    import gc

    before = gc.get_threshold(), gc.get_freeze_count()
    with FaultServer(responder=Rows()) as server:
        run(seeds, tmp_path / "raw.csv", server, n=8, mode="hybrid", rows_per_request=4)
    assert (gc.get_threshold(), gc.get_freeze_count()) == before
