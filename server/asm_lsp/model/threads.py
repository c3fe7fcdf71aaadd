"""How many threads llama.cpp computes with, chosen by measured speed.

llama.cpp splits every step of the graph among its threads, which then wait for each other.
On a machine busy with other work (an editor, a build, another model) a thread that loses
its core makes the others wait at every step: on the shared 2-core machine, with other
processes running, the engine evaluated 19 prompt tokens a second and decoded at 315 ms a
token with 2 threads (bench/results/handwritten.md), where 1 thread did 60-90 tokens a second
(bench/work probes, load 5-6). On a quiet machine 2 threads are nearly twice as fast.

So each kind of work (``"batch"``: prompt chunks; ``"decode"``: single tokens) has two
choices, all the cores and half of them, with a moving average of the speed each measured;
the faster is used. The other is measured again only in background work (prefill, the lines
decoded after the answer, follow-ups) and at most every EXPLORE_S: in the server, under that
load, 2 threads decoded at 0.4-0.5 tokens a second against 10-15 with 1, so one measure costs
seconds, which a request waiting for its first line must not pay. Only the engine's worker
calls this (no lock).
"""
from __future__ import annotations

import time
from collections.abc import Callable

EXPLORE_S = 10.0  # the slower choice is measured again at most this often (a change in load shows)
WEIGHT = 0.3  # of a new sample in the moving average


class ThreadTuner:
    """Thread counts for ``"batch"`` and ``"decode"`` work; ``apply(decode, batch)`` sets them
    on the context (llama_cpp.llama_set_n_threads), called only when they change."""

    def __init__(self, cores: int, apply: Callable[[int, int], None]) -> None:
        self.choices = sorted({max(1, cores // 2), max(1, cores)})
        self.speed: dict[str, dict[int, float]] = {"batch": {}, "decode": {}}  # work -> threads -> units/s
        self.explored = {"batch": 0.0, "decode": 0.0}  # when the slower choice was last tried
        self.current = {"batch": self.choices[-1], "decode": self.choices[-1]}
        self._apply = apply
        self._applied = (self.current["decode"], self.current["batch"])

    def pick(self, work: str, explore: bool = True, now: float | None = None) -> int:
        """The thread count for the next piece of ``work``, set on the context. ``explore``:
        this piece may measure a choice that is not the best (background work)."""
        speeds = self.speed[work]
        tried = [n for n in self.choices if n in speeds]
        best = max(tried, key=lambda n: speeds[n]) if tried else self.choices[-1]  # all the cores until measured
        threads = best
        others = [n for n in self.choices if n != best]
        now = time.monotonic() if now is None else now
        untried = [n for n in others if n not in speeds]
        if explore and (untried or others and now - self.explored[work] >= EXPLORE_S):
            threads = (untried or others)[0]
            self.explored[work] = now
        self.current[work] = threads
        wanted = (self.current["decode"], self.current["batch"])
        if wanted != self._applied:
            self._apply(*wanted)
            self._applied = wanted
        return threads

    def record(self, work: str, threads: int, units: int, seconds: float, cut_short: bool = False) -> None:
        """``units`` (tokens) of ``work`` took ``seconds`` with ``threads``; ``cut_short``: the
        work was aborted after ``seconds``, so ``units / seconds`` is only what the speed was at
        most, heard only when it is below what was known (a slow choice must not go unmeasured
        because every try of it was cut short)."""
        if seconds <= 0 or units <= 0:
            return
        rate = units / seconds
        old = self.speed[work].get(threads)
        if cut_short and old is not None and rate >= old:
            return
        self.speed[work][threads] = rate if old is None or cut_short else old + WEIGHT * (rate - old)

    def describe(self) -> dict[str, dict[str, float]]:
        """The measured speeds (tokens a second by thread count), for asmLsp.modelStats."""
        return {work: {str(n): round(v, 1) for n, v in sorted(speeds.items())} for work, speeds in self.speed.items()}
