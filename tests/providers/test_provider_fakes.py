"""The fault server itself: each fault does what its name says (other suites rely on it)."""

from __future__ import annotations

import contextlib
import json
import random
import time

import pytest
from fakes import Fault, FaultServer, damage_columns, schema_instance

openai = pytest.importorskip("openai")


def chat(server, **extra):
    client = openai.OpenAI(base_url=server.base_url, api_key="x", max_retries=0, timeout=2)
    return client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}], **extra)


SCHEMA = {
    "type": "object",
    "properties": {
        "rows": {
            "type": "array",
            "minItems": 2,
            "items": {
                "type": "array",
                "prefixItems": [{"enum": ["x", "y"]}, {"type": "integer", "minimum": 5, "maximum": 9}],
            },
        }
    },
}
FORMAT = {"type": "json_object", "schema": SCHEMA}


def test_default_answer_is_a_valid_instance_of_the_requested_schema():
    with FaultServer() as server:
        answer = json.loads(chat(server, response_format=FORMAT).choices[0].message.content)
    assert len(answer["rows"]) >= 2
    assert all(r[0] in ("x", "y") and 5 <= r[1] <= 9 for r in answer["rows"])


def test_scripted_faults_are_used_in_order_and_counted():
    with FaultServer(responder=lambda body: '{"rows": [["x", 5], ["y", 6]]}') as server:
        server.add(Fault.rate_limit(2), Fault.truncated(), Fault.wrong_columns(), Fault.fixed("hello"))
        with pytest.raises(openai.RateLimitError) as info:
            chat(server)
        assert info.value.response.headers["retry-after"] == "2"
        cut = chat(server).choices[0]
        assert cut.finish_reason == "length" and cut.message.content == '{"rows": [["x",'
        assert json.loads(chat(server).choices[0].message.content) == {"rows_x": [["x"], ["y"]]}
        assert chat(server).choices[0].message.content == "hello"
        assert chat(server).choices[0].message.content == '{"rows": [["x", 5], ["y", 6]]}'
    assert server.requests == 5 and server.pending == 0
    assert server.outcomes == {"429": 1, "truncated": 1, "wrong_columns": 1, "content": 1, "ok": 1}


def test_hang_drop_and_broken_body():
    with FaultServer() as server:
        server.add(Fault.hang(10), Fault.drop(), Fault.broken_body())
        with pytest.raises(openai.APITimeoutError):
            chat(server)
        with pytest.raises(openai.APIConnectionError):
            chat(server)
        with pytest.raises(Exception):  # noqa: B017 - the SDK raises a JSON decode error of its choosing
            chat(server)


def test_chaos_is_reproducible():
    def outcomes(seed):
        with FaultServer(chaos={"error": 0.3}, seed=seed) as server:
            for _ in range(20):
                with contextlib.suppress(openai.InternalServerError):
                    chat(server)
            # The server counts an answer after writing it: the client can return first.
            deadline = time.monotonic() + 5
            while sum(server.outcomes.values()) < 20 and time.monotonic() < deadline:
                time.sleep(0.01)
            return [server.outcomes["500"], server.outcomes["ok"]]

    assert outcomes(3) == outcomes(3) and outcomes(3)[0] > 0


def test_helpers():
    assert damage_columns({"a": 1, "b": [[1, 2], [3, 4]]}) == {"a_x": 1, "b_x": [[1], [3]]}
    value = schema_instance({"type": "array", "minItems": 3, "items": {"enum": [1, 2]}}, random.Random(0))
    assert len(value) >= 3 and set(value) <= {1, 2}
