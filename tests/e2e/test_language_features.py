"""Semantic tokens, signature help and rename over stdio against the real server.

Test data: tests/fixtures/workspace/main.s and util.s (copied to a temp folder), and
small buffers written here.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp import LanguageClient

from lsp_util import open_file


def pos(line: int, character: int) -> types.Position:
    return types.Position(line=line, character=character)


def rng(l1: int, c1: int, l2: int, c2: int) -> types.Range:
    return types.Range(start=pos(l1, c1), end=pos(l2, c2))


def decode(client: LanguageClient, data: list[int], lines: list[str]) -> list[tuple]:
    """(line, text, type, modifiers) for each token of LSP's relative encoding."""
    legend = client.init_result.capabilities.semantic_tokens_provider.legend
    out, line, start = [], 0, 0
    for i in range(0, len(data), 5):
        dl, ds, length, kind, mods = data[i : i + 5]
        line += dl
        start = start + ds if dl == 0 else ds
        names = tuple(m for bit, m in enumerate(legend.token_modifiers) if mods >> bit & 1)
        out.append((line, lines[line][start : start + length], legend.token_types[kind], names))
    return out


async def test_semantic_capabilities(client: LanguageClient):
    provider = client.init_result.capabilities.semantic_tokens_provider
    assert provider.full == types.SemanticTokensFullDelta(delta=True) and provider.range is True
    assert provider.legend == types.SemanticTokensLegend(
        token_types=("keyword", "macro", "variable", "enumMember", "operator", "modifier", "function",
                     "label", "namespace", "parameter", "number", "string", "comment"),
        token_modifiers=("declaration", "static", "defaultLibrary"))
    assert client.init_result.capabilities.signature_help_provider == types.SignatureHelpOptions(
        trigger_characters=(",", " "), retrigger_characters=(",",))


async def test_semantic_tokens_full_util(client: LanguageClient, workspace: Path):
    uri = await open_file(client, workspace / "util.s")
    result = await client.text_document_semantic_tokens_full_async(types.SemanticTokensParams(
        text_document=types.TextDocumentIdentifier(uri=uri)))
    lines = (workspace / "util.s").read_text().split("\n")
    kw, reg, num = "keyword", ("variable", ("defaultLibrary",)), ("number", ())
    directive = ("macro", ("defaultLibrary",))
    assert decode(client, result.data, lines) == [
        (0, "/* util.s: helpers written by hand, gcc style. */", "comment", ()),
        (1, ".text", *directive),
        (2, ".p2align", *directive), (2, "2", *num),
        (3, ".globl", *directive), (3, "sum_array", "function", ()),
        (4, ".type", *directive), (4, "sum_array", "function", ()), (4, "%function", kw, ()),
        (5, "sum_array", "function", ("declaration",)), (5, "// w0 = sum of w1 ints at x0", "comment", ()),
        (6, "mov", kw, ()), (6, "w2", *reg), (6, "0", *num),
        (7, "1", "label", ("declaration", "static")), (7, "cbz", kw, ()), (7, "w1", *reg),
        (7, "2f", "label", ("static",)),
        (8, "ldr", kw, ()), (8, "w3", *reg), (8, "x0", *reg), (8, "4", *num),
        (9, "add", kw, ()), (9, "w2", *reg), (9, "w2", *reg), (9, "w3", *reg),
        (9, "sub", kw, ()), (9, "w1", *reg), (9, "w1", *reg), (9, "1", *num),
        (10, "b", kw, ()), (10, "1b", "label", ("static",)),
        (11, "2", "label", ("declaration", "static")), (11, "mov", kw, ()), (11, "w0", *reg), (11, "w2", *reg),
        (12, "ret", kw, ()),
        (13, ".size", *directive), (13, "sum_array", "function", ()), (13, "sum_array", "function", ()),
        (15, ".p2align", *directive), (15, "2", *num),
        (16, ".globl", *directive), (16, "square", "function", ()),
        (17, ".type", *directive), (17, "square", "function", ()), (17, "%function", kw, ()),
        (18, "square", "function", ("declaration",)),
        (19, "mul", kw, ()), (19, "w0", *reg), (19, "w0", *reg), (19, "w0", *reg),
        (20, "ret", kw, ()),
        (21, ".size", *directive), (21, "square", "function", ()), (21, "square", "function", ()),
    ]


async def test_semantic_tokens_kinds_range_and_delta(client: LanguageClient, workspace: Path):
    text = ("\t.text\n\t.globl f\n"
            "f:\tadrp\tx0, .LC0\n"
            "\tadd\tx0, x0, :lo12:.LC0\n"
            "\tcsel\tx1, x2, x3, ne\n"
            "\tadd\tv0.4s, v1.4s, v2.4s\n"
            "\tsel\tz0.d, p0/z, z1.d, z2.d\n"
            "loop:\tb.eq\tf\n"
            "\tbl\tsquare\n"
            "\tadd\tx0, x0, x1, lsl #2\n\tcbnz\tx0, loop\n"
            "\t.section .rodata\n"
            ".LC0:\t.asciz \"é\" // ü\n"
            "\t.macro inc reg\n"
            "\tadd \\reg, \\reg, #1\n"
            "\t.endm\n")
    uri = await open_file(client, workspace / "kinds.s", text)
    ident = types.TextDocumentIdentifier(uri=uri)
    lines = text.split("\n")
    full = await client.text_document_semantic_tokens_full_async(types.SemanticTokensParams(text_document=ident))
    tokens = decode(client, full.data, lines)
    wanted = {
        (1, "f", "function", ()), (2, "f", "function", ("declaration",)), (2, ".LC0", "label", ("static",)),
        (3, ":lo12:", "modifier", ()), (4, "ne", "enumMember", ("defaultLibrary",)),
        (5, "v0.4s", "variable", ("defaultLibrary",)), (6, "p0/z", "variable", ("defaultLibrary",)),
        (6, "z2.d", "variable", ("defaultLibrary",)), (7, "loop", "label", ("declaration", "static")),
        (7, "b.eq", "keyword", ()), (7, "f", "function", ()),
        (8, "square", "function", ()), (9, "lsl", "operator", ()), (9, "#2", "number", ()),
        (10, "loop", "label", ("static",)),
        (11, ".rodata", "namespace", ()), (12, ".LC0", "label", ("declaration", "static")),
        (13, "inc", "macro", ("declaration",)), (13, "reg", "parameter", ("declaration",)),
        (14, "\\reg", "parameter", ()), (14, "#1", "number", ()),
    }
    assert wanted <= set(tokens), wanted - set(tokens)
    # UTF-16 columns: `"é"` is 3 units, and the comment after it starts at unit 15.
    assert (12, '"é"', "string", ()) in tokens and (12, "// ü", "comment", ()) in tokens
    at = next(i for i in range(0, len(full.data), 5) if decode(client, full.data[: i + 5], lines)[-1][1] == "// ü")
    assert list(full.data[at : at + 3]) == [0, 4, 4]  # `"é"` + space: 4 UTF-16 units; `// ü` is 4 long

    ranged = await client.text_document_semantic_tokens_range_async(types.SemanticTokensRangeParams(
        text_document=ident, range=rng(3, 0, 5, 0)))
    assert decode(client, ranged.data, lines) == [t for t in tokens if 3 <= t[0] <= 4]

    # An edit: the delta holds one edit that turns the old data into the new.
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
        content_changes=[types.TextDocumentContentChangePartial(range=rng(4, 18, 4, 20), text="x4")]))
    delta = await client.text_document_semantic_tokens_full_delta_async(types.SemanticTokensDeltaParams(
        text_document=ident, previous_result_id=full.result_id))
    assert isinstance(delta, types.SemanticTokensDelta) and len(delta.edits) == 1
    edit = delta.edits[0]
    assert edit.start % 5 == 0 and edit.delete_count == 5 and len(edit.data) == 5  # the one changed token
    patched = list(full.data[: edit.start]) + list(edit.data or []) + list(full.data[edit.start + edit.delete_count :])
    again = await client.text_document_semantic_tokens_full_async(types.SemanticTokensParams(text_document=ident))
    assert patched == list(again.data) and full.data != again.data
    # An unknown previous result id is answered with full tokens.
    unknown = await client.text_document_semantic_tokens_full_delta_async(types.SemanticTokensDeltaParams(
        text_document=ident, previous_result_id="no-such-id"))
    assert isinstance(unknown, types.SemanticTokens) and unknown.data == again.data


async def test_semantic_tokens_bad_input(client: LanguageClient, workspace: Path):
    uri = await open_file(client, workspace / "empty.s", "")
    ident = types.TextDocumentIdentifier(uri=uri)
    full = await client.text_document_semantic_tokens_full_async(types.SemanticTokensParams(text_document=ident))
    assert list(full.data) == []
    past = await client.text_document_semantic_tokens_range_async(types.SemanticTokensRangeParams(
        text_document=ident, range=rng(50, 0, 90, 0)))
    assert past == types.SemanticTokens(data=())
    missing = await client.text_document_semantic_tokens_full_async(types.SemanticTokensParams(
        text_document=types.TextDocumentIdentifier(uri=(workspace / "nowhere.s").as_uri())))
    assert missing is None


async def test_signature_help(client: LanguageClient, workspace: Path):
    text = "\t.text\nf:\tadd\tx0, x1, \n\tld1\t{v0.4s, v1.4s}, \n\tadd w0, \n\tmov x0, x1 // a, b\n\t.p2align 4, \n"
    uri = await open_file(client, workspace / "sig.s", text)
    ident = types.TextDocumentIdentifier(uri=uri)

    async def at(line: int, character: int) -> types.SignatureHelp | None:
        return await client.text_document_signature_help_async(types.SignatureHelpParams(
            text_document=ident, position=pos(line, character)))

    add = await at(1, 14)  # after `add x0, x1, `: the third operand
    summary = types.MarkupContent(kind=types.MarkupKind.Markdown,
                                  value="Add a register, an extended register or a 12-bit immediate to a register.")
    assert add.active_parameter == 2 and add.active_signature == 0
    first = add.signatures[0]
    assert first == types.SignatureInformation(
        label="ADD Xd, Xn, Xm{, LSL|LSR|ASR #amount}", documentation=summary,
        parameters=(types.ParameterInformation(label=(4, 6)), types.ParameterInformation(label=(8, 10)),
                    types.ParameterInformation(label=(12, 14)), types.ParameterInformation(label=(17, 36))),
        active_parameter=2)
    assert [s.label for s in add.signatures][:4] == [
        "ADD Xd, Xn, Xm{, LSL|LSR|ASR #amount}",
        "ADD Xd|SP, Xn|SP, Wm|Xm{, UXTB|UXTH|UXTW|UXTX|SXTB|SXTH|SXTW|SXTX {#amount}}",
        "ADD Xd|SP, Xn|SP, #imm{, LSL #12}", "ADD Xd, Xn, #:lo12:symbol"]

    ld1 = await at(2, 20)  # after the register list: the address operand
    assert ld1.active_parameter == 1
    chosen = ld1.signatures[ld1.active_signature]
    assert chosen.label == "LD1 {Vt.<T>}, [Xn|SP]" and chosen.active_parameter == 1

    assert (await at(3, 9)).active_parameter == 1  # `add w0, `
    assert await at(4, 18) is None  # in the comment
    assert await at(4, 3) is None  # on the mnemonic
    p2align = await at(5, 13)
    assert p2align.active_parameter == 1 and p2align.signatures[0].label.startswith(".p2align")
    assert await at(40, 0) is None  # past the end
    assert await at(0, 999) is None  # `.text` has no operands
