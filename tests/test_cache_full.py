"""A full cache disk: the model store and the embeddings database (issue 7, faults).

"Full" is made without root, two ways: in-process, the store's file writes raise
``OSError(ENOSPC)`` once a few bytes went through (``FullDisk``: the real ``_assemble``
runs, only its writes fail); in a child process, ``RLIMIT_FSIZE`` makes the kernel refuse
to grow any file past a size (``EFBIG``, "File too large"; Python ignores SIGXFSZ), which
is what SQLite and the real server see.

Test data: small fake chunk packages written per test (the fixture ``packages`` of tests/conftest.py);
float32 vectors of 896 values for the embeddings store; examples/add_two_arrays.s and the
real packaged model for the server test.
"""
from __future__ import annotations

import errno
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

from asm_lsp.model import store
from asm_lsp.model.store import ModelError, resolve_model
from bench.lsp_client import LspClient, SERVER_ENV
from helpers import CHUNKS

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "add_two_arrays.s"


def files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


class _Full:
    """A file object whose writes fail with ENOSPC after ``room`` bytes (a partial write first)."""

    def __init__(self, f, room: int) -> None:
        self.f, self.room = f, room

    def write(self, data: bytes) -> int:
        if len(data) > self.room:
            self.f.write(data[: self.room])
            self.room = 0
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self.room -= len(data)
        return self.f.write(data)

    def __getattr__(self, name: str):
        return getattr(self.f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.f.close()


def full_disk(monkeypatch, folders: list[Path], room: int = 1000) -> None:
    """Files the model store makes under ``folders`` take ``room`` bytes, then ENOSPC."""
    real_mkstemp, real_fdopen = tempfile.mkstemp, os.fdopen
    full_fds: set[int] = set()

    def mkstemp(*args, dir=None, **kwargs):
        fd, name = real_mkstemp(*args, dir=dir, **kwargs)
        if dir is not None and any(Path(dir).resolve().is_relative_to(f.resolve()) for f in folders):
            full_fds.add(fd)
        return fd, name

    def fdopen(fd, *args, **kwargs):
        f = real_fdopen(fd, *args, **kwargs)
        if fd not in full_fds:
            return f
        full_fds.discard(fd)  # the number is free again once that file is closed
        return _Full(f, room)

    monkeypatch.setattr(store.tempfile, "mkstemp", mkstemp)
    monkeypatch.setattr(store.os, "fdopen", fdopen)


# -- the model store ---------------------------------------------------------------------------
def test_full_cache_mid_write_leaves_nothing_and_uses_the_fallback(packages, tmp_path, monkeypatch):
    spec, _ = packages
    full_disk(monkeypatch, [tmp_path / "cache"])
    files = resolve_model(cache_dir=str(tmp_path / "cache"))
    assert files.model == tmp_path / "fallback" / "models" / spec.file_name
    assert files.model.read_bytes() == b"".join(CHUNKS)
    assert files.notes[0].startswith(f"cache folder {tmp_path / 'cache' / 'models'} not writable (")
    assert "No space left on device" in files.notes[0]
    assert files_under(tmp_path / "cache") == []  # the partly written .part file is gone


def test_full_cache_and_fallback_is_one_clear_error_and_leaves_nothing(packages, tmp_path, monkeypatch):
    full_disk(monkeypatch, [tmp_path / "cache", tmp_path / "fallback"])
    with pytest.raises(ModelError) as error:
        resolve_model(cache_dir=str(tmp_path / "cache"))
    message = str(error.value)
    assert message.startswith(f"cannot write the model ({sum(map(len, CHUNKS)):,} bytes) to {tmp_path / 'cache' / 'models'}")
    assert "No space left on device" in message
    assert message.endswith("free some space, set asmLsp.model.cacheDir to a writable folder, or set asmLsp.model.path")
    assert files_under(tmp_path / "cache") == [] and files_under(tmp_path / "fallback") == []


STORE_IN_CHILD = textwrap.dedent("""
    import hashlib, json, resource, sys
    from pathlib import Path
    from asm_lsp.model import store
    from asm_lsp.model.store import ChunkedModel, ModelError, resolve_model
    root = Path(sys.argv[1])
    chunks = [b"GGUF" + b"a" * 300_000, b"b" * 200_000]
    whole = b"".join(chunks)
    site = root / "site"
    for i, data in enumerate(chunks, 1):
        (site / f"part{i}").mkdir(parents=True)
        (site / f"part{i}" / "chunk.bin").write_bytes(data)
    store.DEFAULT_MODEL = ChunkedModel("fake", ("part1", "part2"), ("fake-part1", "fake-part2"),
                                       ("chunk.bin", "chunk.bin"), len(whole), hashlib.sha256(whole).hexdigest())
    store.find_chunk = lambda package, name: site / package / name
    store._fallback_models_dir = lambda: root / "fallback" / "models"
    store.packaged_adapter = lambda *_: (root / "none.gguf", root / "none.json")
    resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
    try:
        resolve_model(cache_dir=str(root / "cache"))
        print(json.dumps({"error": None}))
    except ModelError as e:
        print(json.dumps({"error": str(e)}))
""")


def test_kernel_refusing_to_grow_files_is_one_clear_error(tmp_path):
    """RLIMIT_FSIZE: the kernel itself stops the write at 100 kB, in the cache and in the fallback."""
    run = subprocess.run([sys.executable, "-c", STORE_IN_CHILD, str(tmp_path)], env=SERVER_ENV,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    message = json.loads(run.stdout)["error"]
    assert message is not None and message.startswith("cannot write the model (500,004 bytes)")
    assert f"{tmp_path / 'cache' / 'models'}: File too large" in message
    assert f"{tmp_path / 'fallback' / 'models'}: File too large" in message
    assert files_under(tmp_path / "cache") == [] and files_under(tmp_path / "fallback") == []


# -- the embeddings database -----------------------------------------------------------------------
EMBEDDINGS_IN_CHILD = textwrap.dedent("""
    import json, resource, sys
    from pathlib import Path
    import numpy as np
    from asm_lsp.embed.store import FILE_NAME, EmbeddingStore
    path = Path(sys.argv[1]) / FILE_NAME
    store = EmbeddingStore(path)
    store.put("a" * 64, np.ones(896, np.float32), "m")
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
    rows = [(f"{i:064x}", np.full(896, i, np.float32)) for i in range(1, 201)]  # 350 kB of float16
    store.put_many(rows, "m")
    first_note = store.note
    store.put_many(rows[:5], "m")
    print(json.dumps({
        "note": first_note, "note_after": store.note,
        "new_vector_kept": store.get(f"{7:064x}", "m") is not None,
        "count": store.count("m"),
    }))
""")


def embeddings_when_full(tmp_path: Path) -> dict:
    run = subprocess.run([sys.executable, "-c", EMBEDDINGS_IN_CHILD, str(tmp_path)], env=SERVER_ENV,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr  # nothing escaped: no crash
    return json.loads(run.stdout)


def test_embeddings_database_that_cannot_grow_does_not_crash(tmp_path):
    found = embeddings_when_full(tmp_path)
    assert found["note"]  # the failure is recorded for the status report


def test_embeddings_database_that_cannot_grow_degrades_to_memory(tmp_path):
    found = embeddings_when_full(tmp_path)
    assert "memory" in found["note"], found
    assert found["new_vector_kept"] and found["count"] == 200, found  # the failed batch went to memory


# -- the server ---------------------------------------------------------------------------------------
SERVER_UNDER_LIMIT = textwrap.dedent("""
    import resource, runpy, sys, tempfile
    tempfile.tempdir = sys.argv[1]  # the model store's fallback folder goes here
    resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[2]), resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
    sys.argv = ["asm-lsp", "--stdio", "--adapter", "none"]
    runpy.run_module("asm_lsp", run_name="__main__", alter_sys=True)
""")


@pytest.mark.model
@pytest.mark.slow
def test_server_with_a_full_cache_says_so_once_and_keeps_the_classic_features(tmp_path: Path):
    cache, temp = tmp_path / "cache", tmp_path / "tmp"
    cache.mkdir()
    temp.mkdir()
    client = LspClient([sys.executable, "-c", SERVER_UNDER_LIMIT, str(temp), str(1 << 20)],
                       stderr_log=tmp_path / "server.log")
    try:
        client.initialize(options={"model": {"cacheDir": str(cache)}, "index": {"embeddings": False}})
        uri = EXAMPLE.as_uri()
        client.open(uri, EXAMPLE.read_text())
        shown = client.wait_shown("model", 120)
        about_model = [m for m in shown if "model" in m]
        assert len(about_model) == 1, shown
        assert "cannot write the model" in about_model[0] and "File too large" in about_model[0]
        assert "asmLsp.model.cacheDir" in about_model[0]
        print(f"\nshown once: {about_model[0]}")
        hover = client.hover(uri, 11, 2)
        assert "STR" in hover["result"]["contents"]["value"].upper()
        symbols = client.exchange("textDocument/documentSymbol", {"textDocument": {"uri": uri}})
        assert [s["name"] for s in symbols["result"]][:1] == ["add_two_arrays"]
        inline = client.exchange("textDocument/inlineCompletion", {
            "textDocument": {"uri": uri}, "position": {"line": 29, "character": 0}, "context": {"triggerKind": 1}})
        assert inline["result"] is None
        time.sleep(0.5)
        shown = client.shown()
        assert len([m for m in shown if "model" in m]) == 1  # once, not per request
        assert client.framing_errors == []
    finally:
        assert client.close(30) == 0
    models = [p for p in (cache / "models", temp / f"asm-lsp-{os.getuid()}" / "models") if p.exists()]
    assert [name for folder in models for name in files_under(folder)] == []  # no partial model left
    assert hashlib.sha256(EXAMPLE.read_bytes()).hexdigest()  # the user's file is only read


@pytest.mark.model
@pytest.mark.slow
def test_server_whose_embeddings_cache_cannot_grow_says_so_once_and_keeps_working(tmp_path: Path):
    """The model loads (model.path: the packaged model, resolved here), but its embeddings
    database may not grow past 64 kB (~30 vectors): the server tells the user once, and
    hovers, symbols and similar-function queries go on."""
    model = resolve_model(adapter="none").model
    work, cache, temp = tmp_path / "ws", tmp_path / "cache", tmp_path / "tmp"
    for folder in (work, cache, temp):
        folder.mkdir()
    for i in range(80):  # 80 distinct functions: more vectors than 64 kB hold
        body = "".join(f"\tadd\tw0, w0, #{i * 7 + k}\n" for k in range(i % 5 + 1))
        (work / f"f{i}.s").write_text(f"\t.text\n\t.globl\tfn{i}\n\t.type\tfn{i}, %function\nfn{i}:\n{body}\tret\n"
                                      f"\t.size\tfn{i}, .-fn{i}\n")
    server = SERVER_UNDER_LIMIT.replace('"--adapter", "none"', '"--adapter", "none", "--model", sys.argv[3]')
    client = LspClient([sys.executable, "-c", server, str(temp), str(64 * 1024), str(model)])
    try:
        client.initialize(work, options={"model": {"cacheDir": str(cache)}})
        uri = (work / "f3.s").as_uri()
        client.open(uri, (work / "f3.s").read_text())
        shown = client.wait_shown("embedding cache", 300)
        about_cache = [m for m in shown if "embedding cache" in m]
        assert len(about_cache) == 1, shown
        assert str(cache / "embeddings.sqlite") in about_cache[0]
        print(f"\nshown once: {about_cache[0]}")
        hover = client.hover(uri, 4, 2)
        assert "ADD" in hover["result"]["contents"]["value"].upper()
        similar = client.exchange("workspace/executeCommand", {"command": "asmLsp.similarFunctions",
                                                              "arguments": [uri, {"line": 4, "character": 0}]}, 60)
        assert "result" in similar
        time.sleep(1.0)
        shown = client.shown()
        assert len([m for m in shown if "embedding cache" in m]) == 1, shown
        assert client.framing_errors == []
    finally:
        assert client.close(30) == 0
    assert files_under(work) == sorted(f"f{i}.s" for i in range(80))  # the workspace is only read
