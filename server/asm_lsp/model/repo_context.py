"""Context beyond the window: other code of the workspace, before the FIM prompt.

Qwen2.5-Coder was pretrained with repository-level prompts of this shape:

    <|repo_name|>{repo}
    <|file_sep|>{path}
    {content}
    <|file_sep|>{current path}
    {the FIM prompt of the current file}

The block holds (in this order, under one token budget, ``CONTEXT_BUDGET``):

- the workspace's most similar function to the one around the cursor (its head), and
- the definitions of the symbols the function around the cursor calls or loads (``bl foo``,
  ``adrp x0, tbl``) that it does not define itself, each cut to its first lines (the label
  and the prologue: which argument registers it reads, what it saves).

It goes before the window (``prompt.build_fim_prompt``'s ``context``): while it does not
change between keystrokes it stays in llama.cpp's KV-cache prefix and costs nothing per
keystroke. The similar function comes first because it changes only with the function;
the callees change when the window's calls do.

Pure (no LSP, no llama.cpp): training (``models/dataset.py``) and the server build the block
with the same functions here, so the two cannot drift.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence

from ..syntax import ParsedDocument
from .prompt import TokenCounter, approx_tokens

REPO_NAME = "<|repo_name|>"
FILE_SEP = "<|file_sep|>"
REPO_TOKEN_IDS = {REPO_NAME: 151663, FILE_SEP: 151664}

# Tokens for the whole block. The window is 640 + 160 tokens; a block of ~220 costs ~1.3 s
# of prompt evaluation on 2 cores once per function (cold), nothing while it stays cached,
# and keeps a FIM example under ~1,050 tokens (training rows of 4,096 still hold ~4).
CONTEXT_BUDGET = 224
SIMILAR_BUDGET = 120  # the similar function's head: ~12 instructions, its prologue and first block
CALLEE_LINES = 6  # label + 5 lines: the prologue shows the argument registers read and the frame
MAX_CALLEES = 4  # the function's first four; more rarely fit the budget anyway
MIN_LINES = 2  # a chunk cut to fewer lines than this (the label alone) is left out

_NOISE_PREFIXES = (".cfi_", ".loc", ".file", ".p2align", ".align", ".balign", ".type", ".size",
                   ".globl", ".global", ".hidden", ".local", ".text", ".section", ".ident")


def _is_noise(line: str) -> bool:
    s = line.strip()
    return not s or s.startswith(("//", "/*", "*", "#", ";", "@")) or s.startswith(_NOISE_PREFIXES)


def definition_excerpt(lines: Sequence[str], label_line: int, max_lines: int = CALLEE_LINES) -> str:
    """The first ``max_lines`` meaningful lines from a definition's label line on.

    Comments, blank lines and bookkeeping directives (``.cfi_*``, ``.loc``, ``.p2align``…)
    are left out; the excerpt stops at the definition's ``.size`` or ``.cfi_endproc``.
    """
    out: list[str] = []
    for line in lines[label_line:label_line + 8 * max_lines]:
        s = line.strip()
        if s.startswith((".size", ".cfi_endproc")) and out:
            break
        if _is_noise(line) and not (out == [] and s):
            continue
        out.append(line.rstrip())
        if len(out) >= max_lines:
            break
    return "\n".join(out)


def function_excerpt(text: str, budget: int = SIMILAR_BUDGET,
                     count_tokens: TokenCounter = approx_tokens) -> str:
    """The head of a function's text within ``budget`` tokens, bookkeeping lines left out."""
    out: list[str] = []
    used = 0
    for line in text.split("\n"):
        if _is_noise(line):
            continue
        cost = count_tokens(line + "\n")
        if used + cost > budget:
            break
        out.append(line.rstrip())
        used += cost
    return "\n".join(out)


Position = tuple[str, int, int]  # (symbol, 0-based line, column)


def symbol_positions(doc: ParsedDocument) -> tuple[list[Position], list[Position]]:
    """(references, definitions) of ``doc``'s named symbols, local ``.L*`` and numeric labels
    left out: what ``window_symbols`` reads (small enough to keep per file)."""
    refs = [(r.name, r.line, r.start) for r in doc.refs if not r.numeric and not r.name.startswith(".L")]
    defs = [(d.name, d.line, d.start) for d in doc.labels if d.kind in ("global", "symbol")]
    return refs, defs


def window_symbols(refs: Iterable[Position], defs: Iterable[Position], start: tuple[int, int],
                   cursor: tuple[int, int], resume: tuple[int, int], end_line: int,
                   limit: int = MAX_CALLEES) -> list[str]:
    """Symbols a span of the document uses but does not define, in order of first use.

    ``refs``/``defs``: ``symbol_positions`` of the document. The span is its text from
    ``start`` to ``cursor`` and from ``resume`` to the end of ``end_line`` ((line, column),
    0-based): the function around the cursor. The server's span resumes at the cursor; a
    training hole's resumes after its middle, so the answer's own symbols never leak into
    the context. Order of first use, not distance to the cursor: the block then stays the
    same while the cursor moves inside the function (its KV cache survives).
    """
    def visible(line: int, col: int) -> bool:
        return start <= (line, col) < cursor or (resume <= (line, col) and line <= end_line)

    defined = {name for name, line, col in defs if visible(line, col)}
    first: dict[str, tuple[int, int]] = {}
    for name, line, col in refs:
        if name in defined or not visible(line, col):
            continue
        if (line, col) < first.get(name, (1 << 62, 0)):
            first[name] = (line, col)
    return sorted(first, key=lambda name: first[name])[:limit]


def display_path(path: str) -> str:
    """A workspace-style path for a corpus file: ``src/foo.c`` was compiled to ``src/foo.s``."""
    for ext in (".c", ".cc", ".cpp", ".cxx", ".i"):
        if path.endswith(ext):
            return path[: -len(ext)] + ".s"
    return path


def build_context(chunks: Iterable[tuple[str, str]], current_path: str, repo_name: str,
                  budget: int = CONTEXT_BUDGET, count_tokens: TokenCounter = approx_tokens) -> str:
    """The repo-level block for ``chunks`` ((path, text), most wanted first) within ``budget``.

    Each chunk is cut at a line end to what is left of the budget (left out when fewer than
    ``MIN_LINES`` lines fit); chunks of one path are joined under one ``<|file_sep|>``
    header, in order of first appearance. "" when no chunk fits: no block at all.
    """
    head = f"{REPO_NAME}{repo_name}\n"
    tail = f"{FILE_SEP}{current_path}\n"
    room = budget - count_tokens(head) - count_tokens(tail)
    kept: dict[str, list[str]] = {}
    for path, text in chunks:
        header = 0 if path in kept else count_tokens(f"{FILE_SEP}{path}\n")
        lines: list[str] = []
        used = header
        for line in text.split("\n"):
            cost = count_tokens(line + "\n")
            if used + cost > room:
                break
            lines.append(line)
            used += cost
        if len(lines) < MIN_LINES:
            continue
        kept.setdefault(path, []).append("\n".join(lines))
        room -= used
    if not kept:
        return ""
    body = "".join(f"{FILE_SEP}{path}\n" + "\n\n".join(parts) + "\n" for path, parts in kept.items())
    return head + body + tail


def repo_context(repo_name: str, current_path: str, similar: Sequence[tuple[str, str]],
                 callees: Sequence[tuple[str, str]], budget: int = CONTEXT_BUDGET,
                 count_tokens: TokenCounter = approx_tokens) -> str:
    """The block from similar functions ((path, function text)) and callee definitions
    ((path, ``definition_excerpt``)), similar first; see the module docstring."""
    chunks = [(path, function_excerpt(text, min(SIMILAR_BUDGET, budget // 2), count_tokens))
              for path, text in similar]
    chunks += list(callees[:MAX_CALLEES])
    return build_context(chunks, current_path, repo_name, budget, count_tokens)
