"""Decoding: our own token loop over ``Llama.eval`` and the raw logits (greedy, sampled
candidates, drafts).

Why not ``create_completion``: the loop stops the moment the cut suggestion is complete, lets
the engine look at every token (staleness, answering at the first complete line), and verifies
prompt-lookup drafts without llama-cpp-python's ``logits_all=True`` (which copies 152k floats
per prompt token). bench/model_latency.py compares the two. Only the engine's worker calls this.

Drafts (greedy only): a ``DraftSource`` proposes the tokens after the context so far; the model
checks them all in one batch and keeps the longest prefix it agrees with, so the output is
plain greedy decoding's, up to one thing: llama.cpp computes a batch's logits slightly
apart from one token's (other kernels), so a near tie may go the other way (bench/draft_model.py
shows where). The default source is prompt lookup (``prompt_lookup``);
``drafting.ModelDrafts`` lets a smaller model of the same vocabulary draft.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .fitting import answer_tokens
from .prompt import FIM_MIDDLE, FIM_PREFIX, FIM_SUFFIX, END_OF_TEXT
from .suggest import Hole, final_suggestion

if TYPE_CHECKING:
    from .threads import ThreadTuner

CANDIDATE_TEMPERATURE = 0.4
CANDIDATE_TOP_K = 20
PROMPT_LOOKUP_NGRAM = 3
PROMPT_LOOKUP_TOKENS = 8

#: Called after every decoded token with the raw text so far and whether that token ended a
#: line; returns True to stop decoding (the suggestion is complete, or its caller gave up).
Step = Callable[[str, bool], bool]

#: Proposes the tokens that follow ``context`` (the prompt and the tokens decoded so far, the
#: last one not evaluated yet); [] = no draft, decode one token.
DraftSource = Callable[[list[int]], list[int]]


class Decoder:
    def __init__(self, llm: Any, np: Any, stats: dict[str, int], prompt_lookup: bool = False,
                 drafts: DraftSource | None = None) -> None:
        self.llm = llm
        self.np = np
        self.stats = stats
        self.prompt_lookup = prompt_lookup
        self.drafts = drafts  # None: prompt lookup when ``prompt_lookup`` is on
        self.drafted = self.accepted = 0  # draft tokens proposed / kept (greedy with drafts)
        self.tuner: ThreadTuner | None = None  # picks llama.cpp's thread count per token (CPU only)
        self.explore: Callable[[], bool] = lambda: True  # the running job is background work (the tuner may try)
        self._stop_tokens = self._special_ids()
        self._stop_cache: dict[int, bool] = {}

    def _special_ids(self) -> set[int]:
        ids: set[int] = set()
        for marker in (FIM_PREFIX, FIM_SUFFIX, FIM_MIDDLE, END_OF_TEXT, "<|file_sep|>"):
            tokens = self.llm.tokenize(marker.encode(), add_bos=False, special=True)
            if len(tokens) == 1:
                ids.add(tokens[0])
        return ids

    def is_stop(self, token: int) -> bool:
        stop = self._stop_cache.get(token)
        if stop is None:
            import llama_cpp

            vocab = self.llm._model.vocab
            stop = (
                token in self._stop_tokens
                or bool(llama_cpp.llama_vocab_is_eog(vocab, token))
                or bool(llama_cpp.llama_vocab_is_control(vocab, token))
            )
            self._stop_cache[token] = stop
        return stop

    def logits(self, index: int) -> Any:
        """The logits at batch position ``index`` of the last decode (-1: the last one)."""
        import llama_cpp

        pointer = llama_cpp.llama_get_logits_ith(self.llm._ctx.ctx, index)
        return self.np.ctypeslib.as_array(pointer, shape=(self.llm.n_vocab(),))

    def _eval_with_logits(self, tokens: list[int]) -> None:
        """Like ``Llama.eval`` for one small batch, but with logits at every position."""
        llm = self.llm
        llm._ctx.kv_cache_seq_rm(-1, llm.n_tokens, -1)
        llm._batch.set_batch(batch=tokens, n_past=llm.n_tokens, logits_all=True)
        llm._ctx.decode(llm._batch)
        llm.input_ids[llm.n_tokens : llm.n_tokens + len(tokens)] = tokens
        llm.n_tokens += len(tokens)

    @staticmethod
    def draft(context: list[int]) -> list[int]:
        """Prompt-lookup draft: what followed the latest earlier occurrence of the last n-gram."""
        for size in range(PROMPT_LOOKUP_NGRAM, 0, -1):
            if len(context) <= size:
                continue
            tail = context[-size:]
            for start in range(len(context) - size - 1, -1, -1):
                if context[start : start + size] == tail:
                    follow = context[start + size : start + size + PROMPT_LOOKUP_TOKENS]
                    if follow:
                        return follow
        return []

    def generate(
        self, prompt: list[int], hole: Hole, max_lines: int, check: Callable[[], None], step: Step,
        temperature: float = 0.0, rng: Any = None,
    ) -> tuple[str, int]:
        """Decode from the evaluated ``prompt`` until ``step`` says stop, the model ends the
        suggestion or the token limit; return (the cut suggestion, tokens decoded).

        ``check`` runs before every token and raises to abandon the generation."""
        llm = self.llm
        np = self.np
        max_tokens = answer_tokens(hole, max_lines)
        source = self.drafts or (self.draft if self.prompt_lookup else None)
        if temperature != 0.0:
            source = None
        out: list[int] = []
        raw = b""

        def pick(logits: Any) -> int:
            if temperature == 0.0:
                return int(logits.argmax())
            top = np.argpartition(logits, -CANDIDATE_TOP_K)[-CANDIDATE_TOP_K:]
            weights = np.exp((logits[top] - logits[top].max()) / temperature)
            return int(rng.choice(top, p=weights / weights.sum()))

        def emit(token: int) -> bool:
            """Append ``token``; True when generation should stop."""
            nonlocal raw
            if self.is_stop(token):
                return True
            out.append(token)
            self.stats["generated_tokens"] += 1
            piece = llm.detokenize([token])
            raw += piece
            if step(raw.decode("utf-8", "ignore"), b"\n" in piece):
                return True
            return len(out) >= max_tokens

        token = pick(self.logits(-1))
        finished = False  # the model ended the suggestion itself (end-of-text or a stop rule)
        while True:
            check()
            if emit(token):
                finished = len(out) < max_tokens
                break
            draft = source(prompt + out) if source is not None else []
            if not draft:
                threads = self.tuner.pick("decode", self.explore()) if self.tuner is not None else 0
                began = time.monotonic()
                llm.eval([token])
                if self.tuner is not None:
                    self.tuner.record("decode", threads, 1, time.monotonic() - began)
                token = pick(self.logits(-1))
                continue
            base = llm.n_tokens
            self._eval_with_logits([token] + draft)
            accepted = 0
            stop = False
            for index in range(len(draft) + 1):
                predicted = int(self.logits(index).argmax())
                if index < len(draft) and predicted == draft[index]:
                    accepted += 1
                    if emit(predicted):
                        stop = True
                        break
                    continue
                token = predicted
                break
            self.drafted += len(draft)
            self.accepted += accepted
            llm.n_tokens = base + 1 + accepted
            llm._ctx.kv_cache_seq_rm(-1, llm.n_tokens, -1)
            if stop:
                finished = len(out) < max_tokens
                break
        return final_suggestion(raw.decode("utf-8", "replace"), hole, max_lines, finished), len(out)
