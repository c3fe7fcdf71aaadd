"""Fillers: who writes the middle of a hole.

- `oracle`: the original text. Must pass 100%; it checks the harness.
- `empty`: nothing. The floor; shows the tests notice missing code.
- `lsp:<adapter>`: the real server over stdio, `textDocument/inlineCompletion`
  at the hole, with `model.adapter` = `none`, `default` or a path. One request: what
  the first answer holds is the fill.
- `lsp-accept:<adapter>`: the same server, used the way a user takes a block with Tab:
  ask at the hole, read the suggestion (`READ_S`), accept it (the document changes),
  press Enter, ask again on the new line, until the hole's line count is filled or an
  answer is empty. The engine answers at the first line and keeps decoding behind it,
  so the later lines come from its cache or running decoding. The latency is the time
  spent waiting for answers (reading time left out).
"""
from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from bench.exec_completion.holes import Hole
from bench.lsp_client import LspClient, LspError

REPO = Path(__file__).resolve().parents[2]
READ_S = 0.3  # the typing replay's reading time before an accept (bench/typing_replay.py)


@dataclass
class Fill:
    text: str | None                    # None: the filler gave no answer
    seconds: float = 0.0
    end: tuple[int, int] | None = None  # end of the replaced range, when the server sent one
    error: str = ""


class Filler(Protocol):
    name: str

    def fill(self, hole: Hole) -> Fill: ...

    def close(self) -> None: ...


class OracleFiller:
    name = "oracle"

    def fill(self, hole: Hole) -> Fill:
        return Fill(hole.original)

    def close(self) -> None:
        pass


class EmptyFiller:
    name = "empty"

    def fill(self, hole: Hole) -> Fill:
        return Fill("")

    def close(self) -> None:
        pass


def inline_items(result: Any) -> list[dict[str, Any]]:
    """`InlineCompletionList | InlineCompletionItem[] | null` -> items."""
    if isinstance(result, dict):
        return list(result.get("items") or [])
    if isinstance(result, list):
        return result
    return []


def item_text(item: dict[str, Any]) -> str:
    text = item.get("insertText", "")
    if isinstance(text, dict):  # StringValue (snippet)
        text = text.get("value", "")
    return str(text)


class LspFiller:
    """One server per hole kind, because maxLines is a setting: 1 for a line
    hole, 3 for a block. Documents get a virtual URI and no workspace folder,
    so the server's index cannot see the original .s files."""

    def __init__(self, adapter: str, log_dir: Path, request_timeout: float = 60.0,
                 warmup_timeout: float = 120.0, server_cmd: list[str] | None = None,
                 extra_settings: dict[str, Any] | None = None, accept: bool = False) -> None:
        self.adapter = adapter
        self.extra_settings = extra_settings or {}
        self.accept = accept
        self.name = f"{'lsp-accept' if accept else 'lsp'}:{adapter}"
        self.log_dir = log_dir
        self.request_timeout = request_timeout
        self.warmup_timeout = warmup_timeout
        self.server_cmd = server_cmd or [sys.executable, "-m", "asm_lsp", "--stdio"]
        self.clients: dict[int, LspClient] = {}
        self.warmup_seconds: dict[int, float] = {}
        self._opened = 0

    def settings(self, max_lines: int) -> dict[str, Any]:
        settings: dict[str, Any] = {
            "model": {"adapter": self.adapter},
            "completion": {"maxLines": max_lines},
            "diagnostics": {"enabled": False},  # the bench does not read them; saves CPU
        }
        for section, values in self.extra_settings.items():  # --lsp-settings wins, section by section
            settings[section] = {**settings.get(section, {}), **values}
        return settings

    def _start(self, max_lines: int, first_hole: Hole) -> LspClient:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "server"), env.get("PYTHONPATH")]))
        safe = "".join(c if c.isalnum() else "_" for c in self.adapter)
        log_path = self.log_dir / f"{self.name.partition(':')[0]}-{safe}-maxlines{max_lines}.stderr.log"
        settings = self.settings(max_lines)
        client = LspClient(self.server_cmd, log_path, env=env, cwd=REPO, settings=settings, strict=False)
        client.request("initialize", {
            "processId": os.getpid(),
            "clientInfo": {"name": "exec-completion-bench"},
            "rootUri": None,
            "workspaceFolders": None,
            "initializationOptions": settings,
            "capabilities": {
                "workspace": {"configuration": True},
                "textDocument": {"inlineCompletion": {}, "synchronization": {}},
                "window": {"workDoneProgress": False},
            },
        }, timeout=120.0)
        client.notify("initialized", {})
        client.notify("workspace/didChangeConfiguration", {"settings": {"asmLsp": settings}})
        # Wait until the model answers once, so the first measured hole does not pay for loading.
        start = time.monotonic()
        while time.monotonic() - start < self.warmup_timeout and client.proc.poll() is None:
            fill = self._ask(client, first_hole)
            if fill.text:
                break
            time.sleep(2.0)
        self.warmup_seconds[max_lines] = round(time.monotonic() - start, 2)
        return client

    def _open(self, client: LspClient, hole: Hole) -> str:
        """Open the holed document under a fresh virtual URI; that URI."""
        self._opened += 1
        uri = f"file:///exec-bench/{self._opened}/{hole.case}-{hole.compiler}-{hole.opt}.s"
        client.notify("textDocument/didOpen", {"textDocument": {
            "uri": uri, "languageId": "asm", "version": 1, "text": hole.holed_text()}})
        return uri

    def _first_item(self, client: LspClient, uri: str, line: int, trigger: int) -> tuple[dict | None, float, str]:
        """Ask for an inline completion at (``line``, 0): the first item (None, and why, where
        there is none or its range starts elsewhere) and the seconds waited for the answer."""
        start = time.monotonic()
        try:
            result = client.request("textDocument/inlineCompletion", {
                "textDocument": {"uri": uri},
                "position": {"line": line, "character": 0},
                "context": {"triggerKind": trigger},
            }, timeout=self.request_timeout)
        except TimeoutError:
            return None, time.monotonic() - start, "timeout"
        except LspError as exc:
            return None, time.monotonic() - start, str(exc)
        seconds = time.monotonic() - start
        items = inline_items(result)
        if not items:
            return None, seconds, "no items"
        r = items[0].get("range")
        if isinstance(r, dict) and (r["start"]["line"], r["start"]["character"]) != (line, 0):
            return None, seconds, f"range does not start at the hole: {r}"
        return items[0], seconds, ""

    def _ask(self, client: LspClient, hole: Hole) -> Fill:
        uri = self._open(client, hole)
        try:
            item, seconds, error = self._first_item(client, uri, hole.start, 1)  # Invoked
        finally:
            client.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
        if item is None:
            return Fill(None, seconds, error=error)
        r = item.get("range")
        end = (r["end"]["line"], r["end"]["character"]) if isinstance(r, dict) else None
        return Fill(item_text(item), seconds, end)

    def _accept_lines(self, client: LspClient, hole: Hole) -> Fill:
        """Ask, accept, Enter, ask again: until ``hole.n_lines`` lines are in or an answer is
        empty (see the module docstring). The fill is the accepted lines."""
        uri = self._open(client, hole)
        lines = hole.holed_text().split("\n")
        version, accepted, waited, row, error = 1, [], 0.0, hole.start, ""
        try:
            while len(accepted) < hole.n_lines:
                item, seconds, error = self._first_item(client, uri, row, 2)  # Automatic: as after Enter
                waited += seconds
                taken = item_text(item).split("\n")[: hole.n_lines - len(accepted)] if item else []
                while taken and not taken[-1].strip():
                    taken.pop()
                if not taken:
                    error = error or "no items"
                    break
                time.sleep(READ_S)
                accepted += taken
                lines[row:row + 1] = taken
                row += len(taken)
                if len(accepted) < hole.n_lines:  # Enter at the end of the accepted text
                    lines.insert(row, "")
                version += 1
                client.notify("textDocument/didChange", {
                    "textDocument": {"uri": uri, "version": version},
                    "contentChanges": [{"text": "\n".join(lines)}]})
        finally:
            client.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
        if not accepted:
            return Fill(None, waited, error=error)
        return Fill("\n".join(accepted), waited)

    def fill(self, hole: Hole) -> Fill:
        client = self.clients.get(hole.n_lines)
        if client is None or client.proc.poll() is not None:
            try:
                client = self.clients[hole.n_lines] = self._start(hole.n_lines, hole)
            except (LspError, TimeoutError, OSError) as exc:
                return Fill(None, 0.0, error=f"server start failed: {exc}")
        try:
            return self._accept_lines(client, hole) if self.accept else self._ask(client, hole)
        except OSError as exc:
            return Fill(None, 0.0, error=f"server gone: {exc}")

    def close(self) -> None:
        for client in self.clients.values():
            client.close()
        self.clients.clear()


def uses_server(spec: str) -> bool:
    """The filler ``spec`` runs the LSP server (``lsp:X`` or ``lsp-accept:X``)."""
    return spec.partition(":")[0] in ("lsp", "lsp-accept") and ":" in spec


def make_filler(spec: str, log_dir: Path, request_timeout: float, warmup_timeout: float,
                extra_settings: dict[str, Any] | None = None) -> Filler:
    if spec == "oracle":
        return OracleFiller()
    if spec == "empty":
        return EmptyFiller()
    kind, _, adapter = spec.partition(":")
    if uses_server(spec) and adapter:
        return LspFiller(adapter, log_dir, request_timeout, warmup_timeout, extra_settings=extra_settings,
                         accept=kind == "lsp-accept")
    raise ValueError(f"unknown filler {spec!r}; use oracle, empty, lsp:none, lsp:default, lsp:<adapter path> "
                     "or lsp-accept:<adapter>")
