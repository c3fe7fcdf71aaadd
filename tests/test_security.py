"""Security guarantees (README "Security"): no network, no programs named by the workspace,
no shell, and workspace settings cannot redirect what the server runs or writes.

Test data: tests/fixtures/workspace/ and small inline buffers.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from asm_lsp.assembler import AssemblerNotFound, find_assembler
from asm_lsp.settings import restrict_workspace_settings

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT / "server")}

# Runs the real server with an audit hook that records every Internet socket operation.
AUDITED_SERVER = textwrap.dedent("""
    import socket, sys
    LOG = sys.argv[1]
    def hook(event, args):
        if event in ("socket.connect", "socket.bind", "socket.sendto", "socket.getaddrinfo"):
            sock = args[0] if event != "socket.getaddrinfo" else None
            family = getattr(sock, "family", None)
            if family in (None, socket.AF_INET, socket.AF_INET6):
                with open(LOG, "a") as f:
                    f.write(f"{event} {args!r}\\n")
    sys.addaudithook(hook)
    from asm_lsp.cli import main
    raise SystemExit(main(sys.argv[2:]))
""")


def test_workspace_settings_cannot_name_programs_or_files():
    cleaned, dropped = restrict_workspace_settings({
        "assembler": {"path": "/tmp/evil", "flags": ["-march=armv8.2-a", "-o", "/home/me/.bashrc", "@args"]},
        "model": {"path": "/tmp/x.gguf", "adapter": "/tmp/a.gguf", "cacheDir": "/tmp/c", "threads": 2},
        "completion": {"maxLines": 2},
    })
    assert cleaned == {"assembler": {"flags": ["-march=armv8.2-a"]}, "model": {"threads": 2},
                       "completion": {"maxLines": 2}}
    assert set(dropped) == {"asmLsp.assembler.path", "asmLsp.model.path", "asmLsp.model.cacheDir",
                            "asmLsp.model.adapter", "asmLsp.assembler.flags ('-o', '/home/me/.bashrc', '@args')"}
    kept, none_dropped = restrict_workspace_settings({"model": {"adapter": "none"}})
    assert kept == {"model": {"adapter": "none"}} and none_dropped == []


def test_assembler_path_is_never_given_to_a_shell(tmp_path: Path):
    marker = tmp_path / "pwned"
    with pytest.raises(AssemblerNotFound):
        find_assembler(f"as; touch {marker}")
    assert not marker.exists()


@pytest_lsp.fixture(config=ClientServerConfig(
    server_command=[sys.executable, "-m", "asm_lsp", "--stdio", "--no-model"], server_env=ENV), scope="module")
async def client(lsp_client: LanguageClient):
    lsp_client.set_configuration({"assembler": {"path": "/bin/false-assembler-from-workspace"}}, section="asmLsp")
    await lsp_client.initialize_session(types.InitializeParams(
        capabilities=client_capabilities("visual-studio-code"),
        root_uri=(ROOT / "tests" / "fixtures" / "workspace").as_uri()))
    yield
    await lsp_client.shutdown_session()


async def test_workspace_configuration_cannot_choose_the_assembler(client: LanguageClient):
    uri = (ROOT / "tests" / "fixtures" / "workspace" / "scratch-security.s").as_uri()
    client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=types.TextDocumentItem(
        uri=uri, language_id="aarch64-asm", version=1, text="\t.text\nf:\n\tbogus x1\n")))
    report = await client.text_document_diagnostic_async(types.DocumentDiagnosticParams(
        text_document=types.TextDocumentIdentifier(uri=uri)))
    assert [(d.range.start.line, d.source) for d in report.items] == [(2, "aarch64-linux-gnu-as")]
    assert any("asmLsp.assembler.path is ignored in workspace settings" in m.message for m in client.messages)


def test_server_opens_no_network_sockets(tmp_path: Path):
    """A whole session over stdio (index, hover, completion, diagnostics) with an audit hook."""
    log = tmp_path / "net.log"
    script = tmp_path / "audited.py"
    script.write_text(AUDITED_SERVER)
    ws = ROOT / "tests" / "fixtures" / "workspace"
    messages = [
        {"id": 1, "method": "initialize", "params": {"processId": None, "rootUri": ws.as_uri(), "capabilities": {}}},
        {"method": "initialized", "params": {}},
        {"method": "textDocument/didOpen", "params": {"textDocument": {
            "uri": (ws / "main.s").as_uri(), "languageId": "asm", "version": 1, "text": (ws / "main.s").read_text()}}},
        {"id": 2, "method": "textDocument/hover", "params": {"textDocument": {"uri": (ws / "main.s").as_uri()},
                                                           "position": {"line": 10, "character": 6}}},
        {"id": 3, "method": "textDocument/completion", "params": {"textDocument": {"uri": (ws / "main.s").as_uri()},
                                                                "position": {"line": 6, "character": 1}}},
        {"id": 4, "method": "shutdown"},
        {"method": "exit"},
    ]
    payload = b"".join(b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
                       for body in (json.dumps({"jsonrpc": "2.0", **m}).encode() for m in messages))
    proc = subprocess.run([sys.executable, str(script), str(log), "--stdio", "--no-model"], input=payload,
                          capture_output=True, env=ENV, timeout=120)
    answered = proc.stdout.count(b'"id": 4') + proc.stdout.count(b'"id":4')
    assert answered == 1, proc.stderr.decode()[-2000:]
    assert not log.exists(), log.read_text()


def test_the_socket_audit_detects_tcp_mode(tmp_path: Path):
    """The detector above can fail: --tcp (the one allowed use) binds a socket and is seen."""
    log = tmp_path / "net.log"
    script = tmp_path / "audited.py"
    script.write_text(AUDITED_SERVER)
    proc = subprocess.Popen([sys.executable, str(script), str(log), "--tcp", "--port", "0", "--no-model"],
                            env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            if log.exists() and "socket.bind" in log.read_text():
                break
            time.sleep(0.1)
    finally:
        proc.kill()
        proc.wait()
    assert "socket.bind" in log.read_text()
