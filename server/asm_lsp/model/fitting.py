"""Prompt fitting: the FIM prompt tokens for a hole, cut so that prompt + answer fit the context.

Pure: the tokenizer is passed in (the engine's ``Llama.tokenize``, models/evaluate.py's
Hugging Face tokenizer), so the cut is the same for serving, evaluation and tests.
"""
from __future__ import annotations

from collections.abc import Callable

from .prompt import (DEFAULT_PREFIX_BUDGET, DEFAULT_SUFFIX_BUDGET, SHORT_PREFIX_BUDGET, SHORT_SUFFIX_BUDGET,
                     build_fim_prompt, cut_window)
from .suggest import Hole

ONE_LINE_MAX_TOKENS = 48  # an A64 line is 6-15 tokens; long comments get cut
TOKENS_PER_LINE = 20
# A cold prompt is fitted to the time left (``cold_prompt_tokens``): below this many tokens
# the window holds about one line each side, and the answer is no better than none.
COLD_MIN_TOKENS = 48
COLD_MARGIN_S = 0.15  # fitting, tokenizing and answering around the model's own work
COLD_SAFETY = 0.85  # the measured prompt rate, discounted: a busy machine slows mid-request
COLD_SUFFIX_SHARE = 0.2  # of a cold window, as the short window's 40 of 200 (training's mix)

#: ``tokenize(prompt_bytes, add_bos=False, special=True)``, as ``Llama.tokenize``.
Tokenize = Callable[..., list[int]]


def answer_tokens(hole: Hole, max_lines: int) -> int:
    """Most tokens decoded for ``hole``: one line to finish, or ``max_lines`` on a blank line."""
    return ONE_LINE_MAX_TOKENS if not hole.multiline else max(1, max_lines) * TOKENS_PER_LINE


def cold_prompt_tokens(remaining_s: float, prompt_per_s: float, decode_s: float, line_tokens: float) -> int:
    """Most prompt tokens a cold request can evaluate and still show its first line (about
    ``line_tokens`` decoded at ``decode_s`` seconds each) within ``remaining_s``, at the
    measured ``prompt_per_s``; never fewer than COLD_MIN_TOKENS."""
    spare = remaining_s - COLD_MARGIN_S - line_tokens * decode_s
    return max(COLD_MIN_TOKENS, int(spare * prompt_per_s * COLD_SAFETY))


def fit_prompt(hole: Hole, max_lines: int, context_size: int, tokenize: Tokenize,
               short: bool = False, most: int | None = None,
               suffix_budget: int = DEFAULT_SUFFIX_BUDGET) -> list[int]:
    """Tokens of the FIM prompt for ``hole``; ``short``: the cold-cache window
    (prompt.SHORT_PREFIX_BUDGET / SHORT_SUFFIX_BUDGET) instead of the default one; ``most``:
    a cold window of at most that many tokens, COLD_SUFFIX_SHARE of it after the cursor;
    ``suffix_budget``: the full window's tokens after the cursor.

    The budgets shrink together until prompt + answer (``answer_tokens``) fit ``context_size``
    (and ``most``). The hole's repo-level block (``hole.context``) then goes first if the
    prompt still fits with it (the window is never cut for it), and never into a short or
    cold window: a cold prompt stays short.
    """
    room = context_size - answer_tokens(hole, max_lines) - 8
    prefix_budget, suffix_budget = ((SHORT_PREFIX_BUDGET, SHORT_SUFFIX_BUDGET) if short
                                    else (DEFAULT_PREFIX_BUDGET, suffix_budget))
    if most is not None:
        room = min(room, max(8, most))
        # Budgets count approximate tokens, which overcount code aligned with spaces (~1.4x on
        # dav1d): start a quarter above and let the loop below shrink to the real count.
        prefix_budget = int(most * (1 - COLD_SUFFIX_SHARE) * 1.25)
        suffix_budget = int(most * COLD_SUFFIX_SHARE * 1.25)
    scale = 1.0 if most is not None else min(1.0, room / (prefix_budget + suffix_budget))
    while True:
        window = cut_window(hole.prefix, hole.suffix, int(prefix_budget * scale), int(suffix_budget * scale))
        prompt = build_fim_prompt(window.prefix, window.suffix)
        tokens = tokenize(prompt.encode("utf-8"), add_bos=False, special=True)
        if len(tokens) <= room or scale < 0.05:
            break
        scale *= 0.9 * room / len(tokens)
    if len(tokens) > room:
        return tokens[-room:]
    if hole.context and not short and most is None:
        with_context = tokenize(build_fim_prompt(window.prefix, window.suffix, hole.context).encode("utf-8"),
                                add_bos=False, special=True)
        if len(with_context) <= room:
            return with_context
    return tokens
