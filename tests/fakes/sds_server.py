"""A loopback stand-in for Cloudera Synthetic Data Studio (SDS 1.0.4), speaking the routes seedgen uses.

Matches the facts in PROVIDERS.md: `POST /synthesis/freeform` and `POST /synthesis/evaluate_freeform` in
demo (synchronous) mode, `GET /health`, `GET /model/model_ID`; request bodies validated like SDS's pydantic
models (unknown fields ignored, FastAPI's 422 `{"detail": [...]}` on bad ones); the error envelope
`{"status": "failed", "error": ...}` with 400/500/504; rows under `results[topic]` without `Seeds`, while the
saved file (kept in memory, readable by evaluate) has `Seeds` as each row's first key; evaluation results
in completion order, not input order.

    with FakeSDS(row_factory=lambda topic, i, req: {"name": f"n{i}"}) as sds:
        sds.base_url; sds.add("model_error"); sds.requests; sds.files
"""

from __future__ import annotations

import collections
import json
import random
import threading
import time
from collections.abc import Callable
from enum import StrEnum
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError


class UseCase(StrEnum):
    code_generation = "code_generation"
    text2sql = "text2sql"
    custom = "custom"
    lending_data = "lending_data"
    credit_card_data = "credit_card_data"
    ticketing_dataset = "ticketing_dataset"


class ModelParameters(BaseModel):
    temperature: float = Field(0.0, ge=0.0, le=2.0)
    top_p: float = Field(1.0, ge=0.0, le=1.0)
    min_p: float = 0.0
    top_k: int = Field(150, ge=0)
    max_tokens: int = Field(8192, ge=1)


class SynthesisRequest(BaseModel):  # unknown fields ignored, as in SDS
    model_id: str
    use_case: UseCase = UseCase.custom
    num_questions: int = Field(1, gt=0)
    technique: Literal["sft", "custom_workflow", "model_alignment", "freeform"] = "sft"
    is_demo: bool = True
    inference_type: str = "aws_bedrock"
    caii_endpoint: str | None = None
    openai_compatible_endpoint: str | None = None
    topics: list[str] | None = None
    doc_paths: list[str] | None = None
    input_path: list[str] | None = None
    example_custom: list[dict[str, Any]] | None = None
    example_path: str | None = None
    custom_prompt: str | None = None
    display_name: str | None = None
    max_concurrent_topics: int = Field(5, ge=1, le=100)
    model_params: ModelParameters | None = None


class EvaluationExample(BaseModel):
    score: float
    justification: str


class EvaluationRequest(BaseModel):
    use_case: UseCase
    model_id: str
    import_path: str | None = None
    technique: str = "sft"
    import_type: str = "local"
    is_demo: bool = True
    inference_type: str = "aws_bedrock"
    caii_endpoint: str | None = None
    examples: list[EvaluationExample] | None = None
    custom_prompt: str | None = None
    display_name: str | None = None
    max_workers: int = Field(4, ge=1, le=100)
    model_params: ModelParameters | None = None


INFERENCE_TYPES = ("aws_bedrock", "CAII", "openai", "openai_compatible", "gemini")
#: fault name -> (HTTP status, body) for the next freeform/evaluate call
FAULTS: dict[str, tuple[int, dict[str, Any]]] = {
    "model_error": (
        400,
        {"status": "failed", "error": "ModelHandlerError in batch processing for topic rows: bad"},
    ),
    "throttled": (
        400,
        {
            "status": "failed",
            "error": "ModelHandlerError in batch processing for topic rows: An error occurred "
            "(ThrottlingException) when calling the Converse operation: Too many requests",
        },
    ),
    "error500": (500, {"status": "failed", "error": "unexpected server error"}),
    "timeout504": (504, {"status": "failed", "error": "Request processing timed out after 300 seconds"}),
    "failed_empty": (200, {"status": "failed", "results": {}, "errors": ["no valid JSON in model output"]}),
}


def default_rows(topic: str, i: int, request: dict[str, Any]) -> dict[str, Any]:
    return {"question": f"question {i} about {topic}", "answer": f"answer {i}"}


def default_score(row: dict[str, Any]) -> tuple[float, str]:
    return float(len(json.dumps(row, sort_keys=True)) % 5 + 1), "scored by length"


class FakeSDS:
    def __init__(
        self,
        row_factory: Callable[[str, int, dict[str, Any]], dict[str, Any]] = default_rows,
        scorer: Callable[[dict[str, Any]], tuple[float, str]] = default_score,
        models: tuple[str, ...] = ("us.anthropic.claude-3-5-haiku-20241022-v1:0",),
        seed: int = 0,
    ) -> None:
        self.row_factory = row_factory
        self.scorer = scorer
        self.models = models
        self.files: dict[str, list[dict[str, Any]]] = {}
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.headers: list[dict[str, str]] = []
        self._faults: collections.deque[str] = collections.deque()
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None

    def add(self, *faults: str) -> None:
        """Queue faults (names in FAULTS) for the next freeform/evaluate calls."""
        unknown = set(faults) - set(FAULTS)
        assert not unknown, f"unknown faults {unknown}"
        self._faults.extend(faults)

    @property
    def base_url(self) -> str:
        assert self._httpd is not None
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def __enter__(self) -> FakeSDS:
        handler = type("Handler", (_Handler,), {"fake": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()

    # -- routes -------------------------------------------------------------------------------------

    def freeform(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        req = SynthesisRequest.model_validate(body)
        if self._faults:
            return FAULTS[self._faults.popleft()]
        if req.inference_type not in INFERENCE_TYPES:
            return 400, {"status": "failed", "error": f"Unsupported inference_type: {req.inference_type}"}
        if not req.is_demo:  # a CML job: only possible on-cluster
            return 500, {"status": "failed", "error": "name 'synthesis_job' is not defined"}
        if not req.topics and not req.doc_paths:
            return 400, {"status": "failed", "error": "Invalid input: No topics provided"}
        results = {
            topic: [self.row_factory(topic, i, body) for i in range(req.num_questions)]
            for topic in req.topics or []
        }
        name = f"freeform_data_{req.model_id.split('.')[-1][:12]}_{time.strftime('%Y%m%dT%H%M%S')}_{len(self.files)}.json"
        with self._lock:
            self.files[name] = [{"Seeds": topic, **row} for topic, rows in results.items() for row in rows]
        return 200, {
            "status": "completed",
            "results": results,
            "errors": None,
            "export_path": {"local": name},
        }

    def evaluate(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        req = EvaluationRequest.model_validate(body)
        if self._faults:
            return FAULTS[self._faults.popleft()]
        rows = self.files.get(req.import_path or "")
        if rows is None:
            return 500, {
                "status": "failed",
                "error": f"[Errno 2] No such file or directory: '{req.import_path}'",
            }
        evaluated = []
        for row in rows:
            score, why = self.scorer(row)
            evaluated.append({"row": row, "evaluation": {"score": score, "justification": why}})
        with self._lock:
            self._rng.shuffle(evaluated)  # as_completed: completion order, not input order
        scores = [e["evaluation"]["score"] for e in evaluated] or [0]
        average = sum(scores) / len(scores)
        result = {
            "average_score": average,
            "min_score": min(scores),
            "max_score": max(scores),
            "evaluated_rows": evaluated,
            "failed_rows": [],
            "total_evaluated": len(evaluated),
            "total_failed": 0,
            "Overall_Average": average,
        }
        out = (req.import_path or "rows").removesuffix(".json") + "_evaluated.json"
        return 200, {"status": "completed", "output_path": out, "result": result}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # headers and body go out in two writes: without TCP_NODELAY, Nagle + delayed ACK add ~40 ms each
    disable_nagle_algorithm = True
    fake: FakeSDS

    def log_message(self, *args: Any) -> None:
        pass

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path == "/health":
            self._send(
                200,
                {
                    "status": "healthy",
                    "timestamp": time.time(),
                    "service": "SynthesisLegacyService",
                    "aws_region": "us-west-2",
                },
            )
        elif self.path == "/model/model_ID":
            self._send(
                200,
                {
                    "models": {
                        "aws_bedrock": list(self.fake.models),
                        "CAII": [],
                        "OpenAI": [],
                        "Google Gemini": [],
                    }
                },
            )
        else:
            self._send(404, {"detail": "Not Found"})

    def do_POST(self) -> None:
        fake = self.fake
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        routes = {"/synthesis/freeform": fake.freeform, "/synthesis/evaluate_freeform": fake.evaluate}
        route = routes.get(self.path)
        if route is None:
            self._send(404, {"detail": "Not Found"})
            return
        try:
            body = json.loads(raw or b"{}")
        except ValueError as e:
            self._send(422, {"detail": [{"type": "json_invalid", "loc": ["body", 0], "msg": str(e)}]})
            return
        with fake._lock:
            fake.requests.append((self.path, body))
            fake.headers.append({k.lower(): v for k, v in self.headers.items()})
        try:
            status, payload = route(body)
        except ValidationError as e:
            detail = [
                {**err, "loc": ["body", *err["loc"]]}
                for err in e.errors(include_url=False, include_context=False)
            ]
            status, payload = 422, {"detail": json.loads(json.dumps(detail, default=str))}
        self._send(status, payload)
