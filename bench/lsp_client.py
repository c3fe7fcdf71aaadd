"""A small synchronous LSP client over stdio (Content-Length framing).

One reader thread parses the server's messages: responses resolve the waiting
request's future, server->client requests get a reply (`workspace/configuration`
answers with our settings, everything else with null), notifications are kept
for the caller to inspect. The benchmark asks one question at a time, so a
blocking API is all it needs and keeps the harness free of asyncio.
"""
from __future__ import annotations

import json
import logging
import subprocess
import threading
from concurrent.futures import Future
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


class LspError(RuntimeError):
    """The server answered a request with an error object, or went away."""


class LspClient:
    def __init__(self, argv: list[str], stderr_log: Path, env: dict[str, str] | None = None,
                 cwd: Path | None = None, settings: dict[str, Any] | None = None) -> None:
        self.settings = settings or {}
        self.notifications: list[dict[str, Any]] = []
        self._stderr = open(stderr_log, "ab")
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self._stderr, env=env, cwd=cwd)
        self._next_id = 0
        self._pending: dict[int, Future[Any]] = {}
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._reader = threading.Thread(target=self._read_loop, name="lsp-reader", daemon=True)
        self._reader.start()

    # -- sending -------------------------------------------------------------------------
    def _send(self, message: dict[str, Any]) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode()
        with self._write_lock:
            assert self.proc.stdin is not None
            self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
            self.proc.stdin.flush()

    def notify(self, method: str, params: Any) -> None:
        self._send({"method": method, "params": params})

    def request(self, method: str, params: Any, timeout: float) -> Any:
        """Send a request and wait for its result; on timeout send $/cancelRequest and
        raise TimeoutError. An error response raises LspError."""
        with self._lock:
            self._next_id += 1
            request_id = self._next_id
            future: Future[Any] = Future()
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

    # -- receiving -----------------------------------------------------------------------
    def _read_message(self) -> dict[str, Any] | None:
        stream = self.proc.stdout
        assert stream is not None
        length = None
        while True:
            header = stream.readline()
            if not header:
                return None
            header = header.strip()
            if not header:
                break
            name, _, value = header.decode("ascii", "replace").partition(":")
            if name.lower() == "content-length":
                length = int(value.strip())
        if length is None:
            return {}
        return json.loads(stream.read(length))

    def _read_loop(self) -> None:
        try:
            while (message := self._read_message()) is not None:
                if message:
                    self._dispatch(message)
        except (ValueError, OSError) as exc:
            log.warning("LSP reader stopped: %s", exc)
        with self._lock:
            pending, self._pending = self._pending, {}
        for future in pending.values():
            future.set_exception(LspError(f"server exited (rc={self.proc.poll()})"))

    def _dispatch(self, message: dict[str, Any]) -> None:
        if "method" not in message:  # a response
            with self._lock:
                future = self._pending.pop(message.get("id"), None)
            if future is None:
                return  # answer to a request we gave up on
            if "error" in message:
                future.set_exception(LspError(json.dumps(message["error"])[:500]))
            else:
                future.set_result(message.get("result"))
        elif "id" in message:  # a request from the server
            result: Any = None
            if message["method"] == "workspace/configuration":
                items = (message.get("params") or {}).get("items") or []
                result = [self.settings if item.get("section") in ("asmLsp", None) else None for item in items]
            self._send({"id": message["id"], "result": result})
        else:
            self.notifications.append(message)
            del self.notifications[:-200]

    # -- lifecycle -----------------------------------------------------------------------
    def close(self, timeout: float = 10.0) -> None:
        if self.proc.poll() is None:
            try:
                self.request("shutdown", None, timeout)
                self.notify("exit", None)
            except (LspError, TimeoutError, OSError):
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._stderr.close()
