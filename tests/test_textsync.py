"""Fast incremental sync (server/asm_lsp/textsync.py) gives exactly pygls's text.

Test data: hypothesis texts over an alphabet of ASCII, "\\n", "\\r\\n", lone "\\r", form
feed, U+2028, é and an astral emoji, edited with random ranges (inside, at and past
line ends, past the last line, reversed) and random inserted text; each edit is applied
by pygls's own ``TextDocument`` and by ``textsync.apply_change`` (threshold 0), and the
two texts must be equal. The last test times a keystroke on a 50 MB text.
"""
from __future__ import annotations

import time

from hypothesis import given, settings
from hypothesis import strategies as st
from lsprotocol import types
from pygls.workspace import TextDocument

from asm_lsp import textsync

PIECES = ["a", "bl f", "\t", " ", "x0", "\n", "\n", "\n", "\r\n", "\r", "\x0c", "\u2028", "\u00e9", "\U0001F600"]
texts = st.lists(st.sampled_from(PIECES), max_size=40).map("".join)
plain_texts = st.lists(st.sampled_from([p for p in PIECES if p not in ("\r", "\x0c", "\u2028")]), max_size=40).map("".join)
positions = st.builds(types.Position, line=st.integers(0, 12), character=st.integers(0, 12))


def pygls_result(text: str, change: types.TextDocumentContentChangePartial) -> str:
    document = TextDocument("file:///t.s", text)
    document.apply_change(change)
    return document.source


def fast_result(text: str, change: types.TextDocumentContentChangePartial) -> tuple[str, bool]:
    document = TextDocument("file:///t.s", text)
    fast = textsync.apply_change(document, change, min_chars=0)
    if not fast:
        document.apply_change(change)
    return document.source, fast


def copy_change(start: types.Position, end: types.Position, new: str) -> types.TextDocumentContentChangePartial:
    # pygls's codec may clamp a position in place: each side gets its own objects
    return types.TextDocumentContentChangePartial(
        range=types.Range(start=types.Position(start.line, start.character), end=types.Position(end.line, end.character)),
        text=new)


@settings(max_examples=3000, deadline=None, derandomize=True, database=None)
@given(st.one_of(texts, plain_texts), positions, positions, texts)
def test_fast_change_equals_pygls(text: str, start: types.Position, end: types.Position, new: str):
    want = pygls_result(text, copy_change(start, end, new))
    got, _ = fast_result(text, copy_change(start, end, new))
    assert got == want


@settings(max_examples=500, deadline=None, derandomize=True, database=None)
@given(plain_texts.filter(lambda t: "\n" in t), positions, positions, texts)
def test_fast_path_taken_on_plain_texts(text: str, start: types.Position, end: types.Position, new: str):
    if (start.line, start.character) > (end.line, end.character):
        start, end = end, start
    got, fast = fast_result(text, copy_change(start, end, new))
    assert fast and got == pygls_result(text, copy_change(start, end, new))


@settings(max_examples=1000, deadline=None, derandomize=True, database=None)
@given(st.one_of(texts, plain_texts), st.integers(-1, 14))
def test_line_text_equals_pygls_lines(text: str, line: int):
    lines = TextDocument("file:///t.s", text).lines
    want = lines[line].rstrip("\r\n") if 0 <= line < len(lines) else None
    assert textsync.line_text(text, line) == want
    big = text * (textsync.FAST_SYNC_CHARS // max(1, len(text)) + 1) if text.endswith("\n") else ""
    if big and textsync.splits_at_newlines_only(big):  # the fast path on a large text
        assert textsync.line_text(big, line) == (lines[line].rstrip("\r\n") if 0 <= line < len(lines) else
                                                  textsync.line_text(big, line))


def test_keystroke_on_50_mb_is_fast():
    line = "\tadd\tx0, x1, x2   // a typical compiler line\n"
    text = line * (50_000_000 // len(line))
    document = TextDocument("file:///big.s", text)
    middle = text.count("\n") // 2
    change = types.TextDocumentContentChangePartial(
        range=types.Range(start=types.Position(middle, 5), end=types.Position(middle, 5)), text="x")
    started = time.process_time()
    assert textsync.apply_change(document, change)
    elapsed = time.process_time() - started
    assert document.source == text[:middle * len(line) + 5] + "x" + text[middle * len(line) + 5:]
    print(f"\none keystroke in the middle of 50 MB: {elapsed * 1000:.0f} ms CPU")
    assert elapsed < 0.5  # pygls: ~0.5 s and more; here ~30-60 ms
