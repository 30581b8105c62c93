"""The sds provider against a loopback server speaking SDS's routes (tests/fakes/sds_server.py)."""

from __future__ import annotations

import asyncio
import logging

import pytest
from fakes import FakeSDS

from seedgen.errors import ProviderError, ProviderHTTPError, UserInputError
from seedgen.providers import get_provider
from seedgen.providers.base import CompletionRequest

FAST = {"backoff_initial": 0.01, "max_wait": 1.0}
MODEL = "us.anthropic.claude-3-5-haiku-20241022-v1:0"


def loan_rows(topic, i, request):
    return {"purpose": topic, "amount": 1000 * (i + 1), "term": "36 months"}


def generate(provider, request):
    async def go():
        async with provider:
            return await provider.complete(request)

    return asyncio.run(go())


@pytest.fixture
def sds():
    with FakeSDS(row_factory=loan_rows) as server:
        yield server


def test_freeform_rows_come_back_without_seeds(sds):
    provider = get_provider("sds", base_url=sds.base_url, model=MODEL, **FAST)
    request = CompletionRequest(
        prompt="Write loans as JSON.",
        system="Be terse.",
        topic="car",
        n_rows=3,
        temperature=0.4,
        max_tokens=900,
    )
    done = generate(provider, request)
    assert done.data == [loan_rows("car", i, None) for i in range(3)]
    assert all("Seeds" not in row for row in done.data)
    # ...while the file SDS saved carries Seeds as the first key
    saved = sds.files[done.meta["export_path"]]
    assert list(saved[0])[0] == "Seeds" and saved[0]["Seeds"] == "car"
    path, body = sds.requests[0]
    assert path == "/synthesis/freeform"
    assert body == {
        "model_id": MODEL,
        "use_case": "custom",
        "technique": "freeform",
        "is_demo": True,
        "inference_type": "aws_bedrock",
        "topics": ["car"],
        "num_questions": 3,
        "custom_prompt": "Be terse.\n\nWrite loans as JSON.",
        "model_params": {"temperature": 0.4, "max_tokens": 900},
    }
    assert "authorization" not in sds.headers[0]  # no key configured: none sent
    assert done.meta["tokens_estimated"] and provider.stats.output_tokens == done.output_tokens > 0


def test_a_seeds_key_in_the_answer_is_dropped():
    with FakeSDS(row_factory=lambda t, i, r: {"Seeds": t, "name": f"n{i}"}) as server:
        done = generate(
            get_provider("sds", base_url=server.base_url, model=MODEL),
            CompletionRequest(prompt="x", n_rows=2),
        )
    assert done.data == [{"name": "n0"}, {"name": "n1"}]


def test_model_is_discovered_when_not_given(sds):
    provider = get_provider("sds", base_url=sds.base_url)
    generate(provider, CompletionRequest(prompt="x"))
    assert provider.model == MODEL and sds.requests[0][1]["model_id"] == MODEL
    assert sds.requests[0][1]["topics"] == ["rows"] and sds.requests[0][1]["num_questions"] == 1


def test_400_envelope_is_a_clear_error_and_not_retried(sds):
    sds.add("model_error")
    provider = get_provider("sds", base_url=sds.base_url, model=MODEL, **FAST)
    with pytest.raises(ProviderHTTPError) as info:
        generate(provider, CompletionRequest(prompt="x"))
    assert info.value.status == 400 and len(sds.requests) == 1
    assert "ModelHandlerError in batch processing" in info.value.one_line() and "sds" in info.value.one_line()


def test_throttling_wrapped_in_400_is_retried(sds):
    sds.add("throttled", "error500", "timeout504")
    provider = get_provider("sds", base_url=sds.base_url, model=MODEL, **FAST)
    done = generate(provider, CompletionRequest(prompt="x", n_rows=2))
    assert len(done.data) == 2 and done.retries == 3 and provider.stats.retries == 3


def test_422_validation_detail_is_reported(sds):
    provider = get_provider("sds", base_url=sds.base_url, model=MODEL, **FAST)
    # seedgen's own payloads always validate, so send a raw body SDS's pydantic model rejects
    with pytest.raises(ProviderHTTPError) as info:

        async def go():
            async with provider:
                await provider.call_with_retries(
                    provider._post, "/synthesis/freeform", {"topics": ["x"], "num_questions": 0}
                )

        asyncio.run(go())
    message = info.value.one_line()
    assert info.value.status == 422 and "body.model_id" in message and "body.num_questions" in message
    assert len(sds.requests) == 1


def test_status_failed_with_200_and_no_rows_is_an_error(sds):
    sds.add(*["failed_empty"] * 3)
    provider = get_provider("sds", base_url=sds.base_url, model=MODEL, max_attempts=3, **FAST)
    with pytest.raises(ProviderError) as info:
        generate(provider, CompletionRequest(prompt="x"))
    assert (
        "SDS produced no rows" in info.value.one_line()
        and "no valid JSON in model output" in info.value.one_line()
    )
    assert "kept failing" in info.value.one_line() and len(sds.requests) == 3


def test_evaluate_rows_maps_scores_back_to_input_order(sds):
    def score(row):
        return float(row["amount"] // 1000), f"amount {row['amount']}"

    sds.scorer = score
    provider = get_provider("sds", base_url=sds.base_url, model=MODEL)

    async def go():
        async with provider:
            done = await provider.complete(CompletionRequest(prompt="x", topic="home", n_rows=6))
            rows = list(reversed(done.data)) + [{"purpose": "home", "amount": 99, "term": "x"}]
            return rows, await provider.evaluate_rows(
                rows, import_path=done.meta["export_path"], custom_prompt="judge"
            )

    rows, scores = asyncio.run(go())
    assert [s.score for s in scores[:-1]] == [r["amount"] // 1000 for r in rows[:-1]]
    assert scores[-1] is None  # not in the server's file
    path, body = sds.requests[-1]
    assert path == "/synthesis/evaluate_freeform" and body["use_case"] == "custom" and body["is_demo"] is True


def test_key_is_sent_as_bearer_and_never_shown(sds, monkeypatch, caplog):
    key = "cdsw-key-0123456789abcdef"
    monkeypatch.setenv("SDS_API_KEY", key)
    caplog.set_level(logging.DEBUG)
    sds.add("model_error")
    provider = get_provider("sds", base_url=sds.base_url, model=MODEL, **FAST)
    with pytest.raises(ProviderHTTPError) as info:
        generate(provider, CompletionRequest(prompt="x"))
    assert sds.headers[0]["authorization"] == f"Bearer {key}"
    assert key not in str(info.value) and key not in repr(provider) and key not in caplog.text


def test_base_url_is_required():
    with pytest.raises(UserInputError) as info:
        get_provider("sds", model=MODEL)
    assert "--base-url" in info.value.one_line()
