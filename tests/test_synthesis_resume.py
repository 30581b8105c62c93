"""Crash safety: `seedgen synthesize` killed with SIGKILL mid-run, then `--resume`: exactly N rows, none
lost, none duplicated. The run talks to a slow loopback OpenAI-compatible server (an endpoint stand-in)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest
from fakes import FaultServer
from test_synthesis import COLUMNS, Rows

N = 30


@pytest.fixture(scope="module")
def seeds_path(tmp_path_factory, loans_path):
    from seedgen.profiling import profile

    folder = tmp_path_factory.mktemp("seeds")
    pd.read_csv(loans_path, usecols=COLUMNS).head(1500).to_csv(folder / "loans.csv", index=False)
    profile(folder / "loans.csv", folder / "seeds.json", clusters=2, quiet=True)
    return folder / "seeds.json"


def cli(*args):
    return [sys.executable, "-m", "seedgen.cli", "synthesize", *map(str, args)]


def seeds_column_index(seeds_path, mode):
    """Position of emp_title among the columns the LLM writes (journal rows hold only those)."""
    from seedgen.seeds import load_seeds
    from seedgen.synthesis import _llm_columns

    return [c.name for c in _llm_columns(load_seeds(seeds_path), mode, ())].index("emp_title")


def journal_records(path):
    with open(path, encoding="utf-8") as fh:
        lines = [line for line in fh.read().split("\n") if line.strip()]
    out = []
    for line in lines[1:]:
        with contextlib.suppress(json.JSONDecodeError):  # a torn last line: resume drops it
            out.append(json.loads(line))
    return out


@pytest.mark.parametrize("mode", ["hybrid", "llm"])
def test_kill_then_resume_gives_exactly_n_rows_without_duplicates(seeds_path, tmp_path, mode):
    out = tmp_path / "raw.csv"
    journal = tmp_path / "raw.csv.journal.jsonl"
    with FaultServer(responder=Rows(), latency=0.3) as server:
        args = [
            seeds_path,
            "-n",
            N,
            "-o",
            out,
            "--provider",
            "openai",
            "--base-url",
            server.base_url,
            "--model",
            "fake",
            "--mode",
            mode,
            "--rows-per-request",
            3,
            "--concurrency",
            2,
            "--quiet",
        ]
        proc = subprocess.Popen(cli(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            if journal.exists() and len(journal_records(journal)) >= 3:
                break
            time.sleep(0.05)
        assert proc.poll() is None, proc.communicate()[1].decode()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        assert not out.exists()
        before = journal_records(journal)
        done_before = {s: row for rec in before for s, row in zip(rec["slots"], rec["rows"], strict=True)}
        assert 0 < len(done_before) < N

        again = subprocess.run(cli(*args), capture_output=True, text=True)
        assert again.returncode == 2
        assert again.stderr.startswith("error: ") and "--resume" in again.stderr
        assert len(again.stderr.strip().splitlines()) == 1

        requests_before = server.requests
        resumed = subprocess.run(cli(*args, "--resume"), capture_output=True, text=True, timeout=120)
        assert resumed.returncode == 0, resumed.stderr
        # only the missing rows were asked for: ceil(missing / 3) batches at most, re-asks aside
        assert server.requests - requests_before <= (N - len(done_before) + 2) // 3 + 4

    frame = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert len(frame) == N
    titles = frame["emp_title"][frame["emp_title"] != ""]  # empty cells are drawn at the real null rate
    assert titles.is_unique  # every responder text is unique: a duplicate row would show
    title = seeds_column_index(seeds_path, mode)
    for slot, row in done_before.items():  # nothing accepted before the kill was lost or moved
        assert frame["emp_title"].iloc[slot] in (row[title], "")  # "" where the null draw empties it
    assert not journal.exists()
