"""`seedgen synthesize` end to end through the providers that cannot run here for real: `sds` against the
loopback SDS (its list-of-objects rows, keyed by column name, become exactly N valid rows) and `bedrock`
over real signed HTTP to a loopback Converse endpoint (the forced-tool path with synthesis's own schema)."""

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


def test_synthesize_with_bedrock_over_loopback_http(seeds_path, tmp_path, monkeypatch):
    """The same through the bedrock provider: boto3 signs real HTTP to a loopback Converse endpoint that
    answers the forced `emit_rows` tool with an instance of the tool's input schema."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from fakes import schema_instance

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    rng = random.Random(2)
    schemas = []

    class Converse(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            schema = body["toolConfig"]["tools"][0]["toolSpec"]["inputSchema"]["json"]
            schemas.append(schema)
            answer = {
                "output": {
                    "message": {
                        "role": "assistant",
                        "content": [
                            {
                                "toolUse": {
                                    "toolUseId": "t1",
                                    "name": "emit_rows",
                                    "input": schema_instance(schema, rng),
                                }
                            }
                        ],
                    }
                },
                "stopReason": "tool_use",
                "usage": {"inputTokens": 100, "outputTokens": 40, "totalTokens": 140},
                "metrics": {"latencyMs": 5},
            }
            data = json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Converse)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    out = tmp_path / "raw.csv"
    try:
        result = synthesize(
            seeds_path,
            10,
            out,
            provider="bedrock",
            model="anthropic.claude-3-5-haiku-20241022-v1:0",
            base_url=f"http://127.0.0.1:{server.server_address[1]}",
            mode="llm",
            rows_per_request=5,
            quiet=True,
            provider_options={"region": "us-east-1"},
        )
    finally:
        server.shutdown()
        server.server_close()
    frame = pd.read_csv(out)
    assert len(frame) == 10 and list(frame.columns) == ["purpose", "amount", "title"]
    assert set(frame["purpose"]) <= set(PURPOSES)
    assert result.output_tokens == 40 * result.requests and schemas[0]["type"] == "object"
