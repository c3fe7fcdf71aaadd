"""Suggestion cutting and the typed-ahead cache (pure; no model).

Test data: bench.samples.FACT, the body of ``long fact(long n)`` as aarch64-linux-gnu-gcc -O1 -S writes it.
"""
from __future__ import annotations

from hypothesis import example, given
from hypothesis import strategies as st

from asm_lsp.model.prompt import (ANCHOR_LINES, WINDOW_BLOCK_LINES, WINDOW_LINES_BEFORE, approx_tokens, cut_window,
                                  split_at, window_at)
from asm_lsp.model.fitting import COLD_MIN_TOKENS, cold_prompt_tokens, fit_prompt
from asm_lsp.model.suggest import (Cut, Hole, SuggestionCache, accept, cut_suggestion, first_lines, inside_function,
                                   likely_place, show_lines, situation)
from bench.samples import FACT, LINES, MUL



def blank_at(line: int) -> tuple[str, Hole]:
    """FACT with ``line`` replaced by an empty line, and the hole at its start."""
    text = "\n".join(LINES[:line] + [""] + LINES[line + 1:])
    return text, Hole.at(text, line, 0)


def test_hole_splits_at_line_and_column():
    hole = Hole.at(FACT, MUL, 5)
    assert (hole.line_before, hole.line_after) == ("\tmul\t", "x0, x0, x19")
    assert not hole.multiline
    assert hole.next_code_line() == "ldr\tx19, [sp, 16]"
    assert blank_at(MUL)[1].multiline


def test_one_line_when_text_follows_the_cursor():
    hole = Hole.at(FACT, MUL, 5)  # "\tmul\t|x0, x0, x19"
    assert cut_suggestion("x1, ", hole) == Cut("x1, ", False)
    assert cut_suggestion("x1, \n\tmore", hole) == Cut("x1, ", True)


def test_one_line_drops_a_copy_of_the_rest_of_the_line():
    text = "\n".join(LINES[:MUL] + ["\tmul\tx0, ]"] + LINES[MUL + 1:])
    hole = Hole.at(text, MUL, 9)  # "\tmul\tx0, |]"
    assert cut_suggestion("x0, x19]\n", hole) == Cut("x0, x19", True)
    assert cut_suggestion("]\n", hole) == Cut("", True)  # only echoes the suffix


def test_end_of_line_finishes_that_line_only():
    text = "\n".join(LINES[:MUL] + ["\tmul\tx0, "] + LINES[MUL + 1:])
    hole = Hole.at(text, MUL, len("\tmul\tx0, "))
    assert cut_suggestion("x0, x19   \n\tldr\tx19, [sp, 16]\n", hole) == Cut("x0, x19", True)


def test_drops_a_line_that_repeats_the_next_line():
    text = "\n".join(LINES[:MUL] + ["\tldr\tx19, "] + LINES[MUL + 1:])
    hole = Hole.at(text, MUL, len("\tldr\tx19, "))
    assert cut_suggestion("[sp, 16]\n", hole) == Cut("", True)
    text = "\n".join(LINES[:MUL] + ["\tmul\tx0, x0"] + LINES[MUL + 1:])
    hole = Hole.at(text, MUL, len("\tmul\tx0, x0"))  # seen from the base model: the next line glued on
    assert cut_suggestion("\tldr\tx19, [sp, 16]\n", hole) == Cut("", True)
    assert cut_suggestion("\tldp\tx29, x30, [sp], 32\n", hole) == Cut("", True)  # any glued line
    # after a bare mnemonic a tab is how operands start
    assert cut_suggestion("\tx0, x0, x19\n", Hole("\tmul", "\n")) == Cut("\tx0, x0, x19", True)


def test_multiline_stops_where_the_model_rejoins_the_code():
    _, hole = blank_at(MUL)
    raw = "\tmul\tx0, x0, x19\n\tldr\tx19, [sp, 16]\n\tldp\tx29"
    assert cut_suggestion(raw, hole) == Cut("\tmul\tx0, x0, x19", True)


def test_multiline_never_shows_half_a_line():
    _, hole = blank_at(MUL)
    assert cut_suggestion("\tmul\tx0, x0", hole) == Cut("", False)
    assert cut_suggestion("\tmul\tx0, x0, x19\n\tadd", hole) == Cut("\tmul\tx0, x0, x19", False)


def test_multiline_stops_at_blank_line_and_max_lines():
    _, hole = blank_at(MUL)
    assert cut_suggestion("\tmov\tx1, x0\n\n\tmov\tx2, x0\n", hole) == Cut("\tmov\tx1, x0", True)
    raw = "".join(f"\tadd\tx{i}, x{i}, 1\n" for i in range(5))
    assert cut_suggestion(raw, hole, max_lines=3) == Cut("\tadd\tx0, x0, 1\n\tadd\tx1, x1, 1\n\tadd\tx2, x2, 1", True)


def test_multiline_ends_after_function_end_and_before_a_new_function():
    end = LINES.index("\tret", MUL)
    text = "\n".join(LINES[:end] + [""])  # writing the end of the function at the end of the file
    hole = Hole.at(text, end, 0)
    raw = "\tret   \n\t.cfi_endproc\n.LFE1:\n"
    assert cut_suggestion(raw, hole) == Cut("\tret\n\t.cfi_endproc", True)
    raw = "\tret\n\t.globl\tother\n"
    assert cut_suggestion(raw, hole) == Cut("\tret", True)
    raw = "\tret\nother:\n"
    assert cut_suggestion(raw, hole) == Cut("\tret", True)
    raw = "\tret\n.L99:\n\tnop\n"  # local labels belong to the function
    assert cut_suggestion(raw, hole).text == "\tret\n.L99:\n\tnop"


def test_new_function_may_start_between_functions():
    text = FACT + "\n"
    hole = Hole.at(text, len(LINES), 0)
    assert not inside_function(hole.prefix)
    raw = "\t.global\tsquare\n\t.type\tsquare, %function\nsquare:\n\tmul\tx0, x0, x0\n\tret\n\t.globl\tnext\n"
    assert cut_suggestion(raw, hole).text == "\t.global\tsquare\n\t.type\tsquare, %function\nsquare:\n\tmul\tx0, x0, x0\n\tret"


def test_inside_function_rejects_a_new_function_start():
    _, hole = blank_at(MUL)
    assert inside_function(hole.prefix)
    assert cut_suggestion("\t.globl\tx\n", hole) == Cut("", True)


def test_cache_serves_the_typed_ahead_remainder():
    text, hole = blank_at(MUL)
    cache = SuggestionCache()
    cache.put(hole, "\tmul\tx0, x0, x19", validated=True)
    assert cache.lookup(hole) == ("\tmul\tx0, x0, x19", True)
    typed = Hole(hole.prefix + "\tmu", hole.suffix)
    assert cache.lookup(typed) == ("l\tx0, x0, x19", True)
    assert cache.lookup(Hole(hole.prefix + "\tmov", hole.suffix)) is None  # typed something else
    assert cache.lookup(Hole(hole.prefix + "\tmul\tx0, x0, x19", hole.suffix)) is None  # all typed
    assert cache.lookup(Hole(hole.prefix + "\tmu", hole.suffix + "x")) is None  # text after changed


def test_cache_is_lru():
    cache = SuggestionCache(capacity=2)
    holes = [Hole(f"p{i}", "s") for i in range(3)]
    for hole in holes:
        cache.put(hole, "text")
    assert len(cache) == 2 and cache.lookup(holes[0]) is None and cache.lookup(holes[2]) == ("text", False)


def test_accept_predicts_the_next_hole():
    hole = Hole.at(FACT, MUL, 5)
    after = accept(hole, "x1, ")
    assert after.prefix == hole.prefix + "x1, x0, x0, x19\n"
    assert after.suffix == "\n" + "\n".join(LINES[MUL + 1:])
    assert after.multiline


@given(st.text(alphabet="\tabx0,[] \n.:#", max_size=80), st.integers(0, len(LINES) - 1), st.integers(0, 12), st.integers(1, 8))
def test_cut_is_a_stripped_prefix_of_the_lines(raw, line, col, max_lines):
    hole = Hole.at(FACT, line, col)
    cut = cut_suggestion(raw, hole, max_lines)
    assert cut.text.count("\n") < max_lines
    for shown in cut.text.split("\n"):
        assert shown == "" or not hole.multiline or shown == shown.rstrip()
    if cut.text:
        # (a leading blank line is skipped: the model wants a gap first)
        assert any(piece.startswith(shown) for shown in cut.text.split("\n")[:1]
                   for piece in [raw.split("\n")[0], raw, raw.lstrip("\n").lstrip()])


def test_long_lines_keep_the_lines_that_fit_before_the_cursor():
    """Hand-written NEON aligned with spaces (dav1d's style, ~35 tokens a line): fewer than
    ANCHOR_LINES lines fit the short window's 160 tokens. The window then starts at the
    earliest line that fits, not at the cursor's line (which left the prompt no prefix)."""
    line = "\tsqsub           v24.4s,  v24.4s,  v28.4s      // t7"
    prefix = "\n".join([line] * (ANCHOR_LINES + 10)) + "\n"  # the cursor: 10 lines after an anchor
    window = cut_window(prefix, "\tret\n", 160, 40)
    kept = window.prefix.split("\n")
    assert kept[-1] == "" and 2 <= len(kept) - 1 <= 5  # whole lines, and at least two of them
    assert approx_tokens(window.prefix) <= 160 < approx_tokens("\n".join([line] + kept))
    assert window.prefix_first_line == ANCHOR_LINES + 10 - (len(kept) - 1)
    # The cursor on an anchor: the anchored window would hold no line before it.
    on_anchor = cut_window("\n".join([line] * 2 * ANCHOR_LINES) + "\n", "", 160, 40)
    assert on_anchor.prefix == window.prefix
    # Lines short enough for an anchored start keep it (the cache survives typing downwards).
    short = "\n".join(["\tnop"] * (ANCHOR_LINES + 5)) + "\n"
    assert cut_window(short, "", 24, 40).prefix_first_line == ANCHOR_LINES


def test_a_cold_window_fits_the_time_left():
    """fitting.cold_prompt_tokens and fit_prompt(most=): a tokenizer of 2 bytes a token stands in
    for the model's (the cut is the same function of any tokenizer). Test data: FACT's lines
    repeated, a blank line in the middle."""
    def tokenize(data: bytes, add_bos: bool = False, special: bool = True) -> list[int]:
        return list(range((len(data) + 1) // 2))

    # 2 s left at 150 tokens/s and 50 ms/token with 16-token lines: (2 - 0.15 - 0.8) * 150 * 0.85
    assert cold_prompt_tokens(2.0, 150, 0.05, 16) == 133
    assert cold_prompt_tokens(0.5, 150, 0.05, 16) == COLD_MIN_TOKENS  # over budget already: the least
    text = numbered(400)
    hole = Hole.at(text, 200, 0)
    full = fit_prompt(hole, 8, 2048, tokenize)
    for most in (60, 133, 300):
        cold = fit_prompt(hole, 8, 2048, tokenize, most=most)
        assert 0.6 * most <= len(cold) <= most < len(full)


# -- the hole's window in big buffers (model/prompt.py window_at) ----------------------------------
def numbered(count: int, blank_every: int = 0) -> str:
    """``count`` lines of FACT repeated, every ``blank_every``-th one blank (0: none)."""
    return "\n".join("" if blank_every and i % blank_every == 0 else LINES[i % len(LINES)] for i in range(count))


@given(st.integers(0, 4_000), st.sampled_from([0, 1, 2, 7]), st.integers(-3, 4_100), st.integers(-2, 30),
       st.sampled_from([(640, 160), (320, 80), (160, 40), (16, 4)]))
# All blank (the fewest tokens lines can cost), the cursor where the window is shortest:
@example(3_000, 1, WINDOW_BLOCK_LINES + WINDOW_LINES_BEFORE, 0, (640, 160))
@example(3_000, 1, 100, 0, (640, 160))
def test_window_gives_the_prompt_of_the_whole_split(count, blank_every, line, col, budgets):
    """Test data: FACT's lines repeated up to 4,000 lines, with blank lines (each costs the
    least a line can: one token), cursors anywhere including past the end."""
    text = numbered(count, blank_every)
    prefix, suffix, first = window_at(text, line, col)
    whole = split_at(text, line, col)
    assert whole[0].endswith(prefix) and whole[1].startswith(suffix)
    assert first % ANCHOR_LINES == 0 and whole[0][: len(whole[0]) - len(prefix)].count("\n") == first
    window = cut_window(prefix, suffix, *budgets)
    full = cut_window(*whole, *budgets)
    assert (window.prefix, window.suffix, window.prefix_first_line + first) == (
        full.prefix, full.suffix, full.prefix_first_line)


def test_hole_in_a_big_buffer_is_a_window_and_stays_put_while_typing():
    """Test data: FACT repeated to 200,000 lines (~2.4 MB)."""
    text = numbered(200_000)
    line = 150_000
    hole = Hole.at(text, line, 0)
    assert hole.prefix.count("\n") < 1_600 and hole.suffix.count("\n") == 257
    assert (hole.line_before, hole.line_after) == ("", LINES[line % len(LINES)])
    # Typing a line and pressing Enter: the window keeps its first line and the rest of the
    # document below the cursor, so the suggestion cache's predicted hole is the real one.
    typed = "\tmul\tx0, x0, x19"
    lines = text.split("\n")
    after_enter = "\n".join(lines[:line] + [typed, lines[line]] + lines[line + 1:])
    assert Hole.at(after_enter, line + 1, 0) == Hole(hole.prefix + typed + "\n", hole.suffix)
    cache = SuggestionCache()
    cache.put(hole, typed, validated=True)
    assert cache.lookup(Hole.at(lines_with(lines, line, "\tmu"), line, 3)) == ("l\tx0, x0, x19", True)


def lines_with(lines: list[str], line: int, typed: str) -> str:
    return "\n".join(lines[:line] + [typed + lines[line]] + lines[line + 1:])


def test_situations_for_how_many_lines_to_show():
    assert situation(Hole.at(FACT, MUL, 5)) == "line"
    assert situation(blank_at(MUL)[1]) == "between"  # "ldr x19, [sp, 16]" follows
    ret = LINES.index("\tret", LINES.index(".L13:"))
    assert situation(blank_at(ret)[1]) == "block-end"  # ".cfi_endproc" follows
    assert situation(blank_at(LINES.index(".L13:") - 1)[1]) == "block-end"  # ".L13:" follows
    empty = "\t.global\tf\n\t.type\tf, %function\nf:\n\t.cfi_startproc\n\t\n\t.cfi_endproc\n\t.size\tf, .-f\n"
    assert situation(Hole.at(empty, 4, 1)) == "empty-function"
    assert situation(Hole.at("f:\n\t", 1, 1)) == "empty-function"  # nothing after it yet
    assert situation(Hole.at("f:\n\t\n\t.p2align 2\ng:\n\tret", 1, 1)) == "empty-function"  # the next function follows
    for hole in (blank_at(MUL)[1], Hole.at(empty, 4, 1)):
        assert show_lines(hole, 8) == 1 and show_lines(hole, 1) == 1


def test_first_lines():
    assert first_lines("a\nb\nc", 2) == "a\nb"
    assert first_lines("a", 3) == "a"
    assert first_lines("", 1) == ""


def test_likely_place_is_a_gap_in_a_dense_file_else_the_end():
    gap = "\n".join(LINES[:MUL] + [""] + LINES[MUL + 1:])
    assert likely_place(gap) == (MUL, 0)
    assert likely_place(FACT) == (FACT.count("\n"), 0)  # no gap (only the trailing newline)
    airy = "\n\n".join(LINES)  # blank lines everywhere: nothing stands out
    assert likely_place(airy) == (airy.count("\n"), 0)
    two = FACT + "\n" + FACT.replace("fact", "fact2").replace(".L", ".L2")  # a separator between functions
    assert likely_place(two) == (two.count("\n"), 0)
