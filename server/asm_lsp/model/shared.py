"""One loaded model for completions and embeddings: the weights (and LoRA) once in memory.

The completion engine loads ``llama_cpp.Llama`` (model + its completion context); the
embedder then makes a second llama.cpp context on the same ``llama_model``
(``SharedModel.llm._model``) instead of loading the GGUF again: the server with both on
peaks at 691 MB instead of 1,253 MB (bench/results/shared_model.md). LoRA adapters are per context
in llama.cpp, so the embedding context sets the engine's adapter handle on itself.

llama.cpp contexts are not thread-safe and the two share the CPU, so their compute is
serialised by one ``PriorityGate``: the completion worker holds it while it has work, the
embedder takes it for one decode call (one embedding batch) at a time and only when no
completion work waits. A completion therefore waits for at most one embedding batch.
"""
from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from .store import ModelFiles


class PriorityGate:
    """A lock with two priorities: ``acquire_high`` waiters go before every ``low`` taker."""

    def __init__(self) -> None:
        self._cv = threading.Condition()
        self._held = False
        self._high_waiting = 0

    def acquire_high(self) -> None:
        with self._cv:
            self._high_waiting += 1
            try:
                while self._held:
                    self._cv.wait()
            finally:
                self._high_waiting -= 1
            self._held = True

    def acquire_low(self) -> None:
        """Wait until neither a holder nor a high-priority waiter is there."""
        with self._cv:
            while self._held or self._high_waiting:
                self._cv.wait()
            self._held = True

    def release(self) -> None:
        with self._cv:
            self._held = False
            self._cv.notify_all()

    @contextlib.contextmanager
    def low(self) -> Iterator[None]:
        """``with gate.low(): ...`` around one short piece of background work."""
        self.acquire_low()
        try:
            yield
        finally:
            self.release()


@dataclass
class SharedModel:
    """The completion engine's loaded ``Llama``, lent to further contexts on its weights.

    Reference counted: the engine holds one reference, each borrower one more (``acquire``);
    the last ``release`` frees the model, so it outlives every context made on it.
    """

    llm: Any  # llama_cpp.Llama: its ``_model`` (weights, vocab) and ``_lora_adapter`` are shared
    files: ModelFiles
    gate: PriorityGate = field(default_factory=PriorityGate)
    _refs: int = 1
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def model(self) -> Any:
        """``llama_cpp._internals.LlamaModel``: pass to ``LlamaContext(model=...)``."""
        return self.llm._model

    @property
    def adapter(self) -> Any:
        """The loaded LoRA handle of ``files.adapter`` (None without an adapter)."""
        return self.llm._lora_adapter if self.files.adapter else None

    def acquire(self) -> bool:
        """Take a reference; False when the model is already freed."""
        with self._lock:
            if self._refs <= 0:
                return False
            self._refs += 1
            return True

    def release(self) -> None:
        """Drop a reference; the last one frees the model (close your contexts first)."""
        with self._lock:
            self._refs -= 1
            last = self._refs == 0
        if last:
            self.llm.close()
