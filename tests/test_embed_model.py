"""Embeddings with the real model (llama.cpp, Qwen2.5-Coder-0.5B Q4_K_M): slow, skipped
without llama-cpp-python or the model packages.

Test data: the small functions below and a folder made from them.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from asm_lsp.embed.embedder import Embedder
from asm_lsp.embed.index import extract_functions
from asm_lsp.model import store

SERVER = Path(__file__).resolve().parent.parent / "server"

CLAMP = """\t.text
\t.align\t2
\t.global\tclamp
\t.type\tclamp, %function
clamp:
.LFB0:
\t.cfi_startproc
\tcmp\tw0, w1
\tcsel\tw0, w0, w1, ge
\tcmp\tw0, w2
\tcsel\tw0, w0, w2, le
\tret
\t.cfi_endproc
.LFE0:
\t.size\tclamp, .-clamp
"""
# Same code: other name, comments, .loc lines, spacing, other .L numbers.
CLAMP_VARIANT = """// clamp a value
\t.text
\t.align   2
\t.global  limit
\t.type limit, %function
limit:      // entry
.LFB7:
\t.loc 1 3 0
\tcmp     w0,   w1     // lower bound
\tcsel\tw0, w0, w1, ge
\n\tcmp\tw0, w2
\tcsel  w0, w0, w2, le   /* upper */
\tret
.LFE7:
\t.size\tlimit, .-limit
"""
STRLEN = """\t.text
\t.global\tmy_strlen
\t.type\tmy_strlen, %function
my_strlen:
\tmov\tx1, x0
.L2:
\tldrb\tw2, [x1], 1
\tcbnz\tw2, .L2
\tsub\tx0, x1, x0
\tsub\tx0, x0, #1
\tret
\t.size\tmy_strlen, .-my_strlen
"""

pytestmark = [
    pytest.mark.model,
    pytest.mark.slow,
]


@pytest.fixture(scope="module")
def files():
    return store.resolve_model(adapter="none")


@pytest.fixture(scope="module")
def embedder(files):
    e = Embedder(files, threads=1)
    assert e.wait_ready(120), e.status()
    yield e
    e.close()


def test_whitespace_comment_and_name_variant_embeds_identically(embedder):
    (a,) = extract_functions("file:///a.s", CLAMP)
    (b,) = extract_functions("file:///b.s", CLAMP_VARIANT)
    assert a.text == b.text and a.sha == b.sha
    va, vb, vs = embedder.embed([a.text, b.text, extract_functions("file:///c.s", STRLEN)[0].text], timeout=300)
    assert va.shape == (896,) and np.isfinite(va).all()
    np.testing.assert_array_equal(va, vb)
    assert not np.allclose(va, vs)


def test_pooling_matches_llama_cpp_native_pooling(embedder, files):
    import llama_cpp

    from asm_lsp.model.llama import load_llama

    text = extract_functions("file:///a.s", CLAMP)[0].text
    whole = Embedder(files, threads=1, batch_tokens=512)  # one llama_decode, as Llama.embed does
    try:
        ours = whole.submit([text], poolings=["mean", "last"]).result(300)[0]
    finally:
        whole.close()
    # Our default decodes in chunks of 64 tokens (smaller output buffers): the same vectors up to
    # kernel rounding (the last, short chunk takes another matmul path).
    chunked = embedder.submit([text * 4], poolings=["mean", "last"]).result(300)[0]
    single = Embedder(files, threads=1, batch_tokens=512)
    try:
        reference = single.submit([text * 4], poolings=["mean", "last"]).result(300)[0]
    finally:
        single.close()
    for name in ("mean", "last"):
        a, b = chunked[name], reference[name]
        assert float(a @ b / np.linalg.norm(a) / np.linalg.norm(b)) > 0.999, name
    for name, kind in (("mean", llama_cpp.LLAMA_POOLING_TYPE_MEAN), ("last", llama_cpp.LLAMA_POOLING_TYPE_LAST)):
        llm = load_llama(files.model, n_ctx=512, n_batch=512, threads=1, embedding=True, pooling_type=kind)
        try:
            native = np.array(llm.embed(text), dtype=np.float32)
        finally:
            llm.close()
        np.testing.assert_allclose(ours[name], native, rtol=1e-4, atol=1e-3 * np.abs(native).max())


def test_cli_similar_on_a_small_folder(tmp_path, files):
    work = tmp_path / "ws"
    work.mkdir()
    (work / "clamp.s").write_text(CLAMP)
    (work / "limit.s").write_text(CLAMP_VARIANT)
    (work / "strlen.s").write_text(STRLEN)
    env = {**os.environ, "PYTHONPATH": str(SERVER), "XDG_CACHE_HOME": str(tmp_path / "cache"),
           "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "asm_lsp.cli", "--model", str(files.model), "--adapter", "none",
               "similar", str(work / "clamp.s"), "--workspace", str(work), "--top", "2"]
    elsewhere = tmp_path / "some" / "folder"  # the current folder: paths are not relative to it
    elsewhere.mkdir(parents=True)
    result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=elsewhere, timeout=600)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"{work / 'clamp.s'}:5: clamp"
    assert lines[1].split() == ["1.000", "limit.s:6", "limit"]  # relative to the workspace
    assert lines[2].split()[1:] == ["strlen.s:4", "my_strlen"] and float(lines[2].split()[0]) < 1.0
    assert (tmp_path / "cache" / "asm-lsp" / "embeddings.sqlite").is_file()
    # Quiet: llama.cpp's load chatter only with -v.
    assert "llama" not in result.stderr and "control-looking" not in result.stderr, result.stderr
    # Second run: everything from the cache; -v shows llama.cpp's warnings again.
    index = subprocess.run([sys.executable, "-m", "asm_lsp.cli", "-v", "--model", str(files.model), "--adapter", "none",
                            "index", str(work)], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)
    assert index.returncode == 0, index.stderr
    assert "3 files, 3 functions, 3 with embeddings (0 computed, 3 from cache)" in index.stdout
    assert "control-looking token" in index.stderr and "asm_lsp.model.llama_cpp" in index.stderr


def test_embedder_on_the_completion_engines_model_gives_the_same_vectors(embedder, files):
    """The server's embedder makes its context on the engine's loaded model (one copy of the
    weights): the same vectors as its own model, and it keeps working after the engine closes."""
    from asm_lsp.model.engine import CompletionEngine, CompletionRequest
    from asm_lsp.model.suggest import SuggestionCache

    texts = [extract_functions("file:///a.s", CLAMP)[0].text, extract_functions("file:///c.s", STRLEN)[0].text]
    alone = embedder.embed(texts, timeout=300)
    engine = CompletionEngine(files, threads=1, context_size=512)
    engine.start()
    shared = Embedder(files, threads=1, shared=engine.shared_model, batch_tokens=32)
    try:
        assert shared.wait_ready(120), shared.status()
        assert "on the completion model" in shared.status()
        hole = CLAMP.index("\tcmp\tw0, w2") + len("\tcmp\t")
        line = CLAMP[:hole].count("\n")
        request = CompletionRequest(CLAMP, line, hole - CLAMP.rfind("\n", 0, hole) - 1, max_lines=1, follow_up=False,
                                    time_budget_ms=120_000)
        quiet = engine.submit(request).result(300)
        busy = shared.submit(texts * 3)  # the embedder works while the engine completes
        engine.cache = SuggestionCache(8)
        loud = engine.submit(request).result(300)
        assert (quiet and quiet.text) == (loud and loud.text)
        busy.result(300)
        for a, b in zip(alone, shared.embed(texts, timeout=300)):
            np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-5 * np.abs(a).max())
        engine.close()  # the model stays loaded while the embedder holds it
        for a, b in zip(alone, shared.embed(texts, timeout=300)):
            np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-5 * np.abs(a).max())
    finally:
        shared.close()
        engine.close()
