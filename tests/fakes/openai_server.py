"""A loopback OpenAI-compatible chat server that injects faults on cue: 429 + Retry-After, 5xx, hangs,
dropped connections, cut-off bodies, truncated JSON content, wrong columns, and a fixed latency.

It stands in for an unreliable endpoint (never for the model: the real llama.cpp server is used for that).

    from fakes import FaultServer, Fault            # tests/ is on sys.path under pytest

    with FaultServer(responder=my_rows, latency=0.1) as server:
        server.add(Fault.rate_limit(retry_after=1), Fault.error(500), Fault.hang(30))
        provider = get_provider("openai", base_url=server.base_url)
        ...
        server.requests            # chat requests received
        server.outcomes["429"]     # how each request was answered ("ok", "429", "500", "hang", ...)
        server.max_in_flight       # most requests handled at the same time
        server.bodies[-1]          # the last request body (dict)

Faults are consumed in order, one per request (`add`); `chaos={"rate_limit": 0.1, "error": 0.1}` adds
random ones with a seeded RNG. A `responder(body) -> str | dict` writes the assistant content (a dict may
give `content` and `usage`); by default the server answers with a random instance of the JSON schema the
request asked for (OpenAI `json_schema` or llama.cpp `json_object` form), honouring enum, min/max and
minItems, so a client can parse it.
"""

from __future__ import annotations

import collections
import json
import math
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Fault:
    """What to do to one request. Build with the class methods."""

    kind: str
    status: int = 200
    retry_after: float | None = None
    seconds: float = 0.0
    content: str | None = None
    #: sent verbatim as the body of an HTTP error (default: an OpenAI-style error object)
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def rate_limit(cls, retry_after: float | None = 1.0, *, header_ms: bool = False) -> Fault:
        """HTTP 429 with `Retry-After: <seconds>` (or `retry-after-ms`), or none when retry_after is None."""
        headers = {}
        if retry_after is not None:
            headers = (
                {"retry-after-ms": str(int(retry_after * 1000))}
                if header_ms
                else {"Retry-After": f"{retry_after:g}"}
            )
        return cls("rate_limit", status=429, retry_after=retry_after, headers=headers)

    @classmethod
    def error(cls, status: int = 500, message: str = "internal error", body: dict | None = None) -> Fault:
        """An HTTP error status with an OpenAI-style error body (or `body`)."""
        return cls("error", status=status, content=message, body=body)

    @classmethod
    def hang(cls, seconds: float = 30.0) -> Fault:
        """Say nothing for `seconds` (a client timeout), then answer normally if anyone still listens."""
        return cls("hang", seconds=seconds)

    @classmethod
    def drop(cls) -> Fault:
        """Close the connection without answering (a connection error)."""
        return cls("drop")

    @classmethod
    def broken_body(cls) -> Fault:
        """HTTP 200 whose JSON envelope is cut off half-way."""
        return cls("broken_body")

    @classmethod
    def truncated(cls) -> Fault:
        """A normal envelope whose content is the answer cut in half, finish_reason "length"."""
        return cls("truncated")

    @classmethod
    def wrong_columns(cls) -> Fault:
        """The answer with its columns damaged: object keys renamed, value lists missing their last value."""
        return cls("wrong_columns")

    @classmethod
    def fixed(cls, content: str) -> Fault:
        """Answer with exactly `content`."""
        return cls("content", content=content)

    @property
    def label(self) -> str:
        return str(self.status) if self.kind in ("rate_limit", "error") else self.kind


_CHAOS = {
    "rate_limit": lambda: Fault.rate_limit(0.05),
    "error": lambda: Fault.error(500),
    "hang": lambda: Fault.hang(30),
    "drop": Fault.drop,
    "broken_body": Fault.broken_body,
    "truncated": Fault.truncated,
    "wrong_columns": Fault.wrong_columns,
}


def estimate_tokens(text: str) -> int:
    """~4 characters per token: the usual rule of thumb for English and JSON with BPE tokenizers."""
    return max(1, math.ceil(len(text) / 4)) if text else 0


def request_schema(body: dict[str, Any]) -> dict[str, Any] | None:
    """The JSON schema a chat request asked for, in either OpenAI or llama.cpp form."""
    fmt = body.get("response_format") or {}
    if fmt.get("type") == "json_schema":
        return (fmt.get("json_schema") or {}).get("schema")
    if fmt.get("type") == "json_object":
        return fmt.get("schema")
    return None


def schema_instance(schema: dict[str, Any], rng: random.Random) -> Any:
    """A random value valid for a (simple) JSON schema: object, array, string, number, enum, anyOf."""
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return rng.choice(schema["enum"])
    if "anyOf" in schema:
        return schema_instance(rng.choice(schema["anyOf"]), rng)
    kind = schema.get("type", "object")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        props = schema.get("properties", {})
        return {name: schema_instance(sub, rng) for name, sub in props.items()}
    if kind == "array":
        if "prefixItems" in schema:
            return [schema_instance(s, rng) for s in schema["prefixItems"]]
        low = schema.get("minItems", 1)
        n = rng.randint(low, max(low, min(schema.get("maxItems", low + 2), low + 2)))
        return [schema_instance(schema.get("items", {"type": "string"}), rng) for _ in range(n)]
    if kind in ("integer", "number"):
        low = schema.get("minimum", 0)
        high = schema.get("maximum", low + 100)
        return (
            rng.randint(math.ceil(low), math.floor(high))
            if kind == "integer"
            else round(rng.uniform(low, high), 2)
        )
    if kind == "boolean":
        return rng.random() < 0.5
    if kind == "null":
        return None
    return rng.choice(["alpha", "beta", "gamma", "delta"])


def damage_columns(value: Any) -> Any:
    """Rename every object key and drop the last value of every list of lists."""
    if isinstance(value, dict):
        return {f"{k}_x": damage_columns(v) for k, v in value.items()}
    if isinstance(value, list):
        if value and all(isinstance(v, list) for v in value):
            return [v[:-1] for v in value]
        return [damage_columns(v) for v in value]
    return value


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 128

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # dropped and timed-out connections are the point here, not news


class FaultServer:
    """The server; a context manager that runs it in a daemon thread on a free 127.0.0.1 port."""

    def __init__(
        self,
        responder: Callable[[dict[str, Any]], str | dict[str, Any]] | None = None,
        *,
        latency: float = 0.0,
        script: list[Fault] | None = None,
        chaos: dict[str, float] | None = None,
        seed: int = 0,
        model: str = "fake-model",
    ) -> None:
        self.responder = responder
        self.latency = latency
        self.model = model
        self.chaos = dict(chaos or {})
        self._script: collections.deque[Fault] = collections.deque(script or [])
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self.requests = 0
        self.outcomes: collections.Counter[str] = collections.Counter()
        self.bodies: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- control ------------------------------------------------------------------------------------

    def add(self, *faults: Fault) -> None:
        """Queue faults for the next requests, one each, in order."""
        with self._lock:
            self._script.extend(faults)

    @property
    def pending(self) -> int:
        """Queued faults not yet used."""
        return len(self._script)

    def reset_counts(self) -> None:
        with self._lock:
            self.requests = 0
            self.outcomes.clear()
            self.bodies.clear()
            self.headers.clear()
            self.max_in_flight = 0

    @property
    def base_url(self) -> str:
        assert self._httpd is not None, "server not started"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def start(self) -> FaultServer:
        handler = type("Handler", (_Handler,), {"fake": self})
        self._httpd = _QuietServer(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # releases hanging handlers
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> FaultServer:
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    # -- request handling (called from handler threads) -----------------------------------------------

    def _next_fault(self, body: dict[str, Any], headers: dict[str, str]) -> Fault | None:
        with self._lock:
            self.requests += 1
            self.bodies.append(body)
            self.headers.append(headers)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            if self._script:
                return self._script.popleft()
            for kind, rate in self.chaos.items():
                if self._rng.random() < rate:
                    return _CHAOS[kind]()
        return None

    def _done(self, label: str) -> None:
        with self._lock:
            self.in_flight -= 1
            self.outcomes[label] += 1

    def _answer(self, body: dict[str, Any]) -> tuple[str, dict[str, int] | None]:
        if self.responder is not None:
            out = self.responder(body)
            if isinstance(out, dict):
                return str(out.get("content", "")), out.get("usage")
            return str(out), None
        schema = request_schema(body)
        if schema is None:
            return "ok", None
        with self._lock:
            value = schema_instance(schema, self._rng)
        return json.dumps(value), None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # headers and body go out in two writes: without TCP_NODELAY, Nagle + delayed ACK add ~40 ms each
    disable_nagle_algorithm = True
    fake: FaultServer

    def log_message(self, *args: Any) -> None:  # keep test output clean
        pass

    def _send(self, status: int, payload: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(payload)

    def do_GET(self) -> None:
        if self.path.rstrip("/").endswith("/models"):
            self._send(
                200,
                json.dumps({"object": "list", "data": [{"id": self.fake.model, "object": "model"}]}).encode(),
            )
        else:
            self._send(404, b'{"error": {"message": "not found"}}')

    def do_POST(self) -> None:
        fake = self.fake
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if not self.path.rstrip("/").endswith("/chat/completions"):
            self._send(404, b'{"error": {"message": "not found"}}')
            return
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            self._send(400, b'{"error": {"message": "invalid JSON body"}}')
            return
        fault = fake._next_fault(body, {k.lower(): v for k, v in self.headers.items()})
        label = fault.label if fault else "ok"
        try:
            self._respond(body, fault)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test): nothing to answer
        finally:
            fake._done(label)

    def _respond(self, body: dict[str, Any], fault: Fault | None) -> None:
        fake = self.fake
        if fake.latency:
            time.sleep(fake.latency)
        kind = fault.kind if fault else "ok"
        if kind == "hang" and fake._stopping.wait(fault.seconds):
            return  # the server is stopping: nobody is listening any more
        if kind in ("rate_limit", "error"):
            message = fault.content or ("Rate limit reached" if kind == "rate_limit" else "error")
            err = fault.body or {"error": {"message": message, "type": kind, "code": fault.status}}
            self._send(fault.status, json.dumps(err).encode(), fault.headers)
            return
        if kind == "drop":
            self.close_connection = True
            self.connection.shutdown(2)
            return
        content, usage = fake._answer(body)
        finish = "stop"
        if kind == "content":
            content = fault.content or ""
        elif kind == "truncated":
            content, finish = content[: max(1, len(content) // 2)], "length"
        elif kind == "wrong_columns":
            try:
                content = json.dumps(damage_columns(json.loads(content)))
            except ValueError:
                content = content + ",extra"
        prompt = " ".join(str(m.get("content", "")) for m in body.get("messages", []))
        usage = usage or {
            "prompt_tokens": estimate_tokens(prompt),
            "completion_tokens": estimate_tokens(content),
        }
        usage.setdefault("total_tokens", usage["prompt_tokens"] + usage["completion_tokens"])
        envelope = {
            "id": f"chatcmpl-{fake.requests}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", fake.model),
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": finish}
            ],
            "usage": usage,
        }
        payload = json.dumps(envelope).encode()
        if kind == "broken_body":
            payload = payload[: len(payload) // 2]
        self._send(200, payload)
