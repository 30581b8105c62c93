"""`sds`: Cloudera Synthetic Data Studio's freeform API (demo mode: synchronous, rows in the answer).

SDS takes a topic, a row count and a custom prompt rather than a raw chat prompt, and asks its own model
(Bedrock, CAII, OpenAI, ...) in batches. Rows come back under `results[topic]`; the `Seeds` key SDS adds
in its saved files is dropped if it ever appears. SDS reports no token usage, so tokens are estimated
(~4 characters a token) and marked `meta["tokens_estimated"]`. Errors arrive as SDS's envelope
`{"status": "failed", "error": ...}` (400/500/504) or FastAPI's 422 `{"detail": [...]}`. SDS wraps model
throttling in an HTTP 400, which is therefore retried when its text says so.

`evaluate_rows()` drives `/synthesis/evaluate_freeform` for a judge: SDS reads the rows from a file on its
own server (e.g. a freeform call's `meta["export_path"]`) and answers in completion order; the scores are
mapped back to the caller's row order.
"""

from __future__ import annotations

import json
import logging
import math
from collections import defaultdict, deque
from typing import Any, ClassVar, Literal

from pydantic import Field

from seedgen._model import StrictModel
from seedgen.errors import ProviderError, ProviderHTTPError, UserInputError
from seedgen.providers.base import (
    Completion,
    CompletionRequest,
    Provider,
    ProviderOptions,
    TransientProviderError,
)

try:  # the HTTP client the openai SDK already brings (httpx2 in recent releases, httpx before)
    import httpx2 as httpx
except ImportError:  # pragma: no cover - depends on the installed openai version
    import httpx  # type: ignore[no-redef]

log = logging.getLogger("seedgen")

InferenceType = Literal["aws_bedrock", "CAII", "openai", "openai_compatible", "gemini"]
UseCase = Literal[
    "code_generation", "text2sql", "custom", "lending_data", "credit_card_data", "ticketing_dataset"
]
#: keys SDS adds to rows in its saved files (`Generated_From` instead of `Seeds` when documents are used)
_PROVENANCE_KEYS = ("Seeds", "Generated_From")
#: `/model/model_ID` groups models under these names
_MODEL_GROUPS = {
    "aws_bedrock": "aws_bedrock",
    "CAII": "CAII",
    "openai": "OpenAI",
    "openai_compatible": "OpenAI",
    "gemini": "Google Gemini",
}
#: error text that means "the model behind SDS was busy", worth a retry although SDS says 400
_TRANSIENT_TEXT = (
    "throttl",
    "too many requests",
    "serviceunavailable",
    "service unavailable",
    "rate limit",
    "timed out",
)


class SDSOptions(ProviderOptions):
    timeout: float = Field(310.0, gt=0, description="seconds per request (SDS allows freeform calls 300 s)")
    inference_type: InferenceType = Field("aws_bedrock", description="which model backend SDS should call")
    caii_endpoint: str | None = Field(
        None, description="Cloudera AI Inference endpoint, for inference_type CAII"
    )
    openai_compatible_endpoint: str | None = Field(
        None, description="endpoint for inference_type openai_compatible"
    )
    use_case: UseCase = Field("custom", description="SDS use case; custom means the prompt says everything")


class SDSScore(StrictModel):
    """One row's judgement from SDS: score (0 when SDS's model failed on the row) and justification."""

    score: float
    justification: str = ""


class SDSProvider(Provider):
    """Rows from an SDS deployment: `--provider sds --base-url https://sds.example.com --model <model id>`."""

    name: ClassVar[str] = "sds"
    supports_schema: ClassVar[bool] = False  # SDS has no structured-output option; its prompt asks for JSON
    key_env_vars: ClassVar[tuple[str, ...]] = ("SDS_API_KEY", "CDSW_APIV2_KEY")
    Options: ClassVar[type[ProviderOptions]] = SDSOptions

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not self.base_url:
            raise UserInputError(
                "the sds provider needs the address of a Synthetic Data Studio deployment",
                fix="pass --base-url https://<your SDS application>",
            )
        self._client: Any = None

    async def _start(self) -> None:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self._key:  # SDS itself has no auth; the CML proxy in front of it wants the key
            headers["Authorization"] = f"Bearer {self._key.reveal()}"
        self._client = httpx.AsyncClient(
            base_url=self.base_url or "", headers=headers, timeout=self.options.timeout + 5
        )
        if not self.model:
            self.model = await self._discover_model()

    async def _stop(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def _discover_model(self) -> str:
        opts: SDSOptions = self.options  # type: ignore[assignment]
        try:
            response = await self._client.get("/model/model_ID")
            response.raise_for_status()
            models = response.json()["models"].get(_MODEL_GROUPS[opts.inference_type]) or []
        except Exception as e:
            raise ProviderError(
                f"sds provider: could not list the models at {self.base_url}: {self._safe(str(e))}",
                provider=self.name,
                fix="check --base-url, or pass --model",
            ) from None
        if not models:
            raise ProviderError(
                f"sds provider: {self.base_url} lists no {opts.inference_type} models",
                provider=self.name,
                fix="pass --model",
            )
        return str(models[0])

    # -- generation ---------------------------------------------------------------------------------

    def freeform_payload(self, request: CompletionRequest) -> dict[str, Any]:
        """The `SynthesisRequest` body for one completion request."""
        opts: SDSOptions = self.options  # type: ignore[assignment]
        prompt = f"{request.system}\n\n{request.prompt}" if request.system else request.prompt
        payload: dict[str, Any] = {
            "model_id": self.model,
            "use_case": opts.use_case,
            "technique": "freeform",
            "is_demo": True,
            "inference_type": opts.inference_type,
            "topics": [request.topic or "rows"],
            "num_questions": request.n_rows or 1,
            "custom_prompt": prompt,
            "model_params": {"temperature": request.temperature, "max_tokens": request.max_tokens},
        }
        if opts.caii_endpoint:
            payload["caii_endpoint"] = opts.caii_endpoint
        if opts.openai_compatible_endpoint:
            payload["openai_compatible_endpoint"] = opts.openai_compatible_endpoint
        return payload

    async def _complete(self, request: CompletionRequest) -> Completion:
        payload = self.freeform_payload(request)
        body = await self._post("/synthesis/freeform", payload)
        topic = payload["topics"][0]
        results = body.get("results") or {}
        if body.get("status") == "failed" or not results:
            errors = "; ".join(str(e) for e in body.get("errors") or []) or "no reason given"
            raise TransientProviderError(f"SDS produced no rows ({errors})")
        found = results.get(topic)
        if found is None:  # one topic was asked for; take whatever SDS filed the rows under
            found = [row for rows in results.values() for row in rows]
        rows = [
            {k: v for k, v in row.items() if k not in _PROVENANCE_KEYS}
            for row in found
            if isinstance(row, dict)
        ]
        if body.get("errors"):
            log.info("sds: completed with errors: %s", self._safe("; ".join(map(str, body["errors"]))))
        text = json.dumps(rows, ensure_ascii=False)
        return Completion(
            text=text,
            data=rows,
            input_tokens=_estimate_tokens(payload["custom_prompt"]),
            output_tokens=_estimate_tokens(text),
            meta={
                "export_path": (body.get("export_path") or {}).get("local"),
                "topic": topic,
                "errors": body.get("errors"),
                "tokens_estimated": True,
            },
        )

    # -- evaluation ---------------------------------------------------------------------------------

    async def evaluate_rows(
        self,
        rows: list[dict[str, Any]],
        *,
        import_path: str,
        custom_prompt: str | None = None,
        examples: list[dict[str, Any]] | None = None,
        max_workers: int = 4,
        temperature: float = 0.0,
        max_tokens: int = 1024,
    ) -> list[SDSScore | None]:
        """Scores for `rows`, in the order given, from SDS's `/synthesis/evaluate_freeform`.

        `import_path` is a JSON file on the SDS server holding the rows (a freeform call's
        `Completion.meta["export_path"]`). SDS answers in completion order and echoes each row (with its
        `Seeds` key); rows are matched back by content. A row SDS did not return gets None.
        """
        opts: SDSOptions = self.options  # type: ignore[assignment]
        payload: dict[str, Any] = {
            "use_case": opts.use_case,
            "model_id": self.model,
            "import_path": import_path,
            "import_type": "local",
            "technique": "freeform",
            "is_demo": True,
            "inference_type": opts.inference_type,
            "max_workers": max_workers,
            "model_params": {"temperature": temperature, "max_tokens": max_tokens},
        }
        if opts.caii_endpoint:
            payload["caii_endpoint"] = opts.caii_endpoint
        if custom_prompt:
            payload["custom_prompt"] = custom_prompt
        if examples:
            payload["examples"] = [
                {"score": float(e["score"]), "justification": str(e["justification"])} for e in examples
            ]
        body, _ = await self.call_with_retries(self._post, "/synthesis/evaluate_freeform", payload)
        result = body.get("result") or {}
        by_content: dict[str, deque[SDSScore]] = defaultdict(deque)
        for item in result.get("evaluated_rows") or []:
            evaluation = item.get("evaluation") or {}
            score = SDSScore(
                score=float(evaluation.get("score", 0)),
                justification=str(evaluation.get("justification", "")),
            )
            by_content[_row_key(item.get("row") or {})].append(score)
        out: list[SDSScore | None] = []
        for row in rows:
            queue = by_content.get(_row_key(row))
            out.append(queue.popleft() if queue else None)
        return out

    # -- transport ----------------------------------------------------------------------------------

    async def _post(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        try:
            response = await self._client.post(path, json=payload)
        except httpx.TimeoutException:
            raise TransientProviderError(f"SDS did not answer {path} in time") from None
        except httpx.TransportError as e:
            raise TransientProviderError(
                f"cannot reach SDS at {self.base_url}: {self._safe(str(e))}"
            ) from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code != 200:
            raise self._http_error(path, response.status_code, body, response.text)
        if not isinstance(body, dict):
            raise TransientProviderError(f"SDS answered {path} with something that is not a JSON object")
        return body

    def _http_error(self, path: str, status: int, body: Any, text: str) -> ProviderHTTPError:
        fix = None
        if isinstance(body, dict) and isinstance(body.get("detail"), list):  # FastAPI validation (422)
            parts = [
                f"{'.'.join(str(x) for x in d.get('loc', []))}: {d.get('msg', '')}"
                for d in body["detail"][:5]
            ]
            message = f"SDS rejected the request to {path}: " + "; ".join(parts)
            fix = "check --model and the sds options"
        elif isinstance(body, dict) and "error" in body:  # SDS's own envelope
            message = f"SDS failed on {path}: {body['error']}"
        elif isinstance(body, dict) and "detail" in body:
            message = f"SDS answered {path}: {body['detail']}"
        else:
            message = f"SDS answered {path} with: {text[:200]}"
        if status == 404:
            fix = "check that --base-url is the SDS application's address (no path)"
        elif status in (401, 403):
            fix = "set SDS_API_KEY (or SEEDGEN_API_KEY) to a key the SDS application accepts"
        err = ProviderHTTPError(self._safe(message), status=status, provider=self.name, fix=fix)
        if status == 400 and any(t in message.lower() for t in _TRANSIENT_TEXT):
            err.transient = True  # type: ignore[attr-defined]
        return err


def _estimate_tokens(text: str) -> int:
    return math.ceil(len(text) / 4) if text else 0


def _normalise(value: Any) -> Any:
    """Numbers as JSON round-trips may give them (1.0 and 1 are the same row)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _normalise(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalise(v) for v in value]
    return value


def _row_key(row: dict[str, Any]) -> str:
    clean = {k: v for k, v in row.items() if k not in _PROVENANCE_KEYS}
    return json.dumps(_normalise(clean), sort_keys=True, ensure_ascii=False, default=str)
