"""model/threads.py: llama.cpp's thread count by measured speed (pure: no model; the
``apply`` callback records what would be set on the context; ``now`` is passed in)."""
from __future__ import annotations

from asm_lsp.model.threads import EXPLORE_S, ThreadTuner


def test_the_faster_thread_count_wins_and_only_background_work_measures_the_other():
    applied: list[tuple[int, int]] = []
    tuner = ThreadTuner(2, lambda decode, batch: applied.append((decode, batch)))
    assert tuner.choices == [1, 2]
    # Nothing measured: a request gets all the cores (set on the context only on a change).
    assert tuner.pick("batch", explore=False, now=0.0) == 2 and applied == []
    tuner.record("batch", 2, 128, 4.0)  # a loaded machine: 32 tokens/s with 2 threads
    # Background work tries the choice not yet measured, at once.
    assert tuner.pick("batch", explore=True, now=1.0) == 1 and applied == [(2, 1)]
    tuner.record("batch", 1, 128, 1.6)  # 80 tokens/s with 1
    # From then on the faster; background work measures the other again every EXPLORE_S.
    assert [tuner.pick("batch", explore=False, now=t) for t in (2.0, 50.0, 100.0)] == [1, 1, 1]
    assert tuner.pick("batch", explore=True, now=1.0 + EXPLORE_S / 2) == 1
    assert tuner.pick("batch", explore=True, now=1.0 + EXPLORE_S) == 2
    assert tuner.pick("batch", explore=True, now=2.0 + EXPLORE_S) == 1
    # The load goes away: 2 threads measure faster again and take over.
    for _ in range(6):
        tuner.record("batch", 2, 128, 0.7)
    assert tuner.pick("batch", explore=False, now=200.0) == 2
    # Decoding is chosen on its own measurements.
    assert tuner.pick("decode", explore=False, now=200.0) == 2
    assert tuner.describe()["batch"]["1"] == 80.0 and tuner.describe()["decode"] == {}


def test_work_cut_short_still_says_a_choice_is_slow():
    tuner = ThreadTuner(2, lambda decode, batch: None)
    tuner.record("batch", 1, 128, 1.6)  # 80/s
    tuner.record("batch", 2, 128, 1.0)  # 128/s
    tuner.record("batch", 2, 128, 0.5, cut_short=True)  # at most 256/s: says nothing new
    assert tuner.speed["batch"][2] == 128.0
    tuner.record("batch", 2, 128, 8.0, cut_short=True)  # aborted after 8 s: at most 16/s
    assert tuner.speed["batch"][2] == 16.0 and tuner.pick("batch", explore=False, now=0.0) == 1


def test_one_core_has_one_choice():
    applied: list[tuple[int, int]] = []
    tuner = ThreadTuner(1, lambda decode, batch: applied.append((decode, batch)))
    assert [tuner.pick("batch", explore=True, now=float(t)) for t in range(0, 100, 10)] == [1] * 10 and applied == []
