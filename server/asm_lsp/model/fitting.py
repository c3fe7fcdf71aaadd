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

#: ``tokenize(prompt_bytes, add_bos=False, special=True)``, as ``Llama.tokenize``.
Tokenize = Callable[..., list[int]]


def answer_tokens(hole: Hole, max_lines: int) -> int:
    """Most tokens decoded for ``hole``: one line to finish, or ``max_lines`` on a blank line."""
    return ONE_LINE_MAX_TOKENS if not hole.multiline else max(1, max_lines) * TOKENS_PER_LINE


def fit_prompt(hole: Hole, max_lines: int, context_size: int, tokenize: Tokenize,
               short: bool = False) -> list[int]:
    """Tokens of the FIM prompt for ``hole``; ``short``: the cold-cache window
    (prompt.SHORT_PREFIX_BUDGET / SHORT_SUFFIX_BUDGET) instead of the default one.

    The budgets shrink together until prompt + answer (``answer_tokens``) fit ``context_size``.
    The hole's repo-level block (``hole.context``) then goes first if the prompt still fits
    with it (the window is never cut for it), and never into the short window: a cold
    prompt stays short.
    """
    room = context_size - answer_tokens(hole, max_lines) - 8
    prefix_budget, suffix_budget = ((SHORT_PREFIX_BUDGET, SHORT_SUFFIX_BUDGET) if short
                                    else (DEFAULT_PREFIX_BUDGET, DEFAULT_SUFFIX_BUDGET))
    scale = min(1.0, room / (prefix_budget + suffix_budget))
    while True:
        window = cut_window(hole.prefix, hole.suffix, int(prefix_budget * scale), int(suffix_budget * scale))
        prompt = build_fim_prompt(window.prefix, window.suffix)
        tokens = tokenize(prompt.encode("utf-8"), add_bos=False, special=True)
        if len(tokens) <= room or scale < 0.05:
            break
        scale *= 0.75 * room / len(tokens)
    if len(tokens) > room:
        return tokens[-room:]
    if hole.context and not short:
        with_context = tokenize(build_fim_prompt(window.prefix, window.suffix, hole.context).encode("utf-8"),
                                add_bos=False, special=True)
        if len(with_context) <= room:
            return with_context
    return tokens
