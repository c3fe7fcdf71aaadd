"""Suggestion cutting and the typed-ahead suggestion cache. Pure text logic: no llama_cpp.

Cutting rules (what a raw model "middle" becomes before it is shown):

- Text after the cursor on its line (non-whitespace): one line, and a copy of that
  rest-of-line at the suggestion's end is dropped (the model likes to re-emit it).
- Cursor at the end of a non-blank line: finish that line only.
- Blank cursor line: up to ``max_lines`` lines, ending before a blank line, before a line
  that starts a new function (``.globl``/``.global``/``.type``, a non-local label at
  column 0), and after ``.cfi_endproc`` or ``.size``.
- Lines that repeat the next non-blank line of the suffix end the suggestion there (the
  model is re-joining the existing code); trailing whitespace is stripped.
"""
from __future__ import annotations

import re
import threading
from collections import OrderedDict
from dataclasses import dataclass

from .prompt import window_at

_NEW_FUNCTION = re.compile(r"^\s*\.(globl|global|type)\b")
_ENDS_FUNCTION = re.compile(r"^\s*\.(cfi_endproc|size)\b")
_COLUMN0_LABEL = re.compile(r"^([A-Za-z_$][\w$.]*):")


@dataclass(frozen=True)
class Hole:
    """Where a suggestion goes: the document around the cursor, split there.

    ``Hole.at`` keeps a window of lines (``prompt.window_at``: ~1,300-1,500 lines before the
    cursor, 256 after), which the prompt never outgrows; rules that look further (is the
    cursor inside a function, the next code line) see that window only.
    """

    prefix: str  # the text before the cursor (from the window's first line)
    suffix: str  # the text after it (to the window's last line)
    context: str = ""  # repo-level block before the window (model/repo_context.py; completion.repoContext)

    @classmethod
    def at(cls, text: str, line: int, col: int, context: str = "") -> Hole:
        """The hole at a 0-based line and 0-based code-point column (clamped to the text).

        Runs on the event loop for every request and prefill, so it slices by offsets
        instead of splitting the whole text (a 50 MB buffer: ~35 ms, was ~0.3 s and 150 MB).
        """
        prefix, suffix, _first = window_at(text, line, col)
        return cls(prefix, suffix, context)

    @property
    def line_before(self) -> str:
        return self.prefix.rsplit("\n", 1)[-1]

    @property
    def line_after(self) -> str:
        return self.suffix.split("\n", 1)[0]

    @property
    def multiline(self) -> bool:
        """Several lines only on a blank line; otherwise finish the cursor's line."""
        return not self.line_before.strip() and not self.line_after.strip()

    def next_code_line(self) -> str:
        """The first non-blank line after the cursor's line, stripped ("" if none)."""
        for piece in self.suffix.split("\n")[1:]:
            if piece.strip():
                return piece.strip()
        return ""


def _starts_new_function(line: str) -> bool:
    if _NEW_FUNCTION.match(line):
        return True
    label = _COLUMN0_LABEL.match(line)
    return bool(label) and not label.group(1).startswith(".L")


def _is_preamble(line: str) -> bool:
    """Lines that may open a function: .globl/.type/.p2align/.align and labels."""
    stripped = line.strip()
    return _starts_new_function(line) or stripped.startswith((".p2align", ".align", ".balign")) or stripped.endswith(":")


def inside_function(prefix: str) -> bool:
    """Whether the text before the cursor ends inside a function body (cheap backwards scan)."""
    for line in reversed(prefix.split("\n")[:-1]):
        if _ENDS_FUNCTION.match(line) or re.match(r"^\s*\.(section|text|data|bss)\b", line):
            return False
        if _starts_new_function(line) or re.match(r"^\s*\.cfi_startproc\b", line):
            return True
    return False


@dataclass(frozen=True)
class Cut:
    text: str  # what to show ("" = nothing)
    done: bool  # no point generating more: a stop rule or the line limit was hit


def cut_suggestion(raw: str, hole: Hole, max_lines: int = 8) -> Cut:
    """Cut a raw model middle to what is shown. Safe on partial output (for early stopping)."""
    if not hole.multiline:
        return _cut_one_line(raw, hole)
    pieces = raw.split("\n")
    next_line = hole.next_code_line()
    may_open_function = not inside_function(hole.prefix)
    kept: list[str] = []
    in_preamble = True
    for piece in pieces[:-1]:  # the last piece may still be growing: never show half a line
        line = piece.rstrip()
        if not line.strip():
            if not kept:
                continue  # a leading blank line: the model wants a gap first; show what follows it
            return Cut("\n".join(kept), True)  # blank line ends the block
        if _starts_new_function(line) and (not may_open_function or not in_preamble):
            return Cut("\n".join(kept), True)
        if next_line and line.strip() == next_line:
            return Cut("\n".join(kept), True)  # re-joining the code after the cursor
        kept.append(line)
        in_preamble = in_preamble and _is_preamble(line)
        if _ENDS_FUNCTION.match(line) or len(kept) >= max(1, max_lines):
            return Cut("\n".join(kept), True)
    return Cut("\n".join(kept), False)


def _cut_one_line(raw: str, hole: Hole) -> Cut:
    first, newline, _ = raw.partition("\n")
    rest = hole.line_after
    # Trailing spaces matter only when the insertion butts against text after the cursor.
    text = first.rstrip() if not rest or rest[0].isspace() else first
    tail = rest.strip()
    if tail and text.rstrip().endswith(tail):
        text = text.rstrip()[: len(text.rstrip()) - len(tail)]
    if not text.strip() or (tail and tail.startswith(text.strip())):
        return Cut("", bool(newline))  # nothing, or only echoes what follows the cursor
    if text.startswith("\t") and not rest.strip() and len(hole.line_before.split()) >= 2:
        return Cut("", bool(newline))  # a new statement glued onto a finished line
    next_line = hole.next_code_line()
    if next_line and next_line in ((hole.line_before + text + rest).strip(), text.strip()):
        return Cut("", bool(newline))  # repeats the next line
    return Cut(text, bool(newline))


class SuggestionCache:
    """Thread-safe LRU of shown suggestions, keyed by the hole they were made for.

    ``lookup`` also serves *typed-ahead* holes: if the user has typed the first characters of
    a cached suggestion at the same place (same text before the suggestion start, same text
    after the cursor), the rest of that suggestion is returned without the model.
    """

    def __init__(self, capacity: int = 64) -> None:
        self.capacity = capacity
        self._entries: OrderedDict[tuple[str, str], tuple[str, bool]] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, hole: Hole, text: str, validated: bool = False) -> None:
        """Remember ``text`` for ``hole``; ``validated``: it passed the request's validator."""
        if not text:
            return
        key = (hole.prefix, hole.suffix)
        with self._lock:
            self._entries[key] = (text, validated)
            self._entries.move_to_end(key)
            while len(self._entries) > self.capacity:
                self._entries.popitem(last=False)

    def lookup(self, hole: Hole) -> tuple[str, bool] | None:
        """(remainder, validated) of a cached suggestion the user is typing along, or None."""
        with self._lock:
            for (prefix, suffix), (text, validated) in reversed(self._entries.items()):
                if suffix != hole.suffix or not hole.prefix.startswith(prefix):
                    continue
                typed = hole.prefix[len(prefix):]
                if text.startswith(typed) and len(text) > len(typed):
                    self._entries.move_to_end((prefix, suffix))
                    return text[len(typed):], validated
        return None

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


def final_suggestion(raw: str, hole: Hole, max_lines: int, finished: bool) -> str:
    """What is shown of a generation that has stopped. ``finished``: the model ended it (an
    end-of-text or stop token) rather than a token or time limit."""
    cut = cut_suggestion(raw, hole, max_lines)
    if finished and not cut.done:
        # Ended by end-of-text: the unterminated last line is complete too.
        cut = cut_suggestion(raw + "\n", hole, max_lines)
    elif not finished and not hole.multiline and not cut.done:
        return ""  # half a line is worse than nothing
    return cut.text


# ---------------------------------------------------------------- how much to show at once

_BLOCK_START = re.compile(r"^(\.L[\w$.]*|\d+|[A-Za-z_$][\w$.]*):")
_FUNCTION_OPENER = re.compile(r"^\s*(\.cfi_startproc|\.p2align|\.align|\.balign|\.type|\.globl|\.global)\b")

#: Lines shown at once per situation (the engine decodes on up to ``completion.maxLines``
#: into the suggestion cache behind the answer, so accepting a line serves the next from the
#: cache). One line everywhere, from bench/results/show_lines.md (the replay's two documents,
#: 48 holes, shipped adapter): where the first line was right, the second was right 3 of 10
#: times between instructions and 0 of 1 at a block's end, and each line costs ~10 decode
#: tokens (~0.3-0.6 s on 2 quiet cores) before anything could be shown.
SHOW_LINES = {"line": 1, "between": 1, "block-end": 1, "empty-function": 1}


def situation(hole: Hole) -> str:
    """Where the cursor is, for how many lines to show at once:

    - ``"line"``: text on the cursor's line (finish that line);
    - ``"between"``: a blank line with an instruction after it in the same block;
    - ``"empty-function"``: a blank line in a function with no instruction yet;
    - ``"block-end"``: any other blank line (a label, the function's end or nothing after it).
    """
    if not hole.multiline:
        return "line"
    after = hole.next_code_line()
    for piece in reversed(hole.prefix.split("\n")[:-1]):
        stripped = piece.strip()
        if not stripped or stripped.startswith(("//", "#", "/*", ".cfi_def_cfa", ".loc", ".file")):
            continue
        if _starts_new_function(piece) or _FUNCTION_OPENER.match(piece):
            if not after or _ENDS_FUNCTION.match(after) or _starts_new_function(after) or _FUNCTION_OPENER.match(after):
                return "empty-function"
        break
    if after and not _BLOCK_START.match(after) and not _ENDS_FUNCTION.match(after) and not after.startswith("."):
        return "between"
    return "block-end"


def show_lines(hole: Hole, max_lines: int) -> int:
    """How many complete lines to wait for before answering at ``hole``."""
    return max(1, min(max_lines, SHOW_LINES.get(situation(hole), 1)))


#: A document with at most one blank line in this many (or a single one) is "dense" (compiler
#: output): a blank line there is a gap someone left to fill.
DENSE_LINES_PER_BLANK = 40
LIKELY_PLACE_MAX_CHARS = 2_000_000  # bigger documents: the end (no scan on the event loop)


def likely_place(text: str) -> tuple[int, int]:
    """Where typing is likely to start in a just-opened document, for the prefill on open
    (0-based line, code-point col): the last blank line of a dense document when it is inside
    a function (a gap left in a body), else the end of the document."""
    end = (text.count("\n"), len(text) - text.rfind("\n") - 1)
    if len(text) > LIKELY_PLACE_MAX_CHARS:
        return end
    lines = text.split("\n")
    blanks = [i for i, line in enumerate(lines[:-1]) if not line.strip()]
    body = [i for i in blanks if any(piece.strip() for piece in lines[i + 1:i + 2])]  # not trailing
    if not body or len(blanks) > max(1, len(lines) // DENSE_LINES_PER_BLANK):
        return end
    line = body[-1]
    if not inside_function("\n".join(lines[: line + 1])):
        return end  # between functions: a separator, not a gap
    return line, len(lines[line])


def first_lines(text: str, count: int) -> str:
    """The first ``count`` lines of ``text`` (all of it when it has no more)."""
    return "\n".join(text.split("\n")[: max(1, count)])


def accept(hole: Hole, text: str) -> Hole:
    """The hole the editor will ask about next if ``text`` is accepted and Enter pressed.

    Accepting inserts ``text`` at the cursor; the user then ends the line and presses Enter,
    so the next cursor is at the start of a new line after the current one (indentation is
    left to the model: the typed-ahead cache matches whatever the editor auto-indents).
    """
    rest_of_line, newline, after = hole.suffix.partition("\n")
    prefix = hole.prefix + text + rest_of_line + "\n"
    return Hole(prefix, "\n" + after if newline else "", hole.context)
