"""A forgiving JSON-RPC transport: bad bytes from the client never desync or silence the server.

pygls reads ``Content-Length: N\\r\\n`` only when it fills a whole header line, drops a
message whose body is not UTF-8 JSON without answering, answers nothing when a
request's params do not fit the method's type, and ignores requests after
``shutdown``. Here:

- ``TolerantReader`` finds a ``Content-Length`` header at the *end* of a line (case-
  insensitive, LF or CRLF), so junk before a frame (garbage, a body whose length was
  wrong) costs that junk only, not every later message; body bytes that are not UTF-8
  are replaced with U+FFFD instead of failing the whole message; header lines are read
  in 1 MiB pieces and bodies over 512 MiB are refused, so junk cannot exhaust memory.
- ``RobustProtocol`` answers what it cannot use: invalid JSON -> ParseError (id null),
  a non-object or a message without ``jsonrpc``/``method`` -> InvalidRequest, params of
  the wrong shape -> InvalidParams with the request's id, any request after
  ``shutdown`` -> InvalidRequest.

It also applies ``didChange`` edits to big documents without pygls's whole-text rebuild
(``textsync.py``): the same text comes out, in tens of milliseconds instead of ~0.5 s
per keystroke on a 50 MB file; and a handler may answer with :class:`Encoded` JSON made
on a worker thread, which is sent as it is (85,000 document symbols take ~1 s to turn
into JSON: not on the event loop).
"""
from __future__ import annotations

import asyncio
import inspect
import json
import logging
import re
from typing import Any, BinaryIO
from urllib.parse import unquote

from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams, JsonRpcInvalidRequest, JsonRpcParseError
from pygls.protocol import LanguageServerProtocol
from pygls.protocol.language_server import lsp_method

from asm_lsp import textsync

log = logging.getLogger(__name__)

#: Header lines are read in pieces of at most this size: a flood of junk without a newline
#: cannot fill memory (a Content-Length header cut at a piece boundary is lost with the junk).
MAX_LINE_BYTES = 1 << 20
#: Larger bodies are refused (answered with InvalidRequest) instead of allocated; their bytes
#: are then skipped as junk until the next header.
MAX_BODY_BYTES = 512 << 20

_CONTENT_LENGTH = re.compile(rb"content-length:[ \t]*(\d+)[ \t]*\r?\n\Z", re.IGNORECASE)


class TolerantReader:
    """Wraps the binary stdin that pygls reads (``readline``/``read``), normalising headers."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream

    def readline(self) -> bytes:
        line = self.stream.readline(MAX_LINE_BYTES)
        if not line:
            return line
        if line in (b"\r\n", b"\n"):
            return b"\r\n"
        m = _CONTENT_LENGTH.search(line)
        if m is not None:
            if m.start() > 0:
                log.warning("skipped %d bytes of junk before a header", m.start())
            return b"Content-Length: %d\r\n" % int(m.group(1))
        return b"X-Ignored: \r\n" if line.endswith(b"\n") else line  # other headers, junk

    def read(self, n: int) -> bytes:
        if n > MAX_BODY_BYTES:
            log.error("refusing a %d-byte message (limit %d bytes)", n, MAX_BODY_BYTES)
            return b'{"refused": "message too large"}'
        body = self.stream.read(n)
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            log.warning("message body is not UTF-8; bad bytes replaced with U+FFFD")
            body = body.decode("utf-8", "replace").encode("utf-8")
        return body


class Encoded:
    """A request's result already encoded as JSON text (ASCII), made off the event loop."""

    def __init__(self, text: str) -> None:
        self.text = text


class _Unusable:
    """Stands for a message that was already answered with an error."""

    jsonrpc = "unusable"


class RobustProtocol(LanguageServerProtocol):
    def structure_message(self, data: dict[str, Any]) -> Any:
        try:
            return super().structure_message(data)
        except Exception as exc:
            if "method" in data and "id" in data and _valid_id(data["id"]):
                error = JsonRpcInvalidParams(f"invalid params for {data.get('method')!r}: {exc.__cause__ or exc}")
                self.send_error(data["id"], error)
            return _Unusable()

    def handle_message(self, message: Any) -> None:
        if isinstance(message, _Unusable):
            return
        if not hasattr(message, "jsonrpc"):  # JSON that is no JSON-RPC object: [], 42, {"x": 1}
            msg_id = message.get("id") if isinstance(message, dict) and _valid_id(message.get("id")) else None
            self.send_error(msg_id, JsonRpcInvalidRequest("not a JSON-RPC 2.0 message"))
            return
        method = getattr(message, "method", None)
        if self._shutdown and method is not None and method != types.EXIT and hasattr(message, "id"):
            error = JsonRpcInvalidRequest(f"{method}: the server is shut down; only 'exit' is accepted")
            self.send_error(message.id, error)
            return
        super().handle_message(message)

    @lsp_method(types.TEXT_DOCUMENT_DID_CHANGE)
    def lsp_text_document__did_change(self, params: types.DidChangeTextDocumentParams) -> Any:
        """pygls's handler, with big documents' incremental edits spliced in place."""
        for change in params.content_changes:
            document = self.workspace.text_documents.get(unquote(params.text_document.uri))
            if (document is not None and getattr(document, "_is_sync_kind_incremental", False)
                    and isinstance(change, types.TextDocumentContentChangePartial)
                    and textsync.apply_change(document, change)):
                document.version = params.text_document.version
            else:
                self.workspace.update_text_document(params.text_document, change)
        if (user_handler := self.fm.features.get(types.TEXT_DOCUMENT_DID_CHANGE)) is not None:
            yield user_handler, (params,), None

    def _send_data(self, data: Any) -> None:
        result = getattr(data, "result", None)
        if not isinstance(result, Encoded) or self.writer is None:
            super()._send_data(data)
            return
        body = '{"id": %s, "jsonrpc": "2.0", "result": %s}' % (json.dumps(data.id), result.text)
        if self._include_headers:  # as pygls's _send_data
            body = f"Content-Length: {len(body)}\r\nContent-Type: {self.CONTENT_TYPE}; charset={self.CHARSET}\r\n\r\n" + body
        try:
            written = self.writer.write(body.encode(self.CHARSET))
            if inspect.isawaitable(written):
                asyncio.ensure_future(written)
        except BrokenPipeError:
            log.exception("Error sending data. BrokenPipeError")
            raise

    def parse_error(self, exc: Exception) -> None:
        """Answer a body that is not JSON (the id cannot be known: null)."""
        self.send_error(None, JsonRpcParseError(f"invalid JSON: {str(exc)[:200]}"))

    def send_error(self, msg_id: int | str | None, error: Exception) -> None:
        """An error response; unlike pygls's, it keeps ``"id": null`` as JSON-RPC requires."""
        self._send_data({"jsonrpc": "2.0", "id": msg_id,
                         "error": {"code": getattr(error, "code", -32603), "message": str(error)}})


def _valid_id(value: Any) -> bool:
    return isinstance(value, (int, str)) and not isinstance(value, bool)
