"""`openai`: any OpenAI-compatible chat endpoint (OpenAI, vLLM, Ollama, llama.cpp servers) via the openai SDK.

The SDK's own retries are off (`max_retries=0`): seedgen's base class retries, so attempts, Retry-After
and accounting live in one place. Structured output is requested in the form the endpoint understands:
OpenAI's `json_schema` response format, or llama.cpp's `{"type": "json_object", "schema": ...}`. With
`structured="auto"` the provider tries `json_schema` and, if the server rejects that response format,
steps down to `json_object` and then to plain text, remembering what worked.
"""

from __future__ import annotations

import importlib.util
import inspect
import json
import logging
import os
import re
from typing import Any, ClassVar, Literal

from pydantic import Field

from seedgen.errors import MissingDependencyError, ProviderError, ProviderHTTPError
from seedgen.providers.base import (
    Completion,
    CompletionRequest,
    Provider,
    ProviderOptions,
    TransientProviderError,
    parse_json,
    parse_retry_after,
)

log = logging.getLogger("seedgen")

Structured = Literal["auto", "json_schema", "json_object", "none"]
#: the order `auto` steps down in when a server rejects a response format
_FALLBACK: dict[str, str] = {"json_schema": "json_object", "json_object": "none"}
#: key the provider wraps a non-object schema under (OpenAI's json_schema needs an object at the root)
_WRAP = "data"
#: serialised response formats kept per provider (one per rows-per-request and format, in practice)
_FORMAT_CACHE = 8


class OpenAIOptions(ProviderOptions):
    structured: Structured = Field(
        "auto",
        description="how to ask for JSON: json_schema (OpenAI, vLLM, Ollama), json_object with a schema "
        "(llama.cpp), none (prompt only), or auto (try json_schema, step down if the server refuses)",
    )
    http_client: Literal["auto", "aiohttp", "httpx"] = Field(
        "auto",
        description="the SDK's HTTP transport: aiohttp (about half the client CPU per request of httpx, "
        "which matters at high --concurrency), httpx (the SDK's default), or auto (aiohttp when installed)",
    )


class OpenAIProvider(Provider):
    """Chat completions against an OpenAI-compatible `base_url` (default: api.openai.com)."""

    name: ClassVar[str] = "openai"
    supports_schema: ClassVar[bool] = True
    key_env_vars: ClassVar[tuple[str, ...]] = ("OPENAI_API_KEY",)
    Options: ClassVar[type[ProviderOptions]] = OpenAIOptions
    #: model for api.openai.com when none is given; other servers are asked for theirs
    openai_default_model: ClassVar[str] = "gpt-4o-mini"
    #: honour OPENAI_BASE_URL like the SDK does (the local provider does not)
    reads_base_url_env: ClassVar[bool] = True

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if self.reads_base_url_env and self.base_url is None and os.environ.get("OPENAI_BASE_URL"):
            self.base_url = os.environ["OPENAI_BASE_URL"].rstrip("/")
        self._client: Any = None
        self._format: str = "none"
        self._post_bytes = True
        #: (format, schema, response_format JSON, wrapped), newest first
        self._formats: list[tuple[str, dict[str, Any], str, bool]] = []

    @property
    def is_openai(self) -> bool:
        """True for OpenAI itself, which wants `json_schema` and `max_completion_tokens`."""
        return self.base_url is None or "api.openai.com" in self.base_url

    @property
    def structured(self) -> str:
        """The response format in use now (after any `auto` step-down)."""
        return self._format

    async def _start(self) -> None:
        try:
            import openai
        except ImportError as e:  # pragma: no cover - openai is a core dependency
            raise MissingDependencyError(
                "the openai provider needs the openai SDK", fix='pip install "seedgen"'
            ) from e
        # A local server needs no key, but the SDK insists on one: send a placeholder, never a real key
        # from another variable.
        key = self._require_key().reveal() if self.is_openai else (self._key.reveal() if self._key else "")
        self._client = openai.AsyncOpenAI(
            base_url=self.base_url,
            api_key=key or "sk-no-key-required",
            max_retries=0,
            timeout=self.options.timeout + 5,  # the base class's per-attempt timeout fires first
            http_client=self._http_client(openai),
        )
        structured = self.options.structured
        self._format = "json_schema" if structured == "auto" else structured
        self._post_bytes = "content" in inspect.signature(self._client.post).parameters
        if not self.model:
            try:
                self.model = self.openai_default_model if self.is_openai else await self._discover_model()
            except BaseException:
                await self._stop()  # `stop()` is not called for a provider that never started
                raise

    def _http_client(self, openai: Any) -> Any:
        """One HTTP client for the run, its pool sized to the concurrency (keep-alive connections are
        reused, never re-opened per request); aiohttp-backed when available (see `http_client`)."""
        choice = self.options.http_client
        aio = getattr(openai, "DefaultAioHttpClient", None)  # openai >= 1.80 with the aiohttp extra
        if choice != "httpx":
            if aio is not None and importlib.util.find_spec("aiohttp") is not None:
                cls = aio
            elif choice == "aiohttp":
                raise MissingDependencyError(
                    "http_client=aiohttp needs aiohttp and openai >= 1.80",
                    fix='pip install "openai[aiohttp]"',
                )
            else:
                cls = openai.DefaultAsyncHttpxClient
        else:
            cls = openai.DefaultAsyncHttpxClient
        default = openai.DEFAULT_CONNECTION_LIMITS
        limits = type(default)(
            max_connections=max(default.max_connections or 0, self.concurrency),
            max_keepalive_connections=max(default.max_keepalive_connections or 0, self.concurrency),
            keepalive_expiry=default.keepalive_expiry,
        )
        return cls(limits=limits, timeout=self.options.timeout + 5)

    async def _stop(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    async def _discover_model(self) -> str:
        """The first model the server lists: vLLM, Ollama and llama.cpp usually serve just one."""
        try:
            page = await self._client.models.list()
            ids = [m.id for m in page.data]
        except Exception as e:
            raise ProviderError(
                f"openai provider: could not list the models at {self.base_url}: "
                f"{self._safe(str(_root_cause(e)) or str(e))}",
                provider=self.name,
                fix="check --base-url (it usually ends in /v1), or pass --model",
            ) from None
        if not ids:
            raise ProviderError(
                f"openai provider: {self.base_url} lists no models", provider=self.name, fix="pass --model"
            )
        return ids[0]

    async def _complete(self, request: CompletionRequest) -> Completion:
        import openai

        head = self._head(request)
        while True:
            fmt = self._format if request.json_schema is not None else "none"
            fragment, wrapped = self._response_format_json(fmt, request.json_schema)
            body = head + (f',"response_format":{fragment}}}' if fragment else "}")
            try:
                # The SDK's low-level `post` with the body already serialised and the reply as bytes:
                # `chat.completions.create` walks every parameter through its type-driven transform and
                # builds a pydantic ChatCompletion: ~1.7 ms of CPU per request that seedgen does not need
                # (benchmarks/provider_bench.py). Status errors, timeouts and connection errors still
                # come from the SDK as its usual exceptions.
                if self._post_bytes:
                    raw = await self._client.post("/chat/completions", cast_to=bytes, content=body.encode())
                else:  # SDKs before `post(content=...)` take the body as a mapping
                    raw = await self._client.post("/chat/completions", cast_to=bytes, body=json.loads(body))
                break
            except openai.APIStatusError as e:
                if self.options.structured == "auto" and fmt in _FALLBACK and _rejects_format(e):
                    # a capability probe, not a failure: step down and send again at once
                    log.info(
                        "%s: server refused response_format %s; using %s", self.name, fmt, _FALLBACK[fmt]
                    )
                    self._format = _FALLBACK[fmt]
                    self.stats.requests += 1
                    continue
                raise self._http_error(e) from None
            except openai.APIConnectionError as e:  # APITimeoutError included
                root = _root_cause(e)
                if isinstance(e, openai.APITimeoutError) and (
                    isinstance(root, TimeoutError) or "timeout" in type(root).__name__.lower()
                ):
                    raise TransientProviderError(
                        f"request timed out after {self.options.timeout:g} s"
                    ) from None
                # the SDK's aiohttp transport reports a dropped connection as a timeout: say what it was
                cause = self._safe(str(root) or type(root).__name__)
                raise TransientProviderError(
                    f"cannot connect to {self.base_url or 'OpenAI'}: {cause}"
                ) from None
            except openai.APIError as e:
                # an unreadable reply (cut-off body): worth another try
                raise TransientProviderError(f"malformed reply: {self._safe(str(e))}") from None
        return self._to_completion(raw, wrapped)

    def _head(self, request: CompletionRequest) -> str:
        """The request body as JSON up to (not including) the closing brace and any response_format."""
        messages = []
        if request.system:
            messages.append({"role": "system", "content": request.system})
        messages.append({"role": "user", "content": request.prompt})
        body: dict[str, Any] = {"model": self.model, "messages": messages, "temperature": request.temperature}
        body["max_completion_tokens" if self.is_openai else "max_tokens"] = request.max_tokens
        if request.seed is not None:
            body["seed"] = request.seed
        return json.dumps(body, ensure_ascii=False)[:-1]

    def _response_format_json(self, fmt: str, schema: dict[str, Any] | None) -> tuple[str | None, bool]:
        """`response_format` for `fmt` as JSON text, and whether the schema was wrapped in an object.

        A run sends the same schema (per rows-per-request) thousands of times; it is serialised once and
        found again by equality, which is cheap for the shallow copies a request carries (their values
        are the very same objects, so the comparison stops at the top level).
        """
        if schema is None or fmt == "none":
            return None, False
        for cached_fmt, cached_schema, fragment, wrapped in self._formats:
            if cached_fmt == fmt and cached_schema == schema:
                return fragment, wrapped
        response_format, wrapped = _response_format(fmt, schema)
        fragment = json.dumps(response_format, ensure_ascii=False)
        self._formats = [(fmt, schema, fragment, wrapped), *self._formats[: _FORMAT_CACHE - 1]]
        return fragment, wrapped

    def _to_completion(self, raw: bytes, wrapped: bool) -> Completion:
        try:
            reply = json.loads(raw)
            choice = reply["choices"][0]
            message = choice.get("message") or {}
            text = message.get("content") or ""
            finish = choice.get("finish_reason")
            usage = reply.get("usage") or {}
            input_tokens = int(usage.get("prompt_tokens") or 0)
            output_tokens = int(usage.get("completion_tokens") or 0)
        except (ValueError, TypeError, KeyError, IndexError, AttributeError):
            # not a chat completion envelope (cut-off body, an HTML error page with status 200, ...)
            start = raw[:200].decode(errors="replace")
            raise TransientProviderError(f"malformed reply: {self._safe(start)}") from None
        if not isinstance(text, str):
            raise TransientProviderError("malformed reply: the message content is not text")
        data = parse_json(text)
        if wrapped and isinstance(data, dict) and _WRAP in data:
            data = data[_WRAP]
        if finish == "length":
            log.debug("%s: answer cut at max_tokens", self.name)
        return Completion(
            text=text,
            data=data,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            truncated=finish == "length",
            meta={"finish_reason": finish, "structured": self._format},
        )

    def _http_error(self, e: Any) -> ProviderHTTPError:
        status = int(e.status_code)
        headers = e.response.headers if getattr(e, "response", None) is not None else {}
        retry_after = parse_retry_after(headers.get("retry-after"))
        if retry_after is None and headers.get("retry-after-ms"):
            ms = parse_retry_after(headers.get("retry-after-ms"))
            retry_after = ms / 1000 if ms is not None else None
        fix = None
        if status in (401, 403):
            fix = "check the key in SEEDGEN_API_KEY or OPENAI_API_KEY"
        elif status == 404:
            fix = "check --model and --base-url (an OpenAI-compatible base URL usually ends in /v1)"
        elif "context" in _error_message(e).lower() and any(
            w in _error_message(e).lower() for w in ("exceed", "length", "window", "too long")
        ):
            fix = "the prompt and answer do not fit the model's context: lower --rows-per-request"
        return ProviderHTTPError(
            self._safe(_error_message(e)), status=status, retry_after=retry_after, provider=self.name, fix=fix
        )


def _root_cause(e: BaseException) -> BaseException:
    """The innermost exception of a `raise ... from` chain (the transport's own error)."""
    seen = {id(e)}
    while e.__cause__ is not None and id(e.__cause__) not in seen:
        e = e.__cause__
        seen.add(id(e))
    return e


def _error_message(e: Any) -> str:
    body = getattr(e, "body", None)
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict) and err.get("message"):
            return str(err["message"])
        if isinstance(err, str):
            return err
    return str(getattr(e, "message", "") or e)


def _rejects_format(e: Any) -> bool:
    """Does this error say the server does not understand the response format we sent?"""
    if int(e.status_code) not in (400, 404, 415, 422, 500, 501):
        return False
    text = _error_message(e).lower()
    return "response_format" in text or "json_schema" in text or "json_object" in text


def _response_format(fmt: str, schema: dict[str, Any] | None) -> tuple[dict[str, Any] | None, bool]:
    """The `response_format` body for `fmt`, and whether the schema was wrapped in an object."""
    if schema is None or fmt == "none":
        return None, False
    if fmt == "json_object":
        return {"type": "json_object", "schema": schema}, False
    wrapped = schema.get("type") != "object"
    if wrapped:
        schema = {
            "type": "object",
            "properties": {_WRAP: schema},
            "required": [_WRAP],
            "additionalProperties": False,
        }
    name = re.sub(r"[^A-Za-z0-9_-]", "_", str(schema.get("title") or "rows"))[:64]
    body = {"name": name, "schema": schema, "strict": _strict_compatible(schema)}
    return {"type": "json_schema", "json_schema": body}, wrapped


def _strict_compatible(schema: Any) -> bool:
    """OpenAI's strict mode needs every object closed and every property required; ask for it only then."""
    if not isinstance(schema, dict):
        return True
    if schema.get("type") == "object" or "properties" in schema:
        props = schema.get("properties", {})
        if schema.get("additionalProperties", True) is not False or set(schema.get("required", [])) != set(
            props
        ):
            return False
    subschemas = [*schema.get("properties", {}).values(), *schema.get("$defs", {}).values()]
    subschemas += [*schema.get("anyOf", []), *schema.get("prefixItems", [])]
    if isinstance(schema.get("items"), dict):
        subschemas.append(schema["items"])
    return all(_strict_compatible(s) for s in subschemas)
