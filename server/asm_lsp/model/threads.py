"""How many threads llama.cpp computes with, chosen by measured speed.

llama.cpp splits every step of the graph among its threads, which then wait for each other.
On a machine busy with other work (an editor, a build, another model) a thread that loses
its core makes the others wait at every step: on the shared 2-core machine, with other
processes running, the engine evaluated 19 prompt tokens a second and decoded at 315 ms a
token with 2 threads (bench/results/handwritten.md), where 1 thread did 60-90 tokens a second
(bench/work probes, load 5-6). On a quiet machine 2 threads are nearly twice as fast.

So each kind of work (``"batch"``: prompt chunks; ``"decode"``: single tokens) has two
choices, all the cores and half of them, with a moving average of the speed each measured;
the faster is used, and every EXPLORE_EVERY-th time the other is measured again, so a change
in load is seen within a few requests. Only the engine's worker calls this (no lock).
"""
from __future__ import annotations

from collections.abc import Callable

EXPLORE_EVERY = 8  # one measure of the slower choice in this many: its cost when the load is steady
WEIGHT = 0.3  # of a new sample in the moving average


class ThreadTuner:
    """Thread counts for ``"batch"`` and ``"decode"`` work; ``apply(decode, batch)`` sets them
    on the context (llama_cpp.llama_set_n_threads), called only when they change."""

    def __init__(self, cores: int, apply: Callable[[int, int], None]) -> None:
        self.choices = sorted({max(1, cores // 2), max(1, cores)})
        self.speed: dict[str, dict[int, float]] = {"batch": {}, "decode": {}}  # work -> threads -> units/s
        self.turns = {"batch": 0, "decode": 0}
        self.current = {"batch": self.choices[-1], "decode": self.choices[-1]}
        self._apply = apply
        self._applied = (self.current["decode"], self.current["batch"])

    def pick(self, work: str) -> int:
        """The thread count for the next piece of ``work``, set on the context."""
        speeds = self.speed[work]
        self.turns[work] += 1
        untried = [n for n in self.choices if n not in speeds]
        if untried:
            threads = untried[-1]  # all the cores first: the usual best on an idle machine
        else:
            best = max(self.choices, key=lambda n: speeds[n])
            others = [n for n in self.choices if n != best]
            threads = others[0] if others and self.turns[work] % EXPLORE_EVERY == 0 else best
        self.current[work] = threads
        wanted = (self.current["decode"], self.current["batch"])
        if wanted != self._applied:
            self._apply(*wanted)
            self._applied = wanted
        return threads

    def record(self, work: str, threads: int, units: int, seconds: float) -> None:
        """``units`` (tokens) of ``work`` took ``seconds`` with ``threads``."""
        if seconds <= 0 or units <= 0:
            return
        rate = units / seconds
        old = self.speed[work].get(threads)
        self.speed[work][threads] = rate if old is None else old + WEIGHT * (rate - old)

    def describe(self) -> dict[str, dict[str, float]]:
        """The measured speeds (tokens a second by thread count), for asmLsp.modelStats."""
        return {work: {str(n): round(v, 1) for n, v in sorted(speeds.items())} for work, speeds in self.speed.items()}
