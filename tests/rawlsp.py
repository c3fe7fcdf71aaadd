"""A raw LSP client for robustness tests: sends arbitrary bytes, checks every byte read back.

The server under test is the real one (``python -m asm_lsp --stdio --no-model``). The
reader thread insists that stdout carries nothing but well-formed frames: header lines
``Name: value\\r\\n`` including ``Content-Length``, a blank line, then exactly that many
bytes of a JSON object with ``"jsonrpc": "2.0"``. Anything else lands in
``framing_errors`` and the test that owns the client fails on it.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
SERVER_ENV = {**os.environ, "PYTHONPATH": str(ROOT / "server") + os.pathsep + os.environ.get("PYTHONPATH", "")}
_HEADER = re.compile(rb"([A-Za-z][A-Za-z-]*): ([^\r\n]*)\r\n")


def server_argv(*extra: str) -> list[str]:
    return [sys.executable, "-m", "asm_lsp", "--stdio", "--no-model", *extra]


def frame(body: bytes) -> bytes:
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


class RawClient:
    """Drive the server with raw bytes. ``request`` returns the whole response message."""

    def __init__(self, argv: list[str] | None = None, cwd: Path | None = None,
                 stderr_path: Path | None = None, answer_server_requests: bool = True) -> None:
        self._stderr = open(stderr_path, "wb") if stderr_path else subprocess.DEVNULL
        self.proc = subprocess.Popen(argv or server_argv(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self._stderr, env=SERVER_ENV, cwd=cwd)
        self.messages: list[dict[str, Any]] = []
        self.framing_errors: list[str] = []
        self.bytes_read = 0
        self._cond = threading.Condition()
        self._next_id = 1000
        self._write_lock = threading.Lock()
        self._answer = answer_server_requests
        self._reader = threading.Thread(target=self._read_loop, daemon=True)
        self._reader.start()

    # -- reading: strict framing ---------------------------------------------------------
    def _read_loop(self) -> None:
        out = self.proc.stdout
        assert out is not None
        while True:
            headers: dict[bytes, bytes] = {}
            while True:
                line = out.readline()
                if not line:
                    self._closed()
                    return
                self.bytes_read += len(line)
                if line == b"\r\n":
                    break
                m = _HEADER.fullmatch(line)
                if m is None:
                    self._error(f"bad header line {line[:200]!r}")
                    continue
                headers[m.group(1).lower()] = m.group(2)
            length = headers.get(b"content-length")
            if length is None or not length.isdigit():
                self._error(f"frame without a valid Content-Length: {headers!r}")
                continue
            body = out.read(int(length))
            self.bytes_read += len(body)
            if len(body) != int(length):
                self._error(f"short body: {len(body)} of {int(length)} bytes")
                self._closed()
                return
            try:
                message = json.loads(body.decode("utf-8"))
            except ValueError as exc:
                self._error(f"body is not UTF-8 JSON ({exc}): {body[:200]!r}")
                continue
            if not isinstance(message, dict) or message.get("jsonrpc") != "2.0":
                self._error(f"not a JSON-RPC 2.0 message: {body[:200]!r}")
                continue
            if self._answer and "method" in message and "id" in message:
                self.send({"id": message["id"], "result": None})
            with self._cond:
                self.messages.append(message)
                self._cond.notify_all()

    def _error(self, what: str) -> None:
        with self._cond:
            self.framing_errors.append(what)
            self._cond.notify_all()

    def _closed(self) -> None:
        with self._cond:
            self._cond.notify_all()

    # -- writing -------------------------------------------------------------------------
    def send_raw(self, data: bytes) -> None:
        with self._write_lock:
            assert self.proc.stdin is not None
            self.proc.stdin.write(data)
            self.proc.stdin.flush()

    def send(self, message: dict[str, Any]) -> None:
        self.send_raw(frame(json.dumps({"jsonrpc": "2.0", **message}).encode()))

    def notify(self, method: str, params: Any = None) -> None:
        self.send({"method": method, "params": params})

    def new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def send_request(self, method: str, params: Any = None) -> int:
        request_id = self.new_id()
        self.send({"id": request_id, "method": method, "params": params})
        return request_id

    def wait_for(self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 10.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for message in self.messages:
                    if predicate(message):
                        return message
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and not self._reader.is_alive()):
                    raise TimeoutError(f"no matching message in {timeout} s (server rc={self.proc.poll()})")
                self._cond.wait(min(left, 0.5))

    def response(self, request_id: Any, timeout: float = 10.0) -> dict[str, Any]:
        return self.wait_for(lambda m: m.get("id") == request_id and "method" not in m, timeout)

    def request(self, method: str, params: Any = None, timeout: float = 10.0) -> dict[str, Any]:
        return self.response(self.send_request(method, params), timeout)

    # -- session helpers -----------------------------------------------------------------
    def initialize(self, root: Path | None = None, capabilities: dict[str, Any] | None = None,
                   options: dict[str, Any] | None = None) -> dict[str, Any]:
        params: dict[str, Any] = {"processId": None, "capabilities": capabilities or {},
                                  "initializationOptions": options or {}}
        if root is not None:
            params["rootUri"] = root.as_uri()
            params["workspaceFolders"] = [{"uri": root.as_uri(), "name": root.name}]
        reply = self.request("initialize", params, timeout=30)
        self.notify("initialized", {})
        return reply

    def open(self, uri: str, text: str, version: int = 1) -> None:
        self.notify("textDocument/didOpen", {"textDocument": {
            "uri": uri, "languageId": "asm", "version": version, "text": text}})

    def hover(self, uri: str, line: int, character: int, timeout: float = 10.0) -> dict[str, Any]:
        return self.request("textDocument/hover", {"textDocument": {"uri": uri},
                                                   "position": {"line": line, "character": character}}, timeout)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def close(self, timeout: float = 10.0) -> int | None:
        if self.proc.poll() is None:
            try:
                self.request("shutdown", None, timeout)
                self.notify("exit")
            except (TimeoutError, OSError):
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self._stderr is not subprocess.DEVNULL:
            self._stderr.close()
        return self.proc.returncode


def rss_mb(pid: int) -> float:
    """Resident set size of ``pid`` in MiB (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0
