"""Fuzzing: the syntax model and every request handler, in-process, on mutated real assembly.

Test data: gcc -O2 / clang -O1 output of tests/fixtures/c/*.c (bench/samples.py), plus
tests/fixtures/workspace/*.s and tests/fixtures/asm/*.s when the compilers are missing.
Hypothesis mutates them (delete/insert/swap lines, insert/delete characters, odd unicode:
NUL, lone surrogates, U+FFFD, CR, U+2028, astral), then opens the document in a real
``AsmLanguageServer`` (pygls workspace, no client: a writer checks every frame it would
send), applies random incremental edits and asks every request at random positions.
A case fails if a handler raises, if ``guarded`` had to swallow an exception (it logs at
ERROR on ``asm_lsp``), if a syntax function logs an error, or if a returned range lies
outside the document. ``FUZZ_CASES`` (default 1,000 here) sets the count; bench/fuzz.py
runs 10,000 and writes bench/results/fuzz.json.

In-process, nothing goes through the server's real output, so a sample of the cases is
also replayed through the real server over stdio (``replay_over_stdio``): the same
notifications and requests, in order, read back by bench/lsp_client.py's strict framing
client. A replayed case fails on a malformed frame, an unanswered request or an error
response.
"""
from __future__ import annotations

import asyncio
import functools
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lsprotocol import converters, types
from pygls.exceptions import JsonRpcException
from pygls.workspace import Workspace

from asm_lsp.robust_io import Encoded
from asm_lsp.server import AsmLanguageServer, create_server
from asm_lsp.syntax import outline, parse, split_functions, token_at
from asm_lsp.syntax import parser as syntax_parser
from bench.lsp_client import LspClient
from bench.samples import corpus

FIXTURES = Path(__file__).parent / "fixtures"
FUZZ_CASES = int(os.environ.get("FUZZ_CASES", "1000"))
ODD = ["\x00", "\ud800", "\udfff", "\ufffd", "\r", "\r\n", "\u2028", "\x0c", "\U0001F600", "\u00e9", ":", ";",
       "/*", "*/", "//", '"', "#", ",", "[", "]", "{", "}", "\\", "1b", "2f", "1:", ".L1", ".L1:", "bl ", "b.eq ",
       ".globl f", ".type f, %function", ".size f, .-f", ".section .data", ".text", "f:", " = ", ".set s, 1",
       ":lo12:", "adrp x0, ", "\t", " "]




# -- strategies -------------------------------------------------------------------------------
odd_text = st.one_of(st.sampled_from(ODD), st.text(max_size=12),
                     st.lists(st.sampled_from(ODD), max_size=6).map("".join))


@st.composite
def documents(draw: st.DrawFn) -> str:
    texts = corpus()
    lines = texts[draw(st.integers(0, len(texts) - 1))].split("\n")
    for _ in range(draw(st.integers(0, 8))):
        op = draw(st.sampled_from(["del_line", "ins_line", "swap", "ins_char", "del_char", "dup_line"]))
        if not lines:
            lines = [""]
        i = draw(st.integers(0, len(lines) - 1))
        if op == "del_line":
            del lines[i]
        elif op == "ins_line":
            other = texts[draw(st.integers(0, len(texts) - 1))].split("\n")
            lines.insert(i, draw(st.one_of(odd_text, st.sampled_from(other))))
        elif op == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif op == "dup_line":
            lines.insert(i, lines[i])
        else:
            col = draw(st.integers(0, len(lines[i])))
            if op == "ins_char":
                lines[i] = lines[i][:col] + draw(odd_text) + lines[i][col:]
            else:
                lines[i] = lines[i][:col] + lines[i][col + draw(st.integers(1, 5)):]
    ending = draw(st.sampled_from(["\n", "\n", "\r\n", "\r"]))
    return ending.join(lines)


positions = st.tuples(st.integers(0, 2**31 - 1), st.integers(0, 2**31 - 1))


@st.composite
def near_positions(draw: st.DrawFn, line_count: int) -> types.Position:
    if draw(st.integers(0, 9)) == 0:
        line, character = draw(positions)
    else:
        line, character = draw(st.integers(0, line_count + 2)), draw(st.integers(0, 120))
    return types.Position(line=line, character=character)


# -- the server under test --------------------------------------------------------------------
class CheckingWriter:
    """Stands in for stdout: every write must be one well-formed frame."""

    def __init__(self) -> None:
        self.frames = 0
        self.problems: list[str] = []

    def write(self, data: bytes) -> None:
        self.frames += 1
        head, sep, body = data.partition(b"\r\n\r\n")
        length = [h for h in head.split(b"\r\n") if h.lower().startswith(b"content-length:")]
        try:
            assert sep and length and int(length[0].split(b":")[1]) == len(body)
            assert json.loads(body.decode("utf-8"))["jsonrpc"] == "2.0"
        except Exception as exc:  # noqa: BLE001 - any problem is a finding
            self.problems.append(f"bad frame ({exc!r}): {data[:200]!r}")

    def close(self) -> None:
        pass


class ErrorLog(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(self.format(record) + ("\n" + logging.Formatter().formatException(record.exc_info)
                                                   if record.exc_info else ""))


@dataclass
class Harness:
    server: AsmLanguageServer
    writer: CheckingWriter
    errors: ErrorLog
    loop: asyncio.AbstractEventLoop
    counts: dict[str, int] = field(default_factory=lambda: {"cases": 0, "requests": 0, "edits": 0})
    record_every: int = 0  # record every n-th case's messages for replay_over_stdio (0: none)
    recorded: list[list[tuple[str, Any]]] = field(default_factory=list)
    transcript: list[tuple[str, Any]] | None = None  # the current case's (method, params), when recorded

    def handler(self, method: str) -> Any:
        return self.server.protocol.fm.features[method]

    def call(self, method: str, params: Any) -> Any:
        fn = self.handler(method)
        self.counts["requests"] += 1
        if self.transcript is not None:
            self.transcript.append((method, params))
        result = fn(params)
        if asyncio.iscoroutine(result):
            result = self.loop.run_until_complete(result)
        return result


def make_harness() -> Harness:
    server = create_server({"model": {"enabled": False}, "diagnostics": {"debounceMs": 0}})
    server.protocol._workspace = Workspace(None)
    writer = CheckingWriter()
    server.protocol.set_writer(writer)
    server._pull_diagnostics = True  # a VS Code-like client
    errors = ErrorLog()
    logging.getLogger("asm_lsp").addHandler(errors)
    return Harness(server, writer, errors, asyncio.new_event_loop())


@functools.lru_cache(maxsize=1)
def harness() -> Harness:
    return make_harness()


def check_ranges(where: Any, uri: str, line_count: int) -> None:
    """Every Range in a result that points into ``uri`` lies inside it."""
    if isinstance(where, list):
        for item in where:
            check_ranges(item, uri, line_count)
        return
    for attr in ("range", "selection_range"):
        rng = getattr(where, attr, None)
        if isinstance(rng, types.Range) and getattr(where, "uri", uri) == uri:
            assert 0 <= rng.start.line <= rng.end.line < line_count, (where, line_count)
    if isinstance(where, types.FoldingRange):
        assert 0 <= where.start_line <= where.end_line < line_count, where
    for child in getattr(where, "children", None) or []:
        check_ranges(child, uri, line_count)
    location = getattr(where, "location", None)
    if isinstance(location, types.Location):
        check_ranges(location, uri, line_count)


def refusable(h: Harness, method: str, params: Any) -> Any:
    """A rename request: a refusal (RequestFailed with a message) is a fine answer. Not
    recorded for the stdio replay, which counts every error response as a failure."""
    transcript, h.transcript = h.transcript, None
    try:
        return h.call(method, params)
    except JsonRpcException as exc:
        assert exc.code == types.LSPErrorCodes.RequestFailed.value and exc.message, exc
        return None
    finally:
        h.transcript = transcript


def check_semantic_tokens(result: Any, line_count: int) -> None:
    """Whole-document tokens decode to lines inside the document."""
    if isinstance(result, Encoded):
        data = json.loads(result.text).get("data")
    else:
        data = result.data if result is not None else None
    line = 0
    for i in range(0, len(data or ()), 5):
        line += data[i]
        assert 0 <= line < line_count and data[i + 2] > 0, (i, data[i : i + 5])


def run_case(h: Harness, data: st.DataObject) -> None:
    """One document: open it, edit it, ask everything, close it."""
    text = data.draw(documents(), label="document")
    uri = f"file:///fuzz/doc{h.counts['cases'] % 7}.s"
    h.transcript = [] if h.record_every and h.counts["cases"] % h.record_every == 0 else None
    h.counts["cases"] += 1
    doc_id = types.TextDocumentIdentifier(uri=uri)
    h.server.workspace.put_text_document(types.TextDocumentItem(uri=uri, language_id="asm", version=1, text=text))
    h.call(types.TEXT_DOCUMENT_DID_OPEN, types.DidOpenTextDocumentParams(
        text_document=types.TextDocumentItem(uri=uri, language_id="asm", version=1, text=text)))
    version = 1
    for _ in range(data.draw(st.integers(1, 3), label="rounds")):
        for _ in range(data.draw(st.integers(0, 3), label="edits")):
            lines = h.server.workspace.get_text_document(uri).source.split("\n")
            start = data.draw(near_positions(len(lines)), label="edit start")
            end = data.draw(near_positions(len(lines)), label="edit end")
            if (end.line, end.character) < (start.line, start.character):
                start, end = end, start
            version += 1
            change = types.TextDocumentContentChangePartial(
                range=types.Range(start=start, end=end), text=data.draw(odd_text, label="edit text"))
            versioned = types.VersionedTextDocumentIdentifier(uri=uri, version=version)
            h.server.workspace.update_text_document(versioned, change)
            h.call(types.TEXT_DOCUMENT_DID_CHANGE, types.DidChangeTextDocumentParams(
                text_document=versioned, content_changes=[change]))
            h.counts["edits"] += 1
        line_count = len(h.server.document(uri).lines)
        check_ranges(h.call(types.TEXT_DOCUMENT_DOCUMENT_SYMBOL, types.DocumentSymbolParams(text_document=doc_id)),
                     uri, line_count)
        check_ranges(h.call(types.TEXT_DOCUMENT_FOLDING_RANGE, types.FoldingRangeParams(text_document=doc_id)),
                     uri, line_count)
        query = data.draw(st.one_of(st.just(""), odd_text), label="query")
        check_ranges(h.call(types.WORKSPACE_SYMBOL, types.WorkspaceSymbolParams(query=query)), uri, line_count)
        report = h.call(types.TEXT_DOCUMENT_DIAGNOSTIC, types.DocumentDiagnosticParams(text_document=doc_id))
        check_ranges(report.items if report else [], uri, line_count)
        check_semantic_tokens(h.call(types.TEXT_DOCUMENT_SEMANTIC_TOKENS_FULL,
                                     types.SemanticTokensParams(text_document=doc_id)), line_count)
        h.call(types.TEXT_DOCUMENT_SEMANTIC_TOKENS_FULL_DELTA, types.SemanticTokensDeltaParams(
            text_document=doc_id, previous_result_id=data.draw(st.sampled_from(["1", "x", ""]), label="result id")))
        h.call(types.TEXT_DOCUMENT_SEMANTIC_TOKENS_RANGE, types.SemanticTokensRangeParams(
            text_document=doc_id, range=types.Range(start=data.draw(near_positions(line_count), label="range start"),
                                                    end=data.draw(near_positions(line_count), label="range end"))))
        for _ in range(data.draw(st.integers(1, 4), label="positions")):
            pos = data.draw(near_positions(line_count), label="position")
            check_ranges(h.call(types.TEXT_DOCUMENT_HOVER, types.HoverParams(text_document=doc_id, position=pos)),
                         uri, line_count)
            check_ranges(h.call(types.TEXT_DOCUMENT_DEFINITION, types.DefinitionParams(
                text_document=doc_id, position=pos)), uri, line_count)
            check_ranges(h.call(types.TEXT_DOCUMENT_REFERENCES, types.ReferenceParams(
                text_document=doc_id, position=pos, context=types.ReferenceContext(include_declaration=True))),
                uri, line_count)
            h.call(types.TEXT_DOCUMENT_COMPLETION, types.CompletionParams(text_document=doc_id, position=pos))
            h.call(types.TEXT_DOCUMENT_SIGNATURE_HELP, types.SignatureHelpParams(text_document=doc_id, position=pos))
            check_ranges(refusable(h, types.TEXT_DOCUMENT_PREPARE_RENAME, types.PrepareRenameParams(
                text_document=doc_id, position=pos)), uri, line_count)
            refusable(h, types.TEXT_DOCUMENT_RENAME, types.RenameParams(
                text_document=doc_id, position=pos,
                new_name=data.draw(st.one_of(st.sampled_from(["g", ".Lx", "7", "x0", ""]), odd_text), label="name")))
            h.call(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionParams(
                text_document=doc_id, position=pos,
                context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Automatic)))
    if data.draw(st.booleans(), label="close"):
        h.call(types.TEXT_DOCUMENT_DID_CLOSE, types.DidCloseTextDocumentParams(text_document=doc_id))
        h.server.workspace.remove_text_document(uri)
    if h.transcript is not None:
        h.recorded.append(h.transcript)
        h.transcript = None
    assert h.errors.records == [], h.errors.records[0]
    assert h.writer.problems == [], h.writer.problems[0]


NOTIFICATIONS = {types.TEXT_DOCUMENT_DID_OPEN, types.TEXT_DOCUMENT_DID_CHANGE, types.TEXT_DOCUMENT_DID_CLOSE}


def replay_over_stdio(cases: list[list[tuple[str, Any]]], timeout: float = 60.0) -> dict[str, Any]:
    """Send recorded cases through the real server (``--stdio --no-model``, the harness's
    settings, a client that pulls diagnostics); every frame it writes is checked."""
    convert = converters.get_converter()
    client = LspClient()
    problems: list[str] = []
    requests = 0
    try:
        client.initialize(options={"diagnostics": {"debounceMs": 0}}, capabilities={"textDocument": {"diagnostic": {}}})
        for case in cases:
            ids = []
            for method, params in case:
                if method in NOTIFICATIONS:
                    client.notify(method, convert.unstructure(params))
                else:
                    ids.append((method, client.send_request(method, convert.unstructure(params))))
            requests += len(ids)
            for method, request_id in ids:
                try:
                    reply = client.response(request_id, timeout)
                except TimeoutError:
                    problems.append(f"{method}: no answer in {timeout} s")
                    continue
                if "error" in reply:
                    problems.append(f"{method}: {str(reply['error'])[:300]}")
    finally:
        exit_code = client.close(30)
    return {"cases": len(cases), "messages_sent": sum(len(c) for c in cases), "requests": requests,
            "frames_checked": len(client.messages) + len(client.framing_errors), "bytes_read": client.bytes_read,
            "framing_errors": client.framing_errors[:10], "problems": problems[:10], "exit_code": exit_code}


def run_syntax_case(text: str, line: int, col: int) -> None:
    doc = parse(text)
    quick = outline(text)
    for d in (doc, quick):
        d.function_at(line), d.label_at(line, col), d.ref_at(line, col), d.statements_on(line)
        d.definitions("f")
    token_at(doc.lines[line % len(doc.lines)], col)
    split_functions(text)


SETTINGS = settings(max_examples=FUZZ_CASES, deadline=None, database=None, derandomize=True,
                    suppress_health_check=list(HealthCheck))


@SETTINGS
@given(st.data())
def test_fuzz_handlers(data: st.DataObject):
    run_case(harness(), data)


@settings(max_examples=max(FUZZ_CASES // 2, 10), deadline=None, database=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@given(documents(), st.integers(0, 400), st.integers(0, 200))
def test_fuzz_syntax(text: str, line: int, col: int):
    strict, syntax_parser.STRICT = syntax_parser.STRICT, True  # internal errors raise instead of degrading
    h = harness()
    try:
        run_syntax_case(text, line, col)
    finally:
        syntax_parser.STRICT = strict
    assert h.errors.records == [], h.errors.records[0]


def test_fuzz_sample_over_stdio():
    """30 fuzz cases (their own harness, derandomized) replayed through the real server."""
    h = make_harness()
    h.record_every = 1

    @settings(max_examples=30, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(st.data())
    def record(data: st.DataObject) -> None:
        run_case(h, data)

    record()
    report = replay_over_stdio(h.recorded)
    assert report["cases"] >= 30 and report["frames_checked"] >= report["requests"] > 100
    assert (report["framing_errors"], report["problems"], report["exit_code"]) == ([], [], 0)
