"""Completion engine: one worker thread owns the ``Llama`` object (llama.cpp contexts are not
thread-safe); callers get ``concurrent.futures.Future`` objects and are never blocked.

Scheduling: the newest completion request wins. Submitting bumps a sequence number; the
worker checks it between prompt chunks and after every generated token, so stale work
stops within one chunk or token. Priorities: completion > prefill (warm the KV cache for
where the cursor rests) > speculative follow-up (the next line as if the last one-line
suggestion were accepted). The prompt is suffix-first (``prompt.py``): while the user
types, consecutive prompts share all but their last few tokens, and the KV cache of the
common token prefix is kept.

The loaded model is lent to the similar-functions embedder (``shared_model``, model/shared.py),
which makes its own context on the same weights. While the worker has jobs it holds the
model's gate, so background embedding waits and delays a completion by one batch at most.

Decoding is our own greedy loop over ``Llama.eval`` and the raw logits rather than
``create_completion``: it stops the moment the cut suggestion is complete, checks for
staleness per token, and can verify prompt-lookup drafts without llama-cpp-python's
``logits_all=True`` (which copies 152k floats per prompt token). bench/model_latency.py
compares the two.

stdout is the server's JSON-RPC channel. llama-cpp-python with ``verbose=False`` silences
llama.cpp by dup2-ing fd 1 to /dev/null during model load, which would swallow any
JSON-RPC message another thread writes meanwhile. So we load with ``verbose=True`` and
route llama.cpp's C log through ``llama_log_set`` to Python logging instead, and capture
llama-cpp-python's own Python prints to stderr while loading.
"""
from __future__ import annotations

import contextlib
import ctypes
import io
import logging
import os
import threading
import time
from pathlib import Path
from collections.abc import Callable, Hashable
from concurrent.futures import Future, InvalidStateError, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from .prompt import (DEFAULT_PREFIX_BUDGET, DEFAULT_SUFFIX_BUDGET, SHORT_PREFIX_BUDGET, SHORT_SUFFIX_BUDGET,
                     build_fim_prompt, cut_window)
from .shared import SharedModel
from .store import ModelError, ModelFiles
from .suggest import Hole, SuggestionCache, accept, cut_suggestion, final_suggestion

# libgomp's default busy-wait makes llama.cpp's 2+ threads crawl when anything else wants the
# CPU (measured on 2 busy cores: decode 0.4 tok/s active vs 7.4 tok/s passive). libgomp reads
# this when it is loaded, i.e. when llama_cpp is first imported, so set it before that.
os.environ.setdefault("OMP_WAIT_POLICY", "passive")

log = logging.getLogger(__name__)
llama_log = logging.getLogger("asm_lsp.model.llama_cpp")

ONE_LINE_MAX_TOKENS = 48  # an A64 line is 6-15 tokens; long comments get cut
TOKENS_PER_LINE = 20
FOLLOW_UP_LINES = 1  # speculative next line: one line keeps idle CPU use small
CANDIDATE_TEMPERATURE = 0.4
CANDIDATE_TOP_K = 20
PROMPT_LOOKUP_NGRAM = 3
PROMPT_LOOKUP_TOKENS = 8
KV_SHIFT_MIN_KEEP = 32  # shift the cache only when at least this many tokens are kept by it
# A completion that would evaluate more prompt tokens than this (a cold cache: the first request in
# a file, a jump elsewhere) answers from the short window (prompt.SHORT_*_BUDGET, ~200 tokens,
# ~1.2 s on 2 cores instead of ~4.5 s for ~720), then the full window is prefilled in the background
# for the requests that follow. Training mixes short windows in (DataConfig.short_window).
COLD_PROMPT_TOKENS = 320


@dataclass
class CompletionRequest:
    """A completion at a 0-based ``line`` and 0-based code-point ``col`` of ``text``."""

    text: str
    line: int
    col: int
    max_lines: int = 8
    request_id: Hashable | None = None
    validate: Callable[[str], bool] | None = None  # e.g. an assembler check; runs in the worker
    candidates: int = 1  # with ``validate``: greedy first, then low-temperature samples
    time_budget_ms: int = 2000  # from submit; the future gets None when it runs out
    follow_up: bool = True  # after a one-line suggestion, speculate the next line in idle time


@dataclass(frozen=True)
class Suggestion:
    text: str  # insert at (line, col); may hold "\n"
    line: int
    col: int
    source: str  # "model" or "cache" (typed-ahead / speculative follow-up)
    elapsed_ms: float
    request_id: Hashable | None = None
    validated: bool | None = None  # None: no validator was given
    prompt_tokens: int = 0
    reused_tokens: int = 0  # prompt tokens whose KV cache was kept
    generated_tokens: int = 0


@dataclass
class _Job:
    kind: str  # "complete" | "prefill" | "follow"
    hole: Hole
    seq: int
    request: CompletionRequest | None = None
    future: Future | None = None
    deadline: float = float("inf")
    started: float = field(default_factory=time.monotonic)
    cancelled: bool = False
    prefill_seq: int = 0


def _settle(future: Future, value: Suggestion | None) -> None:
    """Set a result unless the future is already done (e.g. cancelled by asyncio.wrap_future)."""
    with contextlib.suppress(InvalidStateError):
        future.set_result(value)


class _Interrupted(Exception):
    """The job went stale (newer request, cancel or close)."""


def check_adapter_applied(llm: Any, adapter: Path | str | None, model: Path) -> None:
    """Raise ModelError if llama.cpp refused ``adapter`` (e.g. made for another architecture).

    llama-cpp-python checks the adapter handle against None but gets a NULL pointer object,
    so it would silently run without the adapter.
    """
    if adapter and not getattr(llm, "_lora_adapter", True):
        llm.close()
        raise adapter_refused(adapter, model)


def adapter_refused(adapter: Path | str, model: Path | str) -> ModelError:
    """The error for a LoRA adapter llama.cpp would not load onto ``model``."""
    return ModelError(
        f"LoRA adapter {adapter} does not fit the base model {Path(model).name} (llama.cpp refused it); "
        "set asmLsp.model.adapter to \"none\" or to an adapter made for this model")


def physical_cores() -> int:
    """Physical cores available to this process (hyper-threads make llama.cpp slower)."""
    try:
        available = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        available = os.cpu_count() or 1
    cores: set[tuple[str, str]] = set()
    try:
        physical = core = ""
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "physical id":
                    physical = value.strip()
                elif key == "core id":
                    core = value.strip()
                    cores.add((physical, core))
    except OSError:
        pass
    return max(1, min(available, len(cores) or available))


# ---------------------------------------------------------------- llama.cpp logging

_log_callback: Any = None  # the ctypes callback must outlive every llama.cpp call
_log_lock = threading.Lock()


def route_llama_logs() -> None:
    """Send llama.cpp's C-level log to the ``asm_lsp.model.llama_cpp`` logger (never stdout)."""
    global _log_callback
    import llama_cpp

    with _log_lock:
        if _log_callback is not None:
            return
        # ggml_log_level: 0 NONE, 1 DEBUG, 2 INFO, 3 WARN, 4 ERROR, 5 CONT(inue the previous)
        # llama.cpp's INFO is per-load detail (tensor lists, metadata): DEBUG for us.
        levels = {1: logging.DEBUG, 2: logging.DEBUG, 3: logging.WARNING, 4: logging.ERROR}
        partial: list[str] = []
        current = [logging.DEBUG]

        @llama_cpp.llama_log_callback
        def callback(level: int, text: bytes, _user: ctypes.c_void_p) -> None:
            try:
                if level != 5:
                    current[0] = levels.get(level, logging.DEBUG)
                partial.append(text.decode("utf-8", "replace"))
                if partial[-1].endswith("\n"):
                    message = "".join(partial).rstrip()
                    partial.clear()
                    if message:
                        llama_log.log(current[0], "%s", message)
            except Exception:  # a C callback must never raise
                pass

        _log_callback = callback
        llama_cpp.llama_log_set(callback, ctypes.c_void_p(0))


def _system_info() -> str:
    import llama_cpp

    return llama_cpp.llama_print_system_info().decode("utf-8", "replace")


@contextlib.contextmanager
def _model_params_without_extra_buffers(enabled: bool):
    """llama.cpp's AMX weight buffers crash in mul_mat on some AMX hosts (seen with 0.3.36
    built natively): load with ``use_extra_bufts = False`` there. Llama() has no parameter
    for it, so patch the defaults it reads, only while our worker constructs the model."""
    if not enabled:
        yield
        return
    import llama_cpp.llama_cpp as C

    original = C.llama_model_default_params

    def patched():
        params = original()
        params.use_extra_bufts = False
        return params

    C.llama_model_default_params = patched
    try:
        yield
    finally:
        C.llama_model_default_params = original


class CompletionEngine:
    """Owns one llama.cpp model in a worker thread. Thread-safe public methods; none raise."""

    def __init__(
        self,
        files: ModelFiles | Callable[[], ModelFiles],
        threads: int = 0,
        context_size: int = 2048,
        *,
        batch_size: int = 128,
        prompt_lookup: bool = False,
        cache_size: int = 64,
        kv_shift: bool = False,
        cold_window: bool = False,
    ) -> None:
        """``files`` may be a callable (e.g. ``lambda: resolve_model(...)``): it then runs in
        the worker, so assembling the model on first start does not block the caller.
        ``kv_shift``: when a prompt drops a span of the previous one (the prefix window moved),
        remove that span from the KV cache and shift the rest instead of evaluating it again.
        ``cold_window``: answer a cold cache from the short window (see COLD_PROMPT_TOKENS)."""
        self._files_source = files
        self.files: ModelFiles | None = files if isinstance(files, ModelFiles) else None
        self.threads = threads if threads > 0 else physical_cores()
        self.context_size = max(256, context_size)
        self.batch_size = batch_size  # prompt chunk: also how often stale prompt work is checked
        self.prompt_lookup = prompt_lookup
        self.kv_shift = kv_shift
        self.cold_window = cold_window
        self.cache = SuggestionCache(cache_size)

        self._lock = threading.Condition()
        self._seq = 0
        self._prefill_seq = 0
        self._pending: _Job | None = None
        self._prefill: _Job | None = None
        self._follow: _Job | None = None
        self._running: _Job | None = None
        self._closed = False
        self._state = "not started"
        self._detail = ""
        self._thread: threading.Thread | None = None
        self._check_pool: ThreadPoolExecutor | None = None
        self._llm: Any = None
        self._shared: SharedModel | None = None
        self._np: Any = None
        self._stop_tokens: set[int] = set()
        self._stop_cache: dict[int, bool] = {}
        self.last_timings: dict[str, float] = {}
        # Counters for status, tests and benchmarks (written by the worker only).
        self.stats = {"completions": 0, "cache_hits": 0, "follow_ups": 0, "prompt_tokens_evaluated": 0, "generated_tokens": 0,
                      "kv_shifts": 0, "kv_shifted_tokens": 0, "cold_windows": 0}

    # ------------------------------------------------------------ public API

    def start(self) -> None:
        """Load the model in the worker thread; returns at once."""
        with self._lock:
            if self._thread is not None:
                return
            self._state = "loading"
            self._thread = threading.Thread(target=self._worker, name="asm-lsp-model", daemon=True)
            self._thread.start()

    def submit(self, request: CompletionRequest) -> Future:
        """A future for ``Suggestion | None``; older unfinished requests get None."""
        t0 = time.monotonic()
        future: Future = Future()
        hole = Hole.at(request.text, request.line, request.col)
        hit = None if self._closed else self.cache.lookup(hole)
        if hit is not None:
            text, validated = hit
            if request.validate is None or validated:
                self._serve_cached(future, request, text, validated, t0)
                return future
            # A speculative entry not yet checked: the validator may run an assembler, and
            # the caller may be an event loop, so check on a helper thread.
            self._checker().submit(self._check_cached, future, hole, request, text, t0)
            return future
        self._enqueue(future, hole, request, t0)
        return future

    def _serve_cached(self, future: Future, request: CompletionRequest, text: str, validated: bool, t0: float) -> None:
        self.stats["cache_hits"] += 1
        _settle(future, Suggestion(
            text, request.line, request.col, "cache", (time.monotonic() - t0) * 1000, request.request_id,
            validated if request.validate is not None else None,
        ))

    def _checker(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._check_pool is None:
                self._check_pool = ThreadPoolExecutor(1, thread_name_prefix="asm-lsp-model-check")
            return self._check_pool

    def _check_cached(self, future: Future, hole: Hole, request: CompletionRequest, text: str, t0: float) -> None:
        try:
            ok = bool(request.validate(text))  # type: ignore[misc]
        except Exception:
            log.exception("validator failed on a cached suggestion")
            ok = False
        if ok:
            self._serve_cached(future, request, text, True, t0)
        else:
            self._enqueue(future, hole, request, t0)  # ask the model after all

    def _enqueue(self, future: Future, hole: Hole, request: CompletionRequest, t0: float) -> None:
        with self._lock:
            if self._closed:
                _settle(future, None)
                return
            self._seq += 1
            job = _Job("complete", hole, self._seq, request, future, t0 + request.time_budget_ms / 1000.0, t0)
            if self._pending is not None:
                self._resolve(self._pending, None)
            if self._state != "ready":
                # Not loaded yet: answer now, but warm the cache for this place once loaded.
                self._pending = None
                _settle(future, None)
                self._prefill_seq += 1
                self._prefill = _Job("prefill", hole, self._seq, prefill_seq=self._prefill_seq)
            else:
                self._pending = job
            self._follow = None
            self._lock.notify_all()

    def prefill(self, text: str, line: int, col: int) -> None:
        """Evaluate the prompt for this cursor place in idle time (document opened, cursor rests)."""
        hole = Hole.at(text, line, col)
        with self._lock:
            if self._closed:
                return
            self._prefill_seq += 1
            self._prefill = _Job("prefill", hole, self._seq, prefill_seq=self._prefill_seq)
            self._lock.notify_all()

    def cancel(self, request_id: Hashable) -> None:
        """Cancel a pending or running request; its future gets None."""
        with self._lock:
            for job in (self._pending, self._running):
                if job is not None and job.request is not None and job.request.request_id == request_id:
                    job.cancelled = True
                    self._resolve(job, None)
            if self._pending is not None and self._pending.cancelled:
                self._pending = None

    def status(self) -> str:
        with self._lock:
            state, detail = self._state, self._detail
        return f"{state}: {detail}" if detail else state

    @property
    def busy(self) -> bool:
        """Work is queued or running (including prefill and speculation)."""
        with self._lock:
            return any(job is not None for job in (self._running, self._pending, self._prefill, self._follow))

    @property
    def ready(self) -> bool:
        return self._state == "ready"

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Block until loaded or failed (for CLI commands and tests); True if ready."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            while self._state in ("loading", "not started"):
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    break
                self._lock.wait(remaining)
            return self._state == "ready"

    def shared_model(self, timeout: float | None = None) -> SharedModel:
        """The loaded model, for another context on the same weights (the embedder).

        Blocks until loaded. The caller owns a reference: ``release()`` it after closing its
        contexts. Raises ModelError when loading failed or the engine is closed.
        """
        if not self.wait_ready(timeout):
            raise ModelError(f"completion model not ready: {self.status()}")
        shared = self._shared
        if shared is None or not shared.acquire():
            raise ModelError("completion model closed")
        return shared

    def close(self) -> None:
        """Stop the worker and free the model (once no borrower holds it); pending futures get None."""
        with self._lock:
            self._closed = True
            for job in (self._pending, self._running):
                if job is not None:
                    self._resolve(job, None)
            self._pending = self._prefill = self._follow = None
            self._lock.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=30)
        if self._check_pool is not None:
            self._check_pool.shutdown(wait=False, cancel_futures=True)
        with self._lock:
            self._state = "closed"

    # ------------------------------------------------------------ worker

    def _worker(self) -> None:
        try:
            self._load()
        except Exception as e:  # never raise into anyone: status says why
            message = str(e) if isinstance(e, ModelError) else f"{type(e).__name__}: {e}"
            log.error("model load failed: %s", message)
            with self._lock:
                self._state = "error"
                self._detail = message
                self._lock.notify_all()
            return
        gate = self._shared.gate  # type: ignore[union-attr]
        holding = False  # held while jobs follow each other: background embedding waits
        while True:
            with self._lock:
                if holding and not (self._pending or self._prefill or self._follow):
                    gate.release()
                    holding = False
                while not self._closed and not (self._pending or self._prefill or self._follow):
                    self._lock.wait()
                if self._closed:
                    break
                if self._pending is not None:
                    job, self._pending = self._pending, None
                elif self._prefill is not None:
                    job, self._prefill = self._prefill, None
                else:
                    job, self._follow = self._follow, None
                self._running = job
            if not holding:
                gate.acquire_high()  # waits for at most one embedding batch
                holding = True
            try:
                self._run_job(job)
            except _Interrupted:
                self._resolve_locked(job, None)
            except Exception as e:
                log.exception("model job failed")
                if job.future is not None:
                    with contextlib.suppress(InvalidStateError):
                        job.future.set_exception(e)
            finally:
                with self._lock:
                    self._running = None
        if holding:
            gate.release()
        shared, self._shared, self._llm = self._shared, None, None
        if shared is not None:
            shared.release()  # frees the model unless the embedder still uses it

    def _load(self) -> None:
        t0 = time.monotonic()
        if self.files is None:
            with self._lock:
                self._detail = "preparing model files"
            self.files = self._files_source()  # type: ignore[operator]
        files = self.files
        with self._lock:
            self._detail = f"loading {files.model.name}"
        try:
            import llama_cpp
            import numpy
        except ImportError as e:
            raise ModelError(
                f"llama-cpp-python is not installed ({e}); run `pip install 'asm-lsp-aarch64[model]'`"
            ) from e
        self._np = numpy
        route_llama_logs()
        amx = "AMX_INT8 = 1" in _system_info() and not os.environ.get("ASM_LSP_LLAMA_EXTRA_BUFFERS")
        captured = io.StringIO()
        with contextlib.redirect_stderr(captured), _model_params_without_extra_buffers(amx):
            llm = llama_cpp.Llama(
                model_path=str(files.model),
                lora_path=str(files.adapter) if files.adapter else None,
                n_ctx=self.context_size,
                n_batch=self.batch_size,
                n_ubatch=self.batch_size,
                n_threads=self.threads,
                n_threads_batch=self.threads,
                verbose=True,  # see module docstring: verbose=False dup2()s fd 1 away
            )
        if captured.getvalue():
            llama_log.debug("%s", captured.getvalue().rstrip())
        check_adapter_applied(llm, files.adapter, files.model)
        self._llm = llm
        self._shared = SharedModel(llm, files)
        if self.kv_shift and not llama_cpp.llama_memory_can_shift(llm._ctx.memory):
            log.info("this model's KV cache cannot shift positions: kv_shift off")
            self.kv_shift = False
        self._stop_tokens = self._special_ids(llm)
        elapsed = time.monotonic() - t0
        adapter = f" + {files.adapter.name}" if files.adapter else ""
        with self._lock:
            self._state = "ready"
            self._detail = (
                f"{files.model.name}{adapter}, n_ctx {self.context_size}, {self.threads} threads, "
                f"loaded in {elapsed:.1f} s" + (" (AMX weight buffers off)" if amx else "")
            )
            self._lock.notify_all()
        log.info("model ready: %s", self._detail)

    @staticmethod
    def _special_ids(llm: Any) -> set[int]:
        ids: set[int] = set()
        for marker in ("<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>", "<|endoftext|>", "<|file_sep|>"):
            tokens = llm.tokenize(marker.encode(), add_bos=False, special=True)
            if len(tokens) == 1:
                ids.add(tokens[0])
        return ids

    def _is_stop(self, token: int) -> bool:
        stop = self._stop_cache.get(token)
        if stop is None:
            import llama_cpp

            vocab = self._llm._model.vocab
            stop = (
                token in self._stop_tokens
                or bool(llama_cpp.llama_vocab_is_eog(vocab, token))
                or bool(llama_cpp.llama_vocab_is_control(vocab, token))
            )
            self._stop_cache[token] = stop
        return stop

    # ------------------------------------------------------------ jobs

    def _stale(self, job: _Job) -> bool:
        if job.cancelled or self._closed:
            return True
        if job.kind == "prefill":
            return job.seq != self._seq or job.prefill_seq != self._prefill_seq or self._pending is not None
        return job.seq != self._seq

    def _check(self, job: _Job) -> None:
        if self._stale(job):
            raise _Interrupted

    def _resolve(self, job: _Job, value: Suggestion | None) -> None:
        """Resolve ``job``'s future once; call with the lock held."""
        if job.future is not None:
            _settle(job.future, value)

    def _resolve_locked(self, job: _Job, value: Suggestion | None) -> None:
        with self._lock:
            self._resolve(job, value)

    def _run_job(self, job: _Job) -> None:
        if job.kind == "prefill":
            self._feed(self._prompt_tokens(job.hole, 8), job)
            return
        request = job.request
        assert request is not None
        max_lines = FOLLOW_UP_LINES if job.kind == "follow" else max(1, request.max_lines)
        text, info = self._complete(job, max_lines)
        validated: bool | None = None
        if text and request.validate is not None and job.kind == "complete":
            validated = True
        self.cache.put(job.hole, text, validated=bool(validated))
        if job.kind != "complete":
            self.stats["follow_ups"] += 1
            return
        self.stats["completions"] += 1
        elapsed = (time.monotonic() - job.started) * 1000
        self.last_timings = {"elapsed_ms": elapsed, **info}
        suggestion = None
        if text:
            suggestion = Suggestion(
                text, request.line, request.col, "model", elapsed, request.request_id, validated,
                int(info.get("prompt_tokens", 0)), int(info.get("reused_tokens", 0)), int(info.get("generated_tokens", 0)),
            )
        self._resolve_locked(job, suggestion)
        if info.get("cold_window"):  # the next request here gets the full window, already evaluated
            with self._lock:
                if not self._stale(job) and self._pending is None and self._prefill is None:
                    self._prefill_seq += 1
                    self._prefill = _Job("prefill", job.hole, self._seq, prefill_seq=self._prefill_seq)
        if text and "\n" not in text and request.follow_up:
            with self._lock:
                if not self._stale(job) and self._pending is None:
                    self._follow = _Job("follow", accept(job.hole, text), self._seq, request)

    # ------------------------------------------------------------ llama.cpp work

    def _prompt_tokens(self, hole: Hole, max_lines: int, short: bool = False) -> list[int]:
        """Tokens of the FIM prompt, cut so that prompt + answer fit the context; ``short``:
        the cold-cache window (SHORT_PREFIX_BUDGET / SHORT_SUFFIX_BUDGET)."""
        reserve = ONE_LINE_MAX_TOKENS if not hole.multiline else max_lines * TOKENS_PER_LINE
        room = self.context_size - reserve - 8
        prefix_budget, suffix_budget = ((SHORT_PREFIX_BUDGET, SHORT_SUFFIX_BUDGET) if short
                                        else (DEFAULT_PREFIX_BUDGET, DEFAULT_SUFFIX_BUDGET))
        scale = min(1.0, room / (prefix_budget + suffix_budget))
        while True:
            window = cut_window(
                hole.prefix, hole.suffix, int(prefix_budget * scale), int(suffix_budget * scale)
            )
            prompt = build_fim_prompt(window.prefix, window.suffix)
            tokens = self._llm.tokenize(prompt.encode("utf-8"), add_bos=False, special=True)
            if len(tokens) <= room or scale < 0.05:
                return tokens[-room:] if len(tokens) > room else tokens
            scale *= 0.75 * room / len(tokens)

    def _common_prefix(self, tokens: list[int]) -> int:
        """How many leading ``tokens`` the KV cache holds (never the last: its logits are needed)."""
        llm = self._llm
        np = self._np
        limit = min(llm.n_tokens, len(tokens) - 1)
        if limit <= 0:
            return 0
        mismatch = np.flatnonzero(llm.input_ids[:limit] != np.asarray(tokens[:limit]))
        return int(mismatch[0]) if mismatch.size else limit

    def _uncached(self, tokens: list[int]) -> int:
        """Prompt tokens that evaluating ``tokens`` would cost (after a KV shift, if on)."""
        common = self._common_prefix(tokens)
        if self.kv_shift and common < len(tokens) - 1:
            at, run = self._shift_plan(tokens, common)
            common += run if at >= 0 else 0
        return len(tokens) - common

    def _feed(self, tokens: list[int], job: _Job) -> int:
        """Evaluate ``tokens`` reusing the KV cache's common prefix; return the reused count.

        Stale jobs stop between chunks. A completion whose time budget runs out here gets
        None, but the prompt keeps being evaluated: the next request at this place needs it.
        """
        llm = self._llm
        common = self._common_prefix(tokens)  # the last token is always re-run: we need its logits
        if self.kv_shift and common < len(tokens) - 1:
            common += self._shift_cache(tokens, common)
        llm.n_tokens = common
        for start in range(common, len(tokens), self.batch_size):
            self._check(job)
            if job.kind == "complete" and time.monotonic() > job.deadline:
                self._resolve_locked(job, None)
            chunk = tokens[start : start + self.batch_size]
            llm.eval(chunk)
            self.stats["prompt_tokens_evaluated"] += len(chunk)
        return common

    def _shift_cache(self, tokens: list[int], common: int) -> int:
        """Where the cached tokens after ``common`` reappear later in ``tokens`` minus a dropped
        span (the prefix window start moved down), remove the span from the KV cache and shift
        the kept tokens' positions down (llama.cpp re-rotates their keys). Returns how many
        tokens after ``common`` are now cached, 0 if nothing was worth keeping.

        The kept tokens' states were computed with the dropped span in view, so this is an
        approximation of evaluating them again (bench/results/kv_shift.md measures its effect).
        """
        best_at, best_run = self._shift_plan(tokens, common)
        if best_at < 0:
            return 0
        llm = self._llm
        cached = self._np.asarray(llm.input_ids[: llm.n_tokens])
        dropped = best_at - common
        end = best_at + best_run
        ctx = llm._ctx
        # What follows the kept run is stale; then the dropped span. Either failing leaves the
        # plain path: the caller's eval drops everything after ``common``.
        if not (ctx.kv_cache_seq_rm(0, end, -1) and ctx.kv_cache_seq_rm(0, common, best_at)):
            return 0
        ctx.kv_cache_seq_shift(0, best_at, end, -dropped)
        llm.input_ids[common : common + best_run] = cached[best_at:end].copy()
        llm.n_tokens = common + best_run
        self.stats["kv_shifts"] += 1
        self.stats["kv_shifted_tokens"] += best_run
        return best_run

    def _shift_plan(self, tokens: list[int], common: int) -> tuple[int, int]:
        """(cache position, length) of the longest cached run that ``tokens[common:]`` starts
        with, found after ``common``; (-1, 0) when shorter than KV_SHIFT_MIN_KEEP."""
        llm = self._llm
        np = self._np
        cached = np.asarray(llm.input_ids[: llm.n_tokens])
        want = np.asarray(tokens[common : len(tokens) - 1])  # the last token is re-run anyway
        if want.size < KV_SHIFT_MIN_KEEP:
            return -1, 0
        # Candidate places: where the first tokens of what is wanted appear in the cache.
        head = min(8, want.size)
        tail = cached[common + 1 :]
        if tail.size < head:
            return -1, 0
        found = np.ones(tail.size - head + 1, dtype=bool)
        for k in range(head):
            found &= tail[k : tail.size - head + 1 + k] == want[k]
        best_run, best_at = 0, -1
        for at in np.flatnonzero(found) + common + 1:
            n = min(cached.size - at, want.size)
            if n <= best_run:
                continue
            mismatch = np.flatnonzero(cached[at : at + n] != want[:n])
            run = int(mismatch[0]) if mismatch.size else n
            if run > best_run:
                best_run, best_at = run, int(at)
        if best_run < KV_SHIFT_MIN_KEEP:
            return -1, 0
        return best_at, best_run

    def _logits(self, index: int) -> Any:
        import llama_cpp

        pointer = llama_cpp.llama_get_logits_ith(self._llm._ctx.ctx, index)
        return self._np.ctypeslib.as_array(pointer, shape=(self._llm.n_vocab(),))

    def _eval_with_logits(self, tokens: list[int]) -> None:
        """Like ``Llama.eval`` for one small batch, but with logits at every position."""
        llm = self._llm
        llm._ctx.kv_cache_seq_rm(-1, llm.n_tokens, -1)
        llm._batch.set_batch(batch=tokens, n_past=llm.n_tokens, logits_all=True)
        llm._ctx.decode(llm._batch)
        llm.input_ids[llm.n_tokens : llm.n_tokens + len(tokens)] = tokens
        llm.n_tokens += len(tokens)

    def _draft(self, context: list[int]) -> list[int]:
        """Prompt-lookup draft: what followed the latest earlier occurrence of the last n-gram."""
        for size in range(PROMPT_LOOKUP_NGRAM, 0, -1):
            if len(context) <= size:
                continue
            tail = context[-size:]
            for start in range(len(context) - size - 1, -1, -1):
                if context[start : start + size] == tail:
                    follow = context[start + size : start + size + PROMPT_LOOKUP_TOKENS]
                    if follow:
                        return follow
        return []

    def _complete(self, job: _Job, max_lines: int) -> tuple[str, dict[str, float]]:
        request = job.request
        assert request is not None
        hole = job.hole
        t0 = time.monotonic()
        tokens = self._prompt_tokens(hole, max_lines)
        cold = False
        cost = self._uncached(tokens) if self.cold_window and job.kind == "complete" else 0
        if cost > COLD_PROMPT_TOKENS:
            short = self._prompt_tokens(hole, max_lines, short=True)
            if len(short) < len(tokens) and self._uncached(short) < cost:
                tokens, cold = short, True
                self.stats["cold_windows"] += 1
        reused = self._feed(tokens, job)
        t_prompt = time.monotonic()
        info: dict[str, float] = {
            "prompt_tokens": len(tokens), "reused_tokens": reused, "prompt_ms": (t_prompt - t0) * 1000,
            "cold_window": float(cold),
        }
        attempts = max(1, request.candidates) if request.validate is not None and job.kind == "complete" else 1
        rng = self._np.random.default_rng(len(tokens))
        tried: set[str] = set()
        generated = 0
        for attempt in range(attempts):
            if attempt > 0:
                if time.monotonic() > job.deadline:
                    break
                self._llm.n_tokens = len(tokens) - 1  # rewind to the prompt; re-run its last token
                self._llm.eval(tokens[-1:])
            temperature = 0.0 if attempt == 0 else CANDIDATE_TEMPERATURE
            text, count = self._generate(job, hole, max_lines, temperature, rng, tokens)
            generated += count
            if not text and attempt == 0:
                break  # greedy sees nothing to add here: sampling more would only burn the budget
            if not text or text in tried:
                continue
            tried.add(text)
            if request.validate is None or job.kind != "complete":
                info.update(generated_tokens=generated, decode_ms=(time.monotonic() - t_prompt) * 1000)
                return text, info
            try:
                ok = bool(request.validate(text))
            except Exception:
                log.exception("validator failed")
                ok = False
            if ok:
                info.update(generated_tokens=generated, candidates=attempt + 1)
                return text, info
        info.update(generated_tokens=generated, decode_ms=(time.monotonic() - t_prompt) * 1000)
        return "", info

    def _generate(
        self, job: _Job, hole: Hole, max_lines: int, temperature: float, rng: Any, prompt: list[int]
    ) -> tuple[str, int]:
        """Decode from the evaluated prompt until the cut suggestion is complete; return (text, tokens)."""
        llm = self._llm
        np = self._np
        max_tokens = ONE_LINE_MAX_TOKENS if not hole.multiline else max_lines * TOKENS_PER_LINE
        use_draft = self.prompt_lookup and temperature == 0.0
        out: list[int] = []
        raw = b""

        def pick(logits: Any) -> int:
            if temperature == 0.0:
                return int(logits.argmax())
            top = np.argpartition(logits, -CANDIDATE_TOP_K)[-CANDIDATE_TOP_K:]
            weights = np.exp((logits[top] - logits[top].max()) / temperature)
            return int(rng.choice(top, p=weights / weights.sum()))

        def emit(token: int) -> bool:
            """Append ``token``; True when generation should stop."""
            nonlocal raw
            if self._is_stop(token):
                return True
            out.append(token)
            self.stats["generated_tokens"] += 1
            piece = llm.detokenize([token])
            raw += piece
            if b"\n" in piece and cut_suggestion(raw.decode("utf-8", "ignore"), hole, max_lines).done:
                return True
            return len(out) >= max_tokens

        token = pick(self._logits(-1))
        finished = False  # the model ended the suggestion itself (end-of-text or a stop rule)
        while True:
            self._check(job)
            if time.monotonic() > job.deadline:
                break  # out of time: keep only what is complete
            if emit(token):
                finished = len(out) < max_tokens
                break
            draft = self._draft(prompt + out) if use_draft else []
            if not draft:
                llm.eval([token])
                token = pick(self._logits(-1))
                continue
            base = llm.n_tokens
            self._eval_with_logits([token] + draft)
            accepted = 0
            stop = False
            for index in range(len(draft) + 1):
                predicted = int(self._logits(index).argmax())
                if index < len(draft) and predicted == draft[index]:
                    accepted += 1
                    if emit(predicted):
                        stop = True
                        break
                    continue
                token = predicted
                break
            llm.n_tokens = base + 1 + accepted
            llm._ctx.kv_cache_seq_rm(-1, llm.n_tokens, -1)
            if stop:
                finished = len(out) < max_tokens
                break
        return final_suggestion(raw.decode("utf-8", "replace"), hole, max_lines, finished), len(out)
