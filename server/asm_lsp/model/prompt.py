"""The one fill-in-the-middle prompt format, shared by the server and by training.

Layout (suffix first, "SPM"):

    {context}<|fim_suffix|>{suffix}<|fim_prefix|>{prefix}<|fim_middle|>{middle}<|endoftext|>

Why suffix first: llama.cpp reuses the KV cache only for the longest common *token
prefix* of consecutive prompts. While the user types, the text after the cursor stays
the same and the text before it only grows at its end, so with the suffix first every
keystroke re-evaluates just the few new tokens. Training uses exactly this layout
(``models/`` imports :func:`build_fim_prompt` and :func:`cut_window`).

Windows are cut at line boundaries, and the prefix window's first line is snapped to a
multiple of ``ANCHOR_LINES`` so that it stays put while the user types downwards.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..textsync import line_start

FIM_PREFIX = "<|fim_prefix|>"
FIM_SUFFIX = "<|fim_suffix|>"
FIM_MIDDLE = "<|fim_middle|>"
END_OF_TEXT = "<|endoftext|>"
FIM_TOKEN_IDS = {FIM_PREFIX: 151659, FIM_SUFFIX: 151661, FIM_MIDDLE: 151660, END_OF_TEXT: 151643}

ANCHOR_LINES = 16  # prefix window start moves in steps of this many lines: cache survives typing
DEFAULT_PREFIX_BUDGET = 640  # tokens (~1,150 characters, ~45 lines); a typical -O2 function is 150-400 tokens
DEFAULT_SUFFIX_BUDGET = 160  # tokens (~290 characters, ~12 lines); enough to see the next basic block
# Cold prompts (nothing cached, e.g. the first request after opening a file) can use a
# short window: a prompt of ~200 tokens evaluates in ~1.2 s on 2 cores instead of ~5 s.
# Training mixes in windows this short (DataConfig.short_window) so the model knows them.
SHORT_PREFIX_BUDGET = 160
SHORT_SUFFIX_BUDGET = 40

TokenCounter = Callable[[str], int]


CHARS_PER_TOKEN = 1.8  # measured on the corpus with the Qwen tokenizer: gcc 1.5-1.7, clang 1.9-2.0


def approx_tokens(text: str) -> int:
    """Cheap token estimate for assembly with the Qwen tokenizer (~1.8 characters a token).

    Measured on 300 corpus functions (all compilers and levels): 1.78 characters a token
    overall, gcc's tab-indented output 1.5-1.7, clang's 1.9-2.0. Round one of training used
    3.2, which undercounted assembly by ~1.7x: prompts ran that much over their budgets.
    """
    return (len(text) * 5 + 8) // 9


@dataclass(frozen=True)
class FimWindow:
    """The text either side of the hole, already cut to the token budgets."""

    prefix: str
    suffix: str
    prefix_first_line: int  # 0-based line of the document where ``prefix`` starts


def split_at(text: str, line: int, col: int) -> tuple[str, str]:
    """Split ``text`` at a 0-based line and 0-based code-point column (clamped to the text)."""
    lines = text.split("\n")
    if not lines:
        return "", ""
    line = max(0, min(line, len(lines) - 1))
    col = max(0, min(col, len(lines[line])))
    head = "\n".join(lines[:line] + [lines[line][:col]])
    return head, text[len(head):]


# The hole's window (``window_at``): enough lines that ``cut_window`` cuts it exactly as it
# would cut the whole text. Every line costs at least one token (its "\n": approx_tokens is
# 5/9 of a token a character, rounded up), so 1,154 lines overflow the 640-token prefix
# budget and 161 the 160-token suffix budget even when they are blank.
WINDOW_LINES_BEFORE = 1_280
WINDOW_LINES_AFTER = 256
# The window's first line is a multiple of this (of ANCHOR_LINES too, which cut_window's
# walk needs): while the user types, the hole's prefix keeps its start, so the suggestion
# cache's typed-ahead and follow-up entries (keyed by the hole) keep matching. The suffix
# window is counted from the cursor's line, which keeps it the same when Enter is pressed.
WINDOW_BLOCK_LINES = 256
def window_at(text: str, line: int, col: int) -> tuple[str, str, int]:
    """``split_at``'s split, cut to the lines the prompt can use: (prefix, suffix, first line).

    The prefix starts at the 0-based ``first line``: the multiple of WINDOW_BLOCK_LINES at or
    below ``line - WINDOW_LINES_BEFORE`` (0 near the top); the suffix ends after
    WINDOW_LINES_AFTER lines below the cursor's line. ``cut_window`` (with budgets up to
    the defaults) gives the same prompt for it as for the whole split. Cost: finding the
    cursor's line counts line breaks from the start (~35 ms at the end of a 50 MB text),
    and the copies are only the window (~1,500 lines); ``split_at`` built every line (~0.3 s
    and ~150 MB at 50 MB).
    """
    line = max(0, line)
    first = max(0, (line - WINDOW_LINES_BEFORE) // WINDOW_BLOCK_LINES * WINDOW_BLOCK_LINES)
    start = line_start(text, first)
    cursor_line = None if start is None else line_start(text, line - first, start)
    if cursor_line is None:  # past the end: the last line, as split_at clamps
        return window_at(text, text.count("\n"), col)
    line_end = text.find("\n", cursor_line)
    cursor = min(cursor_line + max(0, col), len(text) if line_end < 0 else line_end)
    end = None if line_end < 0 else line_start(text, WINDOW_LINES_AFTER, line_end + 1)
    return text[start:cursor], text[cursor:end], first


def cut_window(
    prefix: str,
    suffix: str,
    prefix_budget: int = DEFAULT_PREFIX_BUDGET,
    suffix_budget: int = DEFAULT_SUFFIX_BUDGET,
    count_tokens: TokenCounter = approx_tokens,
    anchor_lines: int = ANCHOR_LINES,
) -> FimWindow:
    """Cut ``prefix`` (text before the cursor) and ``suffix`` (after it) to token budgets.

    The prefix keeps its end: the cursor's partial line is always kept whole, and earlier
    lines are dropped from the start in blocks so the window start is a multiple of
    ``anchor_lines`` (0-based document line), unless that would keep fewer than half the
    lines that fit (long lines, short budgets): then as many whole lines as fit. The
    suffix keeps its start, cut at a line end.
    """
    prefix_lines = prefix.split("\n")
    cursor_line = len(prefix_lines) - 1
    start = 0
    if count_tokens(prefix) > prefix_budget:
        # The earliest line whose window fits (a window's cost grows with its lines: bisect).
        low, high = 0, cursor_line  # the window from ``high`` fits or is the cursor's line alone
        while low < high:
            middle = (low + high) // 2
            if count_tokens("\n".join(prefix_lines[middle:])) <= prefix_budget:
                high = middle
            else:
                low = middle + 1
        fits = high
        # Anchored: the first multiple of anchor_lines at or after it, which keeps its place
        # while the user types downwards (the KV cache and the suggestion cache survive).
        anchored = -(-fits // anchor_lines) * anchor_lines
        # Unless that keeps fewer than half the lines that fit: with lines of ~35 tokens
        # (hand-written NEON aligned with spaces) 16 lines overflow the short window's 160,
        # and with the cursor on an anchor the window held no line before it at all
        # (bench/results/handwritten.md: the cold window had no prefix at 7 of 8 holes).
        start = anchored if 2 * (cursor_line - anchored) >= cursor_line - fits else fits
    kept_prefix = "\n".join(prefix_lines[start:])
    if count_tokens(kept_prefix) > prefix_budget:
        kept_prefix = kept_prefix[-int(prefix_budget * CHARS_PER_TOKEN):]

    kept_suffix_lines: list[str] = []
    used = 0
    for piece in suffix.split("\n"):
        cost = count_tokens(piece + "\n")
        if kept_suffix_lines and used + cost > suffix_budget:
            break
        kept_suffix_lines.append(piece)
        used += cost
    kept_suffix = "\n".join(kept_suffix_lines)
    if count_tokens(kept_suffix) > suffix_budget:
        kept_suffix = kept_suffix[: int(suffix_budget * CHARS_PER_TOKEN)]
    return FimWindow(kept_prefix, kept_suffix, start)


def build_fim_prompt(prefix: str, suffix: str, context: str = "") -> str:
    """The prompt text for a hole between ``prefix`` and ``suffix``.

    ``context`` (optional, e.g. similar functions) goes first: it changes rarely, so it
    does not break the cache that typing relies on.
    """
    return f"{context}{FIM_SUFFIX}{suffix}{FIM_PREFIX}{prefix}{FIM_MIDDLE}"


def build_fim_example(prefix: str, middle: str, suffix: str, context: str = "") -> str:
    """A whole training example: the prompt, the answer and the end-of-text marker."""
    return build_fim_prompt(prefix, suffix, context) + middle + END_OF_TEXT
