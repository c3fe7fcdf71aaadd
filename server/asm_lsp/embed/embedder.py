"""Function embeddings through llama.cpp, on a worker thread: an embedding context of its own
``Llama(embedding=True)`` (CLI, benchmarks) or, in the server, a second context on the completion
engine's loaded model (``shared``: the weights are in memory once; see model/shared.py).

Input is normalised function text (``normalize_function``: no comments, no ``.loc``/``.cfi``,
the function's own name replaced by ``FUNC``), cut to ``max_tokens`` tokens, no BOS/special
tokens: the same as the training pairs (models/dataset.py ``_work_pairs``). Output is the
pooled last hidden state (after the final norm), float32, *not* normalised.

Pooling: the context is created with ``LLAMA_POOLING_TYPE_NONE`` and pooled here, so one
pass gives both "mean" (what models/train.py's InfoNCE term trains) and "last" (the last
token). tests/test_embed_model.py checks both against llama.cpp's own
``LLAMA_POOLING_TYPE_MEAN`` / ``LLAMA_POOLING_TYPE_LAST``.

Only the worker thread touches the embedding context. With a shared model each decode call
(one ``batch_tokens`` chunk) runs under the model's gate at low priority, so completions go
first and wait for at most one chunk. Callers get futures and are never blocked; ``embed()``
is the blocking convenience for the CLI and benchmarks.
"""
from __future__ import annotations

import contextlib
import ctypes
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

from asm_lsp.model.llama import adapter_refused, load_llama, physical_cores, route_llama_logs
from asm_lsp.model.shared import SharedModel
from asm_lsp.model.store import ModelError, ModelFiles

log = logging.getLogger(__name__)

POOLINGS = ("mean", "last")
DEFAULT_POOLING = "mean"  # models/train.py pools by mean for its InfoNCE term
DEFAULT_MAX_TOKENS = 384  # models/config.py pair_max_tokens: what training saw per function
# Tokens per llama_decode. Every token is an output (we pool them), and llama.cpp sizes its
# output buffer as batch x vocabulary floats: 384 tokens = 233 MB of logits we never read;
# 64 = 39 MB, at the same speed on CPU (measured: RSS 1,021 -> see bench/results/embed_figures.md).
DEFAULT_BATCH_TOKENS = 64
# On the completion engine's model a chunk is also the longest a completion waits for the
# embedder: 32 tokens take ~0.3 s on 1 thread here (64: ~0.45 s, ~30% more throughput).
SHARED_BATCH_TOKENS = 32
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
        shared: Callable[[], SharedModel] | None = None,
    ) -> None:
        """``files`` may be a callable (``lambda: resolve_model(...)``), run in the worker.
        ``adapter`` overrides ``files.adapter`` (a separate embedding LoRA). ``nice`` > 0 lowers
        the worker thread's priority (background indexing yields to completions). ``shared``
        (e.g. ``CompletionEngine.shared_model``), called in the worker, lends a loaded model:
        the embedder then makes its context on it instead of loading the GGUF again."""
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
        self._shared_source = shared
        self.identity = ""  # cache key part; set once the model files are known (before loading)
        self.dim = 0
        self._queue: queue.Queue[_Job | None] = queue.Queue()
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._state = "not started"
        self._detail = ""
        self._thread: threading.Thread | None = None
        self._llm: Any = None  # own Llama (standalone), None on a shared model
        self._shared: SharedModel | None = None
        self._model: Any = None  # llama_cpp._internals.LlamaModel: vocab and weights
        self._ctx: Any = None  # the embedding LlamaContext
        self._batch: Any = None
        self._own_adapter: Any = None  # an adapter this embedder loaded onto the shared model
        self._gate: Any = None
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
            self._unload()
            self._fail_all(ModelError("embedder closed"))

    def _unload(self) -> None:
        """Free what this embedder made; on a shared model: context, adapter, then our reference."""
        llm, self._llm = self._llm, None
        if llm is not None:
            llm.close()
        shared, self._shared = self._shared, None
        if shared is None:
            return
        import llama_cpp

        for part in (self._batch, self._ctx):
            if part is not None:
                part.close()
        self._batch = self._ctx = None
        if self._own_adapter is not None:
            llama_cpp.llama_adapter_lora_free(self._own_adapter)
            self._own_adapter = None
        shared.release()

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
        if self._shared_source is not None:
            self._load_shared(llama_cpp, adapter)
        else:
            self._load_own(llama_cpp, files, adapter)
        self.dim = int(llama_cpp.llama_model_n_embd(self._model.model))
        with self._lock:
            self._state = "ready"
            adapter_name = f" + {Path(adapter).name}" if adapter else ""
            shared = ", on the completion model" if self._shared is not None else ""
            self._detail = (f"{files.model.name}{adapter_name}, {self.pooling} pooling, ≤{self.max_tokens} tokens, "
                            f"{self.threads} threads{shared}, loaded in {time.monotonic() - t0:.1f} s")
        self._ready.set()
        log.info("embedding model ready: %s", self._detail)

    def _context_params(self, llama_cpp: Any) -> Any:
        """What ``Llama(embedding=True, pooling NONE, ...)`` in ``_load_own`` sets, for ``_load_shared``."""
        params = llama_cpp.llama_context_default_params()
        params.n_ctx = self.max_tokens
        params.n_batch = params.n_ubatch = self.batch_tokens
        params.n_threads = params.n_threads_batch = self.threads
        params.rope_scaling_type = llama_cpp.LLAMA_ROPE_SCALING_TYPE_UNSPECIFIED
        params.yarn_ext_factor, params.yarn_attn_factor = -1.0, 1.0  # Llama()'s defaults, not the C ones
        params.yarn_beta_fast, params.yarn_beta_slow = 32.0, 1.0
        params.pooling_type = llama_cpp.LLAMA_POOLING_TYPE_NONE
        params.attention_type = llama_cpp.LLAMA_ATTENTION_TYPE_UNSPECIFIED
        params.embeddings = True
        params.flash_attn_type = llama_cpp.LLAMA_FLASH_ATTN_TYPE_DISABLED
        params.n_seq_max = min(self.batch_tokens, llama_cpp.llama_max_parallel_sequences())
        params.kv_unified = True
        return params

    def _load_shared(self, llama_cpp: Any, adapter: Path | None) -> None:
        """A context of our own on the completion engine's model (waits until it is loaded)."""
        from llama_cpp import _internals

        shared = self._shared_source()  # type: ignore[misc]  # raises ModelError if the engine failed
        self._shared = shared
        if Path(shared.files.model) != Path(self.files.model):  # type: ignore[union-attr]
            raise ModelError(f"shared model {shared.files.model} is not {self.files.model}")  # type: ignore[union-attr]
        self._model = shared.model
        self._gate = shared.gate
        self._ctx = _internals.LlamaContext(model=self._model, params=self._context_params(llama_cpp), verbose=True)
        self._batch = _internals.LlamaBatch(n_tokens=self.batch_tokens, embd=0, n_seq_max=self.max_tokens, verbose=True)
        handle = None
        if adapter and shared.files.adapter and Path(adapter) == Path(shared.files.adapter):
            handle = shared.adapter  # the completion adapter, already loaded and checked
        elif adapter:
            handle = llama_cpp.llama_adapter_lora_init(self._model.model, str(adapter).encode("utf-8"))
            if not handle:
                raise adapter_refused(adapter, shared.files.model)
            self._own_adapter = handle
        if handle:
            adapters = (llama_cpp.llama_adapter_lora_p_ctypes * 1)(handle)
            scales = (ctypes.c_float * 1)(1.0)
            if llama_cpp.llama_set_adapters_lora(self._ctx.ctx, adapters, 1, scales):
                raise ModelError(f"llama.cpp could not set LoRA adapter {adapter} on the embedding context")

    def _load_own(self, llama_cpp: Any, files: ModelFiles, adapter: Path | None) -> None:
        llm = load_llama(files.model, adapter, n_ctx=self.max_tokens, n_batch=self.batch_tokens, threads=self.threads,
                         embedding=True, pooling_type=llama_cpp.LLAMA_POOLING_TYPE_NONE)
        self._llm = llm
        self._model, self._ctx, self._batch = llm._model, llm._ctx, llm._batch

    def tokenize(self, text: str) -> list[int]:
        """Tokens that get evaluated for ``text`` (after the cut). Worker-thread use only."""
        tokens = self._model.tokenize(text.encode("utf-8"), add_bos=False, special=False)
        return tokens[: self.max_tokens]

    def _run(self, job: _Job) -> list[Any]:
        import llama_cpp

        ctx, batch = self._ctx, self._batch
        gate = self._gate
        n_embd = self.dim
        out: list[Any] = []
        for text in job.texts:
            if self._closed:
                raise ModelError("embedder closed")
            t0 = time.perf_counter()
            tokens = self.tokenize(text) or self._model.tokenize(b"\n", add_bos=False, special=False)
            # The calls of Llama.eval()/embed() (llama-cpp-python 0.3.36), in chunks of
            # ``batch_tokens`` with the KV cache carrying the context, and a numpy copy of each
            # chunk's per-token output instead of Python lists.
            ctx.kv_cache_clear()
            parts = []
            for start in range(0, len(tokens), self.batch_tokens):
                if self._closed:
                    raise ModelError("embedder closed")
                chunk = tokens[start:start + self.batch_tokens]
                batch.set_batch(chunk, n_past=start, logits_all=True)
                with gate.low() if gate is not None else contextlib.nullcontext():
                    ctx.decode(batch)
                    ptr = llama_cpp.llama_get_embeddings(ctx.ctx)
                    parts.append(np.ctypeslib.as_array(ctypes.cast(ptr, ctypes.POINTER(ctypes.c_float)),
                                                       shape=(len(chunk), n_embd)).astype(np.float32))
            batch.reset()
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
