"""Scheduling for the engine's one worker thread: jobs, preemption, cancellation.

Three slots, taken in this order: the newest completion request, the newest prefill (warm
the KV cache where the cursor rests), a follow-up (the next line, as if the last suggestion
were accepted). Submitting a completion bumps a sequence number; the worker checks it between
prompt chunks and before every token (``check``), so stale work stops within one chunk or
token. A completion is *answered* (its future settled) as soon as its first lines are
complete; the job then goes on decoding in the background into the suggestion cache until a
newer completion makes it stale. Requests that type along the running job's decoding wait on
it (``Waiter``) instead of preempting it.

Threads: every method is safe from any thread (one condition variable); futures are settled
with the lock held or by the worker, never twice (``settle``).
"""
from __future__ import annotations

import contextlib
import heapq
import threading
import time
from collections.abc import Callable, Hashable, Iterator
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .suggest import Hole

if TYPE_CHECKING:
    from .engine import CompletionRequest, Suggestion


def settle(future: Future | None, value: Suggestion | None) -> None:
    """Set a result unless the future is already done (e.g. cancelled by asyncio.wrap_future)."""
    if future is not None:
        with contextlib.suppress(InvalidStateError):
            future.set_result(value)


class Interrupted(Exception):
    """The job went stale (newer request, cancel or close)."""


@dataclass
class Waiter:
    """A request at a hole that extends a running job's hole by ``typed``, typed along what the
    job is decoding: answered from that decoding instead of starting over."""

    future: Future
    request: CompletionRequest
    hole: Hole
    typed: str
    started: float
    deadline: float


@dataclass
class Job:
    kind: str  # "complete" | "prefill" | "follow"
    hole: Hole
    seq: int
    request: CompletionRequest | None = None
    future: Future | None = None
    deadline: float = float("inf")
    started: float = field(default_factory=time.monotonic)
    cancelled: bool = False
    prefill_seq: int = 0
    answered: bool = False  # the future is settled: the rest of the decoding is background work
    finished: bool = False  # decoding is over: no more requests may wait on it
    raw: str = ""  # what is decoded so far (uncut), for requests that type along
    waiters: list[Waiter] = field(default_factory=list)

    def follows(self, hole: Hole) -> str | None:
        """What was typed if ``hole`` is this job's hole with text typed along its decoding so
        far (or ahead of it, where the decoding may still agree), else None."""
        if (self.kind == "prefill" or self.finished or hole.suffix != self.hole.suffix
                or hole.context != self.hole.context or not hole.prefix.startswith(self.hole.prefix)):
            return None  # (another repo-level block is another prompt)
        typed = hole.prefix[len(self.hole.prefix):]
        raw = self.raw
        return typed if raw.startswith(typed) or typed.startswith(raw) else None


class Deadlines:
    """One thread that runs callbacks at their deadlines (time budgets): the worker may be inside
    a prompt chunk that takes seconds on a busy machine, and a request's wait is bounded anyway."""

    def __init__(self) -> None:
        self._cv = threading.Condition()
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._count = 0
        self._thread: threading.Thread | None = None
        self._closed = False

    def add(self, when: float, callback: Callable[[], None]) -> None:
        """Run ``callback`` at ``time.monotonic() >= when`` (never raises into anyone)."""
        if when == float("inf"):
            return
        with self._cv:
            if self._closed:
                return
            self._count += 1
            heapq.heappush(self._heap, (when, self._count, callback))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="asm-lsp-model-deadlines", daemon=True)
                self._thread.start()
            self._cv.notify()

    def close(self) -> None:
        with self._cv:
            self._closed = True
            self._heap.clear()
            self._cv.notify()

    def _run(self) -> None:
        while True:
            with self._cv:
                while not self._closed and (not self._heap or self._heap[0][0] > time.monotonic()):
                    self._cv.wait(None if not self._heap else max(0.0, self._heap[0][0] - time.monotonic()))
                if self._closed:
                    return
                _, _, callback = heapq.heappop(self._heap)
            try:
                callback()
            except Exception:  # a deadline must never take the thread down
                pass


class Scheduler:
    """The worker's job slots behind one lock (see the module docstring)."""

    def __init__(self) -> None:
        self.lock = threading.Condition()
        self.seq = 0
        self.prefill_seq = 0
        self.pending: Job | None = None
        self.prefill: Job | None = None
        self.follow: Job | None = None
        self.running: Job | None = None
        self.closed = False
        self.on_change: Callable[[], None] = lambda: None  # after anything that may make the running job stale

    # -- producers (any thread) -----------------------------------------------------
    def complete(self, job_for_seq: Callable[[int], Job]) -> Job | None:
        """Queue the completion made by ``job_for_seq(new sequence number)``; the older
        pending one gets None and running work goes stale. None when closed."""
        with self.lock:
            if self.closed:
                return None
            self.seq += 1
            job = job_for_seq(self.seq)
            if self.pending is not None:
                self.drop(self.pending)
            self.pending = job
            self.follow = None
            self.lock.notify_all()
            self.on_change()
            return job

    def warm(self, hole: Hole) -> None:
        """Queue a prefill of ``hole``, replacing any queued one."""
        with self.lock:
            if self.closed:
                return
            self.prefill_seq += 1
            self.prefill = Job("prefill", hole, self.seq, prefill_seq=self.prefill_seq)
            self.lock.notify_all()
            self.on_change()

    def speculate(self, after: Job | None, job: Job) -> None:
        """Queue follow-up ``job`` unless ``after`` went stale or a completion waits
        (``after`` None: a suggestion served from the cache, now)."""
        with self.lock:
            if self.closed or self.pending is not None or (after is not None and self.stale(after)):
                return
            if after is None:
                job.seq = self.seq
            if self.follow is None or after is not None:
                self.follow = job
                self.lock.notify_all()

    def attach(self, hole: Hole, waiter: Callable[[str], Waiter]) -> Job | None:
        """Make the running job answer ``hole`` too if it was typed along that job's decoding;
        that job, or None."""
        with self.lock:
            job = self.running
            if job is None or self.stale(job) or self.pending is not None:
                return None
            typed = job.follows(hole)
            if typed is None:
                return None
            job.waiters.append(waiter(typed))
            return job

    def answering(self) -> bool:
        """A completion request waits for its answer (queued, or its job running unanswered)."""
        with self.lock:
            return any(job is not None and job.kind == "complete" and not job.answered and not self.stale(job)
                       for job in (self.pending, self.running))

    def cancel(self, request_id: Hashable) -> None:
        """Cancel a request that is not answered yet: its future gets None and its job stops.
        (Once answered, a job's decoding is background work for the cache: it goes on.)"""
        with self.lock:
            for job in (self.pending, self.running):
                if job is None:
                    continue
                if job.request is not None and job.request.request_id == request_id and not job.answered:
                    job.cancelled = True
                    self.drop(job)
                for waiter in [w for w in job.waiters if w.request.request_id == request_id]:
                    job.waiters.remove(waiter)
                    settle(waiter.future, None)
            if self.pending is not None and self.pending.cancelled:
                self.pending = None
            self.on_change()

    def close(self) -> None:
        with self.lock:
            self.closed = True
            for job in (self.pending, self.running):
                if job is not None:
                    self.drop(job)
            self.pending = self.prefill = self.follow = None
            self.lock.notify_all()
            self.on_change()

    # -- the worker -------------------------------------------------------------------
    def has_work(self) -> bool:
        return bool(self.pending or self.prefill or self.follow)

    def jobs(self, idle: Callable[[], None]) -> Iterator[Job]:
        """The worker's loop: the next job by priority, until closed. ``idle`` runs (with the
        lock held) before waiting for work."""
        while True:
            with self.lock:
                if not self.has_work():
                    idle()
                while not self.closed and not self.has_work():
                    self.lock.wait()
                if self.closed:
                    return
                if self.pending is not None:
                    job, self.pending = self.pending, None
                elif self.prefill is not None:
                    job, self.prefill = self.prefill, None
                else:
                    job, self.follow = self.follow, None
                self.running = job
            yield job
            with self.lock:
                self.running = None

    def stale(self, job: Job) -> bool:
        if job.cancelled or self.closed:
            return True
        if job.kind == "prefill":
            return job.seq != self.seq or job.prefill_seq != self.prefill_seq or self.pending is not None
        return job.seq != self.seq

    def check(self, job: Job) -> None:
        if self.stale(job):
            raise Interrupted

    def answer(self, job: Job, value: Suggestion | None) -> None:
        """Settle ``job``'s future once (it is answered from now on)."""
        with self.lock:
            job.answered = True
            settle(job.future, value)

    def drop(self, job: Job) -> None:
        """``job``'s request and waiters get None (with the lock held)."""
        job.answered = job.finished = True
        settle(job.future, None)
        for waiter in job.waiters:
            settle(waiter.future, None)
        job.waiters.clear()

    @property
    def busy(self) -> bool:
        """Work is queued or running (including prefill and speculation)."""
        with self.lock:
            return any(job is not None for job in (self.running, self.pending, self.prefill, self.follow))
