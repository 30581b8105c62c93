"""The openai and local providers against the REAL llama.cpp server running the REAL SmolLM2 model."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from seedgen.errors import UserInputError
from seedgen.providers import get_provider
from seedgen.providers.base import CompletionRequest
from seedgen.providers.local import MODEL_ALIAS, LlamaServer

pytestmark = pytest.mark.integration

ROW_SCHEMA = {
    "type": "object",
    "properties": {
        "rows": {
            "type": "array",
            "minItems": 2,
            "maxItems": 3,
            "items": {
                "type": "object",
                "properties": {
                    "job_title": {"type": "string"},
                    "home_ownership": {"enum": ["RENT", "MORTGAGE", "OWN"]},
                    "annual_income": {"type": "integer"},
                },
                "required": ["job_title", "home_ownership", "annual_income"],
            },
        }
    },
    "required": ["rows"],
}
PROMPT = "Write 2 loan applicants as JSON: job_title, home_ownership (RENT, MORTGAGE or OWN), annual_income."


def assert_valid_rows(data):
    rows = data["rows"]
    assert 2 <= len(rows) <= 3
    for row in rows:
        assert set(row) == {"job_title", "home_ownership", "annual_income"}
        assert isinstance(row["job_title"], str)
        assert row["home_ownership"] in ("RENT", "MORTGAGE", "OWN")
        assert isinstance(row["annual_income"], int)


def test_openai_provider_gets_schema_valid_json_from_llama_cpp(llama_base_url):
    provider = get_provider("openai", base_url=llama_base_url, concurrency=2)

    async def go():
        async with provider:
            return await asyncio.gather(
                *(
                    provider.complete(
                        CompletionRequest(prompt=PROMPT, json_schema=ROW_SCHEMA, max_tokens=300, seed=i)
                    )
                    for i in range(2)
                )
            )

    done = asyncio.run(go())
    assert provider.model == MODEL_ALIAS
    # llama-cpp-python's server refuses `json_schema`; auto steps down to its json_object + schema form
    assert provider.structured == "json_object"
    for completion in done:
        assert completion.data is not None, completion.text
        assert_valid_rows(completion.data)
        assert completion.input_tokens > 0 and completion.output_tokens > 0
    assert provider.stats.output_tokens == sum(c.output_tokens for c in done)


def test_local_provider_starts_and_stops_its_own_server():
    provider = get_provider("local", concurrency=1)

    async def go():
        async with provider:
            server = provider.server
            assert server.running and provider.base_url.startswith("http://127.0.0.1:")
            completion = await provider.complete(
                CompletionRequest(prompt=PROMPT, json_schema=ROW_SCHEMA, max_tokens=300)
            )
            return server, completion

    server, completion = asyncio.run(go())
    assert_valid_rows(completion.data)
    assert provider.model == MODEL_ALIAS and completion.meta["structured"] == "json_object"
    assert not server.running


def test_local_server_stops_when_the_block_raises():
    provider = get_provider("local")

    async def go():
        async with provider:
            raise KeyboardInterrupt  # what Ctrl-C raises inside asyncio.run

    with pytest.raises(KeyboardInterrupt):
        asyncio.run(go())
    assert provider.server is not None and not provider.server.running


def test_local_server_dies_with_a_killed_parent(tmp_path):
    """A SIGKILLed seedgen (the crash that --resume recovers from) must not leave a server behind."""
    pid_file = tmp_path / "pid"
    script = textwrap.dedent(
        f"""
        import time
        from seedgen.providers.local import LlamaServer
        server = LlamaServer()
        server.start()
        open({str(pid_file)!r}, "w").write(str(server._proc.pid))
        time.sleep(600)
        """
    )
    parent = subprocess.Popen([sys.executable, "-c", script])
    try:
        deadline = time.monotonic() + 180
        while not pid_file.exists() or not pid_file.read_text():
            assert time.monotonic() < deadline and parent.poll() is None
            time.sleep(0.2)
        child = int(pid_file.read_text())
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        deadline = time.monotonic() + 15
        while _alive(child) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _alive(child)
    finally:
        if parent.poll() is None:
            parent.kill()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (dead, not yet reaped by init) counts as gone
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def test_llama_server_reports_a_bad_model_file(tmp_path):
    bogus = tmp_path / "broken.gguf"
    bogus.write_bytes(b"not a gguf file")
    with pytest.raises(Exception, match="exited with code") as info:
        LlamaServer(bogus, startup_timeout=60).start()
    assert "local" in str(getattr(info.value, "provider", "local"))


def test_local_provider_rejects_a_base_url_and_unknown_models():
    with pytest.raises(UserInputError, match="base-url"):
        get_provider("local", base_url="http://127.0.0.1:1/v1")
    with pytest.raises(UserInputError, match="gguf"):
        get_provider("local", model="gpt-4o")


def test_a_prompt_beyond_the_context_fails_at_once_with_a_hint(llama_base_url):
    from seedgen.errors import ProviderHTTPError

    provider = get_provider("openai", base_url=llama_base_url, structured="none")

    async def go():
        async with provider:
            await provider.complete(CompletionRequest(prompt="word " * 5000, max_tokens=50))

    with pytest.raises(ProviderHTTPError) as info:
        asyncio.run(go())
    assert info.value.status == 400 and "context" in str(info.value) and "rows-per-request" in info.value.fix
    assert provider.stats.requests == 1  # a user error: not retried
