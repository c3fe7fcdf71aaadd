"""Completion engine: one worker thread owns the ``Llama`` object (llama.cpp contexts are not
thread-safe); callers get ``concurrent.futures.Future`` objects and are never blocked.

The parts, each in its own module:

- ``scheduling.py``: jobs, priorities (completion > prefill > follow-up), preemption by a newer
  request, cancellation, requests that wait on the running decoding.
- ``kvcache.py``: the KV cache (common-prefix reuse, shift when the window moves, prefill).
- ``decoding.py``: the token loop (greedy, sampled candidates, prompt-lookup drafts).
- ``fitting.py``: the prompt for a hole, cut to the context (pure).
- ``llama.py``: the one function that loads llama.cpp.

A completion is answered as soon as its first line is complete (``suggest.show_lines``) or the
model stops; the job then decodes on, up to ``max_lines``, into the suggestion cache, so
accepting the line, accepting it word by word and the next line come from the cache. A newer
request preempts that background work; a request typed along it waits for it instead. The
time budget bounds how long a request waits, never what is decoded: a late line still goes to
the cache. After a finished suggestion, the next line is predicted in idle time (follow-up).

The loaded model is lent to the similar-functions embedder (``shared_model``, model/shared.py),
which makes its own context on the same weights. While the worker has jobs it holds the
model's gate, so background embedding waits and delays a completion by one batch at most.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from . import llama as llama_loader
from .decoding import CANDIDATE_TEMPERATURE, Decoder
from .fitting import ONE_LINE_MAX_TOKENS, TOKENS_PER_LINE, cold_prompt_tokens, fit_prompt  # noqa: F401  (re-exported)
from .kvcache import KVCache
from .prompt import DEFAULT_SUFFIX_BUDGET
from .llama import adapter_refused, check_adapter_applied, physical_cores, route_llama_logs  # noqa: F401
from .scheduling import Deadlines, Interrupted, Job, Scheduler, Waiter, settle
from .shared import SharedModel
from .threads import ThreadTuner
from .store import ModelError, ModelFiles
from .suggest import Hole, SuggestionCache, accept, cut_suggestion, first_lines, show_lines

log = logging.getLogger(__name__)

FOLLOW_UP_LINES = 1  # speculative next line: one line keeps idle CPU use small
# A completion whose full window would cost more prompt tokens than its time budget can evaluate
# (by the measured ``Rates``) with its first line decoded (a cold cache: the first request in a
# file, a jump elsewhere) answers from a cold window fitted to the time left
# (fitting.cold_prompt_tokens: ~150-250 tokens on 2 quiet cores and the 2 s default), then the
# full window is prefilled in the background for the requests that follow. Training mixes short
# windows in (DataConfig.short_window). A full window costing at most this many is always used.
COLD_PROMPT_TOKENS = 48
LINE_TOKENS = 16  # the first line's tokens when the prefix shows no line to measure


@dataclass
class Rates:
    """How fast this model runs here, measured on the engine's own work (moving averages),
    to fit a cold prompt to the time budget. Starts at 2 quiet cores' rates (0.5B, Q8_0)."""

    prompt_per_s: float = 150.0  # prompt tokens evaluated per second
    decode_s: float = 0.05  # seconds per decoded token
    WEIGHT = 0.3  # of a new sample: a few requests follow a change in load

    def prompt(self, tokens: int, seconds: float) -> None:
        """A prompt chunk evaluated (one of ``KVCache.feed``'s)."""
        if tokens >= 32 and seconds > 0:  # small evaluations are mostly overhead
            self.prompt_per_s += self.WEIGHT * (tokens / seconds - self.prompt_per_s)

    def decode(self, seconds: float) -> None:
        """One token decoded (a tenth of the weight: a line is ~16 of them)."""
        if seconds > 0:
            self.decode_s += self.WEIGHT / 10 * (seconds - self.decode_s)


@dataclass
class CompletionRequest:
    """A completion at a 0-based ``line`` and 0-based code-point ``col`` of ``text``."""

    text: str
    line: int
    col: int
    max_lines: int = 8  # most lines decoded (into the cache); shown at once: suggest.show_lines
    request_id: Hashable | None = None
    validate: Callable[[str], bool] | None = None  # e.g. an assembler check; runs in the worker
    candidates: int = 1  # with ``validate``: greedy first, then low-temperature samples
    time_budget_ms: int = 2000  # from submit; the future gets None when it runs out
    follow_up: bool = True  # after a finished suggestion, speculate the next line in idle time
    alternatives: int = 0  # up to this many more candidates, from lines already decoded (never waited for)
    wait_lines: int = 0  # lines to wait for before answering (at most max_lines); 0: as the editor shows
    # them (suggest.show_lines, one in most places). One-shot callers (the CLI) want the whole suggestion.
    context: str = ""  # repo-level block before the window (features/repo_context.py), "" for none

    def shown_lines(self, hole: Hole) -> int:
        """How many complete lines this request is answered with."""
        return min(self.wait_lines, self.max_lines) if self.wait_lines > 0 else show_lines(hole, self.max_lines)


@dataclass(frozen=True)
class Suggestion:
    text: str  # insert at (line, col); may hold "\n"
    line: int
    col: int
    source: str  # "model", "cache" (typed-ahead / speculative follow-up) or "decoding" (typed along it)
    elapsed_ms: float
    request_id: Hashable | None = None
    validated: bool | None = None  # None: no validator was given
    prompt_tokens: int = 0
    reused_tokens: int = 0  # prompt tokens whose KV cache was kept
    generated_tokens: int = 0
    alternatives: tuple[str, ...] = ()  # more candidates, best first: longer runs of the decoded lines


def _alternatives(remainder: str, shown: str, count: int) -> tuple[str, ...]:
    """Up to ``count`` more candidates from a decoded ``remainder`` beyond ``shown``: the next
    lines too, then the whole block (the lines the engine decoded behind the first answer)."""
    if count <= 0 or len(remainder) <= len(shown):
        return ()
    lines = remainder.split("\n")
    out: list[str] = []
    for size in [shown.count("\n") + 2, len(lines)]:
        candidate = "\n".join(lines[:size])
        if candidate != shown and candidate not in out and candidate.strip():
            out.append(candidate)
    return tuple(out[:count])


def _shown(remainder: str, hole: Hole, request: CompletionRequest) -> str:
    """What of a cached or decoded ``remainder`` is shown at ``hole``: its first lines
    (``request.shown_lines``), plus the next one when the first is empty (the line is typed out)."""
    count = request.shown_lines(hole)
    if not remainder.split("\n", 1)[0].strip():
        count += 1
    return first_lines(remainder, count)


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
        gpu_layers: int = llama_loader.AUTO_GPU_LAYERS,
        suffix_tokens: int = DEFAULT_SUFFIX_BUDGET,
    ) -> None:
        """``files`` may be a callable (e.g. ``lambda: resolve_model(...)``): it then runs in
        the worker, so assembling the model on first start does not block the caller.
        ``kv_shift``: when a prompt drops a span of the previous one (the prefix window moved),
        remove that span from the KV cache and shift the rest instead of evaluating it again.
        ``cold_window``: answer a cold cache from the short window (see COLD_PROMPT_TOKENS).
        ``gpu_layers``: layers on the GPU, -1 = all when llama.cpp has a GPU backend.
        ``suffix_tokens``: the full window's budget after the cursor."""
        self._files_source = files
        self.files: ModelFiles | None = files if isinstance(files, ModelFiles) else None
        self.threads = threads if threads > 0 else physical_cores()
        self.tune_threads = threads <= 0  # automatic: all cores or half, by measured speed (threads.py)
        self.tuner: ThreadTuner | None = None
        self.context_size = max(256, context_size)
        self.batch_size = batch_size
        self.prompt_lookup = prompt_lookup
        self.kv_shift = kv_shift
        self.cold_window = cold_window
        self.gpu_layers = gpu_layers
        self.suffix_tokens = suffix_tokens
        self.placement = ""  # "CPU" / "GPU (N of M layers)" once loaded
        self.cache = SuggestionCache(cache_size)
        self.jobs = Scheduler()
        self.deadlines = Deadlines()  # time budgets, kept while the worker is busy inside a chunk
        self._state = "not started"
        self._detail = ""
        self._thread: threading.Thread | None = None
        self._check_pool: ThreadPoolExecutor | None = None
        self._llm: Any = None
        self._shared: SharedModel | None = None
        self._np: Any = None
        self._kv: KVCache | None = None
        self._decoder: Decoder | None = None
        self.last_timings: dict[str, float] = {}
        self.rates = Rates()  # written by the worker only
        # Counters for status, tests and benchmarks (written by the worker only, but cache hits).
        self.stats = {"completions": 0, "cache_hits": 0, "follow_ups": 0, "prompt_tokens_evaluated": 0,
                      "generated_tokens": 0, "kv_shifts": 0, "kv_shifted_tokens": 0, "cold_windows": 0,
                      "answered_early": 0, "typed_along": 0, "over_budget": 0, "aborted_chunks": 0}

    # ------------------------------------------------------------ public API

    def start(self) -> None:
        """Load the model in the worker thread; returns at once."""
        with self.jobs.lock:
            if self._thread is not None:
                return
            self._state = "loading"
            self._thread = threading.Thread(target=self._worker, name="asm-lsp-model", daemon=True)
            self._thread.start()

    def submit(self, request: CompletionRequest) -> Future:
        """A future for ``Suggestion | None``; older unanswered requests get None."""
        t0 = time.monotonic()
        future: Future = Future()
        hole = Hole.at(request.text, request.line, request.col, request.context)
        hit = None if self.jobs.closed else self.cache.lookup(hole)
        if hit is not None:
            remainder, validated = hit
            text = _shown(remainder, hole, request)
            if request.validate is None or validated:
                self._serve_cached(future, request, text, validated, t0,
                                   _alternatives(remainder, text, request.alternatives) if request.validate is None else ())
                if request.follow_up and self.ready:  # after every completed line: the next one
                    self._follow_up(None, accept(hole, text), request)
                return future
            # A speculative entry not yet checked: the validator may run an assembler, and
            # the caller may be an event loop, so check on a helper thread.
            self._checker().submit(self._check_cached, future, hole, request, text, t0)
            return future
        self._enqueue(future, hole, request, t0)
        return future

    def prefill(self, text: str, line: int, col: int, context: str = "") -> None:
        """Evaluate the prompt for this cursor place in idle time (document opened, cursor rests)."""
        self.jobs.warm(Hole.at(text, line, col, context))

    def cancel(self, request_id: Hashable) -> None:
        """Cancel a request not answered yet; its future gets None."""
        self.jobs.cancel(request_id)

    def status(self) -> str:
        with self.jobs.lock:
            state, detail = self._state, self._detail
        return f"{state}: {detail}" if detail else state

    def stats_dict(self) -> dict[str, Any]:
        """Machine-readable state and counters (``asmLsp.modelStats``)."""
        with self.jobs.lock:
            state, detail = self._state, self._detail
        files = self.files
        return {
            "state": state, "detail": detail, "busy": self.busy,
            "model": str(files.model) if files is not None else None,
            "adapter": str(files.adapter) if files is not None and files.adapter else None,
            "placement": self.placement or None, "gpu_layers": self.gpu_layers, "threads": self.threads,
            "context_size": self.context_size, "kv_shift": self.kv_shift, "cold_window": self.cold_window,
            "cached_suggestions": len(self.cache), "counters": {k: int(v) for k, v in self.stats.items()},
            "rates": {"prompt_tokens_per_s": round(self.rates.prompt_per_s, 1),
                      "decode_ms_per_token": round(self.rates.decode_s * 1000, 1)},
            "thread_speeds": self.tuner.describe() if self.tuner is not None else None,
            "last": {k: float(v) for k, v in self.last_timings.items()},  # plain numbers for JSON, never numpy's
        }

    @property
    def busy(self) -> bool:
        """Work is queued or running (including prefill, background decoding and speculation)."""
        return self.jobs.busy

    @property
    def answering(self) -> bool:
        """A completion request waits for the model (background decoding, prefill and
        speculation do not count): other CPU work of the server may give way meanwhile."""
        return self.jobs.answering()

    @property
    def ready(self) -> bool:
        return self._state == "ready"

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Block until loaded or failed (for CLI commands and tests); True if ready."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self.jobs.lock:
            while self._state in ("loading", "not started"):
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    break
                self.jobs.lock.wait(remaining)
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
        self.jobs.close()
        self.deadlines.close()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=30)
        if self._check_pool is not None:
            self._check_pool.shutdown(wait=False, cancel_futures=True)
        with self.jobs.lock:
            self._state = "closed"

    # Kept for models/evaluate.py and tests: the prompt and cache questions of the loaded model.
    def _prompt_tokens(self, hole: Hole, max_lines: int) -> list[int]:
        return fit_prompt(hole, max_lines, self.context_size, self._llm.tokenize, suffix_budget=self.suffix_tokens)

    def _uncached(self, tokens: list[int]) -> int:
        assert self._kv is not None
        return self._kv.uncached(tokens)

    def _logits(self, index: int) -> Any:
        assert self._decoder is not None
        return self._decoder.logits(index)

    # ------------------------------------------------------------ requests

    def _serve_cached(self, future: Future, request: CompletionRequest, text: str, validated: bool, t0: float,
                      alternatives: tuple[str, ...] = ()) -> None:
        self.stats["cache_hits"] += 1
        settle(future, Suggestion(
            text, request.line, request.col, "cache", (time.monotonic() - t0) * 1000, request.request_id,
            validated if request.validate is not None else None, alternatives=alternatives,
        ))

    def _checker(self) -> ThreadPoolExecutor:
        with self.jobs.lock:
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
        deadline = t0 + request.time_budget_ms / 1000.0
        waiters: list[Waiter] = []

        def wait_on(typed: str) -> Waiter:
            waiters.append(Waiter(future, request, hole, typed, t0, deadline))
            return waiters[0]

        running = self.jobs.attach(hole, wait_on) if self.ready and request.validate is None else None
        if running is not None:
            self.deadlines.add(deadline, lambda: self._expire_waiter(running, waiters[0]))
            return  # typed along the running decoding: it answers this request too
        job = self.jobs.complete(lambda seq: Job("complete", hole, seq, request, future, deadline, t0))
        if job is not None:
            self.deadlines.add(deadline, lambda: self._expire(job))
        if job is None:
            settle(future, None)
        elif not self.ready:
            # Not loaded yet: answer now, but warm the cache for this place once loaded.
            with self.jobs.lock:
                if self.jobs.pending is job:
                    self.jobs.pending = None
                    settle(future, None)
            self.jobs.warm(hole)

    def _expire(self, job: Job) -> None:
        """The time budget ran out before the first line: None now, the decoding goes on."""
        with self.jobs.lock:
            if job.answered:
                return
            self.stats["completions"] += 1
            self.stats["over_budget"] += 1
            job.answered = True
            settle(job.future, None)

    def _expire_waiter(self, job: Job, waiter: Waiter) -> None:
        with self.jobs.lock:
            if waiter in job.waiters:
                job.waiters.remove(waiter)
                settle(waiter.future, None)

    # ------------------------------------------------------------ worker

    def _worker(self) -> None:
        try:
            self._load()
        except Exception as e:  # never raise into anyone: status says why
            message = str(e) if isinstance(e, ModelError) else f"{type(e).__name__}: {e}"
            log.error("model load failed: %s", message)
            with self.jobs.lock:
                self._state = "error"
                self._detail = message
                self.jobs.lock.notify_all()
            return
        gate = self._shared.gate  # type: ignore[union-attr]
        holding = [False]  # held while jobs follow each other: background embedding waits

        def idle() -> None:
            if holding[0]:
                gate.release()
                holding[0] = False

        for job in self.jobs.jobs(idle):
            if not holding[0]:
                gate.acquire_high()  # waits for at most one embedding batch
                holding[0] = True
            try:
                self._run_job(job)
            except Interrupted:
                log.debug("%s job at line %d interrupted after %.0f ms (a newer request); %s, decoded %r", job.kind,
                          job.request.line if job.request is not None else -1, (time.monotonic() - job.started) * 1000,
                          "answered" if job.answered else "not answered", job.raw[:80])
                with self.jobs.lock:
                    self.jobs.drop(job)
            except Exception as e:
                log.exception("model job failed")
                with self.jobs.lock:
                    if job.future is not None and not job.answered:
                        job.answered = True
                        try:
                            job.future.set_exception(e)
                        except Exception:
                            pass
                    self.jobs.drop(job)
        idle()
        shared, self._shared, self._llm = self._shared, None, None
        if shared is not None:
            shared.release()  # frees the model unless the embedder still uses it

    def _load(self) -> None:
        t0 = time.monotonic()
        if self.files is None:
            with self.jobs.lock:
                self._detail = "preparing model files"
            self.files = self._files_source()  # type: ignore[operator]
        files = self.files
        with self.jobs.lock:
            self._detail = f"loading {files.model.name}"
        llama_cpp = llama_loader.import_llama_cpp()
        import numpy

        llm = llama_loader.load_llama(files.model, files.adapter, n_ctx=self.context_size, n_batch=self.batch_size,
                                      threads=self.threads, gpu_layers=self.gpu_layers)
        self._np = numpy
        self._llm = llm
        self._shared = SharedModel(llm, files)
        if self.kv_shift and not llama_cpp.llama_memory_can_shift(llm._ctx.memory):
            log.info("this model's KV cache cannot shift positions: kv_shift off")
            self.kv_shift = False
        self._kv = KVCache(llm, numpy, self.batch_size, self.kv_shift, self.stats)
        kv = self._kv

        def running_went_stale() -> None:  # with the scheduler's lock held
            job = self.jobs.running
            if job is not None and self.jobs.stale(job):
                kv.abort.set(True)

        self.jobs.on_change = running_went_stale
        self._decoder = Decoder(llm, numpy, self.stats, self.prompt_lookup)
        self.placement = llama_loader.placement(llm, self.gpu_layers)
        if self.tune_threads and self.placement == "CPU" and self.threads > 1:
            ctx = llm._ctx.ctx

            def set_threads(decode: int, batch: int) -> None:
                llama_cpp.llama_set_n_threads(ctx, decode, batch)

            self.tuner = ThreadTuner(self.threads, set_threads)
            self._kv.tuner = self._decoder.tuner = self.tuner
        elapsed = time.monotonic() - t0
        adapter = f" + {files.adapter.name}" if files.adapter else ""
        extra = " (AMX weight buffers off)" if llama_loader.avoid_extra_buffers() else ""
        with self.jobs.lock:
            self._state = "ready"
            self._detail = (f"{files.model.name}{adapter}, n_ctx {self.context_size}, {self.threads} threads, "
                            f"{self.placement}, loaded in {elapsed:.1f} s{extra}")
            self.jobs.lock.notify_all()
        log.info("model ready: %s", self._detail)

    # ------------------------------------------------------------ jobs

    def _run_job(self, job: Job) -> None:
        kv, decoder = self._kv, self._decoder
        assert kv is not None and decoder is not None
        # Settings the caller may change between jobs (tests, benchmarks).
        kv.kv_shift, decoder.prompt_lookup = self.kv_shift, self.prompt_lookup
        # The thread tuner tries a slower choice only where no request waits on this job.
        kv.explore = decoder.explore = lambda: job.kind != "complete" or job.answered
        if job.kind == "prefill":
            if self.cache.lookup(job.hole) is None:  # typed along a cached suggestion: nothing to warm
                t0 = time.monotonic()
                tokens = self._prompt_tokens(job.hole, 8)
                reused = kv.feed(tokens, lambda: self.jobs.check(job), lambda: self.jobs.stale(job), self.rates.prompt)
                log.debug("prefill: %d prompt tokens, %d reused, %.0f ms", len(tokens), reused,
                          (time.monotonic() - t0) * 1000)
            return
        request = job.request
        assert request is not None
        max_lines = FOLLOW_UP_LINES if job.kind == "follow" else max(1, request.max_lines)
        text, info = self._complete(job, max_lines)
        log.debug("%s job at line %d: queued %.0f ms; prompt %d tokens, %d reused%s, %.0f ms; first line at %s ms; "
                  "%d tokens decoded in %.0f ms; %s", job.kind, request.line, info.get("queued_ms", 0),
                  info.get("prompt_tokens", 0), info.get("reused_tokens", 0),
                  " (cold window)" if info.get("cold_window") else "", info.get("prompt_ms", 0),
                  f"{info['first_line_ms']:.0f}" if "first_line_ms" in info else "-",
                  info.get("generated_tokens", 0), info.get("decode_ms", 0),
                  "answered in time" if job.answered and "first_line_ms" in info else "over budget" if job.answered
                  else "not answered yet")
        if job.kind != "complete":
            self.stats["follow_ups"] += 1
        else:
            self.last_timings = {"elapsed_ms": (time.monotonic() - job.started) * 1000, **info}
            if not job.answered:  # the model stopped before the first line was shown
                self._answer(job, first_lines(text, request.shown_lines(job.hole)) if text else "", info)
        self._serve_waiters(job, text, True)
        if info.get("cold_window"):  # the next request here gets the full window, already evaluated
            with self.jobs.lock:
                if not self.jobs.stale(job) and self.jobs.pending is None and self.jobs.prefill is None:
                    self.jobs.prefill_seq += 1
                    self.jobs.prefill = Job("prefill", job.hole, self.jobs.seq, prefill_seq=self.jobs.prefill_seq)
        if text and request.follow_up and job.kind == "complete" and "\n" not in text:
            self._follow_up(job, accept(job.hole, text), request)

    def _follow_up(self, after: Job | None, hole: Hole, request: CompletionRequest) -> None:
        """Predict the line after ``hole``'s in idle time, unless it is cached already."""
        if self.cache.lookup(hole) is None:
            self.jobs.speculate(after, Job("follow", hole, after.seq if after else self.jobs.seq, request))

    def _answer(self, job: Job, text: str, info: dict[str, float]) -> None:
        request = job.request
        assert request is not None
        suggestion = None
        if text:
            validated = True if request.validate is not None else None
            suggestion = Suggestion(
                text, request.line, request.col, "model", (time.monotonic() - job.started) * 1000,
                request.request_id, validated, int(info.get("prompt_tokens", 0)),
                int(info.get("reused_tokens", 0)), int(info.get("generated_tokens", 0)))
        self._settle(job, suggestion)

    def _settle(self, job: Job, suggestion: Suggestion | None) -> None:
        """Answer ``job``'s request from the model (counted once, when answered)."""
        with self.jobs.lock:
            if not job.answered:
                self.stats["completions"] += 1
            self.jobs.answer(job, suggestion)

    def _serve_waiters(self, job: Job, text: str, done: bool) -> None:
        """Answer the requests typed along ``job`` whose lines are decoded (``done``: all of
        them, the rest from the cache or a new job); settle those out of time with None."""
        if done:
            with self.jobs.lock:
                job.finished = True  # from here on a request at this place queues its own job
        if not job.waiters:
            return
        now = time.monotonic()
        again: list[Waiter] = []
        with self.jobs.lock:
            for waiter in list(job.waiters):
                remainder = text[len(waiter.typed):] if text.startswith(waiter.typed) else None
                shown = _shown(remainder, waiter.hole, waiter.request) if remainder else ""
                if shown.strip() or (done and remainder is not None):
                    job.waiters.remove(waiter)
                    self.stats["typed_along"] += 1
                    request = waiter.request
                    settle(waiter.future, Suggestion(shown, request.line, request.col, "decoding",
                                                     (now - waiter.started) * 1000, request.request_id) if shown else None)
                elif done or not job.raw.startswith(waiter.typed) and not waiter.typed.startswith(job.raw):
                    job.waiters.remove(waiter)  # the decoding went elsewhere: ask the model afresh
                    again.append(waiter)
                elif now > waiter.deadline:
                    job.waiters.remove(waiter)
                    settle(waiter.future, None)
        for waiter in again:
            if waiter.future.done():
                continue
            hit = self.cache.lookup(waiter.hole)
            if hit is not None:
                self._serve_cached(waiter.future, waiter.request, _shown(hit[0], waiter.hole, waiter.request),
                                   hit[1], waiter.started)
            else:
                self._enqueue(waiter.future, waiter.hole, waiter.request, waiter.started)

    def _fit(self, job: Job, max_lines: int) -> tuple[list[int], bool]:
        """The prompt for ``job`` and whether it is a cold window (fitted to the time left)."""
        assert self._kv is not None
        tokens = self._prompt_tokens(job.hole, max_lines)
        cost = self._kv.uncached(tokens) if self.cold_window and job.kind == "complete" else 0
        if cost <= COLD_PROMPT_TOKENS:
            return tokens, False
        most = cold_prompt_tokens(job.deadline - time.monotonic(), self.rates.prompt_per_s, self.rates.decode_s,
                                  self._line_tokens(job.hole))
        if cost <= most:
            return tokens, False
        cold = fit_prompt(job.hole, max_lines, self.context_size, self._llm.tokenize, most=most)
        if len(cold) < len(tokens) and self._kv.uncached(cold) < cost:
            self.stats["cold_windows"] += 1
            return cold, True
        return tokens, False

    def _line_tokens(self, hole: Hole) -> float:
        """About how many tokens the first line will take: the mean of the last lines before the cursor."""
        lines = [line for line in hole.prefix[-600:].split("\n")[1:-1] if line.strip()][-3:]
        if not lines:
            return LINE_TOKENS
        return len(self._llm.tokenize("\n".join(lines).encode("utf-8"), add_bos=False, special=False)) / len(lines)

    def _complete(self, job: Job, max_lines: int) -> tuple[str, dict[str, float]]:
        """Evaluate the prompt and decode; answer ``job`` at its first lines (see the module
        docstring) and return the whole suggestion, which also goes to the cache."""
        kv, decoder = self._kv, self._decoder
        assert kv is not None and decoder is not None
        request = job.request
        assert request is not None
        hole = job.hole
        t0 = time.monotonic()
        tokens, cold = self._fit(job, max_lines)

        def between_chunks() -> None:
            self.jobs.check(job)
            if job.kind == "complete" and not job.answered and time.monotonic() > job.deadline:
                self.stats["over_budget"] += 1
                self._settle(job, None)  # the prompt is still evaluated: the next request here needs it

        reused = kv.feed(tokens, between_chunks, lambda: self.jobs.stale(job), self.rates.prompt)
        t_prompt = time.monotonic()
        info: dict[str, float] = {
            "prompt_tokens": len(tokens), "reused_tokens": reused, "prompt_ms": (t_prompt - t0) * 1000,
            "cold_window": float(cold), "queued_ms": (t0 - job.started) * 1000,
        }
        checking = request.validate is not None and job.kind == "complete"
        show = request.shown_lines(hole) if job.kind == "complete" else show_lines(hole, max_lines)
        attempts = max(1, request.candidates) if checking else 1
        rng = self._np.random.default_rng(len(tokens))
        tried: set[str] = set()
        generated = 0
        rejected = [False]

        validated_text = [""]

        last_token = [0.0]  # when the previous token was decoded

        def step(raw: str, line_ended: bool) -> bool:
            job.raw = raw
            now = time.monotonic()
            # The first token comes with the prompt's logits; the assembler's time is not the model's.
            if last_token[0] and not checking:
                self.rates.decode(now - last_token[0])
            last_token[0] = now
            cut = cut_suggestion(raw, hole, max_lines) if line_ended else None
            if cut is not None and cut.text and (job.answered or not checking):
                self.cache.put(hole, cut.text, validated=cut.text == validated_text[0])
            late = time.monotonic() > job.deadline
            if job.kind == "complete" and not job.answered and cut is not None and cut.text and (
                    cut.done or cut.text.count("\n") + 1 >= show or late):
                shown = first_lines(cut.text, show)
                if checking:
                    seen, _ = shown in tried, tried.add(shown)
                    if seen or not self._validate(request, shown):
                        rejected[0] = True
                        return True  # try the next candidate
                    validated_text[0] = shown
                    self.cache.put(hole, shown, validated=True)
                info.update(generated_tokens=decoder.stats["generated_tokens"] - before,
                            first_line_ms=(time.monotonic() - job.started) * 1000)
                self.stats["answered_early"] += int(not cut.done)
                self._answer(job, shown, info)
            elif job.kind == "complete" and not job.answered and late:
                self.stats["over_budget"] += 1
                self._settle(job, None)  # nothing complete yet: the decoding goes on for the cache
            if job.waiters:
                self._serve_waiters(job, cut.text if cut is not None else "", False)
            return cut is not None and cut.done

        for attempt in range(attempts):
            if attempt > 0:
                if time.monotonic() > job.deadline:
                    break
                kv.rewind(tokens)
            before = decoder.stats["generated_tokens"]
            rejected[0] = False
            last_token[0] = 0.0
            text, count = decoder.generate(tokens, hole, max_lines, lambda: self.jobs.check(job), step,
                                           temperature=0.0 if attempt == 0 else CANDIDATE_TEMPERATURE, rng=rng)
            generated += count
            if not text and attempt == 0:
                break  # greedy sees nothing to add here: sampling more would only burn the budget
            if rejected[0] or not text:
                continue
            if checking and not job.answered:
                shown = first_lines(text, show)
                seen, _ = shown in tried, tried.add(shown)
                if seen or not self._validate(request, shown):
                    continue
                validated_text[0] = first_lines(text, show)
            self.cache.put(hole, text, validated=text == validated_text[0])
            info.update(generated_tokens=generated, decode_ms=(time.monotonic() - t_prompt) * 1000,
                        candidates=attempt + 1)
            return text, info
        info.update(generated_tokens=generated, decode_ms=(time.monotonic() - t_prompt) * 1000)
        return "", info

    @staticmethod
    def _validate(request: CompletionRequest, text: str) -> bool:
        try:
            return bool(request.validate(text))  # type: ignore[misc]
        except Exception:
            log.exception("validator failed")
            return False
