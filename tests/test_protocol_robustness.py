"""The JSON-RPC channel survives broken framing, bad JSON and lifecycle misuse.

Test data: tests/fixtures/workspace/util.s, opened from memory. Every case drives the
real server over stdio (bench/lsp_client.py), then checks that a hover still answers
correctly and that every byte the server wrote was a well-formed frame.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.lsp_client import LspClient, frame

UTIL = Path(__file__).parent / "fixtures" / "workspace" / "util.s"
URI = "file:///virtual/util.s"
MOV = (6, 2)  # `mov` on line 7 of util.s


def hover_body(request_id: int) -> bytes:
    return json.dumps({"jsonrpc": "2.0", "id": request_id, "method": "textDocument/hover", "params": {
        "textDocument": {"uri": URI}, "position": {"line": MOV[0], "character": MOV[1]}}}).encode()


def assert_healthy(client: LspClient) -> None:
    reply = client.hover(URI, *MOV)
    assert "MOV" in reply["result"]["contents"]["value"].upper(), reply
    assert client.alive()
    assert client.framing_errors == []


@pytest.fixture(scope="module")
def client() -> Iterator[LspClient]:
    c = LspClient()
    c.initialize()
    c.open(URI, UTIL.read_text())
    assert_healthy(c)
    yield c
    assert c.close() == 0
    assert c.framing_errors == []


def errors_with(client: LspClient, code: int) -> list[dict]:
    return [m for m in client.messages if m.get("error", {}).get("code") == code]


@pytest.mark.parametrize("junk", [
    b"\x00\xff\xfe garbage without a newline ",
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR binary garbage\r\n\r\n",
    bytes(range(256)),
    b"\r\n\r\n\r\n",
    b"Content-Type: application/json\r\n\r\n{}",  # a frame with no Content-Length
    b"Content-Length: -5\r\n\r\n{\"jsonrpc\": \"2.0\"}",  # a negative length
    b"Content-Length: abc\r\n\r\n{}",
    b"content-length:   2\n\n{}",  # lower case, LF only, extra spaces: read, then ignored
])
def test_junk_between_frames(client: LspClient, junk: bytes):
    client.send_raw(junk)
    assert_healthy(client)


def test_huge_content_length_is_refused(client: LspClient):
    before = len(errors_with(client, -32600))
    client.send_raw(b"Content-Length: 99999999999999\r\n\r\n" + hover_body(client.new_id()))
    client.wait_for(lambda m: len(errors_with(client, -32600)) > before)
    assert_healthy(client)


def test_megabytes_of_junk_without_a_newline(client: LspClient):
    client.send_raw(b"\xff" * 5_000_000 + b"\r\n")
    assert_healthy(client)


def test_length_too_short(client: LspClient):
    body = hover_body(client.new_id())
    client.send_raw(b"Content-Length: %d\r\n\r\n" % (len(body) - 10) + body)
    assert_healthy(client)


def test_length_too_long(client: LspClient):
    """The body swallows the start of the next frame; the frame after that is answered."""
    body = hover_body(client.new_id())
    client.send_raw(b"Content-Length: %d\r\n\r\n" % (len(body) + 40) + body)
    client.send_raw(frame(hover_body(client.new_id())))  # partly eaten
    assert_healthy(client)


def test_invalid_json_gets_parse_error(client: LspClient):
    before = len(errors_with(client, -32700))
    client.send_raw(frame(b'{"jsonrpc": "2.0", "id": 5, "method": '))
    client.wait_for(lambda m: len(errors_with(client, -32700)) > before)
    assert errors_with(client, -32700)[-1]["id"] is None
    assert_healthy(client)


def test_deeply_nested_json(client: LspClient):
    client.send_raw(frame(b"[" * 100_000 + b"]" * 100_000))
    assert_healthy(client)


@pytest.mark.parametrize("body", [b"[]", b"42", b'"text"', b"null", b'{"id": 7}', b'[{"jsonrpc": "2.0"}]'])
def test_json_that_is_no_message_gets_invalid_request(client: LspClient, body: bytes):
    before = len(errors_with(client, -32600))
    client.send_raw(frame(body))
    client.wait_for(lambda m: len(errors_with(client, -32600)) > before)
    assert_healthy(client)


def test_non_utf8_bytes_in_a_request(client: LspClient):
    request_id = client.new_id()
    body = hover_body(request_id).replace(b"virtual/util.s", b"virtual/\xff\xfe\xc3(.s")
    client.send_raw(frame(body))
    assert client.response(request_id)["result"] is None  # a document that is not open
    assert_healthy(client)


def test_non_utf8_bytes_in_a_document(client: LspClient):
    uri = "file:///virtual/bad_bytes.s"
    body = json.dumps({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": {
        "uri": uri, "languageId": "asm", "version": 1, "text": "f:\n\tmov x0, XX\n\tret\n"}}}).encode()
    client.send_raw(frame(body.replace(b"XX", b"\xff\x80\xc0")))
    reply = client.exchange("textDocument/documentSymbol", {"textDocument": {"uri": uri}})
    assert [s["name"] for s in reply["result"]] == ["f"]
    assert "MOV" in client.hover(uri, 1, 2)["result"]["contents"]["value"].upper()
    assert_healthy(client)


def test_unknown_request_gets_method_not_found(client: LspClient):
    for method in ("asm/noSuchThing", "$/noSuchThing", "textDocument/noSuchThing"):
        assert client.exchange(method, {"x": 1})["error"]["code"] == -32601
    assert_healthy(client)


def test_unknown_notification_is_ignored(client: LspClient):
    before = len(client.messages)
    client.notify("asm/noSuchThing", {"x": 1})
    client.notify("$/noSuchThing", None)
    assert_healthy(client)
    assert [m for m in client.messages[before:] if m.get("id") is None] == []


@pytest.mark.parametrize("params", [
    {"textDocument": {"uri": URI}, "position": "line 3"},
    {"textDocument": {"uri": URI}, "position": {"line": "3", "character": None}},
    {"textDocument": 5, "position": {"line": 3, "character": 1}},
    {"position": {"line": 3, "character": 1}},
    [1, 2, 3],
    "params",
])
def test_wrong_param_types_get_invalid_params(client: LspClient, params):
    reply = client.exchange("textDocument/hover", params)
    assert reply["error"]["code"] == -32602, reply
    assert_healthy(client)


@pytest.mark.parametrize("method", ["textDocument/didOpen", "textDocument/didChange", "textDocument/didClose",
                                    "workspace/didChangeConfiguration", "$/cancelRequest"])
def test_wrong_param_types_in_notifications(client: LspClient, method: str):
    client.notify(method, {"textDocument": 42, "contentChanges": "x", "settings": [], "id": {"a": 1}})
    client.notify(method, None)
    assert_healthy(client)


@pytest.mark.parametrize("request_id", ["string-id", 2**53, 0, -1])
def test_unusual_request_ids(client: LspClient, request_id):
    client.send({"id": request_id, "method": "textDocument/hover", "params": {
        "textDocument": {"uri": URI}, "position": {"line": MOV[0], "character": MOV[1]}}})
    assert "result" in client.response(request_id)
    assert_healthy(client)


def test_requests_before_initialize():
    c = LspClient()
    try:
        for method, params in [
            ("textDocument/hover", {"textDocument": {"uri": URI}, "position": {"line": 0, "character": 0}}),
            ("textDocument/documentSymbol", {"textDocument": {"uri": URI}}),
            ("workspace/symbol", {"query": "a"}),
        ]:
            reply = c.exchange(method, params)
            assert reply.get("result") in (None, []) or reply["error"]["code"] in (-32002, -32603), reply
        c.open(URI, UTIL.read_text())  # before initialize too
        c.initialize()
        c.open(URI, UTIL.read_text())
        assert_healthy(c)
    finally:
        assert c.close() == 0
    assert c.framing_errors == []


def test_requests_after_shutdown_get_invalid_request():
    c = LspClient()
    c.initialize()
    assert c.exchange("shutdown")["result"] is None
    reply = c.hover(URI, 0, 0)
    assert reply["error"]["code"] == -32600
    assert c.exchange("shutdown")["error"]["code"] == -32600
    c.notify("textDocument/didOpen", {"textDocument": {"uri": URI, "languageId": "asm", "version": 1, "text": ""}})
    c.notify("exit")
    assert c.proc.wait(10) == 0
    assert c.framing_errors == []


def test_exit_without_shutdown_exits_with_1():
    """LSP asks for exit code 1 when `exit` comes without `shutdown`."""
    c = LspClient()
    c.initialize()
    c.notify("exit")
    assert c.proc.wait(10) == 1
    assert c.framing_errors == []


def test_closed_stdin_ends_the_server():
    c = LspClient()
    c.initialize()
    assert c.proc.stdin is not None
    c.proc.stdin.close()
    c.proc.wait(10)
    assert c.framing_errors == []
