"""The openai provider and the base retry policy, against the fault-injecting loopback server."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
from fakes import Fault, FaultServer

from seedgen.errors import ConfigError, ProviderError, ProviderHTTPError, UserInputError
from seedgen.providers import get_provider
from seedgen.providers.base import CompletionRequest

SCHEMA = {
    "type": "object",
    "properties": {
        "rows": {
            "type": "array",
            "minItems": 2,
            "items": {
                "type": "object",
                "properties": {"grade": {"enum": ["A", "B"]}, "amount": {"type": "integer", "minimum": 1}},
                "required": ["grade", "amount"],
            },
        }
    },
    "required": ["rows"],
}
REQUEST = CompletionRequest(prompt="two loans", json_schema=SCHEMA, max_tokens=200)
FAST = {"backoff_initial": 0.01, "max_wait": 5.0}


def run(coro):
    return asyncio.run(coro)


async def complete_all(provider, requests):
    async with provider:
        return await asyncio.gather(*(provider.complete(r) for r in requests))


@pytest.fixture
def server():
    with FaultServer() as srv:
        yield srv


def test_happy_path_parses_schema_json_and_counts_tokens(server):
    provider = get_provider("openai", base_url=server.base_url, **FAST)
    (done,) = run(complete_all(provider, [REQUEST]))
    assert provider.model == "fake-model"  # asked the server which model it serves
    rows = done.data["rows"]
    assert len(rows) >= 2 and all(r["grade"] in ("A", "B") and r["amount"] >= 1 for r in rows)
    sent = server.bodies[0]
    assert sent["response_format"]["type"] == "json_schema"
    assert sent["response_format"]["json_schema"]["schema"] == SCHEMA
    assert sent["response_format"]["json_schema"]["strict"] is False  # open objects: strict would reject
    assert sent["max_tokens"] == 200
    assert done.output_tokens > 0 and provider.stats.output_tokens == done.output_tokens
    assert provider.stats.requests == 1 and provider.stats.retries == 0


def test_429_retry_after_is_honoured(server):
    server.add(Fault.rate_limit(retry_after=1))
    provider = get_provider("openai", base_url=server.base_url, **FAST)
    start = time.monotonic()
    (done,) = run(complete_all(provider, [REQUEST]))
    assert time.monotonic() - start >= 1.0  # waited as told, not the 10 ms backoff
    assert done.retries == 1 and provider.stats.retries == 1
    assert server.outcomes == {"429": 1, "ok": 1}


def test_retry_after_ms_header_is_read(server):
    server.add(Fault.rate_limit(retry_after=0.6, header_ms=True))
    provider = get_provider("openai", base_url=server.base_url, **FAST)
    start = time.monotonic()
    run(complete_all(provider, [REQUEST]))
    assert time.monotonic() - start >= 0.6


def test_5xx_drops_and_broken_bodies_are_retried(server):
    server.add(Fault.error(500), Fault.error(503), Fault.drop(), Fault.broken_body())
    provider = get_provider("openai", base_url=server.base_url, **FAST)
    (done,) = run(complete_all(provider, [REQUEST]))
    assert done.data is not None and done.retries == 4
    assert provider.stats.requests == 5 == server.requests
    assert provider.stats.failures == 0


def test_a_hanging_request_times_out_and_is_retried(server):
    server.add(Fault.hang(30))
    provider = get_provider("openai", base_url=server.base_url, timeout=0.5, **FAST)
    start = time.monotonic()
    (done,) = run(complete_all(provider, [REQUEST]))
    assert time.monotonic() - start < 10
    assert done.data is not None and provider.stats.retries == 1


def test_an_endpoint_that_keeps_failing_gives_a_clear_error(server):
    server.add(*[Fault.error(502, "upstream exploded")] * 6)
    provider = get_provider("openai", base_url=server.base_url, **FAST)
    with pytest.raises(ProviderHTTPError) as info:
        run(complete_all(provider, [REQUEST]))
    message = info.value.one_line()
    assert "endpoint kept failing" in message and "HTTP 502" in message and "upstream exploded" in message
    assert "openai" in message and "fake-model" in message and "6 attempts" in message
    assert info.value.status == 502 and info.value.provider == "openai"
    assert provider.stats.requests == 6 and provider.stats.failures == 1 and provider.stats.retries == 5


def test_max_attempts_is_configurable(server):
    server.add(*[Fault.error(500)] * 2)
    provider = get_provider("openai", base_url=server.base_url, max_attempts=2, **FAST)
    with pytest.raises(ProviderError, match="2 attempts"):
        run(complete_all(provider, [REQUEST]))
    assert server.requests == 2


def test_user_errors_are_not_retried(server):
    server.add(Fault.error(400, "max_tokens is too large"), Fault.error(401, "bad key"))
    provider = get_provider("openai", base_url=server.base_url, **FAST)
    with pytest.raises(ProviderHTTPError, match="max_tokens is too large") as info:
        run(complete_all(provider, [REQUEST]))
    assert info.value.status == 400 and server.requests == 1
    with pytest.raises(ProviderHTTPError, match="bad key") as info:
        run(complete_all(provider, [REQUEST]))
    assert info.value.fix and "OPENAI_API_KEY" in info.value.fix


def test_concurrency_bounds_requests_in_flight():
    with FaultServer(latency=0.2) as server:
        provider = get_provider("openai", base_url=server.base_url, concurrency=3, **FAST)
        run(complete_all(provider, [REQUEST] * 9))
    assert server.max_in_flight == 3 and server.requests == 9


def test_auto_steps_down_to_json_object_when_json_schema_is_refused(server):
    # what llama-cpp-python's server answers to response_format json_schema
    refusal = "('body', 'response_format', 'type') Input should be 'text' or 'json_object'"
    server.add(Fault.error(500, refusal))
    provider = get_provider("openai", base_url=server.base_url, **FAST)

    async def one_after_another():
        async with provider:
            return [await provider.complete(REQUEST), await provider.complete(REQUEST)]

    done = run(one_after_another())
    assert provider.structured == "json_object"
    assert [b["response_format"]["type"] for b in server.bodies] == [
        "json_schema",
        "json_object",
        "json_object",
    ]
    assert server.bodies[-1]["response_format"]["schema"] == SCHEMA
    assert all(d.data is not None for d in done) and provider.stats.retries == 0


def test_structured_none_sends_no_response_format(server):
    provider = get_provider("openai", base_url=server.base_url, structured="none", **FAST)
    run(complete_all(provider, [REQUEST]))
    assert "response_format" not in server.bodies[0]


def test_non_object_schema_is_wrapped_for_json_schema_and_unwrapped(server):
    schema = {"type": "array", "items": {"type": "integer"}, "minItems": 3}
    provider = get_provider("openai", base_url=server.base_url, **FAST)
    server.responder = lambda body: '{"data": [1, 2, 3]}'
    (done,) = run(complete_all(provider, [CompletionRequest(prompt="x", json_schema=schema)]))
    sent = server.bodies[0]["response_format"]["json_schema"]
    assert sent["schema"]["properties"]["data"] == schema
    assert sent["strict"] is True  # the wrapper is closed and every property required: strict is safe
    assert done.data == [1, 2, 3]


def test_truncated_content_is_flagged_not_raised(server):
    server.add(Fault.truncated())
    provider = get_provider("openai", base_url=server.base_url, **FAST)
    (done,) = run(complete_all(provider, [REQUEST]))
    assert done.truncated and done.data is None and done.meta["finish_reason"] == "length"


def test_unknown_option_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown key"):
        get_provider("openai", base_url="http://127.0.0.1:9/v1", temprature=0.3)


def test_unknown_provider_is_a_user_error():
    with pytest.raises(UserInputError, match="unknown provider"):
        get_provider("gpt")


def test_real_openai_without_a_key_names_the_variables():
    provider = get_provider("openai")
    with pytest.raises(UserInputError) as info:
        run(provider.start())
    assert "SEEDGEN_API_KEY" in info.value.one_line() and "OPENAI_API_KEY" in info.value.one_line()


def test_keys_never_appear_in_repr_errors_or_logs(server, monkeypatch, caplog):
    key = "sk-test-7f3a9c1e5b2d4f6a8c0e"
    monkeypatch.setenv("OPENAI_API_KEY", key)
    # a badly behaved endpoint that quotes the request's Authorization header back in its error
    server.add(Fault.error(403, f"forbidden for Authorization: Bearer {key}"))
    caplog.set_level(logging.DEBUG)
    provider = get_provider("openai", base_url=server.base_url, **FAST)
    with pytest.raises(ProviderHTTPError) as info:
        run(complete_all(provider, [REQUEST]))
    assert server.headers[0]["authorization"] == f"Bearer {key}"  # it was sent...
    assert key not in info.value.one_line() and key not in str(info.value)  # ...and shown nowhere
    assert "***" in str(info.value)
    assert key not in repr(provider) and "OPENAI_API_KEY" in repr(provider)
    assert key not in repr(provider.__dict__)
    assert key not in caplog.text
    # retried failures are logged too: still no key
    server.add(Fault.error(500, f"echo {key}"))
    run(complete_all(provider, [REQUEST]))
    assert key not in caplog.text


def test_seedgen_key_takes_precedence(server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai-aaaaaaaaaaaa")
    monkeypatch.setenv("SEEDGEN_API_KEY", "sk-seedgen-bbbbbbbbbbbb")
    provider = get_provider("openai", base_url=server.base_url, **FAST)
    run(complete_all(provider, [REQUEST]))
    assert server.headers[0]["authorization"] == "Bearer sk-seedgen-bbbbbbbbbbbb"


@pytest.mark.parametrize("transport", ["aiohttp", "httpx"])
def test_both_http_transports_send_the_same_body_and_survive_faults(server, transport):
    server.add(Fault.rate_limit(retry_after=0.1), Fault.error(500), Fault.drop(), Fault.broken_body())
    provider = get_provider("openai", base_url=server.base_url, http_client=transport, **FAST)
    (done,) = run(complete_all(provider, [REQUEST]))
    assert done.data is not None and done.retries == 4 and server.requests == 5
    assert server.outcomes == {"429": 1, "500": 1, "drop": 1, "broken_body": 1, "ok": 1}
    body = server.bodies[-1]
    assert body["messages"] == [{"role": "user", "content": "two loans"}]
    assert body["response_format"]["json_schema"]["schema"] == SCHEMA
    assert body["model"] == "fake-model" and body["max_tokens"] == 200 and body["temperature"] == 0.8
    assert server.headers[-1]["content-type"] == "application/json"


def test_each_request_carries_its_own_schema_though_formats_are_serialised_once(server):
    other = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    requests = [
        REQUEST,
        CompletionRequest(prompt="one number", json_schema=other, seed=3, system="be brief"),
        REQUEST.model_copy(update={"prompt": "again"}),
    ]
    provider = get_provider("openai", base_url=server.base_url, **FAST)

    async def one_after_another():
        async with provider:
            return [await provider.complete(r) for r in requests]

    done = run(one_after_another())
    sent = [b["response_format"]["json_schema"]["schema"] for b in server.bodies]
    assert sent == [SCHEMA, other, SCHEMA]
    assert server.bodies[1]["seed"] == 3 and server.bodies[1]["messages"][0] == {
        "role": "system",
        "content": "be brief",
    }
    assert isinstance(done[1].data["n"], int)
    assert len(provider._formats) == 2  # one serialised response_format per distinct schema


def test_a_reply_that_is_not_a_chat_completion_is_retried(server):
    # HTTP 200 without choices, then 200 with a non-text message content
    server.add(
        Fault.error(200, body={"object": "chat.completion", "choices": []}),
        Fault.error(200, body={"choices": [{"message": {"content": ["a"]}, "finish_reason": "stop"}]}),
    )
    provider = get_provider("openai", base_url=server.base_url, **FAST)
    (done,) = run(complete_all(provider, [REQUEST]))
    assert done.data is not None and done.retries == 2 and provider.stats.failures == 0


def test_every_concurrency_slot_has_its_own_connection():
    with FaultServer(latency=0.3) as server:
        provider = get_provider("openai", base_url=server.base_url, concurrency=40, **FAST)
        start = time.monotonic()
        run(complete_all(provider, [REQUEST] * 40))
    assert server.max_in_flight == 40 and time.monotonic() - start < 3


def test_sdks_without_post_content_get_the_same_body_as_a_mapping(server):
    provider = get_provider("openai", base_url=server.base_url, **FAST)

    async def go():
        async with provider:
            provider._post_bytes = False  # what an SDK whose `post` has no `content` parameter gets
            return await provider.complete(REQUEST)

    done = run(go())
    assert done.data is not None
    assert server.bodies[0]["response_format"]["json_schema"]["schema"] == SCHEMA
    assert server.bodies[0]["messages"] == [{"role": "user", "content": "two loans"}]


def test_a_refused_connection_says_so_on_either_transport():
    for transport in ("aiohttp", "httpx"):
        provider = get_provider("openai", base_url="http://127.0.0.1:9/v1", http_client=transport, **FAST)
        with pytest.raises(ProviderError, match="could not list the models") as info:
            run(complete_all(provider, [REQUEST]))
        assert "timed out" not in str(info.value)
        provider = get_provider(
            "openai",
            model="m",
            base_url="http://127.0.0.1:9/v1",
            max_attempts=2,
            http_client=transport,
            **FAST,
        )
        with pytest.raises(ProviderError, match="cannot connect") as info:
            run(complete_all(provider, [REQUEST]))
        assert "gave up after 2 attempts" in str(info.value)
