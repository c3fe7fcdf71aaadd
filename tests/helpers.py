"""Helpers shared by test modules (a test module never imports another one).

Assembly samples and the LSP client live in bench/ (bench.samples, bench.lsp_client):
benchmarks use them too. The fixture ``packages`` is in conftest.py.
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

from asm_lsp.model.store import ChunkedModel

if TYPE_CHECKING:
    from pytest_lsp import LanguageClient

# -- fake model chunk packages (the store's logic in milliseconds) ----------------------------

CHUNKS = [b"GGUF" + b"a" * 1000, b"b" * 777, b"c" * 5]


def fake_spec(chunks: list[bytes]) -> ChunkedModel:
    whole = b"".join(chunks)
    return ChunkedModel(
        name="fake-model",
        packages=tuple(f"fake_part{i}" for i in range(1, len(chunks) + 1)),
        distributions=tuple(f"fake-part{i}" for i in range(1, len(chunks) + 1)),
        chunk_names=tuple(f"part{i:02d}.bin" for i in range(1, len(chunks) + 1)),
        size=len(whole),
        sha256=hashlib.sha256(whole).hexdigest(),
    )


def find_fake_chunk(site: Path, package: str, name: str) -> Path | None:
    path = site / package / "data" / name
    return path if path.is_file() else None


# -- end-to-end tests with pytest-lsp ------------------------------------------------------------

async def open_file(client: LanguageClient, path: Path, text: str | None = None) -> str:
    from lsprotocol import types

    uri = path.as_uri()
    client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=types.TextDocumentItem(
        uri=uri, language_id="aarch64-asm", version=1, text=path.read_text() if text is None else text)))
    return uri
