"""PriorityGate (model/shared.py): completions before background embedding. Pure threading,
no model."""
from __future__ import annotations

import threading
import time

from asm_lsp.model.shared import PriorityGate


def test_high_waiter_goes_before_low_waiters():
    gate = PriorityGate()
    order: list[str] = []
    gate.acquire_high()  # the completion worker is busy

    def low(name: str) -> None:
        with gate.low():
            order.append(name)

    def high() -> None:
        gate.acquire_high()
        order.append("high")
        gate.release()

    lows = [threading.Thread(target=low, args=(f"low{i}",)) for i in range(2)]
    for t in lows:
        t.start()
    time.sleep(0.05)  # the low takers wait first...
    h = threading.Thread(target=high)
    h.start()
    time.sleep(0.05)
    assert order == []
    gate.release()  # ...but the high waiter goes first
    for t in [h, *lows]:
        t.join(5)
    assert order[0] == "high" and sorted(order[1:]) == ["low0", "low1"]


def test_low_holder_delays_high_by_its_one_piece_only():
    gate = PriorityGate()
    entered = threading.Event()
    got_high = []

    def low_piece() -> None:
        with gate.low():
            entered.set()
            time.sleep(0.2)  # one embedding batch

    t = threading.Thread(target=low_piece)
    t.start()
    entered.wait(5)
    t0 = time.monotonic()
    gate.acquire_high()
    got_high.append(time.monotonic() - t0)
    # The next low piece must not start while the high holder works.
    pieces: list[float] = []

    def next_piece() -> None:
        with gate.low():
            pieces.append(time.monotonic())

    blocked = threading.Thread(target=next_piece)
    blocked.start()
    time.sleep(0.1)
    assert pieces == []
    released = time.monotonic()
    gate.release()
    blocked.join(5)
    t.join(5)
    assert 0.1 < got_high[0] < 1.0
    assert pieces and pieces[0] >= released
