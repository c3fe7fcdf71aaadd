"""model/threads.py: llama.cpp's thread count by measured speed (pure: no model; the
``apply`` callback records what would be set on the context)."""
from __future__ import annotations

from asm_lsp.model.threads import EXPLORE_EVERY, ThreadTuner


def test_the_faster_thread_count_wins_and_the_slower_is_measured_again_now_and_then():
    applied: list[tuple[int, int]] = []
    tuner = ThreadTuner(2, lambda decode, batch: applied.append((decode, batch)))
    assert tuner.choices == [1, 2]
    # Untried first, all the cores before half: 2, then 1 (set on the context only on a change).
    assert tuner.pick("batch") == 2 and applied == []
    tuner.record("batch", 2, 128, 4.0)  # a loaded machine: 32 tokens/s with 2 threads
    assert tuner.pick("batch") == 1 and applied == [(2, 1)]
    tuner.record("batch", 1, 128, 1.6)  # 80 tokens/s with 1
    picks = [tuner.pick("batch") for _ in range(2 * EXPLORE_EVERY)]
    assert picks.count(2) == 2 and picks.count(1) == 2 * EXPLORE_EVERY - 2  # explores the slower one
    # The load goes away: 2 threads measure faster again and take over.
    for _ in range(6):
        tuner.record("batch", 2, 128, 0.7)
    assert tuner.pick("batch") == 2
    # Decoding is chosen on its own measurements.
    assert tuner.pick("decode") == 2
    assert tuner.describe()["batch"]["1"] == 80.0 and tuner.describe()["decode"] == {}


def test_one_core_has_one_choice():
    applied: list[tuple[int, int]] = []
    tuner = ThreadTuner(1, lambda decode, batch: applied.append((decode, batch)))
    assert [tuner.pick("batch") for _ in range(10)] == [1] * 10 and applied == []
