"""The bedrock provider against botocore's Stubber, with the real Converse response shape.

Stubber validates every queued response against the service model and every call's parameters against
`expected_params`, and bypasses botocore's own retries, so each queued item is one seedgen attempt.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from botocore.stub import ANY, Stubber

from seedgen.errors import ProviderError, ProviderHTTPError
from seedgen.providers import get_provider
from seedgen.providers.base import CompletionRequest
from seedgen.providers.bedrock import supports_native_json

HAIKU = "anthropic.claude-3-5-haiku-20241022-v1:0"
SONNET_45 = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
FAST = {"backoff_initial": 0.01, "max_wait": 1.0, "region": "us-east-1"}
SCHEMA = {
    "type": "object",
    "properties": {
        "rows": {"type": "array", "items": {"type": "object", "properties": {"grade": {"type": "string"}}}}
    },
    "required": ["rows"],
}
ROWS = {"rows": [{"grade": "A"}, {"grade": "C"}]}
REQUEST = CompletionRequest(
    prompt="two loans", system="You write loans.", json_schema=SCHEMA, max_tokens=500, temperature=0.7
)


def converse_response(content, stop="end_turn", inp=120, out=45):
    return {
        "output": {"message": {"role": "assistant", "content": content}},
        "stopReason": stop,
        "usage": {"inputTokens": inp, "outputTokens": out, "totalTokens": inp + out},
        "metrics": {"latencyMs": 812},
    }


def run_stubbed(provider, queue, requests=(REQUEST,)):
    """Start the provider (it builds its own client), queue stubbed answers on that client, run requests."""

    async def go():
        async with provider:
            with Stubber(provider.client) as stub:
                for add in queue:
                    add(stub)
                try:
                    return [await provider.complete(r) for r in requests]
                finally:
                    stub.assert_no_pending_responses()

    return asyncio.run(go())


def tool_params(model=HAIKU, choice=None, schema=SCHEMA, temperature=0.7):
    return {
        "modelId": model,
        "messages": [{"role": "user", "content": [{"text": "two loans"}]}],
        "system": [{"text": "You write loans."}],
        "inferenceConfig": {"maxTokens": 500, "temperature": temperature},
        "toolConfig": {
            "tools": [
                {
                    "toolSpec": {
                        "name": "emit_rows",
                        "description": "Return the rows",
                        "inputSchema": {"json": schema},
                    }
                }
            ],
            "toolChoice": choice or {"tool": {"name": "emit_rows"}},
        },
    }


def tool_answer(data):
    return converse_response(
        [
            # a reasoning block first: the provider must not assume content[0]
            {"reasoningContent": {"reasoningText": {"text": "thinking", "signature": "sig"}}},
            {"toolUse": {"toolUseId": "tooluse_1", "name": "emit_rows", "input": data}},
        ],
        stop="tool_use",
    )


def test_botocore_retries_are_off_in_the_client_seedgen_builds():
    provider = get_provider("bedrock", model=HAIKU, concurrency=16, region="eu-west-1")

    async def go():
        async with provider:
            return provider.client

    client = asyncio.run(go())
    # one attempt in total: botocore would otherwise retry throttling under seedgen's own retries
    assert client.meta.config.retries["total_max_attempts"] == 1
    assert client.meta.region_name == "eu-west-1" and client.meta.config.max_pool_connections == 16


def test_throttling_then_tool_use_answer_counts_one_retry():
    provider = get_provider("bedrock", model=HAIKU, **FAST)
    queue = [
        lambda s: s.add_client_error(
            "converse",
            service_error_code="ThrottlingException",
            service_message="Too many requests",
            http_status_code=429,
        ),
        lambda s: s.add_response("converse", tool_answer(ROWS), expected_params=tool_params()),
    ]
    (done,) = run_stubbed(provider, queue)
    assert provider.structured == "tool"
    assert done.data == ROWS and done.retries == 1
    assert provider.stats.retries == 1 and provider.stats.requests == 2 and provider.stats.failures == 0
    assert (done.input_tokens, done.output_tokens) == (120, 45) and done.meta["stop_reason"] == "tool_use"


def test_output_config_path_sends_the_schema_as_a_json_string():
    assert supports_native_json(SONNET_45) and not supports_native_json(HAIKU)
    provider = get_provider("bedrock", model=SONNET_45, **FAST)
    params = {
        "modelId": SONNET_45,
        "messages": ANY,
        "system": ANY,
        "inferenceConfig": ANY,
        "outputConfig": {
            "textFormat": {
                "type": "json_schema",
                "structure": {
                    "jsonSchema": {
                        "schema": json.dumps(SCHEMA),
                        "name": "rows",
                        "description": "the rows asked for",
                    }
                },
            }
        },
    }
    answer = converse_response([{"text": json.dumps(ROWS)}])
    (done,) = run_stubbed(provider, [lambda s: s.add_response("converse", answer, expected_params=params)])
    assert provider.structured == "output_config" and done.data == ROWS


def test_tool_mode_can_be_forced_and_non_object_schemas_are_wrapped():
    schema = {"type": "array", "items": {"type": "string"}}
    wrapped = {"type": "object", "properties": {"data": schema}, "required": ["data"]}
    provider = get_provider("bedrock", model=SONNET_45, structured="tool", **FAST)
    request = REQUEST.model_copy(update={"json_schema": schema, "temperature": 1.6})
    params = tool_params(model=SONNET_45, schema=wrapped, temperature=1.0)  # Bedrock caps temperature at 1
    queue = [lambda s: s.add_response("converse", tool_answer({"data": ["x", "y"]}), expected_params=params)]
    (done,) = run_stubbed(provider, queue, [request])
    assert done.data == ["x", "y"]


def test_models_without_named_tool_choice_get_any():
    model = "meta.llama3-1-70b-instruct-v1:0"
    provider = get_provider("bedrock", model=model, **FAST)
    params = tool_params(model=model, choice={"any": {}})
    (done,) = run_stubbed(
        provider, [lambda s: s.add_response("converse", tool_answer(ROWS), expected_params=params)]
    )
    assert done.data == ROWS


def test_validation_exception_fails_at_once_with_a_clear_error():
    provider = get_provider("bedrock", model=HAIKU, **FAST)
    queue = [
        lambda s: s.add_client_error(
            "converse",
            service_error_code="ValidationException",
            service_message="The provided model identifier is invalid.",
            http_status_code=400,
        )
    ]
    with pytest.raises(ProviderHTTPError) as info:
        run_stubbed(provider, queue)
    message = info.value.one_line()
    assert "ValidationException" in message and "model identifier is invalid" in message and HAIKU in message
    assert "kept failing" not in message and info.value.status == 400
    assert provider.stats.requests == 1 and provider.stats.retries == 0 and provider.stats.failures == 1


def test_access_denied_has_a_fix_hint():
    provider = get_provider("bedrock", model=HAIKU, **FAST)
    queue = [
        lambda s: s.add_client_error(
            "converse", service_error_code="AccessDeniedException", http_status_code=403
        )
    ]
    with pytest.raises(ProviderHTTPError) as info:
        run_stubbed(provider, queue)
    assert "bedrock:InvokeModel" in info.value.fix


def test_retryable_codes_exhaust_into_endpoint_kept_failing():
    provider = get_provider("bedrock", model=HAIKU, max_attempts=4, **FAST)
    codes = [
        ("ServiceUnavailableException", 503),
        ("ModelTimeoutException", 408),
        ("InternalServerException", 500),
    ]
    codes.append(("ModelNotReadyException", 429))
    queue = [
        (
            lambda c, st: (
                lambda s: s.add_client_error(
                    "converse", service_error_code=c, service_message="busy", http_status_code=st
                )
            )
        )(code, status)
        for code, status in codes
    ]
    with pytest.raises(ProviderError) as info:
        run_stubbed(provider, queue)
    message = info.value.one_line()
    assert (
        "endpoint kept failing" in message and "ModelNotReadyException" in message and "4 attempts" in message
    )
    assert provider.stats.retries == 3


def test_max_tokens_stop_gives_a_truncated_completion():
    provider = get_provider("bedrock", model=HAIKU, structured="none", **FAST)
    answer = converse_response([{"text": '{"rows": [{"grade": "A"}, {"gra'}], stop="max_tokens")
    (done,) = run_stubbed(provider, [lambda s: s.add_response("converse", answer)])
    assert done.truncated and done.data is None and done.meta["stop_reason"] == "max_tokens"


def test_plain_text_answer_in_tool_mode_is_still_parsed():
    provider = get_provider("bedrock", model=HAIKU, **FAST)
    answer = converse_response([{"text": "```json\n" + json.dumps(ROWS) + "\n```"}])
    (done,) = run_stubbed(provider, [lambda s: s.add_response("converse", answer)])
    assert done.data == ROWS


def test_malformed_output_is_retried():
    provider = get_provider("bedrock", model=HAIKU, **FAST)
    queue = [
        lambda s: s.add_response(
            "converse", converse_response([{"text": "{"}], stop="malformed_model_output")
        ),
        lambda s: s.add_response("converse", tool_answer(ROWS)),
    ]
    (done,) = run_stubbed(provider, queue)
    assert done.data == ROWS and done.retries == 1


def test_bedrock_ignores_seedgen_api_key(monkeypatch):
    monkeypatch.setenv("SEEDGEN_API_KEY", "sk-not-for-aws-123456")
    provider = get_provider("bedrock", model=HAIKU, **FAST)
    assert "sk-not-for-aws" not in repr(provider) and provider._key is None


def test_over_real_http_botocore_makes_one_attempt_per_seedgen_attempt(monkeypatch):
    """No Stubber: botocore signs and sends real HTTP to a loopback endpoint (`base_url` → endpoint_url).

    The endpoint throttles twice, then answers; it must see exactly three requests (botocore retrying
    on top of seedgen would make it more), and the Converse JSON must parse end to end.
    """
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    seen = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.append((self.path, body, self.headers.get("Authorization", "")))
            if len(seen) <= 2:
                status, payload = 429, {"message": "Too many requests, please wait before trying again."}
                headers = {"x-amzn-ErrorType": "ThrottlingException:http://internal.amazon.com/coral/"}
            else:
                status, payload, headers = 200, tool_answer(ROWS), {}
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        provider = get_provider(
            "bedrock", model=HAIKU, base_url=f"http://127.0.0.1:{server.server_address[1]}", **FAST
        )

        async def go():
            async with provider:
                return await provider.complete(REQUEST)

        done = asyncio.run(go())
    finally:
        server.shutdown()
        server.server_close()
    assert len(seen) == 3 and done.retries == 2 and done.data == ROWS
    path, body, auth = seen[-1]
    assert path == "/model/" + HAIKU.replace(":", "%3A") + "/converse" and body["toolConfig"][
        "toolChoice"
    ] == {"tool": {"name": "emit_rows"}}
    assert auth.startswith("AWS4-HMAC-SHA256")  # signed by boto3's credential chain
