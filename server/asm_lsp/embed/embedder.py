"""Function embeddings through llama.cpp: its own ``Llama(embedding=True)`` on a worker thread.

Input is normalised function text (``normalize_function``: no comments, no ``.loc``/``.cfi``,
the function's own name replaced by ``FUNC``), cut to ``max_tokens`` tokens, no BOS/special
tokens: the same as the training pairs (models/dataset.py ``_work_pairs``). Output is the
pooled last hidden state (after the final norm), float32, *not* normalised.

Pooling: the context is created with ``LLAMA_POOLING_TYPE_NONE`` and pooled here, so one
pass gives both "mean" (what models/train.py's InfoNCE term trains) and "last" (the last
token). tests/test_embed_model.py checks both against llama.cpp's own
``LLAMA_POOLING_TYPE_MEAN`` / ``LLAMA_POOLING_TYPE_LAST``.

One lock per Llama object: only the worker thread touches it. Callers get futures and are
never blocked; ``embed()`` is the blocking convenience for the CLI and benchmarks.
"""
from __future__ import annotations

import contextlib
import ctypes
import io
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("OMP_WAIT_POLICY", "passive")  # before llama_cpp loads libgomp (see model/engine.py)

from asm_lsp.model.engine import (_model_params_without_extra_buffers, _system_info, check_adapter_applied,
                                  physical_cores, route_llama_logs)
from asm_lsp.model.store import ModelError, ModelFiles

log = logging.getLogger(__name__)
llama_log = logging.getLogger("asm_lsp.model.llama_cpp")

POOLINGS = ("mean", "last")
DEFAULT_POOLING = "mean"  # models/train.py pools by mean for its InfoNCE term
DEFAULT_MAX_TOKENS = 384  # models/config.py pair_max_tokens: what training saw per function
# Tokens per llama_decode. Every token is an output (we pool them), and llama.cpp sizes its
# output buffer as batch x vocabulary floats: 384 tokens = 233 MB of logits we never read;
# 64 = 39 MB, at the same speed on CPU (measured: RSS 1,021 -> see bench/results/embed_figures.md).
DEFAULT_BATCH_TOKENS = 64
EMBEDDING_ADAPTER = "asm-embed-lora.gguf"  # a separate embedding adapter, if a build ships one


def model_identity(files: ModelFiles, pooling: str, max_tokens: int, adapter: Path | None = None) -> str:
    """Cache key part naming everything that changes a vector."""
    def ident(path: Path | None, sha: str) -> str:
        if path is None:
            return "none"
        if sha:
            return sha[:16]
        try:
            st = path.stat()
            return f"{path.name}:{st.st_size}:{st.st_mtime_ns}"
        except OSError:
            return path.name

    adapter_path = adapter if adapter is not None else files.adapter
    adapter_sha = files.adapter_sha256 if adapter is None else ""
    return f"{ident(files.model, files.model_sha256)}+{ident(adapter_path, adapter_sha)}/{pooling}/{max_tokens}/v1"


def pool(per_token: np.ndarray, pooling: str) -> np.ndarray:
    """[tokens, dim] -> [dim]."""
    if pooling == "last":
        return per_token[-1].copy()
    return per_token.mean(axis=0)


@dataclass
class _Job:
    texts: list[str]
    poolings: tuple[str, ...]
    future: Future
    tokens: list[int] = field(default_factory=list)  # filled in: tokens evaluated per text


class Embedder:
    """Owns one embedding ``Llama`` in a worker thread. Public methods are thread-safe and never raise."""

    def __init__(
        self,
        files: ModelFiles | Callable[[], ModelFiles],
        threads: int = 0,
        pooling: str = DEFAULT_POOLING,
        max_tokens: int = DEFAULT_MAX_TOKENS,
        adapter: Path | None = None,
        batch_tokens: int = DEFAULT_BATCH_TOKENS,
        nice: int = 0,
    ) -> None:
        """``files`` may be a callable (``lambda: resolve_model(...)``), run in the worker.
        ``adapter`` overrides ``files.adapter`` (a separate embedding LoRA). ``nice`` > 0 lowers
        the worker thread's priority (background indexing yields to completions)."""
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
        self._files_source = files
        self.files: ModelFiles | None = files if isinstance(files, ModelFiles) else None
        self.threads = threads if threads > 0 else physical_cores()
        self.pooling = pooling
        self.max_tokens = max_tokens
        self.adapter = adapter
        self.batch_tokens = max(8, min(batch_tokens, max_tokens))
        self.nice = nice
        self.identity = ""  # cache key part; set once the model files are known (before loading)
        self.dim = 0
        self._queue: queue.Queue[_Job | None] = queue.Queue()
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._state = "not started"
        self._detail = ""
        self._thread: threading.Thread | None = None
        self._llm: Any = None
        self._closed = False
        self.stats = {"texts": 0, "tokens": 0, "seconds": 0.0}

    # ------------------------------------------------------------ public API

    def start(self) -> None:
        with self._lock:
            if self._thread is not None:
                return
            self._state = "loading"
            self._thread = threading.Thread(target=self._worker, name="asm-lsp-embed", daemon=True)
            self._thread.start()

    def submit(self, texts: Sequence[str], poolings: Sequence[str] | None = None) -> Future:
        """Future of ``list[np.ndarray]`` (this embedder's pooling), or of ``list[dict[pooling, vector]]``
        when ``poolings`` is given. Cancel it with ``future.cancel()`` before it starts."""
        future: Future = Future()
        chosen = tuple(poolings) if poolings else (self.pooling,)
        if any(p not in POOLINGS for p in chosen):
            future.set_exception(ValueError(f"pooling must be among {POOLINGS}"))
            return future
        with self._lock:
            if self._closed or self._state == "error":
                future.set_exception(ModelError(self._detail or "embedder closed"))
                return future
        self.start()
        self._queue.put(_Job(list(texts), chosen if poolings else (), future))
        return future

    def embed(self, texts: Sequence[str], timeout: float | None = None) -> list[np.ndarray]:
        """Blocking: raw vectors for ``texts`` (CLI, benchmarks; never on the server's event loop)."""
        return self.submit(texts).result(timeout)

    def wait_ready(self, timeout: float | None = None) -> bool:
        self.start()
        self._ready.wait(timeout)
        return self._state == "ready"

    def status(self) -> str:
        with self._lock:
            return f"{self._state}: {self._detail}" if self._detail else self._state

    @property
    def state(self) -> str:
        return self._state

    def close(self) -> None:
        with self._lock:
            self._closed = True
        self._queue.put(None)
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=10)

    # ------------------------------------------------------------ worker

    def _worker(self) -> None:
        if self.nice and hasattr(os, "setpriority"):
            try:  # Linux: per thread; with 1 llama.cpp thread all its work runs here
                os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), self.nice)
            except OSError:
                pass
        try:
            self._load()
        except Exception as e:  # status says why; pending and later futures fail with it
            message = str(e) if isinstance(e, ModelError) else f"{type(e).__name__}: {e}"
            log.error("embedding model load failed: %s", message)
            with self._lock:
                self._state, self._detail = "error", message
            self._ready.set()
            self._fail_all(ModelError(message))
            return
        try:
            while True:
                job = self._queue.get()
                if job is None or self._closed:
                    break
                if not job.future.set_running_or_notify_cancel():
                    continue
                try:
                    job.future.set_result(self._run(job))
                except Exception as e:
                    log.exception("embedding job failed")
                    job.future.set_exception(e)
        finally:
            llm, self._llm = self._llm, None
            if llm is not None:
                llm.close()
            self._fail_all(ModelError("embedder closed"))

    def _fail_all(self, error: Exception) -> None:
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                return
            if job is not None and job.future.set_running_or_notify_cancel():
                job.future.set_exception(error)

    def _load(self) -> None:
        t0 = time.monotonic()
        if self.files is None:
            with self._lock:
                self._detail = "preparing model files"
            self.files = self._files_source()  # type: ignore[operator]
        files = self.files
        # Known before the slow load: the service can attach cached vectors meanwhile.
        self.identity = model_identity(files, self.pooling, self.max_tokens, self.adapter)
        try:
            import llama_cpp
        except ImportError as e:
            raise ModelError(f"llama-cpp-python is not installed ({e}); run `pip install 'asm-lsp-aarch64[model]'`") from e
        route_llama_logs()
        adapter = self.adapter if self.adapter is not None else files.adapter
        amx = "AMX_INT8 = 1" in _system_info() and not os.environ.get("ASM_LSP_LLAMA_EXTRA_BUFFERS")
        captured = io.StringIO()
        with contextlib.redirect_stderr(captured), _model_params_without_extra_buffers(amx):
            llm = llama_cpp.Llama(
                model_path=str(files.model),
                lora_path=str(adapter) if adapter else None,
                embedding=True,
                pooling_type=llama_cpp.LLAMA_POOLING_TYPE_NONE,
                n_ctx=self.max_tokens,
                n_batch=self.batch_tokens,
                n_ubatch=self.batch_tokens,
                n_threads=self.threads,
                n_threads_batch=self.threads,
                verbose=True,  # verbose=False dup2()s fd 1 (the JSON-RPC channel) away while loading
            )
        if captured.getvalue():
            llama_log.debug("%s", captured.getvalue().rstrip())
        check_adapter_applied(llm, adapter, files.model)
        self._llm = llm
        self.dim = int(llm.n_embd())
        with self._lock:
            self._state = "ready"
            adapter_name = f" + {Path(adapter).name}" if adapter else ""
            self._detail = (f"{files.model.name}{adapter_name}, {self.pooling} pooling, ≤{self.max_tokens} tokens, "
                            f"{self.threads} threads, loaded in {time.monotonic() - t0:.1f} s")
        self._ready.set()
        log.info("embedding model ready: %s", self._detail)

    def tokenize(self, text: str) -> list[int]:
        """Tokens that get evaluated for ``text`` (after the cut). Worker-thread use only."""
        tokens = self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=False)
        return tokens[: self.max_tokens]

    def _run(self, job: _Job) -> list[Any]:
        import llama_cpp

        llm = self._llm
        n_embd = self.dim
        out: list[Any] = []
        for text in job.texts:
            if self._closed:
                raise ModelError("embedder closed")
            t0 = time.perf_counter()
            tokens = self.tokenize(text) or self._llm.tokenize(b"\n", add_bos=False, special=False)
            # The calls of Llama.eval()/embed() (llama-cpp-python 0.3.36), in chunks of
            # ``batch_tokens`` with the KV cache carrying the context, and a numpy copy of each
            # chunk's per-token output instead of Python lists.
            llm._ctx.kv_cache_clear()
            parts = []
            for start in range(0, len(tokens), self.batch_tokens):
                chunk = tokens[start:start + self.batch_tokens]
                llm._batch.set_batch(chunk, n_past=start, logits_all=True)
                llm._ctx.decode(llm._batch)
                ptr = llama_cpp.llama_get_embeddings(llm._ctx.ctx)
                parts.append(np.ctypeslib.as_array(ctypes.cast(ptr, ctypes.POINTER(ctypes.c_float)),
                                                   shape=(len(chunk), n_embd)).astype(np.float32))
            llm._batch.reset()
            per_token = np.concatenate(parts)
            if job.poolings:
                out.append({p: pool(per_token, p) for p in job.poolings})
            else:
                out.append(pool(per_token, self.pooling))
            job.tokens.append(len(tokens))
            self.stats["texts"] += 1
            self.stats["tokens"] += len(tokens)
            self.stats["seconds"] += time.perf_counter() - t0
        return out
