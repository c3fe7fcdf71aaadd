"""Bad documents, bad positions and bad edits never crash the server or go unanswered.

Test data: tests/fixtures/workspace/util.s (opened from memory) and documents built here
(NUL bytes, lone surrogates, U+FFFD, mixed line ends, astral characters). Every request
kind is asked at awkward positions over the real server (bench/lsp_client.py); each must get
a result (``null``/``[]`` allowed) or a JSON-RPC error, never silence, and a hover must
still work afterwards. The raw client checks every byte on stdout is a valid frame.
"""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.lsp_client import LspClient, server_argv

UTIL = Path(__file__).parent / "fixtures" / "workspace" / "util.s"
URI = "file:///virtual/util.s"
MOV = (6, 2)

DOCUMENTS = {
    "nul": "f:\n\tmov x0,\x00 x1\x00\n\x00\x00\n\tb f\x00\n",
    "lone_surrogates": "f\ud800:\n\tmov x0, x1 // \udfff\n\tb f\ud83d\n\t\udc00\n",
    "replacement_char": "\ufffd:\n\tmov \ufffdx0, x1\n\tb \ufffd\n.L\ufffd1:\n\tbl \ufffd\n",
    "mixed_line_ends": "f:\r\n\tmov x0, x1\r\tadd x0, x0, 1\n\tb f\r\n\r\r\n\n\tret",
    "astral": "\U0001F600f:\n\tmov x0, x1 // \U0001F600\U0001F600\n\tb \U0001F600f\n",
    "separators": "f:\u2028\tmov x0, x1\u2029\x0c\x0b\x1c\x85\n\tb f\n",
    "empty": "",
    "only_newlines": "\n" * 50,
    "unterminated": '/* open comment\n\tmov x0, "unterminated string\n\t.ascii "\\',
    "control_chars": "".join(chr(c) for c in range(32)) + "\n\tret\n",
}

POSITIONS = [(0, 0), (0, 10_000), (2, 1), (10_000, 0), (2**31 - 1, 2**31 - 1), (1, 3), (-1, 0), (0, -1), (-5, -5)]


def position_requests(uri: str, line: int, character: int) -> list[tuple[str, dict]]:
    where = {"textDocument": {"uri": uri}, "position": {"line": line, "character": character}}
    return [
        ("textDocument/hover", where),
        ("textDocument/definition", where),
        ("textDocument/references", {**where, "context": {"includeDeclaration": True}}),
        ("textDocument/completion", where),
        ("textDocument/inlineCompletion", {**where, "context": {"triggerKind": 1}}),
    ]


def document_requests(uri: str) -> list[tuple[str, dict]]:
    doc = {"textDocument": {"uri": uri}}
    return [
        ("textDocument/documentSymbol", doc),
        ("textDocument/foldingRange", doc),
        ("textDocument/diagnostic", doc),
        ("workspace/symbol", {"query": ""}),
        ("workspace/symbol", {"query": "\ud800\x00"}),
    ]


def assert_answered(reply: dict) -> None:
    assert "result" in reply or ("error" in reply and isinstance(reply["error"]["code"], int)), reply


def assert_healthy(client: LspClient) -> None:
    reply = client.hover(URI, *MOV)
    assert "MOV" in reply["result"]["contents"]["value"].upper(), reply
    assert client.alive()
    assert client.framing_errors == []


def ask_everything(client: LspClient, uri: str) -> list[dict]:
    """Send every request for ``uri`` at once (pipelined), then collect the answers."""
    ids = [client.send_request(m, p) for m, p in document_requests(uri)]
    for line, character in POSITIONS:
        ids += [client.send_request(m, p) for m, p in position_requests(uri, line, character)]
    return [client.response(i, timeout=30) for i in ids]


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LspClient]:
    root = tmp_path_factory.mktemp("bad_input")
    (root / "on_disk.s").write_text(UTIL.read_text())
    c = LspClient(argv=server_argv("-v"), stderr_log=root / "server.log")
    c.initialize(root, options={"diagnostics": {"debounceMs": 0}},
                 capabilities={"textDocument": {"diagnostic": {"dynamicRegistration": False}}})
    c.root = root  # type: ignore[attr-defined]
    c.open(URI, UTIL.read_text())
    assert_healthy(c)
    yield c
    assert c.close() == 0
    assert c.framing_errors == []
    log = (root / "server.log").read_text(errors="replace")
    swallowed = [line for line in log.splitlines() if " ERROR asm_lsp" in line]  # `guarded` caught something
    assert swallowed == [], log[log.find(swallowed[0]):][:3000] if swallowed else ""


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_strange_documents(client: LspClient, name: str):
    uri = f"file:///virtual/{name}.s"
    client.open(uri, DOCUMENTS[name])
    for reply in ask_everything(client, uri):
        assert_answered(reply)
    # Positions inside the text must give results, not errors.
    for line, character in POSITIONS[:6]:
        for method, params in position_requests(uri, line, character):
            assert "result" in client.exchange(method, params), (method, line, character)
    assert_healthy(client)


def test_symbols_survive_strange_characters(client: LspClient):
    uri = "file:///virtual/symbols.s"
    client.open(uri, DOCUMENTS["replacement_char"] + DOCUMENTS["astral"])
    names = [s["name"] for s in client.exchange("textDocument/documentSymbol", {"textDocument": {"uri": uri}})["result"]]
    assert "\U0001F600f" not in names or names  # whatever the parser makes of it, the answer arrives
    reply = client.exchange("textDocument/definition", {"textDocument": {"uri": uri},
                                                       "position": {"line": 2, "character": 4}})
    assert "result" in reply
    assert_healthy(client)


def test_documents_never_opened(client: LspClient):
    on_disk = (client.root / "on_disk.s").as_uri()  # type: ignore[attr-defined]
    for uri in (on_disk, "file:///no/such/file.s", "untitled:Untitled-1", "not a uri", ""):
        for reply in ask_everything(client, uri):
            assert_answered(reply)
    assert_healthy(client)


def test_did_change_for_unknown_documents(client: LspClient):
    for uri in ("file:///virtual/never_opened.s", (client.root / "on_disk.s").as_uri()):  # type: ignore[attr-defined]
        client.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": 2}, "contentChanges": [
            {"range": {"start": {"line": 3, "character": 0}, "end": {"line": 3, "character": 0}}, "text": "x:\n"}]})
        client.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": 3},
                                                 "contentChanges": [{"text": "whole:\n\tret\n"}]})
        client.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
        client.notify("textDocument/didSave", {"textDocument": {"uri": uri}})
        for reply in ask_everything(client, uri):
            assert_answered(reply)
    assert_healthy(client)


BAD_RANGES = [
    ((100, 0), (100, 5)),          # past the end of the file
    ((0, 500), (0, 900)),          # past the end of a line
    ((5, 3), (2, 0)),              # end before start
    ((0, 0), (2**31 - 1, 2**31 - 1)),
    ((-1, 0), (0, 0)),             # negative: not a uinteger
    ((0, -3), (0, -1)),
    ((3, 2), (3, 2)),              # fine, but the edit inserts a surrogate pair half
]


def test_incremental_edits_with_bad_ranges(client: LspClient):
    uri = "file:///virtual/edited.s"
    client.open(uri, UTIL.read_text())
    for version, (start, end) in enumerate(BAD_RANGES, 2):
        client.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": version}, "contentChanges": [{
            "range": {"start": {"line": start[0], "character": start[1]}, "end": {"line": end[0], "character": end[1]}},
            "text": "\ud83d" if version == len(BAD_RANGES) + 1 else "\tb sum_array\n"}]})
        for reply in ask_everything(client, uri):
            assert_answered(reply)
    # After all that the document is still usable: a full replacement makes it exact again.
    client.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": 99},
                                             "contentChanges": [{"text": UTIL.read_text()}]})
    reply = client.hover(uri, *MOV)
    assert "MOV" in reply["result"]["contents"]["value"].upper()
    assert_healthy(client)


def test_open_twice_close_twice(client: LspClient):
    uri = "file:///virtual/twice.s"
    client.open(uri, "a:\n\tret\n")
    client.open(uri, "b:\n\tret\n", version=5)
    names = [s["name"] for s in client.exchange("textDocument/documentSymbol", {"textDocument": {"uri": uri}})["result"]]
    assert names == ["b"]
    client.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
    client.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
    assert_healthy(client)


def test_commands_with_bad_arguments(client: LspClient):
    for command, arguments in [("asmLsp.similarFunctions", []), ("asmLsp.similarFunctions", [5, "x", None]),
                               ("asmLsp.modelStatus", [{"a": 1}]), ("asmLsp.noSuchCommand", [])]:
        assert_answered(client.exchange("workspace/executeCommand", {"command": command, "arguments": arguments}))
    assert_healthy(client)
