"""The KV cache of the engine's llama.cpp context: prefix reuse, shift, prefill.

llama-cpp-python keeps the evaluated tokens in ``Llama.input_ids[:n_tokens]``. A new prompt
re-uses the longest common token prefix (the prompt is suffix-first, so typing keeps all but
the last few tokens); with ``kv_shift`` a prompt whose prefix window moved down also keeps the
lines still in view, shifted to their new positions. Only the engine's worker thread calls this.
"""
from __future__ import annotations

import contextlib
import ctypes
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .threads import ThreadTuner

KV_SHIFT_MIN_KEEP = 32  # shift the cache only when at least this many tokens are kept by it


class KVCache:
    """Prompt evaluation on ``llm`` that re-uses what its KV cache already holds."""

    def __init__(self, llm: Any, np: Any, batch_size: int, kv_shift: bool, stats: dict[str, int]) -> None:
        self.llm = llm
        self.np = np
        self.batch_size = batch_size  # prompt chunk: also how often stale prompt work is checked
        self.kv_shift = kv_shift
        self.stats = stats
        self.abort = AbortFlag()  # set (from any thread) when the job being evaluated goes stale
        self.tuner: ThreadTuner | None = None  # picks llama.cpp's thread count per chunk (CPU only)
        self.explore: Callable[[], bool] = lambda: True  # the running job is background work (the tuner may try)

    def common_prefix(self, tokens: list[int]) -> int:
        """How many leading ``tokens`` the KV cache holds (never the last: its logits are needed)."""
        llm = self.llm
        limit = min(llm.n_tokens, len(tokens) - 1)
        if limit <= 0:
            return 0
        mismatch = self.np.flatnonzero(llm.input_ids[:limit] != self.np.asarray(tokens[:limit]))
        return int(mismatch[0]) if mismatch.size else limit

    def uncached(self, tokens: list[int]) -> int:
        """Prompt tokens that evaluating ``tokens`` would cost (after a KV shift, if on)."""
        common = self.common_prefix(tokens)
        if self.kv_shift and common < len(tokens) - 1:
            at, run = self.shift_plan(tokens, common)
            common += run if at >= 0 else 0
        return len(tokens) - common

    def feed(self, tokens: list[int], between_chunks: Callable[[], None],
             stale: Callable[[], bool] = lambda: False,
             measured: Callable[[int, float], None] = lambda tokens, seconds: None) -> int:
        """Evaluate ``tokens`` re-using the KV cache's common prefix; return the re-used count.

        ``between_chunks`` runs before every chunk of ``batch_size`` tokens: it raises to stop
        (a stale job) and may answer a request whose time budget ran out, while the prompt
        keeps being evaluated for the next request at this place. ``stale`` is also asked inside
        a chunk, by llama.cpp between graph nodes (its abort callback): on a busy machine one
        chunk took 6-24 s here, which a newer request or a shutdown should not wait for.
        An aborted chunk leaves the cache as before it (llama.cpp drops its entries); then
        ``between_chunks`` raises. ``measured(tokens, seconds)`` hears of every chunk evaluated
        (the engine's prompt rate, learnt from work that a newer request may cut short).
        """
        llm = self.llm
        common = self.common_prefix(tokens)  # the last token is always re-run: we need its logits
        if self.kv_shift and common < len(tokens) - 1:
            common += self.shift(tokens, common)
        llm.n_tokens = common
        if common >= len(tokens):
            return common
        with self._abortable(stale):
            for start in range(common, len(tokens), self.batch_size):
                between_chunks()
                chunk = tokens[start : start + self.batch_size]
                threads = self.tuner.pick("batch", self.explore()) if self.tuner is not None else 0
                began = time.monotonic()
                try:
                    llm.eval(chunk)
                except RuntimeError:
                    if not stale():
                        raise
                    if self.tuner is not None:  # it was this slow at least
                        self.tuner.record("batch", threads, len(chunk), time.monotonic() - began, cut_short=True)
                    self.stats["aborted_chunks"] = self.stats.get("aborted_chunks", 0) + 1
                    between_chunks()  # raises: the job went stale
                    raise
                self.stats["prompt_tokens_evaluated"] += len(chunk)
                took = time.monotonic() - began
                measured(len(chunk), took)
                if self.tuner is not None and len(chunk) >= 32:  # small chunks are mostly overhead
                    self.tuner.record("batch", threads, len(chunk), took)
        return common

    @contextlib.contextmanager
    def _abortable(self, stale: Callable[[], bool]) -> Iterator[None]:
        """While prompts are evaluated, llama.cpp asks ``abort`` between graph nodes (~560 times a
        chunk); not while single tokens are decoded, which are short.

        The callback must not enter Python: a ctypes callback takes the GIL ~560 times a chunk,
        and on a busy server each take may wait a switch interval (5 ms). So llama.cpp calls
        libc's ``strlen`` on a two-byte flag instead ("\\1\\0": length 1, true; "\\0": false),
        which ``AbortFlag.set`` (the scheduler, when the job goes stale) writes from Python.
        """
        import llama_cpp

        flag = self.abort
        flag.set(stale())
        ctx = self.llm._ctx.ctx
        llama_cpp.llama_set_abort_callback(ctx, flag.callback, flag.pointer)
        try:
            yield
        finally:
            llama_cpp.llama_set_abort_callback(ctx, llama_cpp.ggml_abort_callback(), None)
            flag.set(False)

    def rewind(self, tokens: list[int]) -> None:
        """Back to the evaluated prompt ``tokens`` (after a generation), its last logits fresh."""
        self.llm.n_tokens = len(tokens) - 1
        self.llm.eval(tokens[-1:])

    def forget(self) -> None:
        """Nothing cached (a cold start, for tests and benchmarks)."""
        self.llm.n_tokens = 0

    def shift(self, tokens: list[int], common: int) -> int:
        """Where the cached tokens after ``common`` reappear later in ``tokens`` minus a dropped
        span (the prefix window start moved down), remove the span from the KV cache and shift
        the kept tokens' positions down (llama.cpp re-rotates their keys). Returns how many
        tokens after ``common`` are now cached, 0 if nothing was worth keeping.

        The kept tokens' states were computed with the dropped span in view, so this is an
        approximation of evaluating them again (bench/results/kv_shift.md measures its effect).
        """
        best_at, best_run = self.shift_plan(tokens, common)
        if best_at < 0:
            return 0
        llm = self.llm
        cached = self.np.asarray(llm.input_ids[: llm.n_tokens])
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

    def shift_plan(self, tokens: list[int], common: int) -> tuple[int, int]:
        """(cache position, length) of the longest cached run that ``tokens[common:]`` starts
        with, found after ``common``; (-1, 0) when shorter than KV_SHIFT_MIN_KEEP."""
        np = self.np
        cached = np.asarray(self.llm.input_ids[: self.llm.n_tokens])
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
        return int(best_at), int(best_run)  # Python ints: they reach JSON (asmLsp.modelStats)


class AbortFlag:
    """A byte llama.cpp's abort callback reads without Python (see ``KVCache._abortable``)."""

    def __init__(self) -> None:
        import llama_cpp

        self._buffer = ctypes.create_string_buffer(2)  # [flag, NUL]
        self.pointer = ctypes.cast(self._buffer, ctypes.c_void_p)
        self.callback = ctypes.cast(ctypes.CDLL(None).strlen, llama_cpp.ggml_abort_callback)

    def set(self, value: bool) -> None:
        self._buffer[0] = 1 if value else 0

    def __bool__(self) -> bool:
        return self._buffer[0] != b"\x00"
