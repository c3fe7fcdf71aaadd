"""The assembler missing or hanging, through the real server (issue 7, faults): one clear
message, diagnostics answered (without the assembler's), everything else working.

Test data: examples/add_two_arrays.s; a fake assembler that sleeps 30 s, written per test.
"""
from __future__ import annotations

import time
from pathlib import Path

from bench.lsp_client import LspClient, server_argv

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "add_two_arrays.s"


def session(client: LspClient, needle: str) -> None:
    """Diagnostics twice, hover, symbols; the message about the assembler exactly once."""
    uri = EXAMPLE.as_uri()
    client.open(uri, EXAMPLE.read_text())
    for _ in range(2):
        started = time.monotonic()
        report = client.exchange("textDocument/diagnostic", {"textDocument": {"uri": uri}}, timeout=30)
        assert report["result"]["items"] == [] and time.monotonic() - started < 10
    hover = client.hover(uri, 11, 2)
    assert "STR" in hover["result"]["contents"]["value"].upper()
    symbols = client.exchange("textDocument/documentSymbol", {"textDocument": {"uri": uri}})
    assert [s["name"] for s in symbols["result"]][:1] == ["add_two_arrays"]
    about = [m for m in client.shown() if needle in m]
    assert len(about) == 1, client.shown()
    assert client.framing_errors == []


def test_missing_assembler_is_said_once(tmp_path: Path):
    client = LspClient(server_argv("--assembler", str(tmp_path / "no-such-as")))
    try:
        client.initialize(options={"diagnostics": {"debounceMs": 0}}, capabilities={"textDocument": {"diagnostic": {}}})
        session(client, "not found or not executable")
    finally:
        assert client.close() == 0


def test_hanging_assembler_is_stopped_and_said_once(tmp_path: Path):
    slow = tmp_path / "slow-as"
    slow.write_text("#!/bin/sh\nsleep 30\n")
    slow.chmod(0o755)
    client = LspClient(server_argv("--assembler", str(slow)))
    try:
        client.initialize(options={"diagnostics": {"debounceMs": 0}, "assembler": {"timeoutMs": 500}},
                          capabilities={"textDocument": {"diagnostic": {}}})
        session(client, "longer than")
    finally:
        assert client.close() == 0
