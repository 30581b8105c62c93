"""`seedgen synthesize --provider sds` end to end against the loopback SDS: SDS's list-of-objects rows
(keyed by column name, not the compact value lists other providers return) become exactly N valid rows."""

from __future__ import annotations

import random

import pandas as pd
import pytest
from fakes import FakeSDS

from seedgen.synthesis import synthesize

PURPOSES = ["car", "house", "debt"]


@pytest.fixture(scope="module")
def seeds_path(tmp_path_factory):
    from seedgen.profiling import profile

    rng = random.Random(0)
    folder = tmp_path_factory.mktemp("sds_seeds")
    table = pd.DataFrame(
        {
            "purpose": [rng.choice(PURPOSES) for _ in range(300)],
            "amount": [rng.randint(1000, 40000) for _ in range(300)],
            "title": [
                f"{rng.choice(['Nurse', 'Teacher', 'Driver', 'Chef'])} {rng.randint(1, 9)}"
                for _ in range(300)
            ],
        }
    )
    table.to_csv(folder / "loans.csv", index=False)
    profile(folder / "loans.csv", folder / "seeds.json", clusters=2, quiet=True)
    return folder / "seeds.json"


def test_synthesize_with_sds_writes_exactly_n_rows(seeds_path, tmp_path):
    rng = random.Random(1)

    def row(topic, i, request):
        # SDS's model writes JSON objects: one per row, keyed by column name
        return {"purpose": rng.choice(PURPOSES), "amount": rng.randint(2000, 30000), "title": f"Clerk {i}"}

    out = tmp_path / "raw.csv"
    with FakeSDS(row_factory=row) as sds:
        sds.add("throttled")  # SDS reports Bedrock throttling as HTTP 400: retried, not fatal
        result = synthesize(
            seeds_path,
            12,
            out,
            provider="sds",
            base_url=sds.base_url,
            mode="llm",
            rows_per_request=4,
            quiet=True,
        )
        bodies = [body for path, body in sds.requests if path == "/synthesis/freeform"]
    frame = pd.read_csv(out)
    assert len(frame) == 12 and list(frame.columns) == ["purpose", "amount", "title"]
    assert set(frame["purpose"]) <= set(PURPOSES)
    assert result.retries >= 1
    assert all(
        b["technique"] == "freeform" and b["is_demo"] is True and b["num_questions"] >= 1 for b in bodies
    )
