"""`bedrock`: AWS Bedrock's Converse API through boto3 (`bedrock-runtime`).

Credentials come from boto3's normal chain (environment, profile, SSO, instance role); seedgen reads no
key of its own for Bedrock. botocore's retries are off (`total_max_attempts=1`): seedgen's base class retries
ThrottlingException, ServiceUnavailableException, ModelTimeoutException, ModelNotReadyException,
InternalServerException and connection errors, and nothing else.

JSON comes back one of two ways, chosen by `structured`:
  - `output_config`: Converse's native `outputConfig.textFormat` JSON schema (botocore >= 1.42.42 and only
    some models; the schema travels as a JSON string, the answer as a text block);
  - `tool`: a forced tool `emit_rows` whose input schema is the requested one (works on older botocore
    and on every model with tool use; the answer is the tool call's already-parsed input).
`auto` uses `output_config` when the installed botocore has it and the model is known to support it,
else `tool`. The sync boto3 call runs in a thread pool sized to the concurrency.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar, Literal

from pydantic import Field

from seedgen.errors import MissingDependencyError, ProviderError, ProviderHTTPError, UserInputError
from seedgen.providers.base import (
    Completion,
    CompletionRequest,
    Provider,
    ProviderOptions,
    TransientProviderError,
    parse_json,
)

log = logging.getLogger("seedgen")

TOOL_NAME = "emit_rows"
#: error codes worth another attempt (PROVIDERS.md 2.4); everything else fails at once
RETRYABLE_CODES = frozenset(
    {
        "ThrottlingException",
        "ServiceUnavailableException",
        "ModelTimeoutException",
        "ModelNotReadyException",
        "InternalServerException",
    }
)
#: models AWS documents as supporting outputConfig JSON schema (region prefixes like "us." are ignored)
NATIVE_JSON_MODELS = (
    r"anthropic\.claude-(haiku|sonnet|opus)-4-5",
    r"anthropic\.claude-opus-4-6",
)
#: models whose Converse tool use honours `toolChoice: {"tool": ...}` (others get `any`)
_NAMED_TOOL_CHOICE = re.compile(r"(anthropic\.claude-(3|.*-[4-9])|amazon\.nova)")
_WRAP = "data"
_FIXES = {
    "AccessDeniedException": "enable access to the model in the Bedrock console and check the IAM "
    "permission bedrock:InvokeModel",
    "ResourceNotFoundException": "check --model (a Bedrock model or inference-profile id) and the region",
    "UnrecognizedClientException": "check your AWS credentials",
    "ExpiredTokenException": "refresh your AWS credentials",
}

Structured = Literal["auto", "output_config", "tool", "none"]


class BedrockOptions(ProviderOptions):
    region: str | None = Field(None, description="AWS region (default: boto3's, e.g. AWS_REGION)")
    profile: str | None = Field(None, description="AWS profile name (default: boto3's)")
    structured: Structured = Field(
        "auto",
        description="JSON via output_config (native schema), tool (forced emit_rows tool), none, or auto",
    )


def _strip_region(model_id: str) -> str:
    return re.sub(r"^(us|eu|apac|us-gov|global|jp|au|ca)\.", "", model_id)


def supports_native_json(model_id: str) -> bool:
    """Is `model_id` one AWS documents as accepting `outputConfig.textFormat` JSON schema?"""
    bare = _strip_region(model_id)
    return any(re.match(p, bare) for p in NATIVE_JSON_MODELS)


class BedrockProvider(Provider):
    """Converse calls to a Bedrock model: `--provider bedrock --model anthropic.claude-3-5-haiku-...`."""

    name: ClassVar[str] = "bedrock"
    supports_schema: ClassVar[bool] = True
    key_env_vars: ClassVar[tuple[str, ...]] = ()
    Options: ClassVar[type[ProviderOptions]] = BedrockOptions
    default_model: ClassVar[str | None] = "anthropic.claude-3-haiku-20240307-v1:0"

    def __init__(self, *, client: Any = None, **kwargs: Any) -> None:
        """`client`: a ready `bedrock-runtime` client (your own session, or a test's Stubber)."""
        super().__init__(**kwargs)
        self._key = None  # boto3's credential chain, never SEEDGEN_API_KEY
        self.client = client
        self._executor: ThreadPoolExecutor | None = None
        self._mode = "none"
        self._warned_truncation = False

    @property
    def structured(self) -> str:
        """The JSON mechanism in use: output_config, tool or none."""
        return self._mode

    async def _start(self) -> None:
        try:
            import boto3  # noqa: F401
            from botocore.config import Config
            from botocore.exceptions import NoRegionError
        except ImportError as e:
            raise MissingDependencyError(
                "the bedrock provider needs boto3", fix='pip install "boto3>=1.34"'
            ) from e
        opts: BedrockOptions = self.options  # type: ignore[assignment]
        if self.client is None:
            config = Config(
                # seedgen retries, with its own policy. Not {"max_attempts": 1}: botocore counts that as
                # one *retry* (total 2 attempts); total_max_attempts=1 is exactly one attempt.
                retries={"total_max_attempts": 1, "mode": "standard"},
                read_timeout=opts.timeout + 5,
                connect_timeout=10,
                max_pool_connections=max(10, self.concurrency),
            )
            try:
                session = boto3.session.Session(profile_name=opts.profile, region_name=opts.region)
                self.client = session.client("bedrock-runtime", config=config, endpoint_url=self.base_url)
            except NoRegionError:
                raise UserInputError(
                    "the bedrock provider needs an AWS region",
                    fix="set AWS_REGION, or pass the region option",
                ) from None
            except Exception as e:  # a missing profile, for instance
                raise UserInputError(
                    f"cannot create the Bedrock client: {e}", fix="check your AWS configuration"
                ) from None
        self._mode = self._choose_mode(opts.structured)
        self._executor = ThreadPoolExecutor(
            max_workers=self.concurrency, thread_name_prefix="seedgen-bedrock"
        )

    async def _stop(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    def _choose_mode(self, structured: str) -> str:
        has_output_config = (
            "outputConfig" in self.client.meta.service_model.operation_model("Converse").input_shape.members
        )
        if structured == "output_config" and not has_output_config:
            raise UserInputError(
                "structured=output_config needs botocore 1.42.42 or newer",
                fix='pip install -U "boto3>=1.42.42", or use structured=tool',
            )
        if structured == "auto":
            return "output_config" if has_output_config and supports_native_json(self.model) else "tool"
        return structured

    # -- request / response -------------------------------------------------------------------------

    def converse_params(self, request: CompletionRequest) -> dict[str, Any]:
        """The keyword arguments of `client.converse` for one request."""
        params: dict[str, Any] = {
            "modelId": self.model,
            "messages": [{"role": "user", "content": [{"text": request.prompt}]}],
            # Bedrock's temperature range is 0-1; seedgen's is 0-2
            "inferenceConfig": {
                "maxTokens": request.max_tokens,
                "temperature": min(request.temperature, 1.0),
            },
        }
        if request.system:
            params["system"] = [{"text": request.system}]
        schema = request.json_schema
        mode = self._mode if schema is not None else "none"
        if mode == "output_config":
            name = re.sub(r"[^A-Za-z0-9_-]", "_", str(schema.get("title") or "rows"))[:64]
            structure = {
                "jsonSchema": {
                    "schema": json.dumps(schema),
                    "name": name,
                    "description": "the rows asked for",
                }
            }
            params["outputConfig"] = {"textFormat": {"type": "json_schema", "structure": structure}}
        elif mode == "tool":
            input_schema = schema if schema.get("type") == "object" else _wrap(schema)
            choice = {"tool": {"name": TOOL_NAME}} if _NAMED_TOOL_CHOICE.search(self.model) else {"any": {}}
            spec = {
                "name": TOOL_NAME,
                "description": "Return the rows",
                "inputSchema": {"json": input_schema},
            }
            params["toolConfig"] = {"tools": [{"toolSpec": spec}], "toolChoice": choice}
        return params

    async def _complete(self, request: CompletionRequest) -> Completion:
        params = self.converse_params(request)
        loop = asyncio.get_running_loop()
        try:
            response = await loop.run_in_executor(self._executor, lambda: self.client.converse(**params))
        except Exception as e:
            raise self._map_error(e) from None
        wrapped = (
            "toolConfig" in params
            and request.json_schema is not None
            and request.json_schema.get("type") != "object"
        )
        return self._to_completion(response, wrapped, request.max_tokens)

    def _to_completion(self, response: dict[str, Any], wrapped: bool, max_tokens: int) -> Completion:
        stop = response.get("stopReason")
        content = ((response.get("output") or {}).get("message") or {}).get("content") or []
        # content blocks are a union: a reasoning block may come first, so look for what we need
        texts = [block["text"] for block in content if "text" in block]
        tool = next(
            (b["toolUse"] for b in content if "toolUse" in b and b["toolUse"].get("name") == TOOL_NAME), None
        )
        if stop in ("malformed_model_output", "malformed_tool_use"):
            raise TransientProviderError(f"the model's answer was malformed (stopReason {stop})")
        if stop == "model_context_window_exceeded":
            raise ProviderError(
                "the prompt and answer do not fit the model's context window",
                provider=self.name,
                model=self.model,
                fix="lower --rows-per-request",
            )
        if tool is not None and isinstance(tool.get("input"), dict | list):
            data = tool["input"]
            if wrapped and isinstance(data, dict):
                data = data.get(_WRAP)
            text = json.dumps(data, ensure_ascii=False)
        else:
            text = "".join(texts)
            data = parse_json(text)
            if wrapped and isinstance(data, dict) and _WRAP in data:
                data = data[_WRAP]
        truncated = stop == "max_tokens"
        if truncated and not self._warned_truncation:
            self._warned_truncation = True
            log.warning(
                "bedrock: the answer was cut at max_tokens (%d); partial rows are dropped. Lower "
                "--rows-per-request or raise max_tokens.",
                max_tokens,
            )
        if stop in ("guardrail_intervened", "content_filtered"):
            log.warning("bedrock: the answer was blocked (%s)", stop)
            data = None
        usage = response.get("usage") or {}
        return Completion(
            text=text,
            data=data,
            input_tokens=int(usage.get("inputTokens", 0)),
            output_tokens=int(usage.get("outputTokens", 0)),
            truncated=truncated,
            meta={
                "stop_reason": stop,
                "structured": self._mode,
                "latency_ms": (response.get("metrics") or {}).get("latencyMs"),
            },
        )

    def _map_error(self, e: Exception) -> Exception:
        from botocore import exceptions as bx

        if isinstance(e, bx.ClientError):
            error = e.response.get("Error", {})
            code = str(error.get("Code", "ClientError"))
            message = self._safe(str(error.get("Message", "")))
            status = int(e.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 400)
            fix = _FIXES.get(code)
            if code == "ValidationException" and self._mode == "output_config":
                fix = "the model may not support native JSON output: pass structured=tool"
            err = ProviderHTTPError(f"{code}: {message}", status=status, provider=self.name, fix=fix)
            err.transient = code in RETRYABLE_CODES  # type: ignore[attr-defined]
            return err
        if isinstance(
            e,
            bx.EndpointConnectionError
            | bx.ConnectionClosedError
            | bx.ReadTimeoutError
            | bx.ConnectTimeoutError,
        ):
            return TransientProviderError(f"cannot reach Bedrock: {self._safe(str(e))}")
        if isinstance(e, bx.NoCredentialsError | bx.PartialCredentialsError):
            return ProviderError(
                "no AWS credentials found",
                provider=self.name,
                model=self.model,
                fix="configure AWS credentials (aws configure, AWS_PROFILE, or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)",
            )
        if isinstance(e, bx.ParamValidationError):
            return ProviderError(
                f"botocore rejected the request: {self._safe(str(e))}", provider=self.name, model=self.model
            )
        return e


def _wrap(schema: dict[str, Any]) -> dict[str, Any]:
    """Tool input must be an object: put any other schema under one property."""
    return {"type": "object", "properties": {_WRAP: schema}, "required": [_WRAP]}
