"""A small model drafts for a larger one (speculative decoding), as a ``decoding.DraftSource``.

``ModelDrafts(draft_llm)`` holds a second llama.cpp context (the small model, loaded with
``llama.load_llama``; both models must share the vocabulary, as Qwen2.5-Coder 0.5B and 1.5B
do). Each call gets the target's context so far (prompt + decoded tokens) and:

1. keeps the draft model's KV cache in step with it: the common prefix with what the draft
   model holds stays, the rest is dropped (the target rejected part of the last draft, or the
   prompt changed) and only the new tokens are evaluated;
2. proposes up to ``k`` greedy tokens, stopping after a token that ends a line (the engine
   answers line by line) or at an end/special token, which the target decides itself.

The last proposed token is not evaluated: it is evaluated with the next call's new tokens if
the target keeps it. bench/draft_model.py measures whether this pays (docs/ARCHITECTURE.md).
"""
from __future__ import annotations

from typing import Any

from .decoding import Decoder
from .store import ModelError

DEFAULT_DRAFT_TOKENS = 5
_VOCAB_PROBE = "\tldr\tx0, [sp, #16]\n\tbl\tprintf\n<|fim_middle|>"


class ModelDrafts:
    """Greedy drafts of ``k`` tokens from ``llm`` (a loaded ``Llama``), for a target of the
    same vocabulary (``target``: checked when given, ModelError when they differ)."""

    def __init__(self, llm: Any, np: Any, k: int = DEFAULT_DRAFT_TOKENS, target: Any = None) -> None:
        if k < 1:
            raise ValueError(f"draft length must be at least 1, not {k}")
        if target is not None:
            check_same_vocabulary(llm, target)
        self.llm = llm
        self.k = k
        self._decoder = Decoder(llm, np, {"generated_tokens": 0})  # is_stop and logits of the draft model
        self._ends_line: dict[int, bool] = {}
        self.evaluated = 0  # tokens the draft model evaluated (its prompt, catch-up and drafts)
        self.proposed = 0

    def _line_end(self, token: int) -> bool:
        ends = self._ends_line.get(token)
        if ends is None:
            ends = self._ends_line[token] = b"\n" in self.llm.detokenize([token])
        return ends

    def sync(self, context: list[int]) -> None:
        """Make the draft model's cache hold exactly ``context`` (its logits: after the last token)."""
        llm = self.llm
        if len(context) >= llm.n_ctx():
            raise ModelError(f"draft context full: {len(context)} tokens, n_ctx {llm.n_ctx()}")
        held = llm.n_tokens
        common = 0
        limit = min(held, len(context))
        ids = llm.input_ids
        while common < limit and ids[common] == context[common]:
            common += 1
        if common == len(context):  # all held: re-evaluate the last one for its logits
            common -= 1
        llm.n_tokens = common
        llm._ctx.kv_cache_seq_rm(-1, common, -1)
        llm.eval(context[common:])
        self.evaluated += len(context) - common

    def __call__(self, context: list[int]) -> list[int]:
        if not context:
            return []
        self.sync(context)
        draft: list[int] = []
        while True:
            token = int(self._decoder.logits(-1).argmax())
            if self._decoder.is_stop(token):
                break
            draft.append(token)
            if len(draft) >= self.k or self._line_end(token) or self.llm.n_tokens + 1 >= self.llm.n_ctx():
                break
            self.llm.eval([token])
            self.evaluated += 1
        self.proposed += len(draft)
        return draft

    def reset(self) -> None:
        self.llm.n_tokens = 0
        self.llm._ctx.kv_cache_seq_rm(-1, 0, -1)


def check_same_vocabulary(draft: Any, target: Any) -> None:
    """ModelError unless ``draft`` and ``target`` tokenize alike (drafts are token ids)."""
    probe = _VOCAB_PROBE.encode()
    if draft.n_vocab() != target.n_vocab() or (
            draft.tokenize(probe, add_bos=False, special=True) != target.tokenize(probe, add_bos=False, special=True)):
        raise ModelError("the draft model's vocabulary differs from the model's: it cannot draft for it")
