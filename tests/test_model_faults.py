"""Model faults through the real server: an adapter that does not fit the base model, and
a client that dies while the model is generating. Each: one clear message, the rest of
the server keeps working (or, for a dead client, the server ends promptly and cleanly).

Test data: examples/add_two_arrays.s; an incompatible LoRA GGUF written here with the
`gguf` package (a LoRA adapter for the llama architecture, not Qwen2).
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pytest

from bench.lsp_client import LspClient

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "add_two_arrays.s"
pytestmark = [pytest.mark.model, pytest.mark.slow]


def model_server(*extra: str) -> list[str]:
    return [sys.executable, "-m", "asm_lsp", "--stdio", *extra]


def write_incompatible_lora(path: Path) -> None:
    import gguf

    writer = gguf.GGUFWriter(str(path), "llama")  # made for another architecture than the base
    writer.add_string("general.type", "adapter")
    writer.add_string("adapter.type", "lora")
    writer.add_float32("adapter.lora.alpha", 16.0)
    # and of shapes that fit no layer of Qwen2.5-0.5B (its attn_q is 896x896)
    writer.add_tensor("blk.0.attn_q.weight.lora_a", np.ones((8, 7), dtype=np.float32))
    writer.add_tensor("blk.0.attn_q.weight.lora_b", np.ones((5, 8), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


@pytest.mark.train  # the gguf package writes the adapter
def test_incompatible_adapter_is_explained_once_and_the_rest_works(tmp_path: Path):
    adapter = tmp_path / "wrong-lora.gguf"
    write_incompatible_lora(adapter)
    client = LspClient(model_server("--adapter", str(adapter)))
    try:
        client.initialize(options={"index": {"embeddings": False}})
        uri = EXAMPLE.as_uri()
        client.open(uri, EXAMPLE.read_text())
        shown = client.wait_shown("code model is unavailable", 120)
        about_model = [text for text in shown if "model" in text]
        assert len(about_model) == 1, shown
        assert "unavailable" in about_model[0]
        hover = client.hover(uri, 11, 2)
        assert "STR" in hover["result"]["contents"]["value"].upper()
        inline = client.exchange("textDocument/inlineCompletion", {
            "textDocument": {"uri": uri}, "position": {"line": 29, "character": 0}, "context": {"triggerKind": 1}})
        assert inline["result"] is None
        assert client.framing_errors == []
    finally:
        client.close()


def test_client_dying_mid_generation_ends_the_server(tmp_path: Path):
    client = LspClient(model_server("--adapter", "none"))
    client.initialize(options={"index": {"embeddings": False}, "completion": {"timeBudgetMs": 120000}})
    uri = EXAMPLE.as_uri()
    client.open(uri, EXAMPLE.read_text())
    client.send_request("textDocument/inlineCompletion", {
        "textDocument": {"uri": uri}, "position": {"line": 29, "character": 0}, "context": {"triggerKind": 1}})
    time.sleep(1.0)  # the model is loading or generating now
    assert client.proc.stdin is not None
    client.proc.stdin.close()  # the editor is gone
    start = time.monotonic()
    client.proc.wait(30)
    assert time.monotonic() - start < 30
    assert client.framing_errors == []
