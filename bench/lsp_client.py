"""One synchronous LSP client over stdio (Content-Length framing), for benchmarks and tests.

A reader thread parses the server's output. Responses resolve the waiting request's future
and are kept in ``messages``; server->client requests are answered (``workspace/configuration``
with ``settings``, everything else with null); notifications are kept too. The callers ask
one question at a time, so a blocking API keeps them free of asyncio.

``strict`` is the one difference between the robustness tests and the benchmarks: strict
(the default) insists that stdout carries nothing but well-formed frames: header lines
``Name: value\\r\\n`` including ``Content-Length``, a blank line, then exactly that many bytes
of a JSON object with ``"jsonrpc": "2.0"``. Anything else lands in ``framing_errors``, and the
test that owns the client fails on it. Lenient (``strict=False``) parses headers loosely and
accepts any JSON object; broken frames still land in ``framing_errors``.

``request`` returns a result and raises ``LspError`` on an error answer; ``exchange`` returns
the whole response message (tests check error codes).
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from concurrent.futures import Future
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
SERVER_ENV = {**os.environ, "PYTHONPATH": str(ROOT / "server") + os.pathsep + os.environ.get("PYTHONPATH", "")}
_HEADER = re.compile(rb"([A-Za-z][A-Za-z-]*): ([^\r\n]*)\r\n")
KEEP_NOTIFICATIONS = 200  # ``notifications`` holds the last ones: a benchmark reads recent progress


class LspError(RuntimeError):
    """The server answered a request with an error object, or went away."""


def server_argv(*extra: str) -> list[str]:
    """This checkout's server without the model (``SERVER_ENV`` puts server/ on its path)."""
    return [sys.executable, "-m", "asm_lsp", "--stdio", "--no-model", *extra]


def frame(body: bytes) -> bytes:
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


class LspClient:
    """Drive a server process; ``argv`` defaults to ``server_argv()`` and ``env`` to ``SERVER_ENV``.
    ``stderr_log``: where the server's stderr goes (appended), else nowhere."""

    def __init__(self, argv: list[str] | None = None, stderr_log: Path | None = None,
                 env: dict[str, str] | None = None, cwd: Path | None = None,
                 settings: dict[str, Any] | None = None, *, strict: bool = True,
                 answer_server_requests: bool = True) -> None:
        self.settings = settings
        self.strict = strict
        self.messages: list[dict[str, Any]] = []
        self.notifications: list[dict[str, Any]] = []
        self.framing_errors: list[str] = []
        self.bytes_read = 0
        self._stderr = open(stderr_log, "ab") if stderr_log else subprocess.DEVNULL
        self.proc = subprocess.Popen(argv or server_argv(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self._stderr, env=SERVER_ENV if env is None else env, cwd=cwd)
        self._answer = answer_server_requests
        self._next_id = 0
        self._pending: dict[int, Future[Any]] = {}
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._cond = threading.Condition()
        self._reader = threading.Thread(target=self._read_loop, name="lsp-reader", daemon=True)
        self._reader.start()

    # -- sending -------------------------------------------------------------------------
    def send_raw(self, data: bytes) -> None:
        with self._write_lock:
            assert self.proc.stdin is not None
            self.proc.stdin.write(data)
            self.proc.stdin.flush()

    def _send(self, message: dict[str, Any]) -> None:
        self.send_raw(frame(json.dumps({"jsonrpc": "2.0", **message}).encode()))

    send = _send

    def notify(self, method: str, params: Any = None) -> None:
        self._send({"method": method, "params": params})

    def new_id(self) -> int:
        with self._lock:
            self._next_id += 1
            return self._next_id

    def send_request(self, method: str, params: Any = None) -> int:
        """Send a request without waiting; ``response(id)`` picks up the answer."""
        request_id = self.new_id()
        self._send({"id": request_id, "method": method, "params": params})
        return request_id

    def request(self, method: str, params: Any = None, timeout: float = 10.0) -> Any:
        """Send a request and wait for its result; on timeout send $/cancelRequest and
        raise TimeoutError. An error response raises LspError."""
        future: Future[Any] = Future()
        with self._lock:
            self._next_id += 1
            request_id = self._next_id
            self._pending[request_id] = future
        try:
            self._send({"id": request_id, "method": method, "params": params})
        except (BrokenPipeError, OSError) as exc:
            self._pending.pop(request_id, None)
            raise LspError(f"server closed its input: {exc}") from exc
        try:
            return future.result(timeout=timeout)
        except TimeoutError:
            self._pending.pop(request_id, None)
            try:
                self.notify("$/cancelRequest", {"id": request_id})
            except OSError:
                pass
            raise

    def exchange(self, method: str, params: Any = None, timeout: float = 10.0) -> dict[str, Any]:
        """Send a request and return the whole response message (result or error)."""
        return self.response(self.send_request(method, params), timeout)

    def timed(self, method: str, params: Any = None, timeout: float = 120.0) -> tuple[dict[str, Any], float]:
        """``exchange``, and the seconds until the answer came."""
        started = time.monotonic()
        reply = self.exchange(method, params, timeout)
        return reply, time.monotonic() - started

    # -- receiving -----------------------------------------------------------------------
    def _read_message(self) -> dict[str, Any] | None:
        """The next message; None at the end of the stream, {} for a frame that is not one."""
        out = self.proc.stdout
        assert out is not None
        headers: dict[bytes, bytes] = {}
        while True:
            line = out.readline()
            if not line:
                return None
            self.bytes_read += len(line)
            if line == b"\r\n" or (not self.strict and not line.strip()):
                break
            if self.strict:
                m = _HEADER.fullmatch(line)
                if m is None:
                    self._error(f"bad header line {line[:200]!r}")
                    continue
                name, value = m.group(1), m.group(2)
            else:
                name, _, value = line.strip().partition(b":")
            headers[name.lower()] = value.strip()
        length = headers.get(b"content-length")
        if length is None or not length.isdigit():
            self._error(f"frame without a valid Content-Length: {headers!r}")
            return {}
        body = out.read(int(length))
        self.bytes_read += len(body)
        if len(body) != int(length):
            self._error(f"short body: {len(body)} of {int(length)} bytes")
            return None
        try:
            message = json.loads(body.decode("utf-8"))
        except ValueError as exc:
            self._error(f"body is not UTF-8 JSON ({exc}): {body[:200]!r}")
            return {}
        if not isinstance(message, dict) or (self.strict and message.get("jsonrpc") != "2.0"):
            self._error(f"not a JSON-RPC 2.0 message: {body[:200]!r}")
            return {}
        return message

    def _read_loop(self) -> None:
        try:
            while (message := self._read_message()) is not None:
                if message:
                    self._dispatch(message)
        except (ValueError, OSError) as exc:
            self._error(f"reader stopped: {exc}")
        with self._lock:
            pending, self._pending = self._pending, {}
        for future in pending.values():
            future.set_exception(LspError(f"server exited (rc={self.proc.poll()})"))
        with self._cond:
            self._cond.notify_all()

    def _dispatch(self, message: dict[str, Any]) -> None:
        if "method" not in message:  # a response
            with self._lock:
                future = self._pending.pop(message.get("id"), None)  # type: ignore[arg-type]
            if future is not None:
                if "error" in message:
                    future.set_exception(LspError(json.dumps(message["error"])[:500]))
                else:
                    future.set_result(message.get("result"))
        elif "id" in message:  # a request from the server
            if self._answer:
                self._send({"id": message["id"], "result": self._answer_to(message)})
        else:
            self.notifications.append(message)
            del self.notifications[:-KEEP_NOTIFICATIONS]
        with self._cond:
            self.messages.append(message)
            self._cond.notify_all()

    def _answer_to(self, message: dict[str, Any]) -> Any:
        if message["method"] != "workspace/configuration" or self.settings is None:
            return None
        items = (message.get("params") or {}).get("items") or []
        return [self.settings if item.get("section") in ("asmLsp", None) else None for item in items]

    def _error(self, what: str) -> None:
        with self._cond:
            self.framing_errors.append(what)
            self._cond.notify_all()

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

    def shown(self) -> list[str]:
        """The texts of the ``window/showMessage`` notifications so far."""
        with self._cond:
            return [m["params"]["message"] for m in self.messages if m.get("method") == "window/showMessage"]

    def wait_shown(self, needle: str, timeout: float) -> list[str]:
        """``shown()`` once a message containing ``needle`` is among them, or at ``timeout``."""
        try:
            self.wait_for(lambda m: m.get("method") == "window/showMessage" and needle in m["params"]["message"],
                          timeout)
        except TimeoutError:
            pass
        return self.shown()

    def response(self, request_id: Any, timeout: float = 10.0) -> dict[str, Any]:
        return self.wait_for(lambda m: m.get("id") == request_id and "method" not in m, timeout)

    # -- session helpers (whole response messages) ---------------------------------------
    def initialize(self, root: Path | None = None, capabilities: dict[str, Any] | None = None,
                   options: dict[str, Any] | None = None) -> dict[str, Any]:
        params: dict[str, Any] = {"processId": None, "capabilities": capabilities or {},
                                  "initializationOptions": options or {}}
        if root is not None:
            params["rootUri"] = root.as_uri()
            params["workspaceFolders"] = [{"uri": root.as_uri(), "name": root.name}]
        reply = self.exchange("initialize", params, timeout=30)
        self.notify("initialized", {})
        return reply

    def open(self, uri: str, text: str, version: int = 1) -> None:
        self.notify("textDocument/didOpen", {"textDocument": {
            "uri": uri, "languageId": "asm", "version": version, "text": text}})

    def hover(self, uri: str, line: int, character: int, timeout: float = 10.0) -> dict[str, Any]:
        return self.exchange("textDocument/hover", {"textDocument": {"uri": uri},
                                                    "position": {"line": line, "character": character}}, timeout)

    # -- lifecycle -----------------------------------------------------------------------
    def alive(self) -> bool:
        return self.proc.poll() is None

    def close(self, timeout: float = 10.0) -> int | None:
        if self.proc.poll() is None:
            try:
                self.request("shutdown", None, timeout)
                self.notify("exit")
            except (LspError, TimeoutError, OSError):
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self._stderr is not subprocess.DEVNULL:
            self._stderr.close()
        return self.proc.returncode
