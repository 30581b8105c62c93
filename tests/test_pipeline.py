"""`seedgen run` and `seedgen init` end to end, with the statistical sampler (no LLM) for speed.

The rows are real Lending Club loans (a slice of the example), the rules reject a predictable share of the
generated rows, and every step — profile, synthesize, filter, evaluate — is the real one.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from seedgen.cli import main
from seedgen.pipeline import init, load_config, run

COLUMNS = [
    "emp_length", "state", "homeownership", "annual_income", "debt_to_income", "loan_purpose",
    "loan_amount", "term", "interest_rate", "grade", "sub_grade", "installment",
]  # fmt: skip

#: rejects generated rows with an interest rate above the real median: about half of them
RULES = '''
from seedgen.filtering import rule


@rule("test.low_rates_only", code="TT01", columns=["interest_rate"])
def low_rates_only(df):
    """The interest rate is at most 12 %.

    A stand-in business rule that rejects about half of the rows.

    **Anti-pattern**: interest_rate = 20.0

    **Best practice**: interest_rate = 10.0
    """
    {sleep}return df["interest_rate"].isna() | (df["interest_rate"] <= 12.0)
'''


@pytest.fixture(scope="module")
def small_loans(tmp_path_factory, loans_path) -> Path:
    """600 real loans, 12 columns: big enough to profile, small enough to be quick."""
    path = tmp_path_factory.mktemp("data") / "loans.csv"
    df = pd.read_csv(loans_path, dtype=str, keep_default_na=False, nrows=600)[COLUMNS]
    df.to_csv(path, index=False)
    return path


def write_pipeline(
    folder: Path, data: Path, *, rows=40, sleep=0.0, budget="max_rounds = 20", extra=""
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "my_rules.py").write_text(
        RULES.format(sleep=f"__import__('time').sleep({sleep})\n    " if sleep else "")
    )
    toml = folder / "pipeline.toml"
    toml.write_text(
        textwrap.dedent(
            f"""
            data = "{data}"
            output = "out"
            rows = {rows}
            seed = 3
            margin = 0.0
            {extra}

            [synthesize]
            provider = "sampler"
            mode = "sampler"

            [filter]
            rules = ["my_rules.py"]
            # The test rule fails on half the real rows too; the filter would call it wrong and not enforce
            # it (a rule that rejects real rows is wrong). min_support = 0 enforces it anyway.
            min_support = 0.0

            [evaluate]
            holdout_fraction = 0.3
            skip = true

            [budget]
            {budget}
            """
        )
    )
    return toml


def read(path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def manifest(folder) -> dict:
    return json.loads((Path(folder) / "run.json").read_text())


def test_run_gives_exactly_n_rows_although_rules_reject_some(tmp_path, small_loans):
    toml = write_pipeline(tmp_path, small_loans, rows=40)
    result = run(toml, quiet=True)
    out = tmp_path / "out"
    assert result.status == "complete" and result.rows == 40
    accepted, raw, rejected = read(out / "accepted.csv"), read(out / "raw.csv"), read(out / "rejected.csv")
    assert len(accepted) == 40
    assert list(accepted.columns) == COLUMNS
    assert (accepted["interest_rate"].astype(float) <= 12.0).all()
    # The rule really rejected rows, so more than one round (or a surplus) was needed.
    assert len(rejected) > 0 and rejected["_reasons"].str.contains("TT01").any()
    m = manifest(out)
    assert m["status"] == "complete"
    assert m["committed"] == {"raw": len(raw), "accepted": 40, "rejected": len(rejected)}
    assert m["totals"]["generated"] == len(raw) == sum(r["generated"] for r in m["rounds"])
    assert len(m["rounds"]) >= 2
    assert m["rounds"][1]["asked"] > 40 - m["rounds"][0]["kept"]  # sized by the observed acceptance rate
    # The filter's rejection reasons went into the next round's prompts.
    assert m["rounds"][1]["avoid"] == m["rounds"][0]["feedback"]
    assert any("interest rate is at most 12" in a for a in m["rounds"][1]["avoid"])
    assert m["versions"]["seedgen"] and m["versions"]["python"] and "pandas" in m["versions"]
    assert m["steps"]["profile"]["status"] == "done"
    assert m["steps"]["profile"]["detail"]["real_rows"] == 420  # 30 % of the 600 real rows held out
    assert {"profile", "round_1"} <= set(m["seeds"])
    assert (out / "seeds.json").exists() and not (out / "rounds").exists()


def test_budget_stops_early_and_resume_finishes_without_duplicates(tmp_path, small_loans):
    toml = write_pipeline(tmp_path, small_loans, rows=60, budget="max_rounds = 1")
    out = tmp_path / "out"
    res = CliRunner().invoke(main, ["run", str(toml), "--quiet"])
    assert res.exit_code == 1, res.output
    assert "budget spent" in res.stderr and "--resume" in res.stderr
    m = manifest(out)
    assert m["status"] == "partial" and "max_rounds=1" in m["message"]
    first = read(out / "accepted.csv")
    assert 0 < len(first) < 60

    # Simulate a crash between appending a round and recording it: rows beyond the committed count.
    pd.concat([first, first.head(5)]).to_csv(out / "accepted.csv", index=False)

    # Without --resume an existing run folder is refused.
    res = CliRunner().invoke(main, ["run", str(toml), "--quiet"])
    assert res.exit_code == 2 and "--resume" in res.stderr

    # Only the budget may change on resume.
    toml.write_text(toml.read_text().replace("max_rounds = 1", "max_rounds = 20"))
    res = CliRunner().invoke(main, ["run", str(toml), "--resume", "--quiet"])
    assert res.exit_code == 0, res.stderr
    final = read(out / "accepted.csv")
    assert len(final) == 60
    pd.testing.assert_frame_equal(final.head(len(first)), first)  # earlier rows kept as they were
    assert not final.duplicated().any()
    m = manifest(out)
    assert m["status"] == "complete" and m["resumed"] == 1


def test_resume_refuses_changed_config(tmp_path, small_loans):
    toml = write_pipeline(tmp_path, small_loans, rows=10, budget="max_rounds = 1")
    run(toml, quiet=True)
    toml.write_text(toml.read_text().replace("rows = 10", "rows = 11"))
    res = CliRunner().invoke(main, ["run", str(toml), "--resume"])
    assert res.exit_code == 2 and "rows" in res.stderr and "changed" in res.stderr


def test_killed_run_resumes_from_its_folder(tmp_path, small_loans):
    """SIGKILL mid-run (after at least one committed round), then --resume: exactly N rows, no duplicates."""
    toml = write_pipeline(tmp_path, small_loans, rows=80, sleep=0.4)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "seedgen.cli", "run", str(toml), "--quiet"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.time() + 120
    try:
        while time.time() < deadline:
            try:
                if manifest(out)["committed"]["accepted"] > 0:
                    break
            except (FileNotFoundError, json.JSONDecodeError, KeyError):
                pass
            if proc.poll() is not None:
                pytest.fail(f"run ended before it could be killed: {proc.stderr.read().decode()}")
            time.sleep(0.05)
        else:
            pytest.fail("no round committed within 120 s")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    before = manifest(out)
    assert before["status"] == "running"  # killed: nothing could record an end
    assert before["committed"]["accepted"] < 80
    done = subprocess.run([*cmd, "--resume"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    final = read(out / "accepted.csv")
    assert len(final) == 80 and not final.duplicated().any()
    assert (final["interest_rate"].astype(float) <= 12.0).all()
    m = manifest(out)
    assert m["status"] == "complete" and m["resumed"] == 1
    assert m["committed"]["raw"] == len(read(out / "raw.csv"))


def test_config_typo_exits_2_naming_the_key(tmp_path, small_loans):
    toml = write_pipeline(tmp_path, small_loans)
    toml.write_text(toml.read_text().replace('provider = "sampler"', 'provdier = "sampler"'))
    res = CliRunner().invoke(main, ["run", str(toml)])
    assert res.exit_code == 2
    line = res.stderr.strip()
    assert line.startswith("error:") and "synthesize.provdier" in line and "pipeline.toml" in line
    assert "\n" not in line and "Traceback" not in res.output


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        ("rows = 0", ["rows"]),
        ("[profile]\nclusters = 0", ["profile.clusters"]),
        ('data = "missing.csv"', ["data", "missing.csv"]),
        ("this is not toml", ["not valid TOML"]),
    ],
)
def test_bad_configs_are_one_line_errors(tmp_path, small_loans, edit, words):
    toml = tmp_path / "pipeline.toml"
    base = f'data = "{small_loans}"\nrows = 5\n'
    if edit.startswith("rows") or edit.startswith("data"):
        key = edit.split(" ")[0]
        base = "\n".join(line for line in base.splitlines() if not line.startswith(key)) + "\n"
    toml.write_text(base + edit + "\n")
    res = CliRunner().invoke(main, ["run", str(toml)])
    assert res.exit_code == 2, res.output
    assert all(w in res.stderr for w in words), res.stderr


def test_paths_are_relative_to_the_toml(tmp_path, small_loans):
    toml = write_pipeline(tmp_path / "deep" / "er", small_loans)
    cfg = load_config(toml)
    assert cfg.output == str((tmp_path / "deep" / "er" / "out").resolve())
    assert cfg.filter.rules == [str((tmp_path / "deep" / "er" / "my_rules.py").resolve())]


def test_init_writes_files_that_run_accepts(tmp_path, small_loans):
    folder = tmp_path / "proj"
    toml, rules = init(small_loans, folder, quiet=True)
    text = Path(toml).read_text()
    for col in COLUMNS:
        assert col in text  # columns listed as comments
    assert load_config(toml).filter.rules == [str(Path(rules).resolve())]
    # The user switches to the sampler and asks for a few rows: the starter runs as written otherwise.
    text = text.replace('provider = "local"', 'provider = "sampler"').replace(
        'mode = "hybrid"', 'mode = "sampler"'
    )
    Path(toml).write_text(text.replace("rows = 1000", "rows = 15"))
    result = run(toml, quiet=True)
    assert result.status == "complete"
    assert len(read(folder / "run" / "accepted.csv")) == 15
    assert (folder / "run" / "report" / "report.html").exists()
    assert (folder / "run" / "report" / "metrics.json").exists()
    headline = manifest(folder / "run")["steps"]["evaluate"]["detail"]["headline"]
    assert 0 < headline["shape"] <= 1
    # init refuses to overwrite, unless forced.
    res = CliRunner().invoke(main, ["init", str(small_loans), "-o", str(folder)])
    assert res.exit_code == 2 and "--force" in res.stderr
    res = CliRunner().invoke(main, ["init", str(small_loans), "-o", str(folder), "--force", "--quiet"])
    assert res.exit_code == 0


def test_init_guesses_an_obvious_target(tmp_path):
    data = tmp_path / "t.csv"
    pd.DataFrame({"x": range(50), "Class": ["good", "bad"] * 25}).to_csv(data, index=False)
    toml, _ = init(data, tmp_path, quiet=True)
    assert load_config(toml).profile.target == "Class"


def test_manifest_never_holds_api_keys(tmp_path, small_loans, monkeypatch):
    secret = "sk-test-DO-NOT-LEAK-1234567890"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    monkeypatch.setenv("SEEDGEN_API_KEY", secret)
    toml = write_pipeline(tmp_path, small_loans, rows=5)
    run(toml, quiet=True)
    for path in (tmp_path / "out").rglob("*"):
        if path.is_file():
            assert secret not in path.read_text(errors="replace"), path


def test_round_size_follows_the_observed_acceptance_rate(tmp_path, small_loans):
    from seedgen.pipeline.manifest import RunManifest, Totals
    from seedgen.pipeline.run import _ask

    cfg = load_config(write_pipeline(tmp_path, small_loans, rows=100))
    cfg.margin = 0.1
    m = RunManifest(pipeline="p", config={}, rows_requested=100)
    assert _ask(cfg, m, 100) == 111  # nothing seen yet: the need plus the margin, plus one
    m.totals = Totals(generated=200, accepted=100)  # half passed
    assert 215 <= _ask(cfg, m, 100) <= 225
    m.totals = Totals(generated=1000, accepted=0)  # nothing passes: bounded, not infinite
    assert _ask(cfg, m, 10) <= 10 / 0.02 * 1.1 + 1


def test_credit_example_pipeline_runs_offline(tmp_path, credit_path):
    """The shipped no-LLM example: exactly `rows` accepted rows, none a copy of a real row, a report."""
    example = Path(__file__).resolve().parents[1] / "examples" / "credit_minority" / "pipeline.toml"
    cfg = load_config(example)
    assert cfg.synthesize.provider == "sampler" and cfg.profile.target == "Class"
    text = example.read_text(encoding="utf-8").replace("rows = 2000", "rows = 300")
    (tmp_path / "pipeline.toml").write_text(text.replace('"lending_club_credit.csv"', repr(str(credit_path))))
    run(tmp_path / "pipeline.toml", quiet=True)
    accepted = read(tmp_path / "run" / "accepted.csv")
    real = read(credit_path)
    assert len(accepted) == 300 and list(accepted.columns) == list(real.columns)
    assert not accepted.merge(real.drop_duplicates(), how="inner").shape[0]
    metrics = json.loads((tmp_path / "run" / "report" / "metrics.json").read_text())
    assert metrics["utility"] and (tmp_path / "run" / "report" / "report.html").stat().st_size > 10_000
